/**
 * `/api/v1/lineage/openlineage`: executions as OpenLineage RunEvents (docs/lineage.md), selected by
 * one of
 *   - `execution=PROJECT/N` or `execution=<uuid>` (repeatable),
 *   - `model=model://NAME/vN` (or `/latest`), with `direction=upstream|downstream|both` (default upstream),
 *   - `project=P&since=ISO` (events at or after that time), paged by `limit` (executions per page,
 *     1–1000, default 100) and `after` (the last counter of the previous page; the `Link: rel="next"`
 *     header holds the next page's URL).
 * `format=json` (default: one JSON array) or `format=ndjson` (one event per line, what Marquez's
 * `POST /api/v1/lineage` takes one at a time).
 *
 * `/openlineage/vh/<version>` (no token): the JSON Schema of vh's custom facets, which their
 * `_schemaURL` and the events' `producer` point at.
 */
import { Hono, type Context } from "hono";
import type { Sql } from "../../../db/client.js";
import type { Config } from "../../config.js";
import { VhError } from "../../errors.js";
import {
  FACETS_PATH,
  VH_FACETS_SCHEMA,
  byEventTime,
  eventsOfExecutions,
  findExecutionId,
  modelVersionEvents,
  projectEventsSince,
  type ExportOptions,
  type LineageDirection,
  type RunEvent,
} from "../../models/openlineage.js";

const SELECTORS = "execution=PROJECT/N (or an execution id), model=model://NAME/vN, or project=NAME&since=ISO-TIME";

function exportOptions(config: Config, c: Context): ExportOptions {
  return {
    baseUrl: config.http.publicUrl ?? new URL(c.req.url).origin,
    name: config.lineage.name,
    web: { github: config.githubHost.webUrl, gitlab: config.gitlab?.url ?? null },
  };
}

function intParam(c: Context, name: string, dflt: number, min: number, max: number): number {
  const raw = c.req.query(name);
  if (raw === undefined || raw === "") return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new VhError("bad_request", `${name}=${raw}: must be a whole number from ${min} to ${max}.`);
  return Number(raw);
}

function respond(c: Context, events: RunEvent[], headers: Record<string, string> = {}): Response {
  const format = c.req.query("format") ?? "json";
  if (format === "ndjson") {
    return c.body(events.map((e) => `${JSON.stringify(e)}\n`).join(""), 200, { "content-type": "application/x-ndjson; charset=utf-8", ...headers });
  }
  if (format !== "json") throw new VhError("bad_request", `format=${format}: must be json or ndjson.`);
  return c.json(events, 200, headers);
}

export function lineageRoutes(deps: { sql: Sql; config: Config }) {
  const app = new Hono();
  app.get("/openlineage", async (c) => {
    const executions = (c.req.queries("execution") ?? []).filter((x) => x !== "");
    const model = c.req.query("model");
    const project = c.req.query("project");
    const given = [executions.length ? "execution" : null, model ? "model" : null, project ? "project" : null].filter((x) => x !== null);
    if (given.length !== 1) {
      throw new VhError("bad_request", given.length ? `Give one of ${given.join(", ")}, not ${given.length}: ${SELECTORS}.` : `Say which events: ${SELECTORS}.`);
    }
    const opts = exportOptions(deps.config, c);
    if (executions.length) {
      if (executions.length > 1000) throw new VhError("bad_request", `execution: at most 1000 per request, not ${executions.length}.`);
      const ids: string[] = [];
      for (const ref of executions) ids.push(await findExecutionId(deps.sql, ref));
      return respond(c, byEventTime(await eventsOfExecutions(deps.sql, [...new Set(ids)], opts)));
    }
    if (model) {
      const direction = c.req.query("direction") ?? "upstream";
      if (direction !== "upstream" && direction !== "downstream" && direction !== "both") {
        throw new VhError("bad_request", `direction=${direction}: must be upstream, downstream or both.`);
      }
      const r = await modelVersionEvents(deps.sql, model, direction satisfies LineageDirection, opts);
      return respond(c, r.events);
    }
    const sinceRaw = c.req.query("since");
    if (!sinceRaw) throw new VhError("bad_request", `project=${project} needs since=ISO-TIME (e.g. since=2026-01-02T03:04:05Z): the events at or after it.`);
    const since = new Date(sinceRaw);
    if (!/^\d{4}-\d{2}-\d{2}/.test(sinceRaw) || Number.isNaN(since.getTime())) {
      throw new VhError("bad_request", `since=${sinceRaw}: not a time; use ISO 8601 (2026-01-02T03:04:05Z).`);
    }
    const limit = intParam(c, "limit", 100, 1, 1000);
    const after = intParam(c, "after", 0, 0, 2_000_000_000);
    const page = await projectEventsSince(deps.sql, { project: project!, since, after, limit }, opts);
    const headers: Record<string, string> = {};
    if (page.next !== null) {
      const next = new URL(c.req.url);
      next.searchParams.set("after", String(page.next));
      next.searchParams.set("limit", String(limit));
      headers.link = `<${opts.baseUrl}${next.pathname}${next.search}>; rel="next"`;
    }
    return respond(c, page.events, headers);
  });
  return app;
}

/** The custom facets' schema: public (it describes shapes, holds no data), at the path the events name. */
export function openLineageSchemaRoutes() {
  const app = new Hono();
  app.get(FACETS_PATH, (c) => c.json(VH_FACETS_SCHEMA, 200, { "cache-control": "public, max-age=86400" }));
  return app;
}
