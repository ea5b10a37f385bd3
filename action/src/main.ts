/**
 * What the Action does, step by step, with everything outside injected (the API client, the job
 * log, the clock, the state the post step reads), so tests run it against a real server:
 *
 *   1. the project: found; with `adhoc`, made when missing (as `vh exec run --adhoc` does);
 *   2. the code: with `adhoc`, the server first asked whether it would accept the run (the local
 *      valohai.yaml, the first point), then GITHUB_WORKSPACE packaged with the CLI's ignore rules
 *      and uploaded unless the server has it; otherwise the linked repository at `commit`;
 *   3. one execution, or a grid sweep when a parameter has a list (created all or none);
 *   4. unless `wait: false`, each execution's log followed in a group of its own, in order (they
 *      run at once on the server: the later ones' logs are read from their start), until every one
 *      has ended or `timeout-minutes` passed (then the ones still running are stopped);
 *   5. the result: statuses, durations, the last value of each metric, the best execution.
 *
 * `outputsOf`, `failureOf` and (in summary.ts) `renderSummary` turn the result into the step's
 * outputs, its one failure message and its job summary. `stopStarted` is the post step.
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { ApiClient, Execution, LogLine } from "../../app/cli/api.js";
import { ApiError } from "../../app/cli/api.js";
import type { CodePackage } from "../../app/cli/io.js";
import type { ActionInputs } from "./inputs.js";
import { guessMetric, isSweep, type MetricChoice } from "./parse.js";

export const YAML_PATH = "valohai.yaml";
const TERMINAL = new Set(["completed", "failed", "error", "stopped", "lost"]);
const LOG_PAGE = 5000;
/** Lines of an execution's log kept to say why it failed. */
const TAIL_LINES = 10;
const MAX_TAIL_LINE = 500;

/** The job log, as @actions/core writes it (runner.ts), or a recorder (tests). */
export interface JobLog {
  info(line: string): void;
  warning(message: string, title?: string): void;
  error(message: string, title?: string): void;
  startGroup(title: string): void;
  endGroup(): void;
  /** Lines an execution printed: shown as they are, never obeyed as workflow commands. */
  verbatim(lines: string[]): void;
}

export type Client = Pick<
  ApiClient,
  | "getProject"
  | "createProject"
  | "validateExecution"
  | "hasCode"
  | "putCode"
  | "createExecution"
  | "createSweep"
  | "getExecution"
  | "stopExecution"
  | "logs"
  | "executionUrl"
  | "apiUrl"
>;

export interface MainDeps {
  client: Client;
  log: JobLog;
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Between two reads of a running execution's log (default 1 s). */
  pollMs?: number;
  /** Saves a value for the post step (a no-op outside Actions). */
  saveState(name: "vh-started" | "vh-settled", value: string): void;
  /** Packages a directory as the CLI does; uploading it is `upload`. */
  pack(dir: string): Promise<CodePackage>;
  upload(client: Client, pkg: CodePackage): Promise<{ uploaded: boolean; bytes: number }>;
}

export interface ExecutionResult {
  id: string;
  counter: number;
  step: string;
  status: string;
  statusDetail: string | null;
  exitCode: number | null;
  durationSeconds: number | null;
  /** The values of the parameters the workflow gave (the sweep's axes). */
  parameters: Record<string, unknown>;
  /** The last value of each metric it printed. */
  metrics: Record<string, unknown>;
  url: string;
  /** The last lines of its log (stdout and stderr), to say why it failed. */
  lastLines: string[];
}

export interface RunResult {
  project: string;
  step: string;
  sweepId: string | null;
  url: string;
  /** How the code was given: the uploaded snapshot's sha256, or the commit asked for. */
  code: { kind: "adhoc"; sha256: string } | { kind: "commit"; commit: string };
  executions: ExecutionResult[];
  /** False with `wait: false`: the executions were started and left running. */
  waited: boolean;
  /** Set when `timeout-minutes` passed first: the executions then stopped. */
  timedOut: { minutes: number; stopped: number[] } | null;
  /** `completed`, `failed`, `error`, `stopped`, `lost`, `timed-out`, or `started` (wait: false). */
  status: string;
  metric: MetricChoice | null;
  best: { counter: number; value: number } | null;
}

/** What the post step needs to stop what the main step started. */
export interface StartedState {
  project: string;
  counters: number[];
}

