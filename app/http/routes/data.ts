import { Hono } from "hono";
import { Readable } from "node:stream";
import path from "node:path";
import type { Sql } from "../../../db/client.js";
import { datumById, type DatumRow } from "../../../db/queries/datums.js";
import type { Store } from "../../contracts/store.js";
import { VhError } from "../../errors.js";

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
  async function find(id: string): Promise<DatumRow> {
    const clean = id.replace(/^datum:\/\//, "");
    if (!/^[0-9a-f-]{36}$/i.test(clean)) throw new VhError("bad_request", `"${id}" is not a datum id.`);
    const row = await datumById(deps.sql, clean);
    if (!row) throw new VhError("not_found", `datum://${clean} does not exist.`);
    return row;
  }
  app.get("/:id", async (c) => c.json(presentDatum(await find(c.req.param("id")))));
  app.get("/:id/download", async (c) => {
    const d = await find(c.req.param("id"));
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
