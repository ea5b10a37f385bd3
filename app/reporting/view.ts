/** What reports are rendered from: a sweep and its executions, read from the database. */
import type { Sql } from "../../db/client.js";
import type { Cols } from "../../db/queries/rows.js";
import type { executions } from "../../db/schema/executions.js";
import type { SweepSource, sweepExecutions, sweeps as sweepsTable } from "../../db/schema/sweeps.js";
import { isTerminal, type ExecutionStatus } from "../executions/state.js";
import type { SweepDefinition, SweepKind } from "../contracts/sweeps.js";
import { sweepPlanSize } from "../sweeps/definition.js";
import { willRetry, type RetryPolicy } from "../../db/queries/executions.js";

export interface ExecView {
  id: string;
  counter: number;
  status: ExecutionStatus;
  statusDetail: string | null;
  /** Why it was told to stop (`early-stop`: by the sweep's early-stopping rule). */
  stopCause: string | null;
  parameters: Record<string, unknown>;
  metrics: Record<string, unknown>;
  startedAt: Date | null;
  endedAt: Date | null;
  /** Which attempt runs (1: the first), and how the earlier ones ended (`interrupted`: on spot; `lost`: the host went away). */
  attempt: number;
  earlierAttempts: string[];
  /** Ended, and about to be queued again: a failure with retries left (`retries`), or lost with the policy's retries left. */
  retrying?: boolean;
  /** USD over its attempts on priced (rented) hosts; null when none was priced. */
  costUsd: number | null;
}

export interface MetricGoal {
  name: string;
  goal: "min" | "max";
}

export interface SweepView {
  id: string;
  step: string;
  kind: SweepKind;
  spec: Record<string, string[]>;
  /** Null on sweeps made before 0019 (grids of `spec`). */
  definition: SweepDefinition | null;
  /** How many executions the sweep makes in all (more than it has yet for a Bayesian search). */
  planned: number;
  /** Why it made no more before its plan was done. */
  stoppedReason: string | null;
  commitSha: string;
  codeSha256: string;
  source: SweepSource;
  triggeredBy: string;
  createdAt: Date;
  executions: ExecView[];
}

/**
 * `policy`: the server's retry policy (VH_LOST_RETRIES, VH_MAX_ATTEMPTS), so a lost execution that
 * will be queued again does not end its sweep; without it only a failure's own retries count.
 */
export async function loadSweepViews(sql: Sql, sweepIds: string[], policy: RetryPolicy = { lostRetries: 0, maxAttempts: 1 }): Promise<SweepView[]> {
  if (sweepIds.length === 0) return [];
  const sweeps = await sql<Cols<typeof sweepsTable, "id" | "step" | "kind" | "spec" | "definition" | "stopped_reason" | "commit_sha" | "code_sha256" | "source" | "triggered_by" | "created_at">[]>`
    select id, step, kind, spec, definition, stopped_reason, commit_sha, code_sha256, source, triggered_by, created_at from sweeps where id = any(${sweepIds}::uuid[]) order by created_at, id`;
  const execs = await sql<(Cols<typeof sweepExecutions, "sweep_id"> & Cols<typeof executions, "id" | "counter" | "status" | "status_detail" | "stop_cause" | "parameters" | "metadata_latest" | "started_at" | "ended_at" | "attempt" | "attempts" | "cost_usd" | "retries">)[]>`
    select se.sweep_id, e.id, e.counter, e.status, e.status_detail, e.stop_cause, e.parameters, e.metadata_latest, e.started_at, e.ended_at,
      e.attempt, e.attempts, e.cost_usd, e.retries
    from sweep_executions se join executions e on e.id = se.execution_id
    where se.sweep_id = any(${sweepIds}::uuid[]) order by se.sweep_id, se.position`;
  return sweeps.map((s) => ({
    id: s.id,
    step: s.step,
    kind: s.kind,
    spec: s.spec,
    definition: s.definition,
    planned: s.definition ? sweepPlanSize(s.definition) : execs.filter((e) => e.sweep_id === s.id).length,
    stoppedReason: s.stopped_reason,
    commitSha: s.commit_sha,
    codeSha256: s.code_sha256,
    source: s.source,
    triggeredBy: s.triggered_by,
    createdAt: s.created_at,
    executions: execs
      .filter((e) => e.sweep_id === s.id)
      .map((e) => ({
        id: e.id,
        counter: e.counter,
        status: e.status,
        statusDetail: e.status_detail,
        stopCause: e.stop_cause,
        parameters: e.parameters,
        metrics: e.metadata_latest,
        startedAt: e.started_at,
        endedAt: e.ended_at,
        attempt: e.attempt,
        earlierAttempts: e.attempts.filter((a) => a.attempt < e.attempt).map((a) => a.outcome),
        // Failed with retries left, or lost with the policy's retries left: the settle step queues it
        // again, so the sweep has not ended (the report must not write its last state yet).
        retrying: willRetry(e, policy),
        costUsd: e.cost_usd,
      })),
  }));
}

