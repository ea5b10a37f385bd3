/** `vh model list|show|create|approve|reject|reset|compare|report|latest`: the Model Hub from the terminal. */
import { CliError } from "../errors.js";
import type { Context } from "../context.js";
import { formatBytes, formatDuration, formatTime, jsonText, showValue, table } from "../format.js";
import { println } from "../io.js";
import { parseModelUri } from "../../models/uri.js";
import type { ModelSummary, VersionSummary } from "../../models/catalog.js";
import type { StatusChange } from "../../models/approval.js";
import type { Comparison, VersionRecord } from "../../models/audit.js";

const CLI = { "x-vh-client": "cli" };

/** model://NAME/vN|latest → the API path of the version. */
export function versionPath(uri: string): string {
  const r = parseModelUri(uri);
  if ("error" in r) throw new CliError(r.error);
  if (r.ref.kind === "next") throw new CliError(`"${uri}" names no version; write model://${r.ref.model}/vN or model://${r.ref.model}/latest.`);
  const ref = r.ref.kind === "latest" ? "latest" : `v${r.ref.number}`;
  return `/models/${encodeURIComponent(r.ref.model)}/versions/${ref}`;
}

function modelName(arg: string): string {
  if (!arg.startsWith("model://")) return arg;
  const r = parseModelUri(arg);
  if ("error" in r) throw new CliError(r.error);
  return r.ref.model;
}

export async function modelListCommand(ctx: Context, opts: { json?: boolean }): Promise<number> {
  const { results } = await ctx.client().json<{ results: ModelSummary[] }>("GET", "/models");
  if (opts.json) {
    ctx.io.stdout.write(jsonText(results));
    return 0;
  }
  if (results.length === 0) {
    ctx.info("No models yet: a training output whose sidecar lists valohai.model-versions makes one (docs/model-hub.md).");
    return 0;
  }
  ctx.io.stdout.write(table(["MODEL", "VERSIONS", "LATEST", "PENDING", "CREATED"], results.map((m) => [m.name, String(m.versions), m.latest ?? "-", String(m.pending), formatTime(m.createdAt)])));
  return 0;
}

export async function modelShowCommand(ctx: Context, arg: string, opts: { json?: boolean; status?: string }): Promise<number> {
  const client = ctx.client();
  if (/^model:\/\/[^/]+\/./.test(arg)) {
    const v = await client.json<VersionRecord>("GET", versionPath(arg));
    if (opts.json) {
      ctx.io.stdout.write(jsonText(v));
      return 0;
    }
    const out = ctx.io.stdout;
    println(out, `Version:  ${v.version}${v.latest === v.version ? " (latest)" : ""}`);
    println(out, `Status:   ${v.status}${v.statusBy ? ` by ${v.statusBy}` : ""}${v.statusAt ? ` at ${formatTime(v.statusAt)}` : ""}${v.statusReason ? `: ${v.statusReason}` : ""}`);
    println(out, `Files:    ${v.files.length} (${formatBytes(v.size)}), digest ${v.filesSha256}`);
    for (const f of v.files) println(out, `  ${f.name}  ${f.sha256}  ${formatBytes(f.size)}  ${f.datum}`);
    if (v.execution) println(out, `Source:   ${v.execution.project} #${v.execution.counter} (${v.execution.step}, ${v.execution.status})${v.commitSha ? ` at ${v.commitSha}` : ""}`);
    else println(out, `Source:   ${v.sourceKind}`);
    if (v.tags.length) println(out, `Tags:     ${v.tags.join(", ")}`);
    if (v.description) println(out, `Notes:    ${v.description}`);
    println(out, `Created:  ${formatTime(v.createdAt)} by ${v.createdBy ?? "-"}`);
    return 0;
  }
  const name = modelName(arg);
  const m = await client.json<ModelSummary & { results: VersionSummary[] }>("GET", `/models/${encodeURIComponent(name)}`, { query: { status: opts.status } });
  if (opts.json) {
    ctx.io.stdout.write(jsonText(m));
    return 0;
  }
  println(ctx.io.stdout, `Model:    ${m.name}${m.description ? ` — ${m.description}` : ""}`);
  println(ctx.io.stdout, `Latest:   ${m.latest ?? "none approved"}`);
  println(ctx.io.stdout, `Policy:   approvers ${m.approvers.length ? m.approvers.join(", ") : "(write permission)"}; separation of duties ${m.separationOfDuties ? "on" : "off"}`);
  println(ctx.io.stdout);
  ctx.io.stdout.write(
    table(
      ["VERSION", "STATUS", "FILES", "SIZE", "SOURCE", "DIGEST", "CREATED"],
      m.results.map((v) => [
        v.version,
        v.status + (v.status === "approved" && !v.approvalValid ? "!" : ""),
        String(v.files),
        formatBytes(v.size),
        v.sourceExecution ? `${v.sourceExecution.project} #${v.sourceExecution.counter}` : "manual",
        v.filesSha256.slice(0, 12),
        formatTime(v.createdAt),
      ]),
    ),
  );
  return 0;
}

function printChange(ctx: Context, c: StatusChange, json?: boolean): number {
  if (json) ctx.io.stdout.write(jsonText(c));
  else ctx.info(c.changed ? `${c.version} is now ${c.status} (files ${c.filesSha256.slice(0, 12)}).` : `${c.version} was already ${c.status}.`);
  return 0;
}

