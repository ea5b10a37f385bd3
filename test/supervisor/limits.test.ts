/**
 * The ingester's and the output planner's limits (issue 20), unit by unit: what a hostile line or
 * sidecar gets instead of an exception. End-to-end attacks are in test/hostile/.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildBatch,
  commitBatch,
  inspectMetadataLine,
  MAX_LATEST_KEYS,
  MAX_METADATA_LINE_CHARS,
  warnedKinds,
  withoutMetadata,
  type Cursor,
} from "../../worker/supervisor/ingest.js";
import { MAX_JSON_DEPTH, nestedDeeperThan } from "../../worker/supervisor/json-limits.js";
import { MAX_SIDECAR_BYTES, outputNameProblem, planOutputs } from "../../worker/supervisor/outputs.js";
import { contentDisposition } from "../../app/http/routes/data.js";
import type { OutputFileInfo, Runner, RunnerHandle } from "../../app/contracts/runner.js";
import { createTestDatabase } from "../helpers/db.js";

const fresh = (): Cursor => ({ offsets: { stdout: 0, stderr: 0 }, partial: { stdout: "", stderr: "" }, logSeq: 0, metadataSeq: 0 });
const at = new Date("2026-01-01T00:00:00Z");
const nested = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
const stdout = (text: string, offset = 0) => [{ stream: "stdout" as const, data: Buffer.from(text), offset }];

describe("metadata lines over the limits", () => {
  it("finds the nesting depth by a scan, not counting brackets in strings", () => {
    expect(nestedDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(nestedDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    expect(nestedDeeperThan(`{"s": "${"[".repeat(1000)}\\"{{{"}`, 2)).toBe(false);
    expect(nestedDeeperThan(nested(1_000_000), MAX_JSON_DEPTH)).toBe(true); // no stack involved
  });

  it("reads a line as metadata, too long, too deep, or with keys dropped for out-of-range numbers", () => {
    expect(inspectMetadataLine('{"loss": 0.5}')).toEqual({ kind: "ok", data: { loss: 0.5 }, dropped: [] });
    expect(inspectMetadataLine(nested(10_000))).toEqual({ kind: "too-deep" });
    expect(inspectMetadataLine(`{"s": "${"x".repeat(MAX_METADATA_LINE_CHARS)}"}`)).toEqual({ kind: "too-long" });
    expect(inspectMetadataLine('{"a": 1e400, "b": [-1e999], "c": 1e-400, "d": 2}')).toEqual({ kind: "ok", data: { c: 0, d: 2 }, dropped: ["a", "b"] });
    expect(inspectMetadataLine("{nope")).toEqual({ kind: "invalid" });
    expect(inspectMetadataLine("plain")).toEqual({ kind: "none" });
    // A "__proto__" key stays a key (an assignment would have changed the summary's prototype instead).
    const b = buildBatch(fresh(), stdout('{"__proto__": {"x": 1}, "a": 1}\n'), () => at);
    expect(JSON.stringify(b.latest)).toBe('{"__proto__":{"x":1},"a":1}');
  });

  it("a batch with a 10,000-deep line and later lines: every line stored, one warning, one status line", () => {
    const text = `before\n${nested(10_000)}\n{"loss": 1}\n${nested(200)}\nafter\n`;
    const b = buildBatch(fresh(), stdout(text), () => at);
    expect(b.lines.map((l) => [l.seq, l.stream, l.line.slice(0, 12)])).toEqual([
      [1, "stdout", "before"],
      [2, "stdout", '{"a":{"a":{"'],
      [3, "status", "line #2 is a"],
      [4, "stdout", '{"loss": 1}'],
      [5, "stdout", '{"a":{"a":{"'],
      [6, "stdout", "after"],
    ]);
    expect(b.metadata.map((m) => m.data["loss"])).toEqual([1]);
    expect(b.warnings).toHaveLength(1);
    expect(b.warnings[0]!.text).toMatch(/^Metadata nested too deep: log line #2 \(and maybe later ones\)/);
    // The next batch of the same execution does not warn again.
    const b2 = buildBatch(b.cursor, stdout(`${nested(100)}\n`, text.length), () => at);
    expect(b2.warnings).toEqual([]);
    expect(b2.lines.map((l) => l.stream)).toEqual(["stdout"]);
    // Nor does a supervisor that re-attaches (the kinds given are read back from the warnings).
    expect(warnedKinds([b.warnings[0]!.text])).toEqual(new Set(["metadata-too-deep"]));
  });

  it("the latest value per key is bounded in keys", () => {
    const keys = Array.from({ length: MAX_LATEST_KEYS + 5 }, (_, i) => `{"k${i}": ${i}}`).join("\n") + "\n";
    const b = buildBatch(fresh(), stdout(keys), () => at);
    expect(b.metadata).toHaveLength(MAX_LATEST_KEYS + 5); // every event is kept
    expect(Object.keys(b.latest)).toHaveLength(MAX_LATEST_KEYS);
    expect(b.warnings.map((w) => w.kind)).toEqual(["metadata-latest-full"]);
  });
});

describe("the log quota", () => {
  it("stores lines up to the byte quota, then counts the rest; one status line; resumes counting from the cursor", () => {
    const limits = { maxLogBytes: 20, maxLogLines: 1000 };
    const a = buildBatch(fresh(), stdout("123456789\n123456789\nabc\n"), () => at, false, limits);
    expect(a.lines.map((l) => [l.stream, l.line])).toEqual([
      ["stdout", "123456789"],
      ["stdout", "123456789"],
      ["status", "log quota of 0 MB (VH_MAX_LOG_MB) reached: later output is counted but not stored."],
    ]);
    expect(a.cursor).toMatchObject({ logBytes: 20, droppedLines: 1, droppedBytes: 4, logSeq: 3 });
    expect(a.dropped).toBe(1);
    // Even a short line is not stored once the quota was reached; no second status line.
    const b = buildBatch(a.cursor, stdout("x\n", 24), () => at, false, limits);
    expect(b.lines).toEqual([]);
    expect(b.warnings).toEqual([]);
    expect(b.cursor).toMatchObject({ logBytes: 20, droppedLines: 2, droppedBytes: 6, logSeq: 3 });
  });

  it("the line quota, and metadata past the quota is not stored either", () => {
    const b = buildBatch(fresh(), stdout('{"a": 1}\n{"a": 2}\n{"a": 3}\n'), () => at, false, { maxLogBytes: 1e9, maxLogLines: 2 });
    expect(b.metadata.map((m) => m.data["a"])).toEqual([1, 2]);
    expect(b.latest).toEqual({ a: 2 });
    expect(b.lines.at(-1)!.line).toMatch(/log quota of 2 lines \(VH_MAX_LOG_LINES\)/);
  });
});

describe("commit", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let id: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    const [p] = await db.sql`insert into projects (name) values ('p') returning id`;
    const [e] = await db.sql`
      insert into executions (project_id, counter, step, status, image, command, command_list, parameters, inputs, environment_variables, lease_owner, lease_until)
      values (${p!["id"]}, 1, 's', 'running', 'i', 'c', '[]', '{}', '[]', '{}', 'me', now() + interval '1 minute') returning id`;
    id = e!["id"] as string;
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("stores the quota counters, status lines and each warning kind once", async () => {
    const limits = { maxLogBytes: 1300, maxLogLines: 1000 };
    const deep = nested(100); // 601 characters
    const a = buildBatch(fresh(), stdout(`${deep}\n`), () => at, false, limits);
    expect((await commitBatch(db.sql, id, "me", a, 30)).held).toBe(true);
    // The same kind again from a cursor that forgot it (two supervisors, say): stored once.
    const again = buildBatch({ ...a.cursor, warned: new Set() }, stdout(`${deep}\n${"x".repeat(200)}\n`, a.cursor.offsets.stdout), () => at, false, limits);
    expect(again.warnings.map((w) => w.kind)).toEqual(["metadata-too-deep", "log-quota"]);
    await commitBatch(db.sql, id, "me", again, 30);
    const [row] = await db.sql<{ warnings: string[]; log_bytes: string; log_dropped_lines: string; log_dropped_bytes: string }[]>`
      select warnings, log_bytes, log_dropped_lines, log_dropped_bytes from executions where id = ${id}`;
    expect(row!.warnings.map((w) => w.split(":")[0])).toEqual(["Metadata nested too deep", "Log quota reached"]);
    expect([Number(row!.log_bytes), Number(row!.log_dropped_lines), Number(row!.log_dropped_bytes)]).toEqual([2 * (deep.length + 1), 1, 201]);
    const lines = await db.sql<{ stream: string }[]>`select stream from log_lines where execution_id = ${id} order by seq`;
    expect(lines.map((l) => l.stream)).toEqual(["stdout", "status", "stdout", "status", "status"]);
  });

  it("a batch whose metadata Postgres refuses is stored without it", async () => {
    const cursor = { ...fresh(), logSeq: 100, metadataSeq: 100, offsets: { stdout: 1000, stderr: 0 } };
    const b = buildBatch(cursor, stdout('{"ok": 1}\nplain\n', 1000), () => at);
    const bare = withoutMetadata(b, cursor, "jsonb refused");
    expect(bare.metadata).toEqual([]);
    expect(bare.cursor.metadataSeq).toBe(100);
    expect(bare.lines).toEqual(b.lines);
    expect(bare.warnings.at(-1)!.text).toMatch(/^Metadata not stored: the metadata of log lines #101–#102 .*jsonb refused/);
    expect((await commitBatch(db.sql, id, "me", bare, 30)).held).toBe(true);
  });
});

describe("outputs", () => {
  it("refuses names the store cannot hold and names with control characters", () => {
    expect(outputNameProblem("models/model.bin")).toBeNull();
    expect(outputNameProblem("na\u00efve \u2713.txt")).toBeNull();
    expect(outputNameProblem("back\\slash")).toMatch(/backslashes/);
    expect(outputNameProblem("esc\x1b[31m")).toMatch(/control character \(U\+001B\)/);
    expect(outputNameProblem("del\x7f")).toMatch(/U\+007F/);
    expect(outputNameProblem(`${"d/".repeat(600)}f`)).toMatch(/at most 1024 bytes/);
  });

  it("Content-Disposition: an ASCII fallback and the exact name in filename* (RFC 6266)", () => {
    expect(contentDisposition("a/b/model.bin")).toBe(`attachment; filename="model.bin"; filename*=UTF-8''model.bin`);
    expect(contentDisposition("x\r\nSet-Cookie: a=b")).toBe(`attachment; filename="x__Set-Cookie: a=b"; filename*=UTF-8''x%0D%0ASet-Cookie%3A%20a%3Db`);
    expect(contentDisposition("it's (1) 100%.txt")).toBe(`attachment; filename="it's (1) 100_.txt"; filename*=UTF-8''it%27s%20%281%29%20100%25.txt`);
    expect(() => new Headers({ "content-disposition": contentDisposition("\u0000\x1b\u00e9\ud800") })).not.toThrow();
  });

  describe("sidecars", () => {
    let dir: string;
    const runner = { openOutput: async (_h: RunnerHandle, rel: string) => fs.createReadStream(path.join(dir, rel)) } as unknown as Runner;
    const handle = { runner: "local", host: "h", workDir: "/nowhere" };
    const list = (): OutputFileInfo[] =>
      fs.readdirSync(dir).sort().map((p) => ({ path: p, size: fs.statSync(path.join(dir, p)).size, readOnly: false }));
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-limits-"));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("over the cap: a plain output, never read; under it: parsed in linear time (20,000 lines for one file)", async () => {
      fs.writeFileSync(path.join(dir, "m.bin"), "m");
      fs.writeFileSync(path.join(dir, "big.bin"), "b");
      fs.writeFileSync(path.join(dir, "big.bin.metadata.json"), `{"x": "${"y".repeat(MAX_SIDECAR_BYTES)}"}`);
      const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ file: "m.bin", metadata: { [`k${i}`]: i } }));
      fs.writeFileSync(path.join(dir, "valohai.metadata.jsonl"), `${lines.join("\n")}\n{"file": "m.bin", "metadata": {"inf": 1e400, "deep": ${nested(100)}}}\n`);
      const t0 = Date.now();
      const plan = await planOutputs(runner, handle, list());
      expect(Date.now() - t0).toBeLessThan(5000); // a copy per line (the old merge) took minutes
      const by = new Map(plan.uploads.map((u) => [u.file.path, u.metadata]));
      expect([...by.keys()]).toEqual(["big.bin", "big.bin.metadata.json", "m.bin"]);
      expect(by.get("big.bin")).toEqual({});
      expect(Object.keys(by.get("m.bin")!)).toHaveLength(20_000);
      expect(plan.plain).toEqual(new Set(["big.bin.metadata.json"]));
      expect(plan.warnings.join("\n")).toMatch(/big\.bin\.metadata\.json is 1 MB, over the 1 MB limit for sidecars/);
      expect(plan.warnings.join("\n")).toMatch(/valohai\.metadata\.jsonl line 20001: expected one JSON object/);
    });

    it("a sidecar with out-of-range numbers, NUL or 1,000-deep nesting never reaches jsonb as such", async () => {
      for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
      for (const n of ["a", "b"]) fs.writeFileSync(path.join(dir, n), n);
      fs.writeFileSync(path.join(dir, "a.metadata.json"), '{"inf": 1e400, "nul": "x\\u0000y", "ok": 1}');
      fs.writeFileSync(path.join(dir, "b.metadata.json"), nested(1000));
      const plan = await planOutputs(runner, handle, list());
      expect(plan.uploads.map((u) => [u.file.path, u.metadata])).toEqual([["a", { nul: "x\uFFFDy", ok: 1 }], ["b", {}]]);
      const w = plan.warnings.join("\n");
      expect(w).toMatch(/a\.metadata\.json has numbers out of range for JSON .* "inf"/);
      expect(w).toMatch(/b\.metadata\.json is nested deeper than 64 levels; ignored/);
    });
  });
});
