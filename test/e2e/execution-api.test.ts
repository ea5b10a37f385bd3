/**
 * The execution lifecycle through the REST API on a real Postgres, worker, local runner and local
 * store: the fixture project (Python standard library only) runs for real.
 */
import http from "node:http";
import path from "node:path";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { groupAlive } from "../../worker/runners/local/host.js";

const fixture = path.resolve(import.meta.dirname, "../fixtures/projects/train-basic");
const DATASET = "a,b\n1,2\n3,4\n";

type Exec = {
  id: string;
  counter: number;
  status: string;
  statusDetail: string | null;
  exitCode: number | null;
  command: string;
  parameters: Record<string, unknown>;
  inputs: { name: string; uri: string; file: string; sha256: string | null; size: number | null }[];
  environmentVariables: Record<string, string>;
  runtime: { mode: string; host: { hostname: string; cpuCount: number; memoryBytes: number } } | null;
  warnings: string[];
  metadataLatest: Record<string, unknown>;
  statusHistory: { status: string }[];
  code: { sha256: string };
};

describe("executions end to end (REST API)", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;
  let files: http.Server;
  let filesUrl: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
    files = http.createServer((req, res) => {
      if (req.url === "/data.csv") {
        res.writeHead(200, { "content-type": "text/csv", etag: '"v1"' });
        res.end(req.method === "HEAD" ? undefined : DATASET);
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
    code = await uploadSnapshot(stack, fixture);
  });

  afterAll(async () => {
    await stack?.stop();
    await new Promise((r) => files?.close(r));
    await db?.drop();
  });

  const create = (body: Record<string, unknown>) => stack.api<Exec>("POST", "/api/v1/projects/demo/executions", { code, ...body });
  const get = (n: number) => stack.api<Exec>("GET", `/api/v1/projects/demo/executions/${n}`);
  const until = (n: number, statuses: string[]) =>
    waitFor(`execution #${n} to reach ${statuses.join("|")}`, async () => {
      const e = await get(n);
      return statuses.includes(e.status) ? e : undefined;
    }, 60_000);
  const expectRefused = async (body: Record<string, unknown>, status: number, message: RegExp) => {
    const before = await db.sql`select count(*)::int as n from executions`;
    const jobs = await db.sql`select count(*)::int as n from graphile_worker.jobs`;
    const err = (await create(body).catch((e: unknown) => e)) as { status: number; body: string };
    expect(err.status).toBe(status);
    expect(JSON.parse(err.body).error.message).toMatch(message);
    expect((await db.sql`select count(*)::int as n from executions`)[0]!.n).toBe(before[0]!.n);
    expect((await db.sql`select count(*)::int as n from graphile_worker.jobs`)[0]!.n).toBe(jobs[0]!.n);
  };

  it("runs a training step: logs, metadata, outputs with checksums, and the record", async () => {
    const created = await create({
      step: "train",
      parameters: { epochs: "4", label: "it's a test" },
      inputs: { dataset: `${filesUrl}/data.csv` },
      environmentVariables: { EXTRA: "1" },
    });
    expect(created.counter).toBe(1);
    expect(created.status).toBe("queued");
    expect(created.command).toBe(
      "echo \"preparing\"\npython3 train.py --epochs=4 --learning_rate=0.001 '--label=it'\"'\"'s a test'",
    );
    const done = await until(created.counter, ["completed", "failed", "error"]);
    const logs = await stack.api<{ lines: { stream: string; line: string }[]; finished: boolean }>(
      "GET", `/api/v1/projects/demo/executions/${created.counter}/logs`);
    const text = logs.lines.map((l) => `${l.stream}: ${l.line}`);
    expect(done.status, text.join("\n")).toBe("completed");
    expect(done.exitCode).toBe(0);
    expect(logs.finished).toBe(true);
    expect(text).toContain("stdout: preparing");
    expect(text).toContain(`stdout: argv ["--epochs=4", "--learning_rate=0.001", "--label=it's a test"]`);
    expect(text).toContain("stdout: execution counter 1");
    expect(text).toContain("stdout: mode fast");
    expect(text).toContain("stderr: a warning on stderr");
    const sha = createHash("sha256").update(DATASET).digest("hex");
    expect(text).toContain(`stdout: dataset rows 3 sha256 ${sha}`);

    // metadata: one event per epoch, series per key, latest values
    const md = await stack.api<{ events: { data: Record<string, unknown> }[]; latest: Record<string, unknown> }>(
      "GET", `/api/v1/projects/demo/executions/${created.counter}/metadata`);
    expect(md.events.map((e) => e.data["epoch"])).toEqual([0, 1, 2, 3]);
    expect(md.events.map((e) => e.data["loss"])).toEqual([0.5, 0.25, 0.125, 0.0625]);
    expect(md.latest).toMatchObject({ epoch: 3, loss: 0.0625, accuracy: 0.9375 });
    const series = await stack.api<{ key: string; points: { seq: number; value: unknown }[] }>(
      "GET", `/api/v1/projects/demo/executions/${created.counter}/metadata/loss`);
    expect(series.key).toBe("loss");
    expect(series.points.map((p) => p.value)).toEqual([0.5, 0.25, 0.125, 0.0625]);
    expect(done.metadataLatest).toMatchObject({ epoch: 3 });
    expect(done.warnings.join(" ")).toMatch(/looked like a JSON metadata object but did not parse/);

    // outputs: both files, with size and sha256, sidecar stored as metadata and not as a datum
    const outs = await stack.api<{ results: { id: string; uri: string; name: string; size: number; sha256: string; metadata: Record<string, unknown> }[] }>(
      "GET", `/api/v1/projects/demo/executions/${created.counter}/outputs`);
    expect(outs.results.map((o) => o.name).sort()).toEqual(["models/model.bin", "summary.txt"]);
    const model = outs.results.find((o) => o.name === "models/model.bin")!;
    const modelBytes = Buffer.from("weights:a,b,1,2,3,4");
    expect(model.size).toBe(modelBytes.length);
    expect(model.sha256).toBe(createHash("sha256").update(modelBytes).digest("hex"));
    expect(model.uri).toBe(`datum://${model.id}`);
    expect(model.metadata).toEqual({ "valohai.tags": ["fixture"], final_loss: 0.0625 });
    const dl = await stack.raw("GET", `/api/v1/data/${model.id}/download`);
    expect(Buffer.from(await dl.arrayBuffer())).toEqual(modelBytes);
    const summary = outs.results.find((o) => o.name === "summary.txt")!;
    const sdl = await stack.raw("GET", `/api/v1/data/${summary.id}/download`);
    expect(await sdl.text()).toBe("label=it's a test\n");

    // the execution record
    expect(done.code.sha256).toBe(code);
    expect(done.parameters).toEqual({ epochs: 4, learning_rate: 0.001, label: "it's a test", augment: false });
    expect(done.inputs).toEqual([{ name: "dataset", uri: `${filesUrl}/data.csv`, file: "data.csv", sha256: sha, size: DATASET.length }]);
    expect(done.environmentVariables).toEqual({ MODE: "fast", API_TOKEN: "***", EXTRA: "1" });
    expect(done.runtime?.mode).toBe("process");
    expect(done.runtime?.host.cpuCount).toBeGreaterThan(0);
    expect(done.runtime?.host.memoryBytes).toBeGreaterThan(0);
    expect(done.statusHistory.map((h) => h.status)).toEqual(["created", "queued", "starting", "running", "uploading", "completed"]);
  });

  it("a datum output feeds the next execution as datum:// and is not downloaded twice", async () => {
    const outs = await stack.api<{ results: { id: string; name: string; sha256: string }[] }>(
      "GET", "/api/v1/projects/demo/executions/1/outputs");
    const summary = outs.results.find((o) => o.name === "summary.txt")!;
    const e = await create({ step: "train", parameters: { epochs: 1 }, inputs: { dataset: `${filesUrl}/data.csv`, extra: `datum://${summary.id}` } });
    const done = await until(e.counter, ["completed", "failed", "error"]);
    expect(done.status).toBe("completed");
    expect(done.inputs.find((i) => i.name === "extra")).toMatchObject({ uri: `datum://${summary.id}`, sha256: summary.sha256, file: "summary.txt" });
  });

  it("a failing command ends failed with its exit code", async () => {
    const e = await create({ step: "crash" });
    const done = await until(e.counter, ["completed", "failed", "error"]);
    expect(done.status).toBe("failed");
    expect(done.exitCode).toBe(3);
    expect(done.statusDetail).toMatch(/exited with code 3/);
  });

  it("stop kills the whole process group", async () => {
    const e = await create({ step: "sleepy" });
    await until(e.counter, ["running"]);
    await waitFor("first log line", async () => {
      const l = await stack.api<{ lines: unknown[] }>("GET", `/api/v1/projects/demo/executions/${e.counter}/logs`);
      return l.lines.length > 0 ? true : undefined;
    });
    const stopped = await stack.api<Exec>("POST", `/api/v1/projects/demo/executions/${e.counter}/stop`);
    expect(["stopping", "stopped"]).toContain(stopped.status);
    const done = await until(e.counter, ["stopped", "error", "failed", "completed"]);
    expect(done.status).toBe("stopped");
    const [row] = await db.sql<{ runner_handle: { pgid: number } | null }[]>`select runner_handle from executions where id = ${e.id}`;
    const pgid = row?.runner_handle?.pgid;
    expect(pgid).toBeGreaterThan(1);
    expect(await groupAlive(pgid!)).toBe(false);
  });

  it("enforces time-limit and no-output-timeout", async () => {
    const a = await create({ step: "limited" });
    const b = await create({ step: "quiet" });
    const da = await until(a.counter, ["error", "failed", "completed", "stopped"]);
    const dbb = await until(b.counter, ["error", "failed", "completed", "stopped"]);
    expect(da.status).toBe("error");
    expect(da.statusDetail).toMatch(/Time limit of 2 s exceeded/);
    expect(dbb.status).toBe("error");
    expect(dbb.statusDetail).toMatch(/No output for 2 s/);
  });

  it("uploads a file made read-only during the run at once (live upload)", async () => {
    const e = await create({ step: "live" });
    const done = await until(e.counter, ["completed", "failed", "error"]);
    const logs = await stack.api<{ lines: { line: string }[] }>("GET", `/api/v1/projects/demo/executions/${e.counter}/logs`);
    expect(logs.lines.map((l) => l.line)).toContain("checkpoint uploaded");
    expect(done.status).toBe("completed");
    const outs = await stack.api<{ results: { name: string }[] }>("GET", `/api/v1/projects/demo/executions/${e.counter}/outputs`);
    expect(outs.results.map((o) => o.name).sort()).toEqual(["checkpoint-1.txt", "final.txt"]);
  });

  it("stopping a queued execution never starts it", async () => {
    await stack.vh.worker!.stop();
    const e = await create({ step: "sleepy" });
    const s = await stack.api<Exec>("POST", `/api/v1/projects/demo/executions/${e.counter}/stop`);
    expect(s.status).toBe("stopped");
    const [jobs] = await db.sql`select count(*)::int as n from graphile_worker.jobs where key = ${e.id}`;
    expect(jobs!.n).toBe(0);
  });

  describe("bad input is refused with a clear message and leaves nothing behind", () => {
    it("unknown step", () =>
      expectRefused({ step: "trian" }, 400, /^`valohai\.yaml` in the code snapshot has no step `trian`\. Did you mean `train`\? Steps: `train`, `sleepy`, /));
    it("wrong parameter type", () =>
      expectRefused({ step: "train", parameters: { epochs: "many" }, inputs: { dataset: `${filesUrl}/data.csv` } }, 400, /^Parameter `epochs`: many is not an integer/));
    it("unknown parameter", () =>
      expectRefused({ step: "train", parameters: { epoch: 3 }, inputs: { dataset: `${filesUrl}/data.csv` } }, 400, /epoch/));
    it("missing required input", () => expectRefused({ step: "train" }, 400, /Input "dataset" is required/));
    it("unreachable input URL", () =>
      expectRefused({ step: "train", inputs: { dataset: `${filesUrl}/missing.csv` } }, 400, /Input "dataset": http:\/\/127\.0\.0\.1:\d+\/missing\.csv answered HTTP 404/));
    it("refused connection", () =>
      expectRefused({ step: "train", inputs: { dataset: "http://127.0.0.1:9/x.csv" } }, 400, /Input "dataset": http:\/\/127\.0\.0\.1:9\/x\.csv could not be reached/));
    it("unknown datum", () =>
      expectRefused({ step: "train", inputs: { dataset: "datum://00000000-0000-4000-8000-000000000000" } }, 400, /does not exist/));
    it("unknown code snapshot", () => expectRefused({ step: "train", code: "0".repeat(64) }, 404, /not stored/));
    it("invalid valohai.yaml", async () => {
      const bad = await import("node:fs").then((fs) => {
        const dir = fs.mkdtempSync(path.join(import.meta.dirname, ".tmp-bad-"));
        fs.writeFileSync(path.join(dir, "valohai.yaml"), "- step:\n    name: x\n    image: [\n");
        return dir;
      });
      try {
        const sha = await uploadSnapshot(stack, bad);
        await expectRefused({ step: "x", code: sha }, 400, /^`valohai\.yaml` in the code snapshot is invalid:\nvalohai\.yaml:\d+:\d+: /);
      } finally {
        (await import("node:fs")).rmSync(bad, { recursive: true, force: true });
      }
    });
    it("no valohai.yaml in the snapshot", async () => {
      const fs = await import("node:fs");
      const dir = fs.mkdtempSync(path.join(import.meta.dirname, ".tmp-noyaml-"));
      fs.writeFileSync(path.join(dir, "train.py"), "print(1)\n");
      try {
        const sha = await uploadSnapshot(stack, dir);
        await expectRefused({ step: "train", code: sha }, 400, /^There is no `valohai\.yaml` in the code snapshot: vh reads the steps from it\.$/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
    it("no token", async () => {
      const res = await fetch(`${stack.vh.url}/api/v1/projects`);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/needs a token/);
    });
  });
});
