/**
 * `vh exec reproduce N [--verify] [--tolerance T]` and `vh exec diff A B`. A reproduction is made by
 * the server (POST …/executions/N/reproduce); with `--verify` the command follows it as `vh exec
 * watch` does, then waits for the verdict the worker records when it ends, prints it, and exits 0
 * when equal, 1 when different.
 */
import type { Execution } from "../api.js";
import type { Context } from "../context.js";
import { CliError } from "../errors.js";
import { jsonText, printable } from "../format.js";
import { printLogs } from "../logs.js";
import { executionRef } from "./exec.js";
import type { ReproductionView } from "../../executions/reproduce.js";
import type { ExecutionDiff } from "../../executions/diff.js";
import { renderVerdictText } from "../../../templates/reproduce/verdict.js";
import { renderDiff } from "../../../templates/reproduce/diff.js";

function executionsPath(project: string, ref: string | number): string {
  return `/projects/${encodeURIComponent(project)}/executions/${encodeURIComponent(String(ref))}`;
}

/** `--tolerance`: a number from 0 (exactly equal, the default) to 1. */
export function parseTolerance(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const t = raw.trim() === "" ? NaN : Number(raw);
  if (!Number.isFinite(t) || t < 0 || t > 1) throw new CliError(`--tolerance ${raw}: give a number from 0 (exactly equal) to 1, e.g. --tolerance 1e-9.`);
  return t;
}

/** How long `--verify` waits for the verdict after the reproduction has ended, before saying where to look. */
const VERDICT_WAIT_MS = 120_000;

export async function execReproduceCommand(
  ctx: Context,
  ref: string,
  opts: { verify?: boolean; tolerance?: string; json?: boolean; timestamps?: boolean; project?: string },
): Promise<number> {
  const project = ctx.projectName(opts.project);
  const tolerance = parseTolerance(opts.tolerance);
  if (tolerance !== undefined && !opts.verify) throw new CliError("--tolerance is for comparing: give it with --verify.");
  const client = ctx.client();
  const r = executionRef(ref);
  if (r === "latest") throw new CliError(`vh exec reproduce takes the execution's number (vh exec reproduce 12), not "latest": "latest" may name another execution than the one you looked at.`);
  const made = await client.json<{ execution: Execution; reproduction: ReproductionView }>("POST", `${executionsPath(project, r)}/reproduce`, {
    json: { verify: opts.verify ?? false, ...(tolerance !== undefined ? { tolerance } : {}) },
  });
  const e = made.execution;
  const o = made.reproduction.original;
  if (!opts.verify) {
    if (opts.json) ctx.io.stdout.write(jsonText(made));
    ctx.info(`Reproducing #${o.counter} as #${e.counter} (same commit, code, image, command, parameters, environment and input versions): ${client.executionUrl(project, e.counter)}`);
    return 0;
  }
  ctx.info(`Reproducing #${o.counter} as #${e.counter}, to be compared with it when it ends: ${client.executionUrl(project, e.counter)}`);
  await printLogs(ctx.io, client, project, e.counter, { follow: true, stdout: !opts.json, stderr: !opts.json, status: true, timestamps: opts.timestamps ?? false });
  const until = Date.now() + VERDICT_WAIT_MS;
  let view: ReproductionView;
  for (;;) {
    view = await client.json<ReproductionView>("GET", `${executionsPath(project, e.counter)}/reproduction`, { query: { wait: 30 } });
    if (view.verdict || Date.now() >= until) break;
    await ctx.io.sleep(1000);
  }
  if (!view.verdict) {
    throw new CliError(
      `#${e.counter} has ended (${view.execution.status}) but no verdict was recorded within ${VERDICT_WAIT_MS / 1000} s: the worker records it (is one running?). GET ${client.apiUrl(`${executionsPath(project, e.counter)}/reproduction`)} shows it once it is.`,
    );
  }
  if (opts.json) ctx.io.stdout.write(jsonText(view));
  else ctx.io.stdout.write(printable(renderVerdictText({ original: view.original.counter, reproduction: view.execution.counter, verdict: view.verdict }), { multiline: true }));
  return view.verdict.result === "equal" ? 0 : 1;
}

export async function execDiffCommand(ctx: Context, a: string, b: string, opts: { json?: boolean; project?: string }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const diff = await ctx.client().json<ExecutionDiff>("GET", `${executionsPath(project, executionRef(a))}/diff/${encodeURIComponent(executionRef(b))}`);
  ctx.io.stdout.write(opts.json ? jsonText(diff) : printable(renderDiff(diff), { multiline: true }));
  return 0;
}