export async function main(inputs: ActionInputs, deps: MainDeps): Promise<RunResult> {
  await ensureProject(inputs, deps);
  const code = await codeOf(inputs, deps);
  const created = await createRun(inputs, deps, code);
  deps.saveState("vh-started", JSON.stringify({ project: inputs.project, counters: created.executions.map((e) => e.counter) } satisfies StartedState));
  const list = created.executions.map((e) => `#${e.counter}`).join(", ");
  deps.log.info(created.sweepId ? `Started a sweep of ${created.executions.length} (${list}): ${created.url}` : `Started ${list}: ${created.url}`);
  if (!inputs.wait) {
    deps.saveState("vh-settled", "true");
    return resultOf(inputs, created, code, created.executions.map((e) => toResult(e, inputs, deps, [])), { waited: false, timedOut: null });
  }
  const waited = await waitForAll(inputs, deps, created.executions);
  deps.saveState("vh-settled", "true");
  return resultOf(inputs, created, code, waited.results, { waited: true, timedOut: waited.timedOut });
}

// 1. The project.

async function ensureProject(inputs: ActionInputs, deps: MainDeps): Promise<void> {
  try {
    await deps.client.getProject(inputs.project);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404 && inputs.code.kind === "adhoc")) throw err;
    await deps.client.createProject(inputs.project);
    deps.log.info(`Created project ${inputs.project}.`);
  }
}

// 2. The code.

type Code = RunResult["code"];

/** The first point of the grid: what the server is asked about before the upload. */
function firstPoint(parameters: ActionInputs["parameters"]): Record<string, string> {
  return Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, Array.isArray(v) ? v[0]! : v]));
}

async function codeOf(inputs: ActionInputs, deps: MainDeps): Promise<Code> {
  if (inputs.code.kind === "commit") return { kind: "commit", commit: inputs.code.commit };
  const dir = inputs.code.workspace;
  const yamlFile = path.join(dir, YAML_PATH);
  const yaml = await fs.readFile(yamlFile, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") throw new Error(`adhoc: ${yamlFile} does not exist. Check the repository out first (actions/checkout), or run the linked repository at a commit (adhoc: false).`);
    throw err;
  });
  // A run the server would refuse uploads nothing.
  await deps.client.validateExecution(inputs.project, {
    step: inputs.step,
    yamlPath: YAML_PATH,
    parameters: firstPoint(inputs.parameters),
    inputs: inputs.inputs,
    environmentVariables: inputs.environmentVariables,
    yaml,
  });
  const pkg = await deps.pack(dir);
  try {
    for (const w of pkg.warnings) deps.log.warning(w, "vh: packaging");
    const sent = await deps.upload(deps.client, pkg);
    deps.log.info(
      sent.uploaded
        ? `Uploaded the workspace (${pkg.fileCount} files, ${pkg.size} bytes): code ${pkg.sha256.slice(0, 12)}.`
        : `The server already has this workspace (${pkg.fileCount} files): code ${pkg.sha256.slice(0, 12)}.`,
    );
    return { kind: "adhoc", sha256: pkg.sha256 };
  } finally {
    await pkg.dispose?.();
  }
}

// 3. The executions.

interface Created {
  sweepId: string | null;
  url: string;
  executions: Execution[];
}

async function createRun(inputs: ActionInputs, deps: MainDeps, code: Code): Promise<Created> {
  const { client } = deps;
  const where = code.kind === "adhoc" ? { code: code.sha256 } : { commit: code.commit };
  const common = { step: inputs.step, ...where, yamlPath: YAML_PATH, inputs: inputs.inputs, environmentVariables: inputs.environmentVariables };
  if (isSweep(inputs.parameters)) {
    const sweep = await client.createSweep(inputs.project, { ...common, parameters: inputs.parameters });
    return { sweepId: sweep.id, url: client.apiUrl(`/projects/${encodeURIComponent(inputs.project)}/sweeps/${sweep.id}`), executions: sweep.executions };
  }
  const e = await client.createExecution(inputs.project, { ...common, parameters: inputs.parameters as Record<string, string> });
  return { sweepId: null, url: client.executionUrl(inputs.project, e.counter), executions: [e] };
}

// 4. Waiting.

function title(e: Execution, inputs: ActionInputs): string {
  const shown = Object.keys(inputs.parameters).map((k) => `${k}=${String(e.parameters[k] ?? "")}`);
  return [`#${e.counter}`, e.step, ...shown].join(" ");
}

