/**
 * Hostile outputs (issue 20): what a job leaves in outputs/ can never exhaust the server's memory,
 * lose the other outputs, leak the work dir or break a download. Real executions of
 * test/fixtures/projects/hostile-outputs on a real stack.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";

const fixture = path.resolve(import.meta.dirname, "../fixtures/projects/hostile-outputs");

type Exec = { id: string; counter: number; status: string; statusDetail: string | null; warnings: string[] };
type Datum = { id: string; name: string; size: number; sha256: string; metadata: Record<string, unknown> };

/** A stack with one project and the fixture uploaded; `env` for its settings. */
function hostileStack(env: Record<string, string> = {}) {
  const ctx = {} as { db: Awaited<ReturnType<typeof createTestDatabase>>; stack: Stack; code: string };
  beforeAll(async () => {
    ctx.db = await createTestDatabase();
    ctx.stack = await startStack({ databaseUrl: ctx.db.connectionString, env });
    await ctx.stack.api("POST", "/api/v1/projects", { name: "hostile" });
    ctx.code = await uploadSnapshot(ctx.stack, fixture);
  });
  afterAll(async () => {
    await ctx.stack?.stop();
    await ctx.db?.drop();
  });
  const base = "/api/v1/projects/hostile/executions";
  const api = {
    run: (step: string, parameters: Record<string, unknown> = {}) => ctx.stack.api<Exec>("POST", base, { code: ctx.code, step, parameters }),
    until: (n: number, ms = 60_000) =>
      waitFor(`execution #${n} to end`, async () => {
        const e = await ctx.stack.api<Exec>("GET", `${base}/${n}`);
        return ["completed", "failed", "error", "stopped", "lost"].includes(e.status) ? e : undefined;
      }, ms, 100),
    outputs: async (n: number) => (await ctx.stack.api<{ results: Datum[] }>("GET", `${base}/${n}/outputs`)).results,
    outputsBytes: async (n: number) => (await (await ctx.stack.raw("GET", `${base}/${n}/outputs`)).text()).length,
    /** The execution's work dir (from its runner handle): gone once the execution has ended. */
    workDir: async (id: string) => {
      const [row] = await ctx.db.sql<{ runner_handle: { workDir: string } | null }[]>`select runner_handle from executions where id = ${id}`;
      return row!.runner_handle!.workDir;
    },
  };
  return { ctx, api };
}

