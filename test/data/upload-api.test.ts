/**
 * `POST /api/v1/projects/:project/data` (uploads) and `GET …/data` (the project's datums, paged)
 * against a real server, Postgres and local store: nothing half-made on any refusal.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";
import { createStore } from "../../worker/stores/index.js";

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
/** VH_MAX_UPLOAD_MB for this file: 0.01 MiB. */
const LIMIT = Math.round(0.01 * 1024 * 1024);

interface DatumJson {
  id: string;
  uri: string;
  name: string;
  size: number;
  sha256: string;
  executionId: string | null;
  createdAt: string;
}

describe("uploading data (REST API)", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let storeRoot: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false, env: { VH_MAX_UPLOAD_MB: "0.01" } });
    await stack.api("POST", "/api/v1/projects", { name: "up" });
    await stack.api("POST", "/api/v1/projects", { name: "other" });
    if (stack.config.store.kind !== "local") throw new Error("this test reads the local store's files");
    storeRoot = stack.config.store.root;
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  /** Every file under the store's root (objects, sidecars, temp files). */
  function storeFiles(): string[] {
    if (!fs.existsSync(storeRoot)) return [];
    return (fs.readdirSync(storeRoot, { recursive: true, withFileTypes: true }) as fs.Dirent[])
      .filter((e) => e.isFile())
      .map((e) => path.relative(storeRoot, path.join(e.parentPath ?? e.path, e.name)))
      .sort();
  }
  const datumCount = async () => Number((await db.sql<{ n: string }[]>`select count(*) as n from datums`)[0]!.n);

  function upload(project: string, name: string | null, body: Buffer | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) {
    const q = name === null ? "" : `?name=${encodeURIComponent(name)}`;
    return fetch(`${stack.vh.url}/api/v1/projects/${project}/data${q}`, {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${stack.vh.token}`, "content-type": "application/octet-stream", ...headers },
      ...(body instanceof Buffer ? {} : { duplex: "half" }),
    } as RequestInit);
  }
  async function uploaded(name: string, bytes: Buffer, headers: Record<string, string> = {}, project = "up"): Promise<DatumJson> {
    const res = await upload(project, name, bytes, headers);
    const text = await res.text();
    expect(res.status, text).toBe(201);
    return JSON.parse(text) as DatumJson;
  }
  const errorOf = async (res: Response) => ({ status: res.status, ...((await res.json()) as { error: { code: string; message: string } }).error });
  /** A body the client streams in chunks, with no content-length: the server must count it. */
  function streamed(total: number, chunk = 1000): ReadableStream<Uint8Array> {
    let sent = 0;
    return new ReadableStream({
      pull(c) {
        if (sent >= total) return c.close();
        const n = Math.min(chunk, total - sent);
        c.enqueue(new Uint8Array(n).fill(7));
        sent += n;
      },
    });
  }

  it("round trip: upload with x-vh-sha256, read the record, list it, download the same bytes and sha256", async () => {
    const bytes = Buffer.from("a,b\n1,2\n");
    const d = await uploaded("train/table.csv", bytes, { "x-vh-sha256": sha(bytes) });
    expect(d).toMatchObject({ uri: `datum://${d.id}`, name: "train/table.csv", size: bytes.length, sha256: sha(bytes), executionId: null });
    expect(await stack.api("GET", `/api/v1/data/${d.id}`)).toEqual(d);
    const [row] = await db.sql<{ store_key: string; execution_id: string | null }[]>`select store_key, execution_id from datums where id = ${d.id}`;
    expect(row).toEqual({ store_key: `data/${d.id}/train/table.csv`, execution_id: null });

    const dl = await stack.raw("GET", `/api/v1/data/${d.id}/download`);
    expect(dl.status).toBe(200);
    expect(dl.headers.get("x-vh-sha256")).toBe(sha(bytes));
    expect(dl.headers.get("content-disposition")).toContain('filename="table.csv"');
    expect(Buffer.from(await dl.arrayBuffer()).equals(bytes)).toBe(true);

    const list = await stack.api<{ results: DatumJson[]; next: string | null }>("GET", "/api/v1/projects/up/data");
    expect(list.results[0]).toEqual(d);
    // Another project's list does not show it.
    expect((await stack.api<{ results: DatumJson[] }>("GET", "/api/v1/projects/other/data")).results.map((x) => x.id)).not.toContain(d.id);
  });

  it("takes a streamed body with no content-length, and an empty file", async () => {
    const d = await uploaded("streamed.bin", Buffer.alloc(0)).then(async (empty) => {
      expect(empty).toMatchObject({ size: 0, sha256: sha("") });
      const res = await upload("up", "streamed.bin", streamed(5000));
      expect(res.status).toBe(201);
      return (await res.json()) as DatumJson;
    });
    expect(d).toMatchObject({ size: 5000, sha256: sha(Buffer.alloc(5000, 7)) });
  });

  it("refuses a body whose sha256 is not x-vh-sha256 and leaves no datum and no object", async () => {
    const bytes = Buffer.from("the real bytes");
    const beforeFiles = storeFiles();
    const beforeRows = await datumCount();
    const wrong = sha("other bytes");
    const res = await upload("up", "damaged.txt", bytes, { "x-vh-sha256": wrong });
    const err = await errorOf(res);
    expect(err).toMatchObject({ status: 400, code: "bad_request" });
    expect(err.message).toBe(`The body has sha256 ${sha(bytes)}, not ${wrong} (x-vh-sha256): the upload was damaged on the way; nothing was stored.`);
    expect(await datumCount()).toBe(beforeRows);
    expect(storeFiles()).toEqual(beforeFiles);

    // The same when the claimed sha256 is one the project already has (the body is only checked then).
    const known = Buffer.from("known content");
    await uploaded("known.txt", known);
    const filesWithKnown = storeFiles();
    const rowsWithKnown = await datumCount();
    const liar = await errorOf(await upload("up", "liar.txt", Buffer.from("not the known content"), { "x-vh-sha256": sha(known) }));
    expect(liar).toMatchObject({ status: 400 });
    expect(liar.message).toContain(`not ${sha(known)} (x-vh-sha256)`);
    expect(await datumCount()).toBe(rowsWithKnown);
    expect(storeFiles()).toEqual(filesWithKnown);

    // A claimed sha256 that is no sha256 is refused before the body is read.
    expect(await errorOf(await upload("up", "x.txt", bytes, { "x-vh-sha256": "abc" }))).toMatchObject({ status: 400, message: 'x-vh-sha256 "abc" is not a sha256 (64 hex digits).' });
  });

  it("refuses a file over VH_MAX_UPLOAD_MB (declared or streamed) and leaves nothing; exactly the limit is taken", async () => {
    const beforeFiles = storeFiles();
    const beforeRows = await datumCount();
    const message = "The file is over the 0.01 MiB upload limit (VH_MAX_UPLOAD_MB); nothing was stored.";
    expect(await errorOf(await upload("up", "big.bin", Buffer.alloc(LIMIT + 1)))).toMatchObject({ status: 413, code: "too_large", message });
    // No content-length: refused when the count passes the limit, with the known sha256 path too.
    expect(await errorOf(await upload("up", "big.bin", streamed(LIMIT * 3)))).toMatchObject({ status: 413, message });
    const known = await uploaded("small.bin", Buffer.from("small"));
    expect(await errorOf(await upload("up", "big.bin", streamed(LIMIT * 3), { "x-vh-sha256": known.sha256 }))).toMatchObject({ status: 413, message });
    const beforeRowsKnown = beforeRows + 1;
    expect(await datumCount()).toBe(beforeRowsKnown);
    expect(storeFiles().filter((f) => !f.includes(known.id))).toEqual(beforeFiles);
    const exact = await uploaded("exact.bin", Buffer.alloc(LIMIT, 1));
    expect(exact.size).toBe(LIMIT);
  });

  it("stores the same bytes once: two datums of one object, with or without x-vh-sha256", async () => {
    const bytes = Buffer.from("same bytes, twice or thrice");
    const first = await uploaded("first.txt", bytes);
    const afterFirst = storeFiles();
    const second = await uploaded("second.txt", bytes); // no x-vh-sha256: stored, found equal, removed
    const third = await uploaded("dir/third.txt", bytes, { "x-vh-sha256": sha(bytes) }); // checked, not stored
    expect(new Set([first.id, second.id, third.id]).size).toBe(3);
    expect([second.name, third.name]).toEqual(["second.txt", "dir/third.txt"]);
    expect(storeFiles()).toEqual(afterFirst);
    const keys = await db.sql<{ store_key: string }[]>`select store_key from datums where id in ${db.sql([first.id, second.id, third.id])}`;
    expect(new Set(keys.map((k) => k.store_key))).toEqual(new Set([`data/${first.id}/first.txt`]));
    for (const d of [second, third]) {
      const dl = await stack.raw("GET", `/api/v1/data/${d.id}/download`);
      expect(Buffer.from(await dl.arrayBuffer()).equals(bytes)).toBe(true);
      expect(dl.headers.get("content-disposition")).toContain(`filename="${path.posix.basename(d.name)}"`);
    }
    // Another project gets an object of its own.
    const elsewhere = await uploaded("first.txt", bytes, {}, "other");
    expect((await db.sql<{ store_key: string }[]>`select store_key from datums where id = ${elsewhere.id}`)[0]!.store_key).toBe(`data/${elsewhere.id}/first.txt`);
    // An output's object is never shared (it goes when its execution's outputs are deleted): an
    // upload of an output's bytes is stored on its own.
    const [p] = await db.sql<{ id: string }[]>`select id from projects where name = 'up'`;
    const [e] = await db.sql<{ id: string }[]>`
      insert into executions (project_id, counter, step, status, image, command, command_list, parameters, inputs, environment_variables)
      values (${p!.id}, 1, 'train', 'completed', 'img', 'true', '["true"]', '{}', '[]', '{}') returning id`;
    const outBytes = Buffer.from("an output's bytes");
    const outKey = "data/00000000-0000-4000-8000-000000000001/model.pt";
    await createStore(stack.config.store).put(outKey, outBytes);
    await db.sql`insert into datums (project_id, execution_id, name, size, sha256, store_key) values (${p!.id}, ${e!.id}, 'model.pt', ${outBytes.length}, ${sha(outBytes)}, ${outKey})`;
    const copy = await uploaded("model.pt", outBytes, { "x-vh-sha256": sha(outBytes) });
    const again = await uploaded("model.pt", outBytes);
    const copyKeys = await db.sql<{ store_key: string }[]>`select store_key from datums where id in ${db.sql([copy.id, again.id])}`;
    expect(copyKeys.map((k) => k.store_key)).toEqual([`data/${copy.id}/model.pt`, `data/${copy.id}/model.pt`]);
  });

  it("lists the project's datums newest first, page by page, filtered by name prefix", async () => {
    const made: DatumJson[] = [];
    for (const n of ["runs/a.txt", "runs/b.txt", "runs/c.txt", "other/d.txt", "runs/e.txt"]) made.push(await uploaded(n, Buffer.from(`content of ${n}`)));
    const all = await stack.api<{ results: DatumJson[]; next: string | null }>("GET", "/api/v1/projects/up/data?limit=1000");
    expect(all.next).toBeNull();
    const times = all.results.map((d) => d.createdAt);
    expect([...times].sort().reverse()).toEqual(times);
    expect(all.results.slice(0, 5).map((d) => d.name)).toEqual(["runs/e.txt", "other/d.txt", "runs/c.txt", "runs/b.txt", "runs/a.txt"]);

    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page: { results: DatumJson[]; next: string | null } = await stack.api("GET", `/api/v1/projects/up/data?prefix=runs/&limit=3${after ? `&after=${after}` : ""}`);
      seen.push(...page.results.map((d) => d.name));
      after = page.next;
      pages += 1;
    } while (after && pages < 10);
    expect(pages).toBe(2);
    expect(seen).toEqual(["runs/e.txt", "runs/c.txt", "runs/b.txt", "runs/a.txt"]);

    // A prefix is text, not a pattern.
    expect((await stack.api<{ results: DatumJson[] }>("GET", `/api/v1/projects/up/data?prefix=${encodeURIComponent("runs/_")}`)).results).toEqual([]);
    const bad = await stack.raw("GET", "/api/v1/projects/up/data?limit=0");
    expect(await errorOf(bad)).toMatchObject({ status: 400, message: 'limit must be a whole number from 1 to 1000, not "0".' });
    const foreign = await uploaded("foreign.txt", Buffer.from("another project's"), {}, "other");
    expect(await errorOf(await stack.raw("GET", `/api/v1/projects/up/data?after=${foreign.id}`))).toMatchObject({
      status: 400,
      message: `after=${foreign.id} is not a datum of project up: pass the "next" of the page before.`,
    });
  });

  it("refuses bad names, unknown projects and missing tokens with a clear answer", async () => {
    const rows = await datumCount();
    const b = Buffer.from("x");
    expect(await errorOf(await upload("up", null, b))).toMatchObject({ status: 400, message: expect.stringContaining("Name the file: POST /api/v1/projects/<project>/data?name=") });
    expect(await errorOf(await upload("up", "../etc/passwd", b))).toMatchObject({
      status: 400,
      message: 'The file name "../etc/passwd" cannot be used: the artifact store refuses it (names cannot contain .. segments).',
    });
    expect(await errorOf(await upload("up", "a\u001b[2Jb", b))).toMatchObject({ status: 400, message: expect.stringContaining("it has a control character (U+001B)") });
    expect(await errorOf(await upload("up", "", b))).toMatchObject({ status: 400, message: 'The file name "" cannot be used: it is empty.' });
    expect(await errorOf(await upload("nope", "a.txt", b))).toMatchObject({ status: 404, message: expect.stringContaining('Project "nope" does not exist') });
    // The name as a percent-encoded header instead.
    const viaHeader = await upload("up", null, b, { "x-vh-name": encodeURIComponent("héllo wörld.txt") });
    expect(viaHeader.status).toBe(201);
    expect(((await viaHeader.json()) as DatumJson).name).toBe("héllo wörld.txt");
    const anon = await fetch(`${stack.vh.url}/api/v1/projects/up/data?name=a.txt`, { method: "POST", body: b });
    expect(anon.status).toBe(401);
    expect(await datumCount()).toBe(rows + 1);
  });
});