/** Every execution ended, and no more are to come (the plan made, or the sweep stopped). */
export function sweepDone(v: SweepView): boolean {
  return sweepHasEnded(v.executions.map((e) => (e.retrying ? { status: "queued" as const } : e)), v.planned, v.stoppedReason);
}

/** The same on bare rows: every execution ended, and the plan made (or the sweep stopped). */
export function sweepHasEnded(executions: readonly { status: ExecutionStatus }[], planned: number, stoppedReason: string | null): boolean {
  return executions.every((e) => isTerminal(e.status)) && (executions.length >= planned || stoppedReason !== null);
}

const MINIMISE = /(loss|error|err|mse|mae|rmse|perplexity|wer|cer|time|latency)$/i;
const MAXIMISE = /(acc|accuracy|f1|auc|precision|recall|score|map|iou|bleu|reward|r2)$/i;

/**
 * The metric that decides "best": the task blueprint's `optimization-target-metric` for the step
 * when valohai.yaml has one, else the first numeric key whose name says loss/error (lowest wins)
 * or accuracy/score (highest wins).
 */
export function pickMetric(v: SweepView, declared: MetricGoal | null): MetricGoal | null {
  const t = v.definition?.target;
  if (t) return { name: t.metric, goal: t.direction };
  if (declared) return declared;
  const keys: string[] = [];
  for (const e of v.executions) for (const [k, val] of Object.entries(e.metrics)) if (typeof val === "number" && !keys.includes(k)) keys.push(k);
  const loss = keys.find((k) => MINIMISE.test(k));
  if (loss) return { name: loss, goal: "min" };
  const acc = keys.find((k) => MAXIMISE.test(k));
  if (acc) return { name: acc, goal: "max" };
  return null;
}

export function goalOf(name: string): "min" | "max" {
  return MINIMISE.test(name) ? "min" : "max";
}

export function bestExecution(v: SweepView, metric: MetricGoal | null): { exec: ExecView; value: number } | null {
  if (!metric) return null;
  const best = bestCompleted(v.executions, (e) => e.metrics, metric);
  return best ? { exec: best.item, value: best.value } : null;
}

/** The completed one with the best finite value of `metric` (the first on ties); null when none has one. */
export function bestCompleted<T extends { status: ExecutionStatus }>(items: readonly T[], metricsOf: (item: T) => Record<string, unknown>, metric: MetricGoal): { item: T; value: number } | null {
  let best: { item: T; value: number } | null = null;
  for (const e of items) {
    if (e.status !== "completed") continue;
    const val = metricsOf(e)[metric.name];
    if (typeof val !== "number" || !Number.isFinite(val)) continue;
    if (!best || (metric.goal === "min" ? val < best.value : val > best.value)) best = { item: e, value: val };
  }
  return best;
}
