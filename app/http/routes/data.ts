/**
 * Datums over HTTP. `/data/:id` (and `/download`): one datum, any project's. Mounted at
 * `/projects/:project/data` (`projectDataRoutes`): uploading a file as a datum, and the project's
 * datums page by page.
 *
 * An upload is streamed to the store, never buffered: its size and sha256 are counted as the bytes
 * pass (the store computes them too, and its figures are the ones recorded). The same bytes
 * uploaded again to the project make a second datum on the first one's stored object: with the
 * client's `x-vh-sha256` the server sees that before storing anything, so the body is only
 * checked, not stored; without it, the second copy is stored, found equal and removed. Outputs'
 * objects are never shared (an execution's outputs are deleted with it), so only uploads are.
 */
import { Hono, type Context } from "hono";
import { randomUUID, createHash } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import path from "node:path";
import type { Sql } from "../../../db/client.js";
import { datumById, insertUploadedDatum, projectDatums, uploadedObjectOf, type DatumRow } from "../../../db/queries/datums.js";
import type { Store } from "../../contracts/store.js";
import { keyProblem } from "../../contracts/store-keys.js";
import { ChecksumMismatch, VhError } from "../../errors.js";
import { findProject } from "./projects.js";

export type { DatumRow };

export function presentDatum(d: DatumRow) {
  return {
    id: d.id,
    uri: `datum://${d.id}`,
    name: d.name,
    size: Number(d.size),
    sha256: d.sha256,
    metadata: d.metadata,
    executionId: d.execution_id,
    createdAt: d.created_at.toISOString(),
  };
}

/**
 * `Content-Disposition` for a download of `name` (RFC 6266): a plain-ASCII `filename` for old
 * clients (anything else, quotes, backslashes and `%` become `_`) and the exact name, UTF-8 and
 * percent-encoded, in `filename*`. No character of a name can break or add a header.
 */
