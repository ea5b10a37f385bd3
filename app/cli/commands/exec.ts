/** `vh exec list|show|logs|watch|open|stop|delete|outputs`. `N` is `3`, `#3` or `latest`. */
import { usd } from "./environment.js";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Datum, Execution } from "../api.js";
import type { Context } from "../context.js";
import { CliError } from "../errors.js";
import { columns, formatBytes, formatDuration, formatTime, jsonText, printable, showValue, table } from "../format.js";
import { printLogs } from "../logs.js";
import { trackBytes } from "../transfer-progress.js";
import type { DeletionSummary } from "../../executions/delete.js";
import type { ReproducedBy, ReproductionSummary, reproducibilitySummary } from "../../executions/present.js";
import { verdictHeadline } from "../../../templates/reproduce/verdict.js";

/** `#3` / `3` / `latest` → what the API takes in the URL. */
export function executionRef(ref: string): string {
  const r = ref.trim().replace(/^#/, "");
  if (r === "latest" || /^\d+$/.test(r) || /^[0-9a-f-]{36}$/i.test(r)) return r;
  throw new CliError(`"${ref}" is not an execution: use its number (#3 or 3) or "latest".`);
}

/** The API path of the project's executions, or of one. */
function executionsPath(project: string, ref?: string | number): string {
  const base = `/projects/${encodeURIComponent(project)}/executions`;
  return ref === undefined ? base : `${base}/${encodeURIComponent(String(ref))}`;
}

/** The record's tags (a server older than tags sends none). */
export function tagsOf(e: Execution): string[] {
  const t = e["tags"];
  return Array.isArray(t) ? t.filter((x): x is string => typeof x === "string") : [];
}

/** `#12 "baseline"`: the number, and the title when there is one. */
function named(e: Execution): string {
  return `#${e.counter}${e.title ? ` "${printable(e.title)}"` : ""}`;
}

/** `3 min ago` from an ISO time (the server's clock against this one's: never in the future). */
export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return "at an unknown time";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

export async function execListCommand(
  ctx: Context,
  opts: { status?: string; tag?: string[]; limit?: number; json?: boolean; project?: string },
): Promise<number> {
  const project = ctx.projectName(opts.project);
  const tags = opts.tag ?? [];
  const { results } = await ctx.client().json<{ results: Execution[] }>("GET", executionsPath(project), {
    query: { status: opts.status, limit: opts.limit, tag: tags.length ? tags.join(",") : undefined },
  });
  if (opts.json) {
    ctx.io.stdout.write(jsonText(results));
    return 0;
  }
  if (!results.length) {
    const which = [opts.status ? `with status ${opts.status}` : "", tags.length ? `tagged ${tags.join(" and ")}` : ""].filter(Boolean).join(" ");
    ctx.info(`No executions${which ? ` ${which}` : ""} in project "${project}".`);
    return 0;
  }
  const rows = results.map((e) => [`#${e.counter}`, e.status, e.step, formatDuration(e.durationSeconds), formatTime(e.createdAt), tagsOf(e).join(","), e.title ?? ""]);
  ctx.io.stdout.write(table(["#", "STATUS", "STEP", "DURATION", "CREATED", "TAGS", "TITLE"], rows));
  return 0;
}

function hostOf(e: Execution): string | undefined {
  const rt = e.runtime;
  if (!rt) return undefined;
  const name = rt["hostName"];
  if (typeof name === "string") return name;
  const host = rt["host"];
  if (host && typeof host === "object") {
    const h = host as Record<string, unknown>;
    for (const k of ["hostname", "hostName", "name"]) if (typeof h[k] === "string") return h[k];
  }
  return undefined;
}

interface ShownInput {
  name: string;
  uri: string;
  file?: string | null;
  sha256?: string | null;
  size?: number | null;
  datum?: string | null;
  model?: string | null;
  dataset?: string | null;
  object?: string | null;
  etag?: string | null;
  versionId?: string | null;
}

/** The versions the record says the execution produced. */
function modelVersionsOf(e: Execution): { version: string; status: string }[] {
  const v = e["modelVersions"];
  if (!Array.isArray(v)) return [];
  return v.filter((x): x is { version: string; status: string } => !!x && typeof x === "object" && typeof (x as { version?: unknown }).version === "string");
}

function deletedOf(e: Execution): { at: string; by: string | null } | null {
  const d = e["deleted"];
  return d && typeof d === "object" && typeof (d as { at?: unknown }).at === "string" ? (d as { at: string; by: string | null }) : null;
}

/** `$0.0123 (g5.xlarge spot at $0.3036/h for 2m 26s; attempt 1 interrupted: $0.0042)`: the cost and what it is made of. */
export function costText(e: Pick<Execution, "costUsd" | "attempts" | "currentAttempt">): string {
  const parts = (e.attempts ?? [])
    .filter((a) => a.costUsd !== null)
    .map((a) => `attempt ${a.attempt} ${a.outcome}: ${a.instanceType ?? a.host ?? "?"}${a.spot ? " spot" : ""} at ${usd(a.pricePerHour)}/h for ${formatDuration(a.seconds ?? 0)} = ${usd(a.costUsd)}`);
  // The running attempt: what it has cost so far, added to the ended ones.
  const now = e.currentAttempt?.costUsd !== null && e.currentAttempt?.costUsd !== undefined ? e.currentAttempt : null;
  if (now) parts.push(`attempt ${now.attempt} running: ${now.instanceType ?? now.host ?? "?"}${now.spot ? " spot" : ""} at ${usd(now.pricePerHour ?? null)}/h for ${formatDuration(now.seconds)} so far = ${usd(now.costUsd)}`);
  const total = now ? (e.costUsd ?? 0) + now.costUsd! : e.costUsd;
  return `${usd(total ?? null)}${now ? " so far" : ""}${parts.length ? ` (${parts.join("; ")})` : ""}`;
}

/** `exec show`: the record, and the outputs when given (null: not asked for). */
export function renderExecution(e: Execution, outputs: Datum[] | null = null): string {
  const lines: string[] = [];
  const kv = (k: string, v: unknown) => {
    if (v !== undefined && v !== null && v !== "") lines.push(`  ${k.padEnd(10)}${printable(showValue(v))}`);
  };
  const exit = e.exitCode !== undefined && e.exitCode !== null ? ` (exit code ${e.exitCode})` : "";
  const deleted = deletedOf(e);
  lines.push(`Execution #${e.counter}  ${e.status}${exit}${e.statusDetail ? `: ${printable(e.statusDetail)}` : ""}`);
  if (deleted) lines.push(`  DELETED ${formatTime(deleted.at)}${deleted.by ? ` by ${printable(deleted.by)}` : ""}: its logs, metadata and outputs are gone; this record and its status history stay.`);
  kv("project", e.project.name);
  kv("step", e.step);
  kv("title", e.title);
  kv("tags", tagsOf(e).join(", "));
  const img = e.runtime?.["image"] as { used?: boolean; note?: string } | undefined;
  kv("image", img?.used === false ? `${e.image} (${img.note})` : e.image);
  if (e.code) kv("code", e.code.commit ? `git ${e.code.commit}` : `${e.code.kind} ${e.code.sha256 ?? ""}`.trim());
  kv("host", hostOf(e));
  kv("runner", e.runtime?.["runner"] ?? e.runtime?.["mode"]);
  kv("env", e.environment);
  if ((e.attempt ?? 1) > 1) kv("attempt", `${e.attempt} (earlier: ${(e.attempts ?? []).map((a) => `#${a.attempt} ${a.outcome}`).join(", ")})`);
  if ((e.costUsd !== null && e.costUsd !== undefined) || (e.currentAttempt?.costUsd ?? null) !== null) kv("cost", costText(e));
  kv("created", formatTime(e.createdAt));
  if (e.startedAt) kv("started", formatTime(e.startedAt));
  if (e.endedAt) kv("ended", formatTime(e.endedAt));
  if (e.durationSeconds !== null && e.durationSeconds !== undefined) kv("duration", formatDuration(e.durationSeconds));
  lines.push("Command:");
  for (const l of e.command.split("\n")) lines.push(`  ${l}`);
  const params = Object.entries(e.parameters ?? {});
  if (params.length) {
    lines.push("Parameters:");
    for (const [k, v] of params) lines.push(`  ${k} = ${printable(showValue(v))}`);
  }
  if (e.inputs?.length) {
    lines.push("Inputs:");
    for (const i of e.inputs as ShownInput[]) {
      // model://churn/latest → model://churn/v1: the version it resolved to when the execution was created.
      // dataset://images/latest → dataset://images/v4; s3://lake/sets/* → the object, pinned by its version id or ETag.
      const to = i.model ?? i.dataset ?? i.object;
      const resolved = to && to !== i.uri ? ` → ${to}` : "";
      const extra = [
        i.file ? `file ${i.file}` : "",
        i.versionId ? `version ${i.versionId}` : i.etag ? `ETag ${i.etag}` : "",
        i.size !== null && i.size !== undefined ? formatBytes(i.size) : "",
        i.datum && i.datum !== i.uri ? i.datum : "",
        i.sha256 ? `sha256 ${i.sha256}` : "",
      ].filter(Boolean);
      lines.push(printable(`  ${i.name}  ${i.uri}${resolved}${extra.length ? `  (${extra.join(", ")})` : ""}`));
    }
  }
  if (outputs) {
    if (!outputs.length) lines.push(deleted ? "Outputs: none left (deleted)" : "Outputs: none");
    else {
      const total = outputs.reduce((n, d) => n + d.size, 0);
      lines.push(`Outputs (${outputs.length}, ${formatBytes(total)}):`);
      lines.push(...columns(outputs.map((d) => [d.name, formatBytes(d.size), `sha256 ${d.sha256}`, d.uri])).trimEnd().split("\n").map((l) => `  ${l}`));
    }
  }
  const versions = modelVersionsOf(e);
  if (versions.length) {
    lines.push("Model versions:");
    for (const v of versions) lines.push(`  ${v.version}  ${v.status}`);
  }
  const env = Object.entries(e.environmentVariables ?? {});
  if (env.length) {
    lines.push("Environment:");
    for (const [k, v] of env) lines.push(printable(`  ${k}=${v}`));
  }
  lines.push(...reproducibilityLines(e));
  const metrics = Object.entries(e.metadataLatest ?? {});
  if (metrics.length) {
    lines.push("Metrics (latest):");
    for (const [k, v] of metrics) lines.push(printable(`  ${k} = ${showValue(v)}`));
  }
  if (e.warnings?.length) {
    lines.push("Warnings:");
    for (const w of e.warnings) lines.push(`  ${printable(w)}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * What the record holds for reproducing the execution, in short (the whole of it: `--json`'s
 * `runtime`), what it reproduces with the verdict, and its reproductions.
 */
function reproducibilityLines(e: Execution): string[] {
  const r = e["reproducibility"] as ReturnType<typeof reproducibilitySummary> | undefined;
  const rep = e["reproduction"] as ReproductionSummary | null | undefined;
  const by = (e["reproducedBy"] as ReproducedBy[] | undefined) ?? [];
  const lines: string[] = [];
  const kv = (k: string, v: string | null | undefined) => {
    if (v) lines.push(printable(`  ${k.padEnd(13)}${v}`));
  };
  if (r && (r.fingerprint || r.seed || r.imageDigest)) {
    lines.push("Reproducibility:");
    kv("image digest", r.imageDigest);
    if (r.fingerprint === "recorded") {
      const counts = [r.pipPackages !== null ? `${r.pipPackages} pip packages` : "", r.npmPackages !== null ? `${r.npmPackages} npm packages` : ""].filter(Boolean);
      kv("fingerprint", [r.os ?? "OS unknown", ...counts].join(", ") + (r.truncated ? " (package lists cut at their bound)" : ""));
      for (const i of r.interpreters) kv(i.program ?? "interpreter", [i.version ?? "version unknown", i.path ? `(${i.path})` : ""].filter(Boolean).join(" "));
    } else if (r.fingerprint) kv("fingerprint", r.fingerprint + ("fingerprintMissing" in r && r.fingerprintMissing ? `: ${r.fingerprintMissing}` : ""));
    kv("seed", r.seed);
  }
  if (rep) {
    const of = `#${rep.original.counter ?? rep.original.id}`;
    if (rep.verdict && rep.original.counter !== null) lines.push(`Reproduces ${of}: ${verdictHeadline({ original: rep.original.counter, reproduction: e.counter, verdict: rep.verdict })}`);
    else lines.push(`Reproduces ${of}: ${rep.verify ? "verified when it ends" : "not verified (vh exec reproduce --verify compares outputs and metrics)"}`);
  }
  if (by.length) lines.push(`Reproduced by: ${by.map((x) => `#${x.counter} (${x.result ?? (x.verify ? x.status : "not verified")})`).join(", ")}`);
  return lines;
}

export async function execShowCommand(ctx: Context, ref: string, opts: { json?: boolean; project?: string }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const client = ctx.client();
  const e = await client.getExecution(project, executionRef(ref));
  if (opts.json) {
    ctx.io.stdout.write(jsonText(e));
    return 0;
  }
  // By number: `latest` could have moved on since the record was read.
  const { results } = await client.outputs(project, e.counter);
  ctx.io.stdout.write(renderExecution(e, results));
  return 0;
}

type LogFlags = { follow?: boolean; stdout?: boolean; stderr?: boolean; status?: boolean; timestamps?: boolean; json?: boolean; project?: string };

export async function execLogsCommand(ctx: Context, ref: string, opts: LogFlags): Promise<number> {
  const project = ctx.projectName(opts.project);
  const given = executionRef(ref);
  // `latest` resolved once: a newer execution (or a deletion) must not switch the stream mid-way.
  const r = given === "latest" && opts.follow ? (await ctx.client().getExecution(project, "latest")).counter : given;
  const result = await printLogs(ctx.io, ctx.client(), project, r, {
    follow: opts.follow ?? false,
    stdout: opts.stdout ?? true,
    stderr: opts.stderr ?? true,
    status: opts.status ?? true,
    timestamps: opts.timestamps ?? false,
    json: opts.json ?? false,
  });
  if (opts.follow) {
    ctx.info(`Execution #${r} ${result.status}.`);
    return result.status === "completed" ? 0 : 1;
  }
  return 0;
}

/** `completed (exit code 0) after 12s.`: how an ended execution ended, as a sentence's end. */
function endText(e: Execution): string {
  const exit = e.exitCode !== undefined && e.exitCode !== null ? ` (exit code ${e.exitCode})` : "";
  const took = e.durationSeconds !== null && e.durationSeconds !== undefined ? ` after ${formatDuration(e.durationSeconds)}` : "";
  const detail = e.statusDetail ? `: ${printable(e.statusDetail)}` : "";
  return `${e.status}${exit}${took}${detail}${detail.endsWith(".") ? "" : "."}`;
}

/** `vh exec watch N`: the status as it changes and the log, until the execution ends; 0 only if it completed. */
export async function execWatchCommand(ctx: Context, ref: string, opts: { timestamps?: boolean; project?: string }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const client = ctx.client();
  // By number from here on: `latest` may name a newer execution while this one runs.
  const e = await client.getExecution(project, executionRef(ref));
  ctx.info(`Watching ${named(e)} (${e.step}, ${e.status}, created ${ago(e.createdAt)}): ${client.executionUrl(project, e.counter)}`);
  await printLogs(ctx.io, client, project, e.counter, { follow: true, stdout: true, stderr: true, status: true, timestamps: opts.timestamps ?? false });
  const end = await client.getExecution(project, e.counter);
  ctx.info(`Execution ${named(end)} ${endText(end)}`);
  return end.status === "completed" ? 0 : 1;
}

/** The command that opens a URL in the desktop's browser here, when there is one on PATH. */
function browserOpener(env: Record<string, string | undefined>): string | null {
  const name = process.platform === "darwin" ? "open" : "xdg-open";
  for (const dir of (env["PATH"] ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not in this folder
    }
  }
  return null;
}

/** `vh exec open N`: prints where to look at the execution; `--browser` also opens it there. */
export async function execOpenCommand(ctx: Context, ref: string, opts: { browser?: boolean; project?: string }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const client = ctx.client();
  const e = await client.getExecution(project, executionRef(ref));
  const url = client.executionUrl(project, e.counter);
  ctx.io.stdout.write(`${url}\n`);
  if (!opts.browser) return 0;
  const opener = browserOpener(ctx.io.env);
  if (!opener) {
    ctx.warn(`No ${process.platform === "darwin" ? "open" : "xdg-open"} command on PATH to open a browser with: open the URL above yourself.`);
    return 0;
  }
  const env = Object.fromEntries(Object.entries(ctx.io.env).filter((kv): kv is [string, string] => kv[1] !== undefined));
  const child = spawn(opener, [url], { detached: true, stdio: "ignore", env });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) => reject(new CliError(`Could not start ${opener}: ${err.message}. Open the URL above yourself.`)));
  });
  child.unref();
  ctx.info(`Opened ${named(e)} with ${path.basename(opener)}.`);
  return 0;
}

