/**
 * The web UI (docs/ui.md), mounted at /ui: server-rendered pages (every one linkable, signed in by
 * the home page's session cookie) and a small bundled script (`client/`) for what must be live —
 * statuses, log streaming, charts. The script calls the REST API with the same cookie, so the stop
 * and rerun buttons pass exactly the API's permission checks (app/auth/access.ts). What the API
 * has no shape for (downsampled series, many statuses at once) is served here, under the same
 * checks: a page or a series of an execution needs read access to its project.
 */
import fs from "node:fs";
import path from "node:path";
import { Hono, type Context } from "hono";
import { getCookie } from "hono/cookie";
import type { Sql } from "../../../db/client.js";
import type { Config } from "../../config.js";
import { findToken, type TokenRow } from "../../auth/api-tokens.js";
import { refusal } from "../../auth/access.js";
import { httpStatusOf, VhError } from "../../errors.js";
import { findExecutionRow, loadPresented, type ExecutionRow } from "../../executions/present.js";
import { isTerminal, type ExecutionStatus } from "../../executions/state.js";
import { SESSION_COOKIE } from "../middleware/auth.js";
import { BUNDLE_DIR } from "./build.js";
import { esc } from "./layout.js";
import { duration, show, uiPage, UI_CSP } from "./frame.js";
import { DEFAULT_MAX_POINTS, MAX_POINTS, fullSeries, metricKeys, numericKeys, serveSeries, seriesCsv } from "./series.js";

export interface UiDeps {
  sql: Sql;
  config: Pick<Config, "githubHost" | "gitlab">;
}

