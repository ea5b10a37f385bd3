/**
 * Hostile stdout (issue 20): what a job prints can never freeze an execution, exhaust the database
 * or blind its log. Real executions of test/fixtures/projects/hostile-outputs on a real stack.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";

const fixture = path.resolve(import.meta.dirname, "../fixtures/projects/hostile-outputs");

type Exec = { id: string; counter: number; status: string; statusDetail: string | null; warnings: string[]; metadataLatest: Record<string, unknown> };
type Line = { seq: number; stream: string; line: string };

describe("hostile stdout", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    // A 1 MB log quota, so that a 5 MB flood is enough to reach it.
    stack = await startStack({ databaseUrl: db.connectionString, env: { VH_MAX_LOG_MB: "1" } });
    await stack.api("POST", "/api/v1/projects", { name: "hostile" });
    code = await uploadSnapshot(stack, fixture);
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  const base = "/api/v1/projects/hostile/executions";
  const run = (step: string, parameters: Record<string, unknown> = {}) => stack.api<Exec>("POST", base, { code, step, parameters });
  const get = (n: number) => stack.api<Exec>("GET", `${base}/${n}`);
  const until = (n: number, statuses: string[], ms = 30_000) =>
    waitFor(`execution #${n} to reach ${statuses.join("|")}`, async () => {
      const e = await get(n);
      return statuses.includes(e.status) ? e : undefined;
    }, ms, 100);
  async function allLines(n: number): Promise<Line[]> {
    const out: Line[] = [];
    let after = 0;
    for (;;) {
      const page = await stack.api<{ lines: Line[]; next: number }>("GET", `${base}/${n}/logs?after=${after}&limit=50000`);
      out.push(...page.lines);
      if (page.lines.length < 50000) return out;
      after = page.next;
    }
  }

  it("a metadata line nested 10,000 levels deep is a warning, not a frozen execution", async () => {
    const e = await run("nested-metadata");
    const t0 = Date.now();
    const done = await until(e.counter, ["completed", "failed", "error", "stopped"], 20_000);
    const seconds = (Date.now() - t0) / 1000;
    expect(done.status).toBe("completed");
    expect(seconds).toBeLessThan(15);

    const lines = await allLines(e.counter);
    const stdout = lines.filter((l) => l.stream === "stdout").map((l) => l.line);
    // Every line is stored, the bomb itself whole (60 KB is under the line-length cap).
    expect(stdout[0]).toBe("before the bomb");
    expect(stdout[1]).toHaveLength(60_001);
    expect(stdout[1]!.startsWith('{"a":{"a":')).toBe(true);
    expect(stdout.slice(4, 7)).toEqual(["after the bomb 0", "after the bomb 1", "after the bomb 2"]);
    expect(stdout).toHaveLength(8);

    // The lines around it are metadata as usual; the bomb is not.
    const md = await stack.api<{ events: { data: Record<string, unknown> }[]; latest: Record<string, unknown> }>("GET", `${base}/${e.counter}/metadata`);
    expect(md.events.map((ev) => Object.keys(ev.data).filter((k) => k !== "_time").sort())).toEqual([["loss"], ["ok"], ["done", "loss"]]);
    expect(md.latest).toMatchObject({ loss: 0.25, done: true, ok: 1 });
    expect(md.latest).not.toHaveProperty("a");
    // 1e400 is not silently stored as null: the key is dropped, with a warning that names it.
    expect(md.latest).not.toHaveProperty("huge");
    expect(md.latest).not.toHaveProperty("nested");
    const warnings = done.warnings.join("\n");
    // (Line numbers are log seqs: #3 is vh's own status line about #2.)
    expect(warnings).toMatch(/^Metadata nested too deep: log line #2 .*nested deeper than \d+ levels/m);
    expect(warnings).toMatch(/^Metadata number out of range: log line #5 .*"huge", "tiny", "nested"/m);
    // Its warnings also appear in the log, where someone watching it sees them.
    expect(lines.filter((l) => l.stream === "status").map((l) => l.line).join("\n")).toMatch(/nested deeper/);
  });

  it("after a deep metadata line, a stop request still stops the execution", async () => {
    const e = await run("nested-metadata", { sleep: 60 });
    await until(e.counter, ["running"]);
    await waitFor("the lines after the bomb", async () => {
      const lines = await allLines(e.counter);
      return lines.some((l) => l.line === "after the bomb 2") ? true : undefined;
    }, 15_000, 100);
    await stack.api("POST", `${base}/${e.counter}/stop`);
    const done = await until(e.counter, ["stopped", "completed", "failed", "error"], 20_000);
    expect(done.status).toBe("stopped");
  });

  it("a log flood past the quota is counted, not stored, with one warning line; the execution completes", async () => {
    const rss0 = process.memoryUsage().rss;
    const e = await run("log-flood", { mb: 5 });
    const done = await until(e.counter, ["completed", "failed", "error", "stopped"], 60_000);
    expect(done.status).toBe("completed");
    const [row] = await db.sql<{ bytes: string; n: number }[]>`
      select coalesce(sum(octet_length(line) + 1), 0)::bigint as bytes, count(*)::int as n from log_lines
      where execution_id = ${done.id} and stream <> 'status'`;
    expect(Number(row!.bytes)).toBeLessThanOrEqual(1024 * 1024);
    expect(Number(row!.bytes)).toBeGreaterThan(1024 * 1024 - 200);
    const lines = await allLines(e.counter);
    const status = lines.filter((l) => l.stream === "status");
    expect(status).toHaveLength(1);
    expect(status[0]!.line).toMatch(/log quota of 1 MB \(VH_MAX_LOG_MB\) reached/);
    expect(lines.map((l) => l.line)).not.toContain("the end");
    // Metadata beyond the quota is not stored either.
    const [mdRow] = await db.sql<{ n: number }[]>`select count(*)::int as n from metadata_events where execution_id = ${done.id}`;
    expect(mdRow!.n).toBeLessThan(15);
    const w = done.warnings.join("\n");
    expect(w).toMatch(/log quota of 1 MB/);
    // At the end, what was left out is counted: 5 MB printed, ~1 MB kept.
    const m = /(\d+) lines \((\d+) bytes\) were not stored/.exec(w);
    expect(m, w).not.toBeNull();
    // Every line printed is stored or counted, once (flood.py: 100-byte lines, every 1000th a metadata line, then "the end").
    const n = Math.floor((5 * 1024 * 1024) / 100);
    let printed = "the end\n".length;
    for (let i = 0; i < n; i++) printed += i % 1000 === 0 ? `{"step": ${i}}\n`.length : 100;
    expect(Number(m![1]) + row!.n).toBe(n + 1);
    expect(Number(m![2]) + Number(row!.bytes)).toBe(printed);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(200 * 1024 * 1024);
  });
});
