/** Statements on sweeps and their executions used from more than one place. */
import type { ExecutionStatus, executions } from "../schema/executions.js";
import type { sweepExecutions } from "../schema/sweeps.js";
import type { Cols, Conn } from "./rows.js";
import { lockedJobKey } from "./jobs.js";
import type { SweepDefinition } from "../../app/contracts/sweeps.js";
import type { SweepSource, sweeps } from "../schema/sweeps.js";
import type { RepoRef } from "../../app/contracts/forge.js";

/**
 * What a sweep's `source` contains when it was started from the repository (and pull request `pr`):
 * for `source @> ${sql.json(…)}::jsonb`, whichever the forge.
 */
export function sourceOf(repo: Pick<RepoRef, "forge" | "id">, pr?: number): Record<string, unknown> {
  return { kind: "forge", forge: repo.forge, repositoryId: repo.id, ...(pr !== undefined ? { pr } : {}) };
}

/** The sweeps started from pull request `pr` of the repository, oldest first. */
export async function sweepIdsOfPullRequest(sql: Conn, repo: Pick<RepoRef, "forge" | "id">, pr: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select id from sweeps where source @> ${sql.json(sourceOf(repo, pr) as never)}::jsonb order by created_at, id`;
  return rows.map((r) => r.id);
}

export type SweepExecutionRow = Cols<typeof executions, "id" | "counter"> & Cols<typeof sweepExecutions, "sweep_id">;

/** The executions of these sweeps whose status is one of `statuses`, by counter. */
export async function executionsOfSweeps(sql: Conn, sweepIds: readonly string[], statuses: readonly ExecutionStatus[]): Promise<SweepExecutionRow[]> {
  return sql<SweepExecutionRow[]>`
    select e.id, e.counter, se.sweep_id from sweep_executions se join executions e on e.id = se.execution_id
    where se.sweep_id = any(${sweepIds as string[]}::uuid[]) and e.status = any(${statuses as string[]}::text[]) order by e.counter`;
}

/** A sweep's executions from `position` on, each with the point it runs. */
export async function insertSweepExecutions(sql: Conn, sweepId: string, position: number, created: readonly { id: string }[], points: readonly Record<string, string>[]): Promise<void> {
  if (created.length === 0) return;
  const rows = created.map((c, i) => ({ position: position + i, execution: c.id, point: points[i] ?? {} }));
  await sql`
    insert into sweep_executions (sweep_id, position, execution_id, point)
    select ${sweepId}::uuid, x.position, x.execution, x.point from jsonb_to_recordset(${sql.json(rows as never)}) as x(position int, execution uuid, point jsonb)`;
}

export type SweepRuleRow = Cols<typeof sweeps, "id" | "project_id" | "step" | "kind" | "commit_sha" | "code_sha256" | "triggered_by" | "stopped_reason"> & { definition: SweepDefinition | null };

/** The sweep an execution belongs to, with its definition; null when it is not in one. */
export async function sweepOfExecution(sql: Conn, executionId: string): Promise<SweepRuleRow | null> {
  const [row] = await sql<SweepRuleRow[]>`
    select s.id, s.project_id, s.step, s.kind, s.commit_sha, s.code_sha256, s.triggered_by, s.stopped_reason, s.definition
    from sweep_executions se join sweeps s on s.id = se.sweep_id where se.execution_id = ${executionId}`;
  return row ?? null;
}

/** The serial queue and job key of a sweep's `sweep_advance` jobs: one at a time per sweep, a burst of ends coalesced. */
export const advanceQueue = (sweepId: string) => `vh_sweep:${sweepId}`;

/**
 * An SQL expression for the statement that ends an execution (app/executions/state.ts): when it
 * ended and belongs to a sweep that something must happen in after an end (one with a max
 * parallel, a Bayesian search, a target value or a stop-condition), that sweep's `sweep_advance`
 * job is added, committed with the status itself (driven by the end, never by polling). A plain
 * grid has nothing to do and adds no job.
 */
export function advanceJobOnEnd(sql: Conn, executionId: string, ended: boolean) {
  if (!ended) return sql`null::bigint`;
  return sql`(select count(graphile_worker.add_job('sweep_advance', json_build_object('sweepId', s.id),
      queue_name => 'vh_sweep:' || s.id::text, max_attempts => 10, job_key => ${lockedJobKey(sql, sql`'sweep_advance:' || s.id::text`)}))
    from sweep_executions se join sweeps s on s.id = se.sweep_id
    where se.execution_id = ${executionId}::uuid
      and (s.kind = 'bayesian_tpe' or s.definition ?| array['maxParallel', 'stopCondition'] or s.definition->'target' ? 'value'))`;
}

/** One execution of a sweep as the sweep's driver and early stopping read it. */
export type SweepMember = Cols<typeof executions, "id" | "counter" | "status" | "stop_cause" | "metadata_latest" | "yaml_path" | "started_at" | "ended_at" | "environment" | "retries" | "attempt" | "attempts"> &
  Cols<typeof sweepExecutions, "position" | "point">;

/** The sweep's executions in position order. */
export async function sweepMembers(sql: Conn, sweepId: string): Promise<SweepMember[]> {
  return sql<SweepMember[]>`
    select e.id, e.counter, se.position, e.status, e.stop_cause, se.point, e.metadata_latest, e.yaml_path, e.started_at, e.ended_at, e.environment, e.retries, e.attempt, e.attempts
    from sweep_executions se join executions e on e.id = se.execution_id where se.sweep_id = ${sweepId} order by se.position`;
}

export interface NewSweep {
  projectId: string;
  step: string;
  kind: string;
  spec: Record<string, string[]>;
  /** Null for a sweep of one that records no definition (a reproduction). */
  definition: SweepDefinition | null;
  /** "" when it ran an uploaded snapshot. */
  commitSha: string;
  codeSha256: string;
  source: SweepSource;
  triggeredBy: string;
  requestKey?: string | null;
}

/** Writes a sweep's row (every creation path: comments, the API, pipelines' task nodes, reproductions); its id. */
export async function insertSweep(sql: Conn, s: NewSweep): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    insert into sweeps (project_id, step, kind, spec, definition, commit_sha, code_sha256, source, triggered_by, request_key)
    values (${s.projectId}, ${s.step}, ${s.kind}, ${sql.json(s.spec)}, ${s.definition === null ? null : sql.json(s.definition as never)}, ${s.commitSha}, ${s.codeSha256},
      ${sql.json(s.source as never)}, ${s.triggeredBy}, ${s.requestKey ?? null})
    returning id`;
  return row!.id;
}
