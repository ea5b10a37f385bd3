/** `/api/v1/models`: the Model Hub (docs/model-hub.md). */
import { Hono, type Context } from "hono";
import { z } from "zod";
import type { Sql } from "../../../db/client.js";
import { modelByName } from "../../../db/queries/models.js";
import { VhError } from "../../errors.js";
import { approveVersion, rejectVersion, resetVersion, setPolicy } from "../../models/approval.js";
import { latestAtTime, listModels, showModel } from "../../models/catalog.js";
import type { Actor } from "../../models/events.js";
import { lineageOf } from "../../models/lineage.js";
import { auditReport, compareVersions, trailOf, versionRecord } from "../../models/audit.js";
import { buildApprovalRequest } from "../../models/review.js";
import { createVersion, resolveVersion } from "../../models/versions.js";
import { renderApprovalRequest } from "../../../templates/model/approval-request.js";
import { renderAuditReport, renderAuditReportHtml } from "../../../templates/model/audit-report.js";
import { renderLineageMermaid } from "../../../templates/model/lineage-mermaid.js";
import { renderLineageTree } from "../../../templates/model/lineage-tree.js";

function actorOf(c: Context): Actor {
  const t = c.get("token");
  return { login: t.name, source: c.req.header("x-vh-client") === "cli" ? "cli" : "api" };
}

/** `:ref` is vN, N or latest. */
function uriOf(c: Context): string {
  const ref = c.req.param("ref") ?? "";
  return `model://${c.req.param("name")}/${/^\d+$/.test(ref) ? `v${ref}` : ref}`;
}

async function body<T>(c: Context, schema: z.ZodType<T>, hint: string): Promise<T> {
  const parsed = schema.safeParse(await c.req.json().catch(() => ({})));
  if (!parsed.success) throw new VhError("bad_request", `${hint}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

export function modelRoutes(deps: { sql: Sql }) {
  const app = new Hono();
  app.get("/", async (c) => c.json({ results: await listModels(deps.sql) }));
  app.get("/compare", async (c) => {
    const uris = c.req.queries("v") ?? [];
    if (uris.length < 2) throw new VhError("bad_request", "Compare needs at least two versions: ?v=model://x/v1&v=model://x/v2.");
    return c.json(await compareVersions(deps, uris));
  });
  app.get("/:name", async (c) => c.json(await showModel(deps.sql, c.req.param("name"), { ...(c.req.query("status") ? { status: c.req.query("status")! } : {}) })));
  app.patch("/:name", async (c) => {
    const b = await body(
      c,
      z.object({ approvers: z.array(z.string().min(1)).optional(), separationOfDuties: z.boolean().optional(), description: z.string().nullable().optional() }),
      'Send {"approvers": [...], "separationOfDuties": true, "description": "..."}',
    );
    const policy: Parameters<typeof setPolicy>[2] = {};
    if (b.approvers !== undefined) policy.approvers = b.approvers;
    if (b.separationOfDuties !== undefined) policy.separationOfDuties = b.separationOfDuties;
    if (b.description !== undefined) policy.description = b.description;
    await setPolicy(deps, c.req.param("name"), policy, actorOf(c));
    return c.json(await showModel(deps.sql, c.req.param("name")));
  });
  app.get("/:name/events", async (c) => {
    const m = await resolveModel(deps.sql, c.req.param("name"));
    return c.json({ results: await trailOf(deps.sql, m) });
  });
  app.get("/:name/latest", async (c) => {
    const at = c.req.query("at");
    const when = at ? new Date(at) : new Date();
    if (Number.isNaN(when.getTime())) throw new VhError("bad_request", `"${at}" is not a time; use ISO 8601 (2025-01-02T03:04:05Z).`);
    return c.json(await latestAtTime(deps.sql, c.req.param("name"), when));
  });
  app.post("/:name/versions", async (c) => {
    const b = await body(
      c,
      z.object({ files: z.array(z.string()).min(1), description: z.string().nullable().optional(), tags: z.array(z.string()).optional() }),
      'Send {"files": ["datum://ID", ...], "description": "...", "tags": [...]}',
    );
    const made = await createVersion(deps.sql, { model: c.req.param("name"), files: b.files, description: b.description ?? null, tags: b.tags ?? [] }, actorOf(c));
    return c.json(await versionRecord(deps.sql, await resolveVersion(deps.sql, made.uri)), 201);
  });
  app.get("/:name/versions/:ref", async (c) => c.json(await versionRecord(deps.sql, await resolveVersion(deps.sql, uriOf(c)))));
  app.post("/:name/versions/:ref/approve", async (c) => {
    const b = await body(c, z.object({ filesSha256: z.string().regex(/^[0-9a-f]{64}$/).optional() }), 'Send {} or {"filesSha256": "<the digest you reviewed>"}');
    return c.json(await approveVersion(deps, uriOf(c), actorOf(c), { filesSha256: b.filesSha256 ?? null }));
  });
  app.post("/:name/versions/:ref/reject", async (c) => {
    const b = await body(c, z.object({ reason: z.string().optional() }), 'Send {"reason": "..."}');
    return c.json(await rejectVersion(deps, uriOf(c), actorOf(c), b.reason));
  });
  app.post("/:name/versions/:ref/reset", async (c) => {
    const b = await body(c, z.object({ reason: z.string().optional() }), 'Send {"reason": "..."}');
    return c.json(await resetVersion(deps, uriOf(c), actorOf(c), b.reason ?? null));
  });
  app.get("/:name/versions/:ref/events", async (c) => {
    const r = await resolveVersion(deps.sql, uriOf(c));
    return c.json({ results: await trailOf(deps.sql, r.model.id, r.version.id) });
  });
  app.get("/:name/versions/:ref/lineage", async (c) => {
    const l = await lineageOf(deps, uriOf(c));
    const format = c.req.query("format") ?? "json";
    if (format === "mermaid") return c.text(renderLineageMermaid(l));
    if (format === "tree") return c.text(renderLineageTree(l));
    if (format !== "json") throw new VhError("bad_request", `format must be json, tree or mermaid, not "${format}".`);
    return c.json(l);
  });
  app.get("/:name/versions/:ref/report", async (c) => {
    const format = c.req.query("format") ?? "json";
    if (!["md", "html", "json"].includes(format)) throw new VhError("bad_request", `format must be md, html or json, not "${format}".`);
    // The Markdown and HTML links are absolute, so a report saved or mailed still leads to its records.
    const r = await auditReport(deps, uriOf(c), new Date(), { baseUrl: format === "json" ? null : new URL(c.req.url).origin });
    if (format === "md") return c.text(renderAuditReport(r), 200, { "content-type": "text/markdown; charset=utf-8" });
    if (format === "html") return c.html(renderAuditReportHtml(r));
    return c.json(r);
  });
  app.get("/:name/versions/:ref/approval-request", async (c) => c.json(renderApprovalRequest(await buildApprovalRequest(deps, uriOf(c), { baseUrl: new URL(c.req.url).origin }))));
  return app;
}

async function resolveModel(sql: Sql, name: string): Promise<string> {
  const m = await modelByName(sql, name);
  if (!m) throw new VhError("not_found", `Model "${name}" does not exist.`);
  return m.id;
}
