/**
 * `vh pipeline run NAME [--adhoc | --commit REF] [--param NODE.PARAM=VALUE …] [--parameter NAME=VALUE …] [--no-reuse]`,
 * `vh pipeline show N`, `vh pipeline list`, `vh pipeline stop N`, `vh pipeline approve N NODE`.
 */
import type { PipelineRun } from "../api.js";
import type { Context } from "../context.js";
import { CliError } from "../errors.js";
import { jsonText } from "../format.js";
import { ensureProject } from "./project.js";
import { packageAndUpload } from "./exec-run.js";

export interface PipelineRunOptions {
  adhoc?: boolean;
  commit?: string;
  param?: string[];
  parameter?: string[];
  reuse?: boolean;
  yaml?: string;
  json?: boolean;
  project?: string;
}

/** `a.b=1` → ["a.b", 1]: numbers and booleans as JSON reads them, everything else text. */
function assignment(raw: string, flag: string, needsDot: boolean): [string, unknown] {
  const eq = raw.indexOf("=");
  const key = eq > 0 ? raw.slice(0, eq) : "";
  if (!key || (needsDot && !/^[^.=]+\.[^=]+$/.test(key))) {
    throw new CliError(`${flag} takes ${needsDot ? "NODE.PARAMETER=VALUE, e.g. --param train.epochs=5" : "NAME=VALUE, e.g. --parameter epochs=5"}, not "${raw}".`, 2);
  }
  const text = raw.slice(eq + 1);
  let value: unknown = text;
  if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text) || text === "true" || text === "false" || /^\[.*\]$/.test(text)) {
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
  }
  return [key, value];
}

export async function pipelineRunCommand(ctx: Context, name: string, opts: PipelineRunOptions): Promise<number> {
  if (opts.adhoc && opts.commit !== undefined) throw new CliError("--adhoc runs this directory; --commit runs a commit of the linked repository: give one of them.", 2);
  const nodeParameters = Object.fromEntries((opts.param ?? []).map((p) => assignment(p, "--param", true)));
  const parameters = Object.fromEntries((opts.parameter ?? []).map((p) => assignment(p, "--parameter", false)));
  const root = ctx.rootDir();
  const client = ctx.client();
  const project = await ensureProject(ctx, client, root, opts.project);
  const code = opts.adhoc ? { code: await packageAndUpload(ctx, client, root) } : { commit: opts.commit ?? "HEAD" };
  const run = await client.createPipeline(project, { name, yamlPath: opts.yaml ?? "valohai.yaml", parameters, nodeParameters, reuse: opts.reuse !== false, ...code });
  if (opts.json) {
    ctx.io.stdout.write(jsonText(run));
    return 0;
  }
  ctx.info(`Pipeline =${run.counter} (${run.name}) started.`);
  printNodes(ctx, run);
  return 0;
}

function printNodes(ctx: Context, run: PipelineRun): void {
  for (const n of run.nodes) {
    const what = n.reusedFrom ? `reused #${n.reusedFrom.counter}` : n.execution ? `#${n.execution.counter} ${n.execution.status}` : n.sweep ? `sweep of ${n.sweep.executions.length}` : "";
    ctx.io.stdout.write(`${n.name}\t${n.status}${what ? `\t${what}` : ""}${n.detail ? `\t${n.detail}` : ""}\n`);
  }
}

export async function pipelineShowCommand(ctx: Context, ref: string, opts: { json?: boolean; project?: string }): Promise<number> {
  const client = ctx.client();
  const project = await ensureProject(ctx, client, ctx.rootDir(), opts.project);
  const run = await client.getPipeline(project, ref);
  if (opts.json) {
    ctx.io.stdout.write(jsonText(run));
    return 0;
  }
  ctx.io.stdout.write(`Pipeline =${run.counter} ${run.name}: ${run.status}${run.statusDetail ? ` (${run.statusDetail})` : ""}${run.commit ? ` · commit ${run.commit.slice(0, 12)}` : ""}\n`);
  printNodes(ctx, run);
  for (const e of run.edges ?? []) ctx.io.stdout.write(`  ${e.sourceNode}.${e.sourceType}.${e.sourceKey} → ${e.targetNode}.${e.targetType}.${e.targetKey}\n`);
  return run.status === "failed" ? 1 : 0;
}

export async function pipelineListCommand(ctx: Context, opts: { json?: boolean; project?: string }): Promise<number> {
  const client = ctx.client();
  const project = await ensureProject(ctx, client, ctx.rootDir(), opts.project);
  const { pipelines } = await client.listPipelines(project);
  if (opts.json) {
    ctx.io.stdout.write(jsonText(pipelines));
    return 0;
  }
  for (const p of pipelines) ctx.io.stdout.write(`=${p.counter}\t${p.name}\t${p.status}\t${p.createdAt}\t${p.nodes.map((n) => `${n.name}:${n.status}`).join(" ")}\n`);
  return 0;
}

export async function pipelineStopCommand(ctx: Context, ref: string, opts: { project?: string }): Promise<number> {
  const client = ctx.client();
  const project = await ensureProject(ctx, client, ctx.rootDir(), opts.project);
  const r = await client.stopPipeline(project, ref);
  ctx.info(r.stopped ? `Pipeline =${r.pipeline.counter} stopped.` : `Pipeline =${r.pipeline.counter} had already ended (${r.pipeline.status}).`);
  return 0;
}

export async function pipelineApproveCommand(ctx: Context, ref: string, node: string, opts: { project?: string }): Promise<number> {
  const client = ctx.client();
  const project = await ensureProject(ctx, client, ctx.rootDir(), opts.project);
  const run = await client.approvePipelineNode(project, ref, node);
  ctx.info(`Node ${node} of pipeline =${run.counter} approved.`);
  return 0;
}