export async function modelApproveCommand(ctx: Context, uri: string, opts: { filesSha256?: string; json?: boolean }): Promise<number> {
  const c = await ctx.client().json<StatusChange>("POST", `${versionPath(uri)}/approve`, { json: opts.filesSha256 ? { filesSha256: opts.filesSha256 } : {}, headers: CLI });
  return printChange(ctx, c, opts.json);
}

export async function modelRejectCommand(ctx: Context, uri: string, reason: string[], opts: { json?: boolean }): Promise<number> {
  const c = await ctx.client().json<StatusChange>("POST", `${versionPath(uri)}/reject`, { json: { reason: reason.join(" ") }, headers: CLI });
  return printChange(ctx, c, opts.json);
}

export async function modelResetCommand(ctx: Context, uri: string, reason: string[], opts: { json?: boolean }): Promise<number> {
  const c = await ctx.client().json<StatusChange>("POST", `${versionPath(uri)}/reset`, { json: reason.length ? { reason: reason.join(" ") } : {}, headers: CLI });
  return printChange(ctx, c, opts.json);
}

export async function modelCreateCommand(ctx: Context, name: string, opts: { file: string[]; description?: string; tag?: string[]; json?: boolean }): Promise<number> {
  const v = await ctx.client().json<VersionRecord>("POST", `/models/${encodeURIComponent(modelName(name))}/versions`, {
    json: { files: opts.file, description: opts.description ?? null, tags: opts.tag ?? [] },
    headers: CLI,
  });
  if (opts.json) ctx.io.stdout.write(jsonText(v));
  else ctx.info(`Created ${v.version} (pending) with ${v.files.length} file(s), digest ${v.filesSha256.slice(0, 12)}.`);
  return 0;
}

export async function modelLatestCommand(ctx: Context, name: string, opts: { at?: string; json?: boolean }): Promise<number> {
  const r = await ctx.client().json<{ model: string; at: string; latest: string | null }>("GET", `/models/${encodeURIComponent(modelName(name))}/latest`, { query: { at: opts.at } });
  if (opts.json) ctx.io.stdout.write(jsonText(r));
  else println(ctx.io.stdout, r.latest ?? `(no approved version of ${r.model} at ${r.at})`);
  return r.latest ? 0 : 1;
}

export async function modelCompareCommand(ctx: Context, uris: string[], opts: { json?: boolean }): Promise<number> {
  if (uris.length < 2) throw new CliError("Give at least two versions: vh model compare model://x/v1 model://x/v2.");
  uris.forEach(versionPath);
  const url = `/models/compare?${uris.map((u) => `v=${encodeURIComponent(u)}`).join("&")}`;
  const c = await ctx.client().json<Comparison>("GET", url);
  if (opts.json) {
    ctx.io.stdout.write(jsonText(c));
    return 0;
  }
  const vs = c.versions;
  const rows: string[][] = [
    ["status", ...vs.map((v) => v.status)],
    ["execution", ...vs.map((v) => v.execution ?? "-")],
    ["commit", ...vs.map((v) => v.commit ?? "-")],
    ["files digest", ...vs.map((v) => v.filesSha256.slice(0, 12))],
    ["size", ...vs.map((v) => formatBytes(v.size))],
    ["duration", ...vs.map((v) => formatDuration(v.durationSeconds))],
  ];
  const mark = (k: string, list: string[]) => (list.includes(k) ? "* " : "  ");
  for (const k of [...new Set(vs.flatMap((v) => Object.keys(v.metrics)))].sort()) {
    rows.push([`${mark(k, c.differs.metrics)}metric ${k}`, ...vs.map((v) => (k in v.metrics ? showValue(v.metrics[k]) : "-"))]);
    rows.push([`  series ${k}`, ...vs.map((v) => String(v.series[k]?.length ?? 0) + " points")]);
  }
  for (const k of [...new Set(vs.flatMap((v) => Object.keys(v.parameters)))].sort()) {
    rows.push([`${mark(k, c.differs.parameters)}param ${k}`, ...vs.map((v) => (k in v.parameters ? showValue(v.parameters[k]) : "-"))]);
  }
  for (const k of [...new Set(vs.flatMap((v) => v.inputs.map((i) => `${i.input}/${i.name}`)))].sort()) {
    rows.push([`${mark(k, c.differs.inputs)}input ${k}`, ...vs.map((v) => v.inputs.find((i) => `${i.input}/${i.name}` === k)?.sha256.slice(0, 12) ?? "-")]);
  }
  ctx.io.stdout.write(table(["", ...vs.map((v) => v.version)], rows));
  ctx.info("* differs between the versions");
  return 0;
}

export async function modelReportCommand(ctx: Context, uri: string, opts: { format?: string }): Promise<number> {
  const format = opts.format ?? "md";
  const accept = new Map([["md", "text/markdown"], ["html", "text/html"], ["json", "application/json"]]).get(format);
  if (!accept) throw new CliError(`--format must be md, html or json, not "${format}".`);
  const res = await ctx.client().raw("GET", `${versionPath(uri)}/report`, { query: { format }, headers: { accept } });
  const text = await res.text();
  ctx.io.stdout.write(format === "json" ? jsonText(JSON.parse(text)) : text);
  return 0;
}