/** Executions per page of the list. */
export const PAGE_SIZE = 50;
export const MAX_COMPARE = 50;
const STATUSES: ExecutionStatus[] = ["created", "queued", "starting", "running", "stopping", "uploading", "completed", "failed", "error", "stopped", "lost"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class SignIn extends Error {}

export function uiRoutes(deps: UiDeps): Hono {
  const { sql } = deps;
  const app = new Hono();

  app.use("*", async function uiHeaders(c, next) {
    await next();
    c.header("Content-Security-Policy", UI_CSP);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "same-origin");
    if (!c.res.headers.get("Cache-Control")) c.header("Cache-Control", "no-store");
  });

  app.onError((err, c) => {
    if (err instanceof SignIn) return c.html(signInPage(c.req.path + (new URL(c.req.url).search || "")), 401);
    if (err instanceof VhError) {
      const status = httpStatusOf[err.code] as 400;
      if (c.req.header("accept")?.includes("application/json") || c.req.path.includes("/series/") || c.req.path.endsWith("/statuses")) {
        return c.json({ error: { code: err.code, message: err.message } }, status);
      }
      return c.html(uiPage({ title: "error", kind: "error", body: `<h1>${esc(err.code.replace(/_/g, " "))}</h1><p class="error">${esc(err.message)}</p><p><a href="/ui/executions">Back to the executions</a></p>` }), status);
    }
    throw err;
  });

  async function who(c: Context): Promise<TokenRow> {
    const token = getCookie(c, SESSION_COOKIE);
    const row = token ? await findToken(sql, token) : null;
    if (!row) throw new SignIn();
    return row;
  }

  /** The execution, when this token may read its project (as GET /api/v1/projects/:project/executions/:ref). */
  async function readable(c: Context, id: string): Promise<{ token: TokenRow; row: ExecutionRow }> {
    const token = await who(c);
    if (!UUID.test(id)) throw new VhError("not_found", `Execution ${id} does not exist.`);
    const row = await findExecutionRow(sql, token.project?.id ?? null, id);
    const why = refusal(token, { kind: "project", project: row.project_name, role: "viewer" });
    if (why) throw new VhError("forbidden", why);
    return { token, row };
  }

  app.get("/", (c) => c.redirect("/ui/executions"));

  app.get("/assets/:file", (c) => {
    const file = c.req.param("file");
    const type = file === "app.js" ? "text/javascript; charset=utf-8" : file === "app.css" ? "text/css; charset=utf-8" : null;
    if (!type) throw new VhError("not_found", `No asset ${file}.`);
    const p = path.join(BUNDLE_DIR, file);
    if (!fs.existsSync(p)) throw new VhError("internal", `The UI bundle is not built (${file} is missing): run \`npm run build:ui\` (npm install and npm start do it).`);
    c.header("Content-Type", type);
    c.header("Cache-Control", "no-cache");
    return c.body(fs.readFileSync(p));
  });

  // ---- the executions list -------------------------------------------------------------------

  app.get("/executions", async (c) => {
    const token = await who(c);
    const q = (k: string) => c.req.query(k)?.trim() || undefined;
    const f = { project: q("project"), status: q("status"), step: q("step"), commit: q("commit"), sweep: q("sweep"), pipeline: q("pipeline"), by: q("by"), tag: q("tag") };
    const problems: string[] = [];
    if (f.status && !STATUSES.includes(f.status as ExecutionStatus)) problems.push(`status: one of ${STATUSES.join(", ")}`);
    if (f.commit && !/^[0-9a-f]{4,64}$/i.test(f.commit)) problems.push("commit: 4 to 64 hex digits (a prefix of the SHA)");
    if (f.sweep && !UUID.test(f.sweep)) problems.push("sweep: a sweep id");
    if (f.pipeline && !UUID.test(f.pipeline)) problems.push("pipeline: a pipeline id");
    const page = Math.max(0, Math.min(Number.parseInt(c.req.query("page") ?? "0", 10) || 0, 10_000));
    const scope = token.project?.id ?? null;
    const rows = problems.length
      ? []
      : await sql<ListRow[]>`
      select e.id, p.name as project, e.counter, e.step, e.title, e.status, e.tags, e.commit_sha, e.triggered_by,
             e.created_at, e.started_at, e.ended_at, e.cost_usd, se.sweep_id, pn.pipeline_id
      from executions e join projects p on p.id = e.project_id
      left join sweep_executions se on se.execution_id = e.id
      left join lateral (select n.pipeline_id from pipeline_nodes n where n.execution_id = e.id limit 1) pn on true
      where e.deleted_at is null and (${scope}::uuid is null or e.project_id = ${scope}::uuid)
      ${f.project ? sql`and p.name = ${f.project}` : sql``}
      ${f.status ? sql`and e.status = ${f.status}` : sql``}
      ${f.step ? sql`and e.step = ${f.step}` : sql``}
      ${f.commit ? sql`and e.commit_sha like ${f.commit.toLowerCase() + "%"}` : sql``}
      ${f.sweep ? sql`and se.sweep_id = ${f.sweep}::uuid` : sql``}
      ${f.pipeline ? sql`and pn.pipeline_id = ${f.pipeline}::uuid` : sql``}
      ${f.by ? sql`and e.triggered_by = ${f.by}` : sql``}
      ${f.tag ? sql`and e.tags ? ${f.tag}` : sql``}
      order by e.created_at desc, e.counter desc limit ${PAGE_SIZE + 1} offset ${page * PAGE_SIZE}`;
    const more = rows.length > PAGE_SIZE;
    const shown = rows.slice(0, PAGE_SIZE);
    const projects = await sql<{ name: string }[]>`select name from projects where (${scope}::uuid is null or id = ${scope}::uuid) order by name`;
    const link = (over: Record<string, string | undefined>) => {
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries({ ...f, ...over })) if (v) p.set(k, v);
      const s = p.toString();
      return `/ui/executions${s ? `?${s}` : ""}`;
    };
    const option = (v: string, cur: string | undefined) => `<option${v === cur ? " selected" : ""} value="${esc(v)}">${esc(v || "any")}</option>`;
    const input = (k: keyof typeof f, label: string, hint: string) =>
      `<label>${esc(label)} <input name="${k}" value="${esc(f[k] ?? "")}" placeholder="${esc(hint)}" size="10"></label>`;
    const form = `<form class="filters" method="get" action="/ui/executions">
<label>Project <select name="project">${["", ...projects.map((p) => p.name)].map((v) => option(v, f.project)).join("")}</select></label>
<label>Status <select name="status">${["", ...STATUSES].map((v) => option(v, f.status)).join("")}</select></label>
${input("step", "Step", "train")}${input("commit", "Commit", "sha prefix")}${input("by", "Started by", "login")}${input("tag", "Tag", "tag")}
${input("sweep", "Sweep", "sweep id")}${input("pipeline", "Pipeline", "pipeline id")}
<button>Filter</button> <a href="/ui/executions">clear</a></form>`;
    const table = shown.length
      ? `<form method="get" action="/ui/compare" id="compare-form"><table class="list"><thead><tr><th></th><th>Project</th><th>#</th><th>Step</th><th>Status</th><th>Commit</th><th>Started by</th><th>Tags</th><th>Created</th><th>Duration</th><th>Cost</th></tr></thead><tbody>${shown
          .map((r) => {
            const dur = r.started_at ? duration(((r.ended_at ?? new Date()).getTime() - r.started_at.getTime()) / 1000) : "";
            const tags = r.tags.map((t) => `<a class="tag" href="${esc(link({ tag: t, page: undefined }))}">${esc(t)}</a>`).join(" ");
            const sweep = r.sweep_id ? ` <a class="sub" href="${esc(link({ sweep: r.sweep_id }))}" title="this sweep's executions">sweep</a>` : "";
            const pipe = r.pipeline_id ? ` <a class="sub" href="${esc(link({ pipeline: r.pipeline_id }))}" title="this pipeline's executions">pipeline</a>` : "";
            return `<tr data-id="${esc(r.id)}"><td><input type="checkbox" name="id" value="${esc(r.id)}" aria-label="compare #${r.counter}"></td><td><a href="${esc(link({ project: r.project }))}">${esc(r.project)}</a></td>
<td><a href="/ui/executions/${esc(r.id)}">#${r.counter}</a></td><td><a href="/ui/executions/${esc(r.id)}">${esc(r.step)}</a>${r.title ? ` <span class="sub">${esc(r.title)}</span>` : ""}${sweep}${pipe}</td>
<td><span class="status s-${esc(r.status)}" data-status-of="${esc(r.id)}">${esc(r.status)}</span></td><td><code>${esc(r.commit_sha?.slice(0, 10) ?? "")}</code></td>
<td>${r.triggered_by ? `<a href="${esc(link({ by: r.triggered_by }))}">${esc(r.triggered_by)}</a>` : ""}</td><td>${tags}</td><td><time>${esc(r.created_at.toISOString().replace("T", " ").slice(0, 19))}</time></td><td>${esc(dur)}</td><td>${r.cost_usd === null ? "" : `$${esc(r.cost_usd.toFixed(2))}`}</td></tr>`;
          })
          .join("")}</tbody></table><p><button>Compare selected</button> (2 to ${MAX_COMPARE})</p></form>`
      : `<p>No executions${problems.length || Object.values(f).some(Boolean) ? " match these filters" : " yet. From a directory with a <code>valohai.yaml</code>, run <code>vh exec run STEP --adhoc --watch</code>"}.</p>`;
    const pager = `<p class="pager">${page > 0 ? `<a href="${esc(link({ page: String(page - 1) }))}">← newer</a>` : ""} page ${page + 1} ${more ? `<a href="${esc(link({ page: String(page + 1) }))}">older →</a>` : ""}</p>`;
    const errs = problems.length ? `<p class="error">${problems.map(esc).join("<br>")}</p>` : "";
    return c.html(uiPage({ title: "executions", kind: "list", who: token.name, body: `<h1>Executions</h1>${form}${errs}${table}${pager}` }));
  });

  /** `?ids=a,b`: each one's status (those this token may not read are left out), for the list's live column. */
  app.get("/executions/statuses", async (c) => {
    const token = await who(c);
    const ids = (c.req.query("ids") ?? "").split(",").filter((s) => UUID.test(s)).slice(0, 200);
    const scope = token.project?.id ?? null;
    const rows = ids.length
      ? await sql<{ id: string; status: string }[]>`select id, status from executions where id = any(${ids}::uuid[]) and (${scope}::uuid is null or project_id = ${scope}::uuid)`
      : [];
    return c.json(Object.fromEntries(rows.map((r) => [r.id, r.status])));
  });

  // ---- one execution -------------------------------------------------------------------------

  app.get("/executions/:id", async (c) => {
    const { token, row } = await readable(c, c.req.param("id"));
    const e = await loadPresented(sql, row);
    const keys = row.deleted_at ? [] : metricKeys(await numericKeys(sql, row.id));
    const outputs = await sql<{ id: string; name: string; size: string; sha256: string }[]>`
      select id, name, size, sha256 from datums where execution_id = ${row.id} order by name, created_at`;
    const producers = await producersOf(sql, e.inputs.map((i) => i.datum?.replace("datum://", "")).filter((d): d is string => !!d));
    const trigger = await triggerOf(row.id, deps);
    const terminal = isTerminal(row.status);
    const warnings = [...e.warnings];
    if (e.invalidJsonLines > 0) warnings.push(`${e.invalidJsonLines} stdout line(s) looked like JSON metadata but could not be parsed; they are kept as log lines.`);
    if (Number(row.log_dropped_lines) > 0) warnings.push(`The log quota was reached: ${row.log_dropped_lines} line(s) (${row.log_dropped_bytes} bytes) were counted but not stored.`);
    if (e.deleted) warnings.push(`Deleted at ${e.deleted.at} by ${e.deleted.by ?? "unknown"}: its logs, metadata and outputs are gone.`);
    const runtime = (e.runtime ?? {}) as Record<string, unknown>;
    const gpuFacts = runtime["gpus"] ?? runtime["gpu"];
    const header = [
      ["Status", `<span class="status s-${esc(e.status)}" id="status">${esc(e.status)}</span>${e.statusDetail ? ` <span class="sub">${esc(e.statusDetail)}</span>` : ""}${e.exitCode !== null ? ` <span class="sub">exit code ${esc(e.exitCode)}</span>` : ""}`],
      ["History", `<ol class="history">${(e.statusHistory ?? []).map((h) => `<li><span class="s-${esc(h.status)}">${esc(h.status)}</span> <time>${esc(h.at)}</time>${h.reason ? ` — ${esc(h.reason)}` : ""}</li>`).join("")}</ol>`],
      ["Triggered by", `${esc(row.triggered_by ?? "unknown")}${trigger}`],
      ["Code", e.code.commit ? `commit <code>${esc(e.code.commit)}</code>` : e.code.sha256 ? `ad-hoc snapshot <code>${esc(e.code.sha256.slice(0, 16))}</code>` : ""],
      ["Image", `<code>${esc(e.image)}</code>`],
      ["Command", `<pre>${esc(e.command)}</pre>`],
      ["Runs on", `${esc(e.environment ?? "registered hosts")}${e.host ? ` · host <code>${esc(e.host)}</code>` : ""} · ${esc(e.gpus)} GPU(s)${gpuFacts !== undefined ? ` <span class="sub">${esc(show(gpuFacts))}</span>` : ""}${e.attempt > 1 ? ` · attempt ${esc(e.attempt)}` : ""}`],
      ["Duration", esc(duration(e.durationSeconds))],
      ["Cost", e.costUsd === null ? (e.currentAttempt ? esc(show(e.currentAttempt)) : "unknown (not a priced host)") : `$${esc(e.costUsd.toFixed(4))}`],
    ];
    if (e.tags.length) header.push(["Tags", e.tags.map((t) => `<a class="tag" href="/ui/executions?tag=${encodeURIComponent(t)}">${esc(t)}</a>`).join(" ")]);
    if (e.reproduction) header.push(["Reproduces", `<a href="/ui/executions/${esc(e.reproduction.original.id)}">#${esc(e.reproduction.original.counter)}</a> ${esc(e.reproduction.verdict?.result ?? (e.reproduction.verify ? "compared when it ends" : "not verified"))}`]);
    const table = (head: string[], rows: string[][]) =>
      `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((d) => `<td>${d}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
    const params = Object.entries(e.parameters);
    const env = Object.entries(e.environmentVariables);
    const base = `/ui/executions/${row.id}`;
    const body = `<div class="title"><h1><a href="/ui/executions?project=${encodeURIComponent(e.project.name)}">${esc(e.project.name)}</a> #${esc(e.counter)} ${esc(e.step)}</h1>${e.title ? `<p class="sub">${esc(e.title)}</p>` : ""}
<div class="actions"><button id="stop" ${terminal ? "hidden" : ""}>Stop</button> <button id="rerun" title="Run it again: the same commit, image, command, parameters, environment and input versions">Rerun</button> <a href="/ui/compare?id=${esc(row.id)}">compare…</a><span id="action-result" role="status"></span></div></div>
${warnings.length ? `<div class="warnings" role="alert"><strong>Warnings</strong><ul>${warnings.map((w) => `<li>${esc(w)}</li>`).join("")}</ul></div>` : ""}
<table class="facts"><tbody>${header.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join("")}</tbody></table>
<h2>Metrics</h2>${keys.length ? `<div id="charts">${keys.map((k) => `<figure class="chart" data-key="${esc(k)}"><figcaption>${esc(k)} <span class="sub" data-points></span> <a href="${esc(`${base}/series/${encodeURIComponent(k)}?format=csv`)}">CSV</a> <a href="${esc(`${base}/series/${encodeURIComponent(k)}?format=json`)}">JSON</a></figcaption><div class="plot"></div></figure>`).join("")}</div><p class="sub">Drag to zoom, double-click to zoom out.</p>` : `<p class="sub" id="no-metrics">No numeric metadata${terminal ? "" : " yet (reload when it has printed some)"}.</p>`}
<h2>Logs</h2><div class="logbar"><input id="log-search" type="search" placeholder="search the loaded lines"> <label><input type="checkbox" id="log-follow" checked> follow</label> <button id="log-pause">Pause</button> <button id="log-earlier" hidden>Earlier lines</button> <span id="log-info" class="sub"></span></div>
<div id="log" class="log" tabindex="0" aria-live="off"></div>
<h2>Parameters</h2>${params.length ? table(["Name", "Value"], params.map(([k, v]) => [esc(k), `<code>${esc(show(v))}</code>`])) : `<p class="sub">None.</p>`}
<h2>Inputs</h2>${e.inputs.length ? table(["Input", "URI", "File", "Size", "sha256", "Made by"], e.inputs.map((i) => { const p = i.datum ? producers.get(i.datum.replace("datum://", "")) : undefined; return [esc(i.name), `<code>${esc(i.uri)}</code>`, esc(i.file), esc(i.size ?? ""), `<code class="sha">${esc(i.sha256 ?? "")}</code>`, p ? `<a href="/ui/executions/${esc(p.id)}">${esc(p.project)} #${esc(p.counter)}</a>` : ""]; })) : `<p class="sub">None.</p>`}
<h2>Outputs</h2>${outputs.length ? table(["Name", "Size", "sha256", ""], outputs.map((o) => [esc(o.name), esc(o.size), `<code class="sha">${esc(o.sha256)}</code>`, `<a href="/api/v1/data/${esc(o.id)}/download">download</a>`])) : `<p class="sub">None${terminal ? "" : " yet"}.</p>`}
${env.length ? `<h2>Environment variables</h2>${table(["Name", "Value"], env.map(([k, v]) => [esc(k), `<code>${esc(v)}</code>`]))}` : ""}
${e.runtime ? `<details><summary>Runtime facts</summary><pre>${esc(JSON.stringify(e.runtime, null, 2))}</pre></details>` : ""}`;
    return c.html(
      uiPage({
        title: `${e.project.name} #${e.counter}`,
        kind: "execution",
        who: token.name,
        body,
        data: { id: row.id, project: e.project.name, counter: e.counter, status: e.status, terminal, logSeq: row.log_seq, keys, deleted: !!e.deleted },
      }),
    );
  });

  /** One metric: `?max=N` (at most 5,000) points downsampled with LTTB; `?format=csv|json`: the whole series, as a download. */
  app.get("/executions/:id/series/:key", async (c) => {
    const { row } = await readable(c, c.req.param("id"));
    const key = c.req.param("key");
    const full = await fullSeries(sql, row.id, key);
    const format = c.req.query("format");
    const file = `${row.project_name}-${row.counter}-${key}`.replace(/[^A-Za-z0-9._-]/g, "_");
    if (format === "csv") {
      c.header("Content-Disposition", `attachment; filename="${file}.csv"`);
      return c.body(seriesCsv(full), 200, { "Content-Type": "text/csv; charset=utf-8" });
    }
    if (format === "json") {
      c.header("Content-Disposition", `attachment; filename="${file}.json"`);
      return c.json({ key: full.key, x: full.x, points: full.xs.map((x, i) => [x, full.ys[i]]) });
    }
    const max = Math.max(3, Math.min(Number.parseInt(c.req.query("max") ?? "", 10) || DEFAULT_MAX_POINTS, MAX_POINTS));
    return c.json(serveSeries(full, max));
  });

  // ---- compare -------------------------------------------------------------------------------

  app.get("/compare", async (c) => {
    const token = await who(c);
    const ids = [...new Set((c.req.queries("id") ?? []).flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean))];
    if (ids.length > MAX_COMPARE) throw new VhError("bad_request", `Compare takes 2 to ${MAX_COMPARE} executions; ${ids.length} were given.`);
    const rows: ExecutionRow[] = [];
    for (const id of ids) rows.push((await readable(c, id)).row);
    if (rows.length < 2) {
      return c.html(
        uiPage({ title: "compare", kind: "compare-pick", who: token.name, body: `<h1>Compare</h1><p>Pick 2 to ${MAX_COMPARE} executions on <a href="/ui/executions">the list</a> (tick them, then “Compare selected”).</p>${rows.length ? `<p>Picked: <a href="/ui/executions/${esc(rows[0]!.id)}">${esc(rows[0]!.project_name)} #${esc(rows[0]!.counter)}</a>. Its sweep and project are a click away: <a href="/ui/executions?project=${encodeURIComponent(rows[0]!.project_name)}&step=${encodeURIComponent(rows[0]!.step)}">same project and step</a>.</p>` : ""}` }),
      );
    }
    const keysOf = await Promise.all(rows.map((r) => numericKeys(sql, r.id)));
    const metrics = [...new Set(keysOf.flatMap((k) => metricKeys(k)))].sort();
    const params = [...new Set(rows.flatMap((r) => Object.keys(r.parameters)))].sort();
    const label = (r: ExecutionRow) => `${r.project_name} #${r.counter}`;
    const cells = (vals: unknown[]) => {
      const texts = vals.map((v) => (v === undefined ? "" : show(v)));
      const differs = new Set(texts).size > 1;
      return { differs, html: texts.map((t) => `<td${differs ? ' class="differs"' : ""}>${esc(t)}</td>`).join("") };
    };
    const head = `<tr><th></th>${rows.map((r) => `<th><a href="/ui/executions/${esc(r.id)}">${esc(label(r))}</a><br><span class="status s-${esc(r.status)}">${esc(r.status)}</span></th>`).join("")}</tr>`;
    const section = (title: string, names: string[], value: (r: ExecutionRow, k: string) => unknown) =>
      names.length
        ? `<tr class="section"><th colspan="${rows.length + 1}">${esc(title)}</th></tr>${names
            .map((k) => {
              const r = cells(rows.map((x) => value(x, k)));
              return `<tr${r.differs ? ' class="row-differs"' : ""}><th>${esc(k)}</th>${r.html}</tr>`;
            })
            .join("")}`
        : "";
    const facts = [
      ["step", (r: ExecutionRow) => r.step],
      ["code", (r: ExecutionRow) => (r.commit_sha ? `commit ${r.commit_sha}` : r.code_sha256 ? `snapshot ${r.code_sha256}` : "")],
      ["image", (r: ExecutionRow) => r.image],
    ] as const;
    const table = `<table class="compare"><thead>${head}</thead><tbody>
${section("Execution", facts.map((f) => f[0]), (r, k) => facts.find((f) => f[0] === k)![1](r))}
${section("Parameters", params, (r, k) => r.parameters[k])}
${section("Metrics (latest)", metrics, (r, k) => r.metadata_latest[k])}</tbody></table>`;
    const data = {
      executions: rows.map((r) => ({ id: r.id, label: label(r), parameters: r.parameters, latest: Object.fromEntries(metrics.map((m) => [m, r.metadata_latest[m]])) })),
      metrics,
      params,
    };
    const body = `<h1>Compare ${rows.length} executions</h1><p class="sub">Rows whose values differ are marked.</p>${table}
<h2>Metrics over steps</h2>${metrics.length ? `<div id="charts">${metrics.map((k) => `<figure class="chart" data-key="${esc(k)}"><figcaption>${esc(k)}</figcaption><div class="plot"></div></figure>`).join("")}</div>` : `<p class="sub">No numeric metadata.</p>`}
${metrics.length && params.length ? `<h2>Metric against parameter</h2><p><label>Parameter <select id="scatter-x">${params.map((p) => `<option>${esc(p)}</option>`).join("")}</select></label> <label>Metric <select id="scatter-y">${metrics.map((m) => `<option>${esc(m)}</option>`).join("")}</select></label></p><figure class="chart" id="scatter"><div class="plot"></div></figure>` : ""}`;
    return c.html(uiPage({ title: "compare", kind: "compare", who: token.name, body, data }));
  });

  return app;
}

