/** `vh dataset list|show|create`: datasets and their immutable versions (REST: app/http/routes/datasets.ts). */
import { CliError } from "../errors.js";
import type { Context } from "../context.js";
import { formatBytes, formatTime, jsonText, table } from "../format.js";
import { println } from "../io.js";
import { parseDatasetUri } from "../../datasets/uri.js";
import type { DatasetRecord, DatasetSummary, VersionRecord } from "../../datasets/versions.js";

const CLI = { "x-vh-client": "cli" };

function datasetsPath(project: string, name?: string): string {
  const base = `/projects/${encodeURIComponent(project)}/datasets`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

/** NAME, NAME/VERSION, dataset://NAME[/VERSION|/latest] → the dataset and the version asked (null: the dataset itself). */
export function datasetArg(arg: string): { dataset: string; version: string | null } {
  const uri = arg.startsWith("dataset://") ? arg : `dataset://${arg}`;
  const r = parseDatasetUri(uri);
  if ("error" in r) throw new CliError(r.error);
  const explicitLatest = /\/latest\/?$/.test(uri);
  return { dataset: r.ref.dataset, version: r.ref.version ?? (explicitLatest ? "latest" : null) };
}

export async function datasetListCommand(ctx: Context, opts: { json?: boolean; project?: string }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const { results } = await ctx.client().json<{ results: DatasetSummary[] }>("GET", datasetsPath(project));
  if (opts.json) {
    ctx.io.stdout.write(jsonText(results));
    return 0;
  }
  if (results.length === 0) {
    ctx.info(`No datasets in project "${project}" yet: make one with vh dataset create NAME --version V datum://ID, or from outputs whose sidecar lists valohai.dataset-versions.`);
    return 0;
  }
  ctx.io.stdout.write(table(["DATASET", "VERSIONS", "LATEST", "CREATED"], results.map((d) => [d.name, String(d.versions), d.latest ?? "-", formatTime(d.createdAt)])));
  return 0;
}

function printVersion(ctx: Context, v: VersionRecord): void {
  const out = ctx.io.stdout;
  println(out, `Version:  ${v.uri}${v.latest ? " (latest)" : ""}${v.aliases.length ? `, aliases ${v.aliases.join(", ")}` : ""}`);
  println(out, `Files:    ${v.files.length} (${formatBytes(v.size)})`);
  ctx.io.stdout.write(table(["  PATH", "SIZE", "SHA256", "DATUM"], v.files.map((f) => [`  ${f.path}`, formatBytes(f.size), f.sha256, f.datum])));
  println(out, `Source:   ${v.execution ? `execution #${v.execution.counter}` : "made by hand"}`);
  println(out, `Created:  ${formatTime(v.createdAt)} by ${v.createdBy}`);
  if (v.usedBy.length) println(out, `Used by:  ${v.usedBy.map((u) => `#${u.counter} (${u.input})`).join(", ")}`);
}

export async function datasetShowCommand(ctx: Context, arg: string, opts: { json?: boolean; project?: string }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const { dataset, version } = datasetArg(arg);
  const client = ctx.client();
  if (version !== null) {
    const v = await client.json<VersionRecord>("GET", `${datasetsPath(project, dataset)}/versions/${encodeURIComponent(version)}`);
    if (opts.json) ctx.io.stdout.write(jsonText(v));
    else printVersion(ctx, v);
    return 0;
  }
  const d = await client.json<DatasetRecord>("GET", datasetsPath(project, dataset));
  if (opts.json) {
    ctx.io.stdout.write(jsonText(d));
    return 0;
  }
  println(ctx.io.stdout, `Dataset:  ${d.name} (project ${project})`);
  println(ctx.io.stdout, `Latest:   ${d.latest ?? "-"}`);
  println(ctx.io.stdout);
  ctx.io.stdout.write(
    table(
      ["VERSION", "FILES", "SIZE", "SOURCE", "ALIASES", "CREATED", "BY"],
      d.results.map((v) => [v.version, String(v.fileCount), formatBytes(v.size), v.execution ? `#${v.execution.counter}` : "manual", v.aliases.join(",") || "-", formatTime(v.createdAt), v.createdBy]),
    ),
  );
  return 0;
}

export async function datasetCreateCommand(
  ctx: Context,
  name: string,
  datums: string[],
  opts: { version: string; path?: string[]; json?: boolean; project?: string },
): Promise<number> {
  const project = ctx.projectName(opts.project);
  const { dataset, version } = datasetArg(name);
  if (version !== null) throw new CliError(`Give the dataset's name (${dataset}) and the new version with --version, not ${JSON.stringify(name)}.`);
  if (datums.length === 0) throw new CliError("Name the files of the version: vh dataset create NAME --version V datum://ID [datum://ID …].");
  const paths = opts.path ?? [];
  if (paths.length > datums.length) throw new CliError(`${paths.length} --path values for ${datums.length} datum(s): each --path names the file of the datum in the same place.`);
  const files = datums.map((d, i) => ({ datum: d, ...(paths[i] !== undefined ? { path: paths[i] } : {}) }));
  const v = await ctx.client().json<VersionRecord>("POST", `${datasetsPath(project, dataset)}/versions`, { json: { version: opts.version, files }, headers: CLI });
  if (opts.json) ctx.io.stdout.write(jsonText(v));
  else ctx.info(`Created ${v.uri} with ${v.files.length} file(s) (${formatBytes(v.size)}).`);
  return 0;
}
