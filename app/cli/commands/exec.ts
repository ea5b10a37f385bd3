/** `vh exec list|show|logs|stop|outputs`. `N` is `3`, `#3` or `latest`. */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Datum, Execution } from "../api.js";
import type { Context } from "../context.js";
import { CliError } from "../errors.js";
import { columns, formatBytes, formatDuration, formatTime, jsonText, showValue, table } from "../format.js";
import { printLogs } from "../logs.js";

/** `#3` / `3` / `latest` → what the API takes in the URL. */
export function executionRef(ref: string): string {
  const r = ref.trim().replace(/^#/, "");
  if (r === "latest" || /^\d+$/.test(r) || /^[0-9a-f-]{36}$/i.test(r)) return r;
  throw new CliError(`"${ref}" is not an execution: use its number (#3 or 3) or "latest".`);
}

export async function execListCommand(ctx: Context, opts: { status?: string; limit?: number; json?: boolean; project?: string }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const { results } = await ctx.client().listExecutions(project, { status: opts.status, limit: opts.limit });
  if (opts.json) {
    ctx.io.stdout.write(jsonText(results));
    return 0;
  }
  if (!results.length) {
    ctx.info(`No executions${opts.status ? ` with status ${opts.status}` : ""} in project "${project}".`);
    return 0;
  }
  const rows = results.map((e) => [`#${e.counter}`, e.status, e.step, formatDuration(e.durationSeconds), formatTime(e.createdAt), e.title ?? ""]);
  ctx.io.stdout.write(table(["#", "STATUS", "STEP", "DURATION", "CREATED", "TITLE"], rows));
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

export function renderExecution(e: Execution): string {
  const lines: string[] = [];
  const kv = (k: string, v: unknown) => {
    if (v !== undefined && v !== null && v !== "") lines.push(`  ${k.padEnd(10)}${showValue(v)}`);
  };
  const exit = e.exitCode !== undefined && e.exitCode !== null ? ` (exit code ${e.exitCode})` : "";
  lines.push(`Execution #${e.counter}  ${e.status}${exit}${e.statusDetail ? `: ${e.statusDetail}` : ""}`);
  kv("project", e.project.name);
  kv("step", e.step);
  kv("title", e.title);
  kv("image", e.image);
  if (e.code) kv("code", e.code.commit ? `git ${e.code.commit}` : `${e.code.kind} ${e.code.sha256 ?? ""}`.trim());
  kv("host", hostOf(e));
  kv("runner", e.runtime?.["runner"] ?? e.runtime?.["mode"]);
  kv("created", formatTime(e.createdAt));
  if (e.startedAt) kv("started", formatTime(e.startedAt));
  if (e.endedAt) kv("ended", formatTime(e.endedAt));
  if (e.durationSeconds !== null && e.durationSeconds !== undefined) kv("duration", formatDuration(e.durationSeconds));
  lines.push("Command:");
  for (const l of e.command.split("\n")) lines.push(`  ${l}`);
  const params = Object.entries(e.parameters ?? {});
  if (params.length) {
    lines.push("Parameters:");
    for (const [k, v] of params) lines.push(`  ${k} = ${showValue(v)}`);
  }
  if (e.inputs?.length) {
    lines.push("Inputs:");
    for (const i of e.inputs) {
      const extra = [i.file ? `file ${i.file}` : "", i.size !== null && i.size !== undefined ? formatBytes(i.size) : "", i.sha256 ? `sha256 ${i.sha256}` : ""].filter(Boolean);
      lines.push(`  ${i.name}  ${i.uri}${extra.length ? `  (${extra.join(", ")})` : ""}`);
    }
  }
  const env = Object.entries(e.environmentVariables ?? {});
  if (env.length) {
    lines.push("Environment:");
    for (const [k, v] of env) lines.push(`  ${k}=${v}`);
  }
  const metrics = Object.entries(e.metadataLatest ?? {});
  if (metrics.length) {
    lines.push("Metrics (latest):");
    for (const [k, v] of metrics) lines.push(`  ${k} = ${showValue(v)}`);
  }
  if (e.warnings?.length) {
    lines.push("Warnings:");
    for (const w of e.warnings) lines.push(`  ${w}`);
  }
  return lines.join("\n") + "\n";
}

export async function execShowCommand(ctx: Context, ref: string, opts: { json?: boolean; project?: string }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const e = await ctx.client().getExecution(project, executionRef(ref));
  ctx.io.stdout.write(opts.json ? jsonText(e) : renderExecution(e));
  return 0;
}

export async function execLogsCommand(
  ctx: Context,
  ref: string,
  opts: { follow?: boolean; stdout?: boolean; stderr?: boolean; status?: boolean; project?: string },
): Promise<number> {
  const project = ctx.projectName(opts.project);
  const r = executionRef(ref);
  const result = await printLogs(ctx.io, ctx.client(), project, r, {
    follow: opts.follow ?? false,
    stdout: opts.stdout ?? true,
    stderr: opts.stderr ?? true,
    status: opts.status ?? true,
  });
  if (opts.follow) {
    ctx.info(`Execution ${r === "latest" ? "latest" : `#${r}`} ${result.status}.`);
    return result.status === "completed" ? 0 : 1;
  }
  return 0;
}

export async function execStopCommand(ctx: Context, ref: string, opts: { project?: string; json?: boolean }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const e = await ctx.client().stopExecution(project, executionRef(ref));
  if (opts.json) ctx.io.stdout.write(jsonText(e));
  else ctx.info(`Execution #${e.counter} ${e.status}.`);
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
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
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
  ctx.info(`  ${d.name}  ${formatBytes(size)}  sha256 ok`);
}

export async function execOutputsCommand(ctx: Context, ref: string, opts: { download?: string; json?: boolean; project?: string }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const r = executionRef(ref);
  const { results } = await ctx.client().outputs(project, r);
  if (opts.json) ctx.io.stdout.write(jsonText(results));
  else if (!results.length) ctx.info(`Execution ${r === "latest" ? "latest" : `#${r}`} has no outputs.`);
  else ctx.io.stdout.write(columns(results.map((d) => [d.uri, String(d.size), d.sha256, d.name])));
  if (opts.download && results.length) {
    const dir = path.resolve(ctx.io.cwd, opts.download);
    for (const d of results) outputPath(dir, d.name); // refuse bad names before writing anything
    ctx.info(`Downloading ${results.length} file${results.length === 1 ? "" : "s"} to ${dir}:`);
    for (const d of results) await downloadDatum(ctx, d, dir);
  }
  return 0;
}
