/**
 * `vh exec logs`, `stop` and `delete` against a stub server on loopback, for what a real run cannot
 * show on demand: a status change between two log lines (read again while following), the stop
 * message of a run started minutes ago, and the request each command sends.
 */
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ago } from "../../app/cli/commands/exec.js";
import { runCli, sendJson, stubServer, tempDir } from "./helpers.js";

let stub: Awaited<ReturnType<typeof stubServer>> | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

const t = (s: number) => new Date(Date.UTC(2025, 0, 2, 3, 4, 0) + s * 1000).toISOString();

function record(over: Record<string, unknown>) {
  return {
    id: "0b0f8d5e-1111-4222-8333-944445555666",
    counter: 12,
    project: { id: "p1", name: "demo" },
    step: "train",
    title: null,
    tags: [],
    status: "running",
    image: "python:3.12",
    command: "python train.py",
    parameters: {},
    inputs: [],
    createdAt: t(0),
    ...over,
  };
}

async function cli(args: string[]) {
  const dir = tempDir();
  return runCli([...args, "--project", "demo"], { cwd: dir, env: { VH_URL: stub!.url, VH_TOKEN: "tok", XDG_CONFIG_HOME: path.join(dir, "xdg"), HOME: dir } });
}

describe("vh exec logs", () => {
  /** A run that is asked to stop between its second and third line: the history grows while the log is followed. */
  async function stoppingRun() {
    let phase = 0;
    const history = [
      { status: "created", at: t(1), reason: null },
      { status: "queued", at: t(1), reason: null },
      { status: "running", at: t(5), reason: null },
      { status: "stopping", at: t(20), reason: "Stop requested." },
      { status: "stopped", at: t(50), reason: "Stopped by request." },
    ];
    const seen = [3, 4, 5];
    stub = await stubServer({
      "GET /api/v1/projects/:p/executions/:n": (_req, res) =>
        sendJson(res, 200, record({ status: history[seen[phase]! - 1]!.status, statusHistory: history.slice(0, seen[phase]), ...(phase === 2 ? { startedAt: t(5), endedAt: t(50), durationSeconds: 45 } : {}) })),
      "GET /api/v1/projects/:p/executions/:n/logs": (req, res) => {
        const after = new URL(req.url, "http://x").searchParams.get("after");
        if (after === "0") {
          phase = 1;
          return sendJson(res, 200, {
            lines: [{ seq: 1, time: t(10), stream: "stdout", line: "epoch 1" }, { seq: 2, time: t(30), stream: "stderr", line: "epoch 2 (slow)" }],
            next: 2,
            status: "stopping",
            finished: false,
          });
        }
        phase = 2;
        sendJson(res, 200, { lines: [{ seq: 3, time: t(40), stream: "stdout", line: "caught SIGTERM" }], next: 3, status: "stopped", finished: true });
      },
    });
  }

  it("--follow --json: one object per line, history lines between log lines by time, read again when the status changes", async () => {
    await stoppingRun();
    const r = await cli(["exec", "logs", "12", "--follow", "--json"]);
    expect(r.code).toBe(1); // followed to an end that is not `completed`
    expect(r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l))).toEqual([
      { seq: null, time: t(1), stream: "status", line: "queued: waiting for a host" },
      { seq: null, time: t(5), stream: "status", line: "running: the command started" },
      { seq: 1, time: t(10), stream: "stdout", line: "epoch 1" },
      { seq: null, time: t(20), stream: "status", line: "stopping: Stop requested." },
      { seq: 2, time: t(30), stream: "stderr", line: "epoch 2 (slow)" },
      { seq: 3, time: t(40), stream: "stdout", line: "caught SIGTERM" },
      { seq: null, time: t(50), stream: "status", line: "stopped after 45s: Stopped by request." },
    ]);
    expect(r.stderr).toBe("Execution #12 stopped.\n");
    // the record was read at the start and at each of the two status changes
    expect(stub!.requests.filter((q) => q.method === "GET" && /\/executions\/12$/.test(q.url))).toHaveLength(3);
  });

  it("--timestamps: every line starts with its time; stdout stays the program's own", async () => {
    await stoppingRun();
    const r = await cli(["exec", "logs", "12", "--follow", "--timestamps"]);
    expect(r.stdout).toBe(`${t(10)} epoch 1\n${t(40)} caught SIGTERM\n`);
    expect(r.stderr).toBe(
      [
        `${t(1)} [vh] queued: waiting for a host`,
        `${t(5)} [vh] running: the command started`,
        `${t(20)} [vh] stopping: Stop requested.`,
        `${t(30)} epoch 2 (slow)`,
        `${t(50)} [vh] stopped after 45s: Stopped by request.`,
        "Execution #12 stopped.",
        "",
      ].join("\n"),
    );
  });

  it("--no-status reads no history", async () => {
    await stoppingRun();
    const r = await cli(["exec", "logs", "12", "--no-status", "--no-stderr"]);
    expect(r.stdout).toBe("epoch 1\n");
    expect(stub!.requests.every((q) => q.url.includes("/logs"))).toBe(true);
  });
});