interface ListRow {
  id: string;
  project: string;
  counter: number;
  step: string;
  title: string | null;
  status: string;
  tags: string[];
  commit_sha: string | null;
  triggered_by: string | null;
  created_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
  cost_usd: number | null;
  sweep_id: string | null;
  pipeline_id: string | null;
}

/** The executions that made these datums (an input's producer), by datum id. */
async function producersOf(sql: Sql, datumIds: string[]): Promise<Map<string, { id: string; counter: number; project: string }>> {
  if (!datumIds.length) return new Map();
  const rows = await sql<{ datum: string; id: string; counter: number; project: string }[]>`
    select d.id as datum, e.id, e.counter, p.name as project from datums d join executions e on e.id = d.execution_id join projects p on p.id = e.project_id
    where d.id = any(${datumIds}::uuid[])`;
  return new Map(rows.map((r) => [r.datum, { id: r.id, counter: r.counter, project: r.project }]));
}

/** Where the execution's sweep came from, as links to the pull/merge request and the commit on its forge ("" when unknown). */
async function triggerOf(executionId: string, deps: UiDeps): Promise<string> {
  const [s] = await deps.sql<{ source: { kind: string; forge?: string; repo?: string; pr?: number | null; trigger?: string }; commit_sha: string; sweep_id: string }[]>`
    select s.source, s.commit_sha, s.id as sweep_id from sweep_executions se join sweeps s on s.id = se.sweep_id where se.execution_id = ${executionId}`;
  if (!s) return "";
  const sweepLink = ` · <a href="/ui/executions?sweep=${esc(s.sweep_id)}">its sweep</a>`;
  const src = s.source;
  if (src.kind === "pipeline") return ` · a pipeline task${sweepLink}`;
  if (src.kind !== "forge" || !src.repo) return ` · through the API${sweepLink}`;
  const web = src.forge === "gitlab" ? deps.config.gitlab?.url : src.forge === "github" ? deps.config.githubHost.webUrl : null;
  const how = src.trigger ? ` (${esc(src.trigger)})` : "";
  if (!web) return ` · ${esc(src.forge ?? "")} ${esc(src.repo)}${src.pr ? ` #${esc(src.pr)}` : ""}${how}${sweepLink}`;
  const repoUrl = `${web.replace(/\/$/, "")}/${src.repo}`;
  const pr = src.pr ? (src.forge === "gitlab" ? `${repoUrl}/-/merge_requests/${src.pr}` : `${repoUrl}/pull/${src.pr}`) : null;
  const commit = src.forge === "gitlab" ? `${repoUrl}/-/commit/${s.commit_sha}` : `${repoUrl}/commit/${s.commit_sha}`;
  return ` · <a href="${esc(repoUrl)}">${esc(src.repo)}</a>${pr ? ` <a href="${esc(pr)}">${src.forge === "gitlab" ? "!" : "#"}${esc(src.pr)}</a>` : ""} <a href="${esc(commit)}">commit ${esc(s.commit_sha.slice(0, 10))}</a>${how}${sweepLink}`;
}

function signInPage(next: string): string {
  return uiPage({
    title: "sign in",
    kind: "sign-in",
    body: `<h1>Sign in</h1><p>Paste an API token (the admin token is in <code>VH_DATA_DIR/admin-token</code>).</p>
<form method="post" action="/login"><input type="hidden" name="next" value="${esc(next)}"><input type="password" name="token" size="50" autocomplete="off" required aria-label="API token"> <button>Sign in</button></form>`,
  });
}