export async function execStopCommand(ctx: Context, ref: string, opts: { project?: string; json?: boolean }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const client = ctx.client();
  // Read first, then stop by number: the message names exactly the execution that was stopped.
  const before = await client.getExecution(project, executionRef(ref));
  const what = (x: Execution) => `${named(x)} (${x.step}, ${x.startedAt ? `started ${ago(x.startedAt)}` : `created ${ago(x.createdAt)}, not started`})`;
  if (["completed", "failed", "error", "stopped", "lost"].includes(before.status)) {
    if (opts.json) ctx.io.stdout.write(jsonText(before));
    ctx.info(`${named(before)} (${before.step}) has already ended (${before.status}${before.endedAt ? ` ${ago(before.endedAt)}` : ""}). Nothing to stop.`);
    return 0;
  }
  const e = await client.stopExecution(project, before.counter);
  if (opts.json) ctx.io.stdout.write(jsonText(e));
  if (e.status === "stopping") ctx.info(`Stopping ${what(before)}.`);
  else if (e.status === "stopped") ctx.info(`Stopped ${what(before)}.`);
  else ctx.info(`${named(e)} is ${e.status}: it ended before the stop reached it.`);
  return 0;
}


/** `vh exec delete N`: logs, metadata and outputs go; the record and its status history stay. */
export async function execDeleteCommand(ctx: Context, ref: string, opts: { dryRun?: boolean; json?: boolean; project?: string }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const r = executionRef(ref);
  if (r === "latest") {
    throw new CliError(`vh exec delete takes the execution's number (vh exec delete 12), not "latest": "latest" may name another execution than the one you looked at.`);
  }
  const res = await ctx.client().json<{ execution: Execution; removed: DeletionSummary }>("DELETE", executionsPath(project, r), {
    query: { dryRun: opts.dryRun ? "true" : undefined },
  });
  if (opts.json) {
    ctx.io.stdout.write(jsonText(res));
    return 0;
  }
  const { execution: e, removed: n } = res;
  const what = `${n.outputs} output${n.outputs === 1 ? "" : "s"} (${formatBytes(n.bytes)}), ${n.logLines} log line${n.logLines === 1 ? "" : "s"} and ${n.metadataEvents} metadata event${n.metadataEvents === 1 ? "" : "s"}`;
  if (n.dryRun) ctx.info(`Would delete ${named(e)} (${e.step}, ${e.status}): ${what}. Nothing was deleted (--dry-run).`);
  else ctx.info(`Deleted ${named(e)} (${e.step}, ${e.status}): ${what} removed. Its record and status history stay: vh exec show ${e.counter}.`);
  return 0;
}