/** Follows one execution's log into the job log until it has ended (true) or the deadline passed (false). */
async function follow(inputs: ActionInputs, deps: MainDeps, e: Execution, deadline: number, tail: string[]): Promise<boolean> {
  let after = 0;
  for (;;) {
    const page = await deps.client.logs(inputs.project, e.counter, after, LOG_PAGE);
    if (page.lines.length) {
      deps.log.verbatim(page.lines.map(shownLine));
      for (const l of page.lines) if (l.stream !== "status") tail.push(l.line.length > MAX_TAIL_LINE ? `${l.line.slice(0, MAX_TAIL_LINE)}…` : l.line);
      tail.splice(0, Math.max(0, tail.length - TAIL_LINES));
    }
    after = page.next;
    if (page.finished) return true;
    if (page.lines.length === LOG_PAGE) continue;
    if (deps.now() >= deadline) return false;
    await deps.sleep(Math.min(deps.pollMs ?? 1000, Math.max(0, deadline - deps.now())));
  }
}

function shownLine(l: LogLine): string {
  return l.stream === "status" ? `[vh] ${l.line}` : l.line;
}

async function waitForAll(inputs: ActionInputs, deps: MainDeps, executions: Execution[]): Promise<{ results: ExecutionResult[]; timedOut: RunResult["timedOut"] }> {
  const deadline = inputs.timeoutMinutes === null ? Infinity : deps.now() + inputs.timeoutMinutes * 60_000;
  const tails = new Map<number, string[]>();
  const ended = new Set<number>();
  const final = new Map<number, ExecutionResult>();
  for (const e of executions) {
    const tail: string[] = [];
    tails.set(e.counter, tail);
    deps.log.startGroup(title(e, inputs));
    const done = await follow(inputs, deps, e, deadline, tail);
    deps.log.endGroup();
    if (!done) break;
    ended.add(e.counter);
    const record = await deps.client.getExecution(inputs.project, e.counter);
    const result = toResult(record, inputs, deps, tail);
    report(deps, result, record);
    final.set(e.counter, result);
  }
  let timedOut: RunResult["timedOut"] = null;
  if (ended.size < executions.length) {
    // The deadline passed: every one still running is asked to stop (one that ended meanwhile is left as it is).
    const stopped: number[] = [];
    for (const e of executions) {
      if (ended.has(e.counter)) continue;
      const now = await deps.client.getExecution(inputs.project, e.counter);
      if (TERMINAL.has(now.status)) continue;
      await deps.client.stopExecution(inputs.project, e.counter);
      stopped.push(e.counter);
    }
    timedOut = { minutes: inputs.timeoutMinutes!, stopped };
  }
  const results: ExecutionResult[] = [];
  for (const e of executions) {
    results.push(final.get(e.counter) ?? toResult(await deps.client.getExecution(inputs.project, e.counter), inputs, deps, tails.get(e.counter) ?? []));
  }
  return { results, timedOut };
}

/** One ended execution in the job log: a line, an error annotation when it did not complete, its warnings. */
function report(deps: MainDeps, r: ExecutionResult, record: Execution): void {
  const took = r.durationSeconds === null ? "" : ` in ${formatSeconds(r.durationSeconds)}`;
  deps.log.info(`#${r.counter} ${r.status}${took}.`);
  if (r.status !== "completed") deps.log.error(whyLines(r).join("\n"), `vh: #${r.counter} ${r.step} ${r.status}`);
  for (const w of warningsOf(record)) deps.log.warning(w, `vh: #${r.counter}`);
}

/** vh's own warnings about what the execution printed (metadata it could not parse or store, a reached log quota). */
function warningsOf(record: Execution): string[] {
  return record.warnings ?? [];
}

function toResult(record: Execution, inputs: ActionInputs, deps: Pick<MainDeps, "client">, tail: string[]): ExecutionResult {
  return {
    id: record.id,
    counter: record.counter,
    step: record.step,
    status: record.status,
    statusDetail: record.statusDetail ?? null,
    exitCode: record.exitCode ?? null,
    durationSeconds: TERMINAL.has(record.status) ? (record.durationSeconds ?? null) : null,
    parameters: Object.fromEntries(Object.keys(inputs.parameters).map((k) => [k, record.parameters[k]])),
    metrics: record.metadataLatest ?? {},
    url: deps.client.executionUrl(inputs.project, record.counter),
    lastLines: [...tail],
  };
}

// 5. The result.

function overall(results: ExecutionResult[], waited: boolean, timedOut: RunResult["timedOut"]): string {
  if (!waited) return "started";
  if (timedOut) return "timed-out";
  for (const s of ["error", "failed", "lost", "stopped"]) if (results.some((r) => r.status === s)) return s;
  return results.find((r) => r.status !== "completed")?.status ?? "completed";
}

