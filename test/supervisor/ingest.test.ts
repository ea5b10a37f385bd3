import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBatch, commitBatch, parseMetadataLine, type Cursor } from "../../worker/supervisor/ingest.js";
import { createTestDatabase } from "../helpers/db.js";

const fresh = (): Cursor => ({ offsets: { stdout: 0, stderr: 0 }, partial: { stdout: "", stderr: "" }, logSeq: 0, metadataSeq: 0 });
const at = new Date("2026-01-01T00:00:00Z");

describe("buildBatch", () => {
  it("splits lines across chunks, keeps the partial line, and strips CR", () => {
    const a = buildBatch(fresh(), [{ stream: "stdout", data: Buffer.from("one\r\ntw"), offset: 0 }], () => at);
    expect(a.lines.map((l) => l.line)).toEqual(["one"]);
    const b = buildBatch(a.cursor, [{ stream: "stdout", data: Buffer.from("o\nthree\n"), offset: 7 }], () => at);
    expect(b.lines.map((l) => [l.seq, l.line])).toEqual([[2, "two"], [3, "three"]]);
    expect(b.cursor.offsets.stdout).toBe(15);
    expect(b.cursor.partial.stdout).toBe("");
  });

  it("keeps a UTF-8 character cut between two reads whole", () => {
    const bytes = Buffer.from("näin\n");
    const a = buildBatch(fresh(), [{ stream: "stdout", data: bytes.subarray(0, 2), offset: 0 }], () => at);
    const b = buildBatch(a.cursor, [{ stream: "stdout", data: bytes.subarray(2), offset: 2 }], () => at);
    expect(b.lines.map((l) => l.line)).toEqual(["näin"]);
  });

  it("refuses a chunk that does not continue the cursor", () => {
    expect(() => buildBatch(fresh(), [{ stream: "stderr", data: Buffer.from("x\n"), offset: 5 }])).toThrow(/expected 0/);
  });

  it("turns stdout JSON objects into metadata, counts broken ones, and never parses stderr", () => {
    const text = '{"loss": 0.5}\n{"loss": 0.25, "acc": 1}\n{broken\n[1,2]\nplain\n';
    const b = buildBatch(fresh(), [
      { stream: "stdout", data: Buffer.from(text), offset: 0 },
      { stream: "stderr", data: Buffer.from('{"loss": 9}\n'), offset: 0 },
    ], () => at);
    expect(b.lines).toHaveLength(6);
    expect(b.metadata.map((m) => m.data["loss"])).toEqual([0.5, 0.25]);
    expect(b.latest).toEqual({ loss: 0.25, acc: 1 });
    expect(b.invalidJson).toBe(1); // "{broken"; "[1,2]" is valid JSON but not an object: a plain log line
    expect(b.firstInvalidJsonSeq).toBe(3);
  });

  it("flushes the unfinished last line at the end", () => {
    const b = buildBatch(fresh(), [{ stream: "stdout", data: Buffer.from("no newline"), offset: 0 }], () => at, true);
    expect(b.lines.map((l) => l.line)).toEqual(["no newline"]);
    expect(b.cursor.partial.stdout).toBe("");
  });
});

describe("metadata Postgres cannot store", () => {
  it("replaces \\u0000 and lone surrogates instead of failing", () => {
    expect(parseMetadataLine('{"m": "a\\u0000b", "s": "x\\ud800y", "k\\u0000": 1}')).toEqual({ m: "a\uFFFDb", s: "x\uFFFDy", "k\uFFFD": 1 });
    expect(parseMetadataLine('{"ok": "\\ud83d\\ude00"}')).toEqual({ ok: "😀" });
  });

  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("commits such a line (it used to stop ingestion for good)", async () => {
    const [p] = await db.sql`insert into projects (name) values ('p') returning id`;
    const [e] = await db.sql`
      insert into executions (project_id, counter, step, status, image, command, command_list, parameters, inputs, environment_variables, lease_owner, lease_until)
      values (${p!["id"]}, 1, 's', 'running', 'i', 'c', '[]', '{}', '[]', '{}', 'me', now() + interval '1 minute') returning id`;
    const batch = buildBatch(fresh(), [{ stream: "stdout", data: Buffer.from('{"m": "a\\u0000b", "s": "\\udc00"}\nnul\u0000here\n'), offset: 0 }]);
    const res = await commitBatch(db.sql, e!["id"] as string, "me", batch, 30);
    expect(res.held).toBe(true);
    const lines = await db.sql`select line from log_lines order by seq`;
    expect(lines.map((l) => l["line"])).toEqual(['{"m": "a\\u0000b", "s": "\\udc00"}', "nul\uFFFDhere"]);
    const [md] = await db.sql`select data from metadata_events`;
    expect(md!["data"]).toMatchObject({ m: "a\uFFFDb", s: "\uFFFD" });
    expect((await commitBatch(db.sql, e!["id"] as string, "someone-else", batch, 30)).held).toBe(false);
  });
});