export function contentDisposition(name: string): string {
  const base = path.posix.basename(name);
  const fallback = base.replace(/[^\x20-\x7e]|["\\%]/gu, "_");
  const encoded = encodeURIComponent(base.toWellFormed()).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

export function dataRoutes(deps: { sql: Sql; store: Store }) {
  const app = new Hono();
  /** A token scoped to a project finds that project's datums only (app/auth/access.ts, `owned`). */
  async function find(c: Context, id: string): Promise<DatumRow> {
    const clean = id.replace(/^datum:\/\//, "");
    if (!/^[0-9a-f-]{36}$/i.test(clean)) throw new VhError("bad_request", `"${id}" is not a datum id.`);
    const row = await datumById(deps.sql, clean, c.get("token")?.project?.id ?? null);
    if (!row) throw new VhError("not_found", `datum://${clean} does not exist.`);
    return row;
  }
  app.get("/:id", async (c) => c.json(presentDatum(await find(c, c.req.param("id")))));
  app.get("/:id/download", async (c) => {
    const d = await find(c, c.req.param("id"));
    const body = await deps.store.get(d.store_key);
    return new Response(Readable.toWeb(body) as unknown as ReadableStream, {
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(d.size),
        "content-disposition": contentDisposition(d.name),
        "x-vh-sha256": d.sha256,
      },
    });
  });
  return app;
}

const SHA256 = /^[0-9a-f]{64}$/;
/** Longest datum name: the store key `data/<uuid>/<name>` must stay within S3's 1024 bytes. */
const KEY_PREFIX_SAMPLE = "data/00000000-0000-0000-0000-000000000000/";
/** A page of `GET /projects/:p/data`: default and most. */
export const DATA_PAGE_DEFAULT = 50;
export const DATA_PAGE_MAX = 1000;

/** Why `name` cannot name an uploaded datum, or null (the rules of output names: worker/supervisor/outputs.ts). */
export function uploadNameProblem(name: string): string | null {
  if (name === "") return "it is empty";
  const control = /[\u0000-\u001f\u007f-\u009f]/.exec(name);
  if (control) return `it has a control character (U+${control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")})`;
  const problem = keyProblem(KEY_PREFIX_SAMPLE + name, false);
  return problem ? `the artifact store refuses it (${problem.replace(/^keys/, "names")})` : null;
}

const mib = (bytes: number) => `${Math.round((bytes / 1048576) * 100) / 100} MiB`;

function tooLarge(maxBytes: number): VhError {
  return new VhError("too_large", `The file is over the ${mib(maxBytes)} upload limit (VH_MAX_UPLOAD_MB); nothing was stored.`);
}

/** The upload's name: `?name=`, else the `x-vh-name` header (percent-encoded UTF-8). */
function nameOf(query: string | undefined, header: string | undefined): string {
  let name = query;
  if (name === undefined && header !== undefined) {
    try {
      name = decodeURIComponent(header);
    } catch {
      throw new VhError("bad_request", `The x-vh-name header "${header}" is not percent-encoded UTF-8.`);
    }
  }
  if (name === undefined) throw new VhError("bad_request", "Name the file: POST /api/v1/projects/<project>/data?name=<file name> (or an x-vh-name header, percent-encoded).");
  const problem = uploadNameProblem(name);
  if (problem) throw new VhError("bad_request", `The file name ${JSON.stringify(name)} cannot be used: ${problem}.`);
  return name;
}

/**
 * Stores `body` as a new datum of the project and records it; nothing is left (no row, no object)
 * when it fails: over `maxBytes`, a sha256 other than `expected`, a broken connection, a failing
 * store. See the file's comment for when the bytes are stored and when an earlier upload's are used.
 */
export async function storeUpload(
  deps: { sql: Sql; store: Store },
  upload: { projectId: string; name: string; body: Readable; expected: string | null; maxBytes: number },
): Promise<DatumRow> {
  const { sql, store } = deps;
  const { projectId, name, expected, maxBytes } = upload;
  let seen = 0;
  let exceeded = false;
  // Pulled, not pushed: nothing is read before the store (or the checksum) reads it, so the limit's
  // error always has its reader; a reader that stops early ends the request's stream too.
  const body = Readable.from(
    (async function* counted() {
      for await (const chunk of upload.body as AsyncIterable<Buffer>) {
        seen += chunk.length;
        if (seen > maxBytes) {
          exceeded = true;
          throw tooLarge(maxBytes);
        }
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
  const mismatch = (actual: string) =>
    new VhError("bad_request", `The body has sha256 ${actual}, not ${expected} (x-vh-sha256): the upload was damaged on the way; nothing was stored.`);

  /** An earlier upload's object with these bytes that is still in the store, or null. */
  async function storedUpload(sha256: string): Promise<{ storeKey: string; size: number } | null> {
    const earlier = await uploadedObjectOf(sql, projectId, sha256);
    return earlier && (await store.head(earlier.storeKey))?.size === earlier.size ? earlier : null;
  }

  // The client said what the bytes are, and an upload to this project has them: check, store nothing.
  const reuse = expected ? (await storedUpload(expected))?.storeKey : undefined;
  if (reuse) {
    const hash = createHash("sha256");
    try {
      await pipeline(body, new Writable({ write: (chunk: Buffer, _enc, cb) => (hash.update(chunk), cb()) }));
    } catch (err) {
      if (exceeded) throw tooLarge(maxBytes);
      throw err;
    }
    const actual = hash.digest("hex");
    if (actual !== expected) throw mismatch(actual);
    return insertUploadedDatum(sql, { id: randomUUID(), projectId, name, size: seen, sha256: actual, storeKey: reuse });
  }

  const id = randomUUID();
  const key = `data/${id}/${name}`;
  const drop = () => store.delete(key).catch(() => {});
  let put;
  try {
    // With the client's sha256 the store streams straight through (no spool) and refuses other bytes.
    put = await store.put(key, body, { contentType: "application/octet-stream", ...(expected ? { sha256: expected } : {}) });
  } catch (err) {
    await drop();
    if (exceeded) throw tooLarge(maxBytes);
    if (err instanceof ChecksumMismatch) throw mismatch(err.actual);
    throw err;
  }
  try {
    const earlier = await storedUpload(put.sha256);
    const storeKey = earlier?.size === put.size ? earlier.storeKey : key;
    const row = await insertUploadedDatum(sql, { id, projectId, name, size: put.size, sha256: put.sha256, storeKey });
    if (storeKey !== key) await drop();
    return row;
  } catch (err) {
    await drop();
    throw err;
  }
}

function intQuery(v: string | undefined, what: string, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1) throw new VhError("bad_request", `${what} must be a whole number from 1 to ${max}, not "${v}".`);
  return Math.min(n, max);
}

/** Mounted at /projects/:project/data: `POST` uploads one file (the body), `GET` lists the project's datums. */
export function projectDataRoutes(deps: { sql: Sql; store: Store; maxBytes: number }) {
  const app = new Hono();
  app.post("/", async (c) => {
    const project = await findProject(deps.sql, c.req.param("project")!);
    const name = nameOf(c.req.query("name"), c.req.header("x-vh-name"));
    const claimed = c.req.header("x-vh-sha256")?.trim().toLowerCase();
    if (claimed !== undefined && !SHA256.test(claimed)) throw new VhError("bad_request", `x-vh-sha256 "${claimed}" is not a sha256 (64 hex digits).`);
    const length = c.req.header("content-length");
    if (length !== undefined && Number(length) > deps.maxBytes) throw tooLarge(deps.maxBytes);
    const web = c.req.raw.body;
    const body = web ? Readable.fromWeb(web as unknown as WebReadableStream) : Readable.from([]);
    const row = await storeUpload(deps, { projectId: project.id, name, body, expected: claimed ?? null, maxBytes: deps.maxBytes });
    return c.json(presentDatum(row), 201);
  });
  app.get("/", async (c) => {
    const project = await findProject(deps.sql, c.req.param("project")!);
    const limit = intQuery(c.req.query("limit"), "limit", DATA_PAGE_DEFAULT, DATA_PAGE_MAX);
    const prefix = c.req.query("prefix") || undefined;
    const after = c.req.query("after")?.replace(/^datum:\/\//, "") || undefined;
    if (after !== undefined) {
      const known = /^[0-9a-f-]{36}$/i.test(after) ? await datumById(deps.sql, after, project.id) : null;
      if (!known) throw new VhError("bad_request", `after=${after} is not a datum of project ${project.name}: pass the "next" of the page before.`);
    }
    const rows = await projectDatums(deps.sql, project.id, { limit: limit + 1, prefix, after });
    const page = rows.slice(0, limit);
    return c.json({ results: page.map(presentDatum), next: rows.length > limit ? page[page.length - 1]!.id : null });
  });
  return app;
}