function pickBest(results: ExecutionResult[], metric: MetricChoice | null): RunResult["best"] {
  if (!metric) return null;
  let best: RunResult["best"] = null;
  for (const r of results) {
    if (r.status !== "completed") continue;
    const v = r.metrics[metric.name];
    if (typeof v !== "number" || !Number.isFinite(v)) continue;
    if (!best || (metric.goal === "min" ? v < best.value : v > best.value)) best = { counter: r.counter, value: v };
  }
  return best;
}

function resultOf(inputs: ActionInputs, created: Created, code: Code, results: ExecutionResult[], how: { waited: boolean; timedOut: RunResult["timedOut"] }): RunResult {
  const keys: string[] = [];
  for (const r of results) for (const [k, v] of Object.entries(r.metrics)) if (typeof v === "number" && !keys.includes(k)) keys.push(k);
  const metric = inputs.metric ?? guessMetric(keys);
  return {
    project: inputs.project,
    step: inputs.step,
    sweepId: created.sweepId,
    url: created.url,
    code,
    executions: results,
    waited: how.waited,
    timedOut: how.timedOut,
    status: overall(results, how.waited, how.timedOut),
    metric,
    best: how.waited ? pickBest(results, metric) : null,
  };
}

export function formatSeconds(s: number): string {
  if (s < 9.95) return `${Math.max(0, s).toFixed(1)}s`;
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  const m = Math.floor(t / 60);
  if (m < 60) return `${m}m ${String(t % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/** Why an execution did not complete: its status and detail, then the last lines it printed. */
export function whyLines(r: ExecutionResult): string[] {
  const params = Object.entries(r.parameters).map(([k, v]) => `${k}=${String(v)}`).join(" ");
  const detail = r.statusDetail?.replace(/\.+$/, "") || (r.exitCode !== null ? `exit code ${r.exitCode}` : null);
  const head = `#${r.counter} ${r.step}${params ? ` (${params})` : ""} ${r.status}${detail ? `: ${detail}` : ""}${r.exitCode !== null && detail && !detail.includes(String(r.exitCode)) ? ` (exit code ${r.exitCode})` : ""}.`;
  return r.lastLines.length ? [head, "Last lines of its log:", ...r.lastLines.map((l) => `  ${l}`)] : [head];
}

/** The step's outputs, as action.yml declares them (JSON where a value is a list or a map). */
export function outputsOf(r: RunResult): Record<string, string> {
  const out: Record<string, string> = {
    "execution-ids": JSON.stringify(r.executions.map((e) => e.id)),
    "execution-counters": JSON.stringify(r.executions.map((e) => e.counter)),
    status: r.status,
    metrics: JSON.stringify(Object.fromEntries(r.executions.map((e) => [String(e.counter), e.metrics]))),
    url: r.url,
  };
  if (r.sweepId) out["sweep-id"] = r.sweepId;
  if (r.best) out["best-execution"] = String(r.best.counter);
  return out;
}

/** The one message the step fails with; null when nothing failed (or nothing was waited for). */
export function failureOf(r: RunResult): string | null {
  if (!r.waited) return null;
  if (r.timedOut) {
    const stopped = r.timedOut.stopped.map((c) => `#${c}`).join(", ");
    return `Timed out after ${r.timedOut.minutes} minute${r.timedOut.minutes === 1 ? "" : "s"} (timeout-minutes)${stopped ? `: ${stopped} had not ended and ${r.timedOut.stopped.length === 1 ? "was" : "were"} asked to stop` : ""}.`;
  }
  const bad = r.executions.filter((e) => e.status !== "completed");
  if (bad.length === 0) return null;
  const n = r.executions.length;
  const head = n === 1 ? "The execution did not complete." : `${bad.length} of ${n} executions did not complete.`;
  return [head, ...bad.flatMap(whyLines)].join("\n");
}

/**
 * The post step: when the main step started executions and did not see them end (the job was
 * cancelled, or the step died), asks each that is still running to stop. Idempotent.
 */
export async function stopStarted(state: { started: string | null; settled: boolean }, deps: Pick<MainDeps, "client" | "log">): Promise<number[]> {
  if (!state.started || state.settled) return [];
  const started = JSON.parse(state.started) as StartedState;
  const stopped: number[] = [];
  for (const counter of started.counters) {
    try {
      const e = await deps.client.getExecution(started.project, counter);
      if (TERMINAL.has(e.status)) continue;
      await deps.client.stopExecution(started.project, counter);
      stopped.push(counter);
      deps.log.info(`Stopped #${counter}: the job ended before it did.`);
    } catch (err) {
      deps.log.warning(`Could not stop #${counter}: ${(err as Error).message}`, "vh: post");
    }
  }
  return stopped;
}
