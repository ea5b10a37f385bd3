/**
 * Content-addressed code snapshots: HEAD (or GET) to ask, PUT to upload; the body's sha256 must
 * match the URL. HEAD is served by the GET route: Hono answers HEAD requests with the GET handler
 * and drops the body (a separate HEAD route is never reached).
 */
import { Hono } from "hono";
import { Readable, Transform } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { Sql } from "../../../db/client.js";
import { codeSnapshotSize, recordCodeSnapshot } from "../../../db/queries/code-snapshots.js";
import type { Store } from "../../contracts/store.js";
import { snapshotKey } from "../../contracts/store-keys.js";
import { VhError } from "../../errors.js";
import { scanSnapshot, type SnapshotLimits } from "../../snapshots/files.js";

const SHA = /^[0-9a-f]{64}$/;

export function codeRoutes(deps: { sql: Sql; store: Store; maxBytes: number; limits: SnapshotLimits }) {
  const app = new Hono();
  function checkSha(sha: string): string {
    if (!SHA.test(sha)) throw new VhError("bad_request", `"${sha}" is not a sha256 (64 lowercase hex digits).`);
    return sha;
  }
  app.get("/:sha", async (c) => {
    const sha = checkSha(c.req.param("sha"));
    const size = await codeSnapshotSize(deps.sql, sha);
    if (size === null) return c.json({ error: { code: "not_found", message: `No code snapshot ${sha}.` } }, 404);
    return c.json({ sha256: sha, size }, 200);
  });
  app.put("/:sha", async (c) => {
    const sha = checkSha(c.req.param("sha"));
    const existing = await codeSnapshotSize(deps.sql, sha);
    if (existing !== null) return c.json({ sha256: sha, size: existing, created: false }, 200);
    const web = c.req.raw.body;
    if (!web) throw new VhError("bad_request", "The body must be the gzipped tarball.");
    let seen = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        if (seen > deps.maxBytes) cb(new VhError("too_large", `The code snapshot is over the ${Math.round(deps.maxBytes / 1048576)} MiB limit (VH_MAX_CODE_MB).`));
        else cb(null, chunk);
      },
    });
    const body = Readable.fromWeb(web as unknown as WebReadableStream).pipe(limit);
    const tmpKey = `code/incoming/${sha}-${process.pid}-${Date.now()}.tgz`;
    let put;
    try {
      put = await deps.store.put(tmpKey, body, { contentType: "application/gzip" });
    } catch (err) {
      await deps.store.delete(tmpKey).catch(() => {});
      if (err instanceof VhError && err.code === "too_large") throw err;
      if (seen > deps.maxBytes) throw new VhError("too_large", `The code snapshot is over the ${Math.round(deps.maxBytes / 1048576)} MiB limit (VH_MAX_CODE_MB).`);
      throw err;
    }
    if (put.sha256 !== sha) {
      await deps.store.delete(tmpKey);
      throw new VhError("bad_request", `The uploaded body has sha256 ${put.sha256}, not ${sha}: the upload was damaged or the URL is wrong.`);
    }
    // What it unpacks to, before anything is kept: a few MB of gzip can hold gigabytes.
    try {
      await scanSnapshot(await deps.store.get(tmpKey), deps.limits);
    } catch (err) {
      await deps.store.delete(tmpKey).catch(() => {});
      throw err;
    }
    // Re-put under the content address (stores have no rename); small, and done once per snapshot.
    const final = await deps.store.put(snapshotKey(sha), await deps.store.get(tmpKey), { contentType: "application/gzip" });
    await deps.store.delete(tmpKey);
    await recordCodeSnapshot(deps.sql, sha, final.size);
    return c.json({ sha256: sha, size: final.size, created: true }, 201);
  });
  return app;
}
