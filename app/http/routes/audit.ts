/**
 * `/api/v1/audit`: the audit chains (app/audit/).
 * - `GET /verify` (admin tokens only): every chain recomputed; 200 with `ok: false` and the first
 *   broken row of each chain when one is broken (the CLI exits 1 on it).
 * - `GET /model-events/:id`: one event of the model trail with its place in the chain (prev_hash,
 *   hash): what the audit report links each approval and change to.
 */
import { Hono } from "hono";
import type { Sql } from "../../../db/client.js";
import { VhError } from "../../errors.js";
import { verifyAuditChains } from "../../audit/verify.js";
import { modelEventRecord } from "../../audit/records.js";

export function auditRoutes(deps: { sql: Sql }) {
  const app = new Hono();
  app.get("/verify", async (c) => {
    if (!c.get("token").admin) throw new VhError("forbidden", "Verifying the audit chains needs an admin token (the one in VH_DATA_DIR/admin-token).");
    return c.json(await verifyAuditChains(deps.sql));
  });
  app.get("/model-events/:id", async (c) => {
    const id = c.req.param("id");
    if (!/^[1-9]\d{0,17}$/.test(id)) throw new VhError("bad_request", `"${id}" is not a model event id (a positive integer).`);
    const e = await modelEventRecord(deps.sql, id);
    if (!e) throw new VhError("not_found", `Model event ${id} does not exist.`);
    return c.json(e);
  });
  return app;
}