describe("vh exec stop and delete", () => {
  it("stop latest: reads which one it is, stops it by number and names it", async () => {
    const started = new Date(Date.now() - 200_000).toISOString();
    stub = await stubServer({
      "GET /api/v1/projects/:p/executions/:n": (_req, res) => sendJson(res, 200, record({ startedAt: started, title: "baseline" })),
      "POST /api/v1/projects/:p/executions/:n/stop": (_req, res) => sendJson(res, 200, record({ status: "stopping", startedAt: started, title: "baseline" })),
    });
    const r = await cli(["exec", "stop", "latest"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('Stopping #12 "baseline" (train, started 3 min ago).\n');
    expect(stub.requests.map((q) => `${q.method} ${q.url}`)).toEqual([
      "GET /api/v1/projects/demo/executions/latest",
      "POST /api/v1/projects/demo/executions/12/stop",
    ]);
  });

  it("delete sends DELETE (with dryRun on --dry-run) and refuses latest before asking", async () => {
    stub = await stubServer({
      "DELETE /api/v1/projects/:p/executions/:n": (req, res) =>
        sendJson(res, 200, {
          execution: record({ status: "completed" }),
          removed: { counter: 12, dryRun: req.url.includes("dryRun=true"), outputs: 1, bytes: 3 * 1024 * 1024, logLines: 1, metadataEvents: 0 },
        }),
    });
    const dry = await cli(["exec", "delete", "12", "--dry-run"]);
    expect(dry.stderr).toBe("Would delete #12 (train, completed): 1 output (3.0 MiB), 1 log line and 0 metadata events. Nothing was deleted (--dry-run).\n");
    const del = await cli(["exec", "delete", "#12"]);
    expect(del.stderr).toBe(
      "Deleted #12 (train, completed): 1 output (3.0 MiB), 1 log line and 0 metadata events removed. Its record and status history stay: vh exec show 12.\n",
    );
    expect(stub.requests.map((q) => `${q.method} ${q.url}`)).toEqual([
      "DELETE /api/v1/projects/demo/executions/12?dryRun=true",
      "DELETE /api/v1/projects/demo/executions/12",
    ]);
    const latest = await cli(["exec", "delete", "latest"]);
    expect(latest.code).toBe(1);
    expect(latest.stderr).toMatch(/^error: vh exec delete takes the execution's number/);
    expect(stub.requests).toHaveLength(2);
  });
});

describe("ago", () => {
  it("says how long ago in words, never in the future", () => {
    const now = Date.parse("2025-01-02T12:00:00Z");
    expect(ago("2025-01-02T11:59:58Z", now)).toBe("2 s ago");
    expect(ago("2025-01-02T11:57:00Z", now)).toBe("3 min ago");
    expect(ago("2025-01-02T09:00:00Z", now)).toBe("3 h ago");
    expect(ago("2024-12-28T12:00:00Z", now)).toBe("5 days ago");
    expect(ago("2025-01-02T12:00:05Z", now)).toBe("0 s ago");
    expect(ago("not a time", now)).toBe("at an unknown time");
  });
});