/** DIR/<name>, refusing names that would land outside DIR. */
export function outputPath(dir: string, name: string): string {
  const root = path.resolve(dir);
  const target = path.resolve(root, name);
  if (!name || path.isAbsolute(name) || !target.startsWith(root + path.sep)) {
    throw new CliError(`Refusing to write the output "${name}" outside ${root}.`);
  }
  return target;
}

async function downloadDatum(ctx: Context, d: Datum, dir: string): Promise<void> {
  const target = outputPath(dir, d.name);
  const res = await ctx.client().download(d.id);
  if (!res.body) throw new CliError(`The server sent no bytes for ${d.uri}.`);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = `${target}.vh-partial`;
  const hash = createHash("sha256");
  let size = 0;
  const out = fs.createWriteStream(tmp);
  try {
    // Byte progress on stderr (a bar on a terminal, a line per 10 % elsewhere), ended with the stream.
    for await (const chunk of trackBytes(ctx.io.stderr, res.body, { label: `Downloading ${d.name}`, total: d.size })) {
      hash.update(chunk);
      size += chunk.length;
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    out.destroy();
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  const sha = hash.digest("hex");
  if (sha !== d.sha256) {
    fs.rmSync(tmp, { force: true });
    throw new CliError(`${d.name} (${d.uri}) arrived damaged: sha256 ${sha}, expected ${d.sha256}; nothing written.`);
  }
  fs.renameSync(tmp, target);
  ctx.info(`  ${printable(d.name)}  ${formatBytes(size)}  sha256 ok`);
}

export async function execOutputsCommand(ctx: Context, ref: string, opts: { download?: string; json?: boolean; project?: string }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const r = executionRef(ref);
  const { results } = await ctx.client().outputs(project, r);
  if (opts.json) ctx.io.stdout.write(jsonText(results));
  else if (!results.length) ctx.info(`Execution ${r === "latest" ? "latest" : `#${r}`} has no outputs.`);
  else ctx.io.stdout.write(table(["DATUM", "SIZE", "SHA256", "NAME"], results.map((d) => [d.uri, formatBytes(d.size), d.sha256, d.name])));
  if (opts.download && results.length) {
    const dir = path.resolve(ctx.io.cwd, opts.download);
    for (const d of results) outputPath(dir, d.name); // refuse bad names before writing anything
    const total = results.reduce((n, d) => n + d.size, 0);
    ctx.info(`Downloading ${results.length} file${results.length === 1 ? "" : "s"} (${formatBytes(total)}) to ${dir}:`);
    for (const d of results) await downloadDatum(ctx, d, dir);
  }
  return 0;
}