describe("oversized sidecars", () => {
  const { ctx, api } = hostileStack();

  it("a 20 MB valohai.metadata.jsonl and a 5 MB .metadata.json are stored as plain files, not parsed; memory stays bounded", async () => {
    // Peak RSS of this process (it runs the server and the worker) while the execution runs.
    let peak = 0;
    const rss0 = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    let slowestHealthz = 0;
    let pinging = true;
    const pinger = (async () => {
      while (pinging) {
        const t = Date.now();
        await ctx.stack.raw("GET", "/healthz").catch(() => undefined);
        slowestHealthz = Math.max(slowestHealthz, Date.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const e = await api.run("sidecars", { jsonl_mb: 20, sidecar_mb: 5 });
    const t0 = Date.now();
    const done = await api.until(e.counter, 170_000);
    const seconds = (Date.now() - t0) / 1000;
    clearInterval(sampler);
    pinging = false;
    await pinger;
    const growth = peak - rss0;
    console.log(`sidecars: ${seconds.toFixed(1)} s, peak RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB, slowest /healthz ${slowestHealthz} ms`);
    expect(done.status, done.statusDetail ?? "").toBe("completed");

    const outs = await api.outputs(e.counter);
    const byName = new Map(outs.map((o) => [o.name, o]));
    expect([...byName.keys()].sort()).toEqual(["big.bin", "big.bin.metadata.json", "model.bin", "small.bin", "valohai.metadata.jsonl"]);
    // The real outputs survive; the oversized sidecars are plain outputs with their full size.
    expect(byName.get("model.bin")!.metadata).toEqual({});
    expect(byName.get("big.bin")!.metadata).toEqual({});
    expect(byName.get("valohai.metadata.jsonl")!.size).toBeGreaterThanOrEqual(20 * 2 ** 20);
    expect(byName.get("big.bin.metadata.json")!.size).toBeGreaterThan(5 * 2 ** 20);
    // A small sidecar still works.
    expect(byName.get("small.bin")!.metadata).toEqual({ kind: "small", "valohai.tags": ["ok"] });
    expect(await api.outputsBytes(e.counter)).toBeLessThan(10_000);
    const w = done.warnings.join("\n");
    expect(w).toMatch(/valohai\.metadata\.jsonl is \d+(\.\d+)? MB, over the 1 MB limit for sidecars/);
    expect(w).toMatch(/big\.bin\.metadata\.json is \d+(\.\d+)? MB, over the 1 MB limit for sidecars/);
    expect(fs.existsSync(await api.workDir(done.id))).toBe(false);
    // Reading a sidecar is bounded by the cap, not by the file: 25 MB of sidecars cost far less than 25 MB.
    expect(growth).toBeLessThan(40 * 2 ** 20);
    expect(slowestHealthz).toBeLessThan(1000);
    expect(seconds).toBeLessThan(20);
  }, 180_000);
});

describe("bad output names", () => {
  const { ctx, api } = hostileStack();

  it("a name the store refuses is skipped with a warning; the others are uploaded and the work dir is removed", async () => {
    const e = await api.run("bad-names");
    const done = await api.until(e.counter);
    expect(done.status, done.statusDetail ?? "").toBe("completed");
    const outs = await api.outputs(e.counter);
    expect(outs.map((o) => o.name).sort()).toEqual(["0-first.txt", 'na\u00efve "quoted" \u2713.txt', "z-last.txt"]);
    const w = done.warnings.join("\n");
    expect(w).toMatch(/Output "back\\\\slash\.txt" was not uploaded: .*backslash/);
    // Control characters are refused too, and the warning shows them escaped.
    expect(w).toMatch(/Output "esc\\u001b\[31mred\.txt" was not uploaded: .*control character/);
    expect(w).toMatch(/Output "tab\\there\.txt" was not uploaded: .*control character/);
    expect(w).not.toMatch(/\x1b/);
    expect(fs.existsSync(await api.workDir(done.id))).toBe(false);
  });

  it("every name downloads, with the name encoded safely in Content-Disposition (RFC 6266)", async () => {
    const outs = await api.outputs(1);
    const unicode = outs.find((o) => o.name.startsWith("na"))!;
    const res = await ctx.stack.raw("GET", `/api/v1/data/${unicode.id}/download`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`content of 'na\u00efve "quoted" \u2713.txt'\n`);
    const cd = res.headers.get("content-disposition")!;
    expect(cd).toBe(`attachment; filename="na_ve _quoted_ _.txt"; filename*=UTF-8''na%C3%AFve%20%22quoted%22%20%E2%9C%93.txt`);

    // A datum stored with a control character in its name (before names were checked) still downloads.
    const first = outs.find((o) => o.name === "0-first.txt")!;
    const [row] = await ctx.db.sql<{ id: string }[]>`
      insert into datums (project_id, execution_id, name, size, sha256, store_key, metadata)
      select project_id, null, ${"dir/esc\x1b[31m\r\nX-Evil: 1.txt"}, size, sha256, store_key, '{}' from datums where id = ${first.id}
      returning id`;
    const res2 = await ctx.stack.raw("GET", `/api/v1/data/${row!.id}/download`);
    expect(res2.status).toBe(200);
    expect(res2.headers.get("x-evil")).toBeNull();
    expect(res2.headers.get("content-disposition")).toBe(`attachment; filename="esc_[31m__X-Evil: 1.txt"; filename*=UTF-8''esc%1B%5B31m%0D%0AX-Evil%3A%201.txt`);
    expect(await res2.text()).toBe("content of '0-first.txt'\n");
  });
});

describe("output quota", () => {
  const { api } = hostileStack({ VH_MAX_OUTPUT_MB: "1.5" });

  it("outputs beyond the quota are skipped with a warning; a sparse file counts by the bytes it holds for a reader", async () => {
    const e = await api.run("output-flood", { sparse_mb: 64 });
    const t0 = Date.now();
    const done = await api.until(e.counter);
    const seconds = (Date.now() - t0) / 1000;
    expect(done.status, done.statusDetail ?? "").toBe("completed");
    const outs = await api.outputs(e.counter);
    // a.bin (600 KB) + b.bin (600 KB) fit in 1.5 MB; c.bin would not; the 64 MB sparse file would not.
    expect(outs.map((o) => o.name).sort()).toEqual(["a.bin", "b.bin"]);
    expect(outs.reduce((s, o) => s + o.size, 0)).toBeLessThanOrEqual(1.5 * 2 ** 20);
    const w = done.warnings.join("\n");
    expect(w).toMatch(/Output "c\.bin" \(0\.6 MB\) was not uploaded: the execution's output quota of 1\.5 MB/);
    expect(w).toMatch(/Output "sparse\.bin" \(64 MB\) was not uploaded: the execution's output quota of 1\.5 MB/);
    expect(fs.existsSync(await api.workDir(done.id))).toBe(false);
    expect(seconds).toBeLessThan(20);
  });
});
