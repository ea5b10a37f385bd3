/**
 * Statements on executions and what hangs off one execution (its status history, the inputs it
 * fetched) used from more than one place.
 */
import { eq } from "drizzle-orm";
import type { Db } from "../client.js";
import { executions, projects, type Execution, type ExecutionStatus, type ModelVersionStatus, type executionInputs } from "../schema/index.js";
import type { Cols, Conn, Row } from "./rows.js";

/** How many of its attempts ended to be retried so far (= the suffix of its next attempt's work dir). */
export async function retriedCount(sql: Conn, executionId: string): Promise<number> {
  // Each earlier attempt ended lost (a lost host, a spot interruption) or failed (a retry on failure).
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from execution_status_history where execution_id = ${executionId} and status in ('lost', 'failed')`;
  return row?.n ?? 0;
}

export interface RetryPolicy {
  lostRetries: number;
  /** Attempts in all for an execution interrupted on spot (default 3). */
  maxAttempts?: number;
}

/** What decides whether an ended execution starts another attempt. */
export interface RetryFacts {
  status: string;
  stop_cause: string | null;
  attempt: number;
  /** Its ended attempts' outcomes, this one's included once recorded. */
  outcomes: string[];
  /** Its retries on failure (`executions.retries`). */
  retries: number;
}

/**
 * Whether an ended execution is queued again (worker/scheduler/settle.ts does it; the API and delete
 * ask the same question): interrupted on spot, while attempts are left (`maxAttempts`); lost, not being
 * stopped, while `lostRetries` are left; failed (not stopped), while fewer than its own `retries`
 * attempts failed. Pure.
 */
export function retryAllowed(f: RetryFacts, policy: RetryPolicy): "interrupted" | "lost" | "failed" | null {
  if (f.status === "failed") {
    if (f.stop_cause !== null) return null;
    // This attempt counts as failed even before it is recorded.
    const failed = Math.max(f.outcomes.filter((o) => o === "failed").length, 1);
    return failed <= f.retries ? "failed" : null;
  }
  if (f.status !== "lost") return null;
  if (f.stop_cause === "spot-interruption") return f.attempt < (policy.maxAttempts ?? 3) ? "interrupted" : null;
  if (f.stop_cause !== null) return null;
  // This attempt counts as lost even before it is recorded.
  const lost = Math.max(f.outcomes.filter((o) => o === "lost").length, 1);
  return lost <= policy.lostRetries && f.attempt < 100 ? "lost" : null;
}

/** An execution row as the retry rule reads it. */
export interface RetryRow {
  status: string;
  stop_cause: string | null;
  attempt: number;
  attempts: { attempt: number; outcome: string }[];
  retries: number;
}

/** The facts of an ended row, whether or not the settle step recorded its attempt yet (this one counts once). */
export function retryFactsOf(r: RetryRow): RetryFacts {
  const outcomes = r.attempts.filter((a) => a.attempt !== r.attempt).map((a) => a.outcome);
  const mine = r.status === "failed" ? "failed" : r.stop_cause === "spot-interruption" ? "interrupted" : "lost";
  return { status: r.status, stop_cause: r.stop_cause, attempt: r.attempt, outcomes: [...outcomes, mine], retries: r.retries };
}

/** The ended statuses the settle step may queue again: a lost host, a failure with retries left. */
export function mayBeRetried(status: string): boolean {
  return status === "lost" || status === "failed";
}

/** Whether this ended row will be queued again by the rule (pure: for rows already read). */
export function willRetry(r: RetryRow, policy: RetryPolicy): boolean {
  return mayBeRetried(r.status) && retryAllowed(retryFactsOf(r), policy) !== null;
}

/** Whether this ended execution will be queued again by policy (so it has not ended for good). */
export async function willBeRetried(sql: Conn, executionId: string, policy: RetryPolicy): Promise<boolean> {
  const [r] = await sql<RetryRow[]>`
    select status, stop_cause, attempt, attempts, retries from executions where id = ${executionId}`;
  return !!r && willRetry(r, policy);
}

/** An execution and its project's name, camelCase (drizzle), as the worker launches and supervises it; null when it is gone. */
export async function loadExecution(db: Db, id: string): Promise<{ exec: Execution; projectName: string } | null> {
  const [row] = await db
    .select({ exec: executions, projectName: projects.name })
    .from(executions)
    .innerJoin(projects, eq(projects.id, executions.projectId))
    .where(eq(executions.id, id));
  return row ?? null;
}

/** Every column of an execution (`select e.*`) and its project's name. */
export type ExecutionWithProject = Row<typeof executions> & { project_name: string };

const withProject = (sql: Conn) => sql`
  select e.*, p.name as project_name from executions e join projects p on p.id = e.project_id`;

/** By id; with `projectId`, only when it belongs to that project. */
export async function executionWithProject(sql: Conn, id: string, projectId: string | null = null): Promise<ExecutionWithProject | null> {
  const [row] = await sql<ExecutionWithProject[]>`${withProject(sql)} where e.id = ${id} ${projectId ? sql`and e.project_id = ${projectId}` : sql``}`;
  return row ?? null;
}

/** The project's execution with the highest counter that is not deleted. */
export async function latestExecutionOfProject(sql: Conn, projectId: string): Promise<ExecutionWithProject | null> {
  const [row] = await sql<ExecutionWithProject[]>`${withProject(sql)} where e.project_id = ${projectId} and e.deleted_at is null order by e.counter desc limit 1`;
  return row ?? null;
}

/** The project's execution #counter. */
export async function executionOfProjectByCounter(sql: Conn, projectId: string, counter: number): Promise<ExecutionWithProject | null> {
  const [row] = await sql<ExecutionWithProject[]>`${withProject(sql)} where e.project_id = ${projectId} and e.counter = ${counter}`;
  return row ?? null;
}

/**
 * The project's executions that are not deleted, newest (highest counter) first, optionally of one
 * status and only those that have every one of `tags`.
 */
export async function executionsOfProject(
  sql: Conn,
  projectId: string,
  opts: { status?: string | undefined; tags?: readonly string[] | undefined; limit: number },
): Promise<ExecutionWithProject[]> {
  const tags = opts.tags ?? [];
  return sql<ExecutionWithProject[]>`${withProject(sql)} where e.project_id = ${projectId} and e.deleted_at is null
    ${opts.status ? sql`and e.status = ${opts.status}` : sql``}
    ${tags.length ? sql`and e.tags @> ${sql.json(tags as string[])}::jsonb` : sql``}
    order by e.counter desc limit ${opts.limit}`;
}

/** The status now; null when there is no such execution. */
export async function executionStatus(sql: Conn, id: string): Promise<ExecutionStatus | null> {
  const [row] = await sql<Cols<typeof executions, "status">[]>`select status from executions where id = ${id}`;
  return row?.status ?? null;
}

/** The status and the last log line's seq (how far a log reader must read before it is done). */
export async function logProgress(sql: Conn, id: string): Promise<Cols<typeof executions, "status" | "log_seq"> | null> {
  const [row] = await sql<Cols<typeof executions, "status" | "log_seq">[]>`select status, log_seq from executions where id = ${id}`;
  return row ?? null;
}

/** Whether the execution was deleted (app/executions/delete.ts): its log lines are gone, nothing is left to read. */
export async function isDeleted(sql: Conn, id: string): Promise<boolean> {
  const [row] = await sql<Cols<typeof executions, "deleted_at">[]>`select deleted_at from executions where id = ${id}`;
  return row?.deleted_at != null;
}

export type StopCause = NonNullable<Execution["stopCause"]>;

/** Records why the process is told to stop; a cause recorded earlier is kept. */
export async function recordStopCause(sql: Conn, id: string, cause: StopCause): Promise<void> {
  await sql`update executions set stop_cause = coalesce(stop_cause, ${cause}) where id = ${id}`;
}

/** A file an execution fetched as an input (execution_inputs), without the execution and datum ids. */
export type FetchedInput = Cols<typeof executionInputs, "input" | "name" | "uri" | "sha256" | "size">;

/** The files the execution fetched, by input then file name. `size` is int8: a string. */
export async function fetchedInputs(sql: Conn, executionId: string): Promise<FetchedInput[]> {
  return sql<FetchedInput[]>`
    select input, name, uri, sha256, size from execution_inputs where execution_id = ${executionId} order by input, name`;
}

/** A model version and its model's name, as an execution's record names it. */
export interface VersionOfExecution {
  model: string;
  number: number;
  status: ModelVersionStatus;
}

/** The model versions the execution produced (its outputs' sidecars named them), by model then number. */
export async function modelVersionsOfExecution(sql: Conn, executionId: string): Promise<VersionOfExecution[]> {
  return sql<VersionOfExecution[]>`
    select m.name as model, v.number, v.status from model_versions v join models m on m.id = v.model_id
    where v.source_execution_id = ${executionId} order by m.name, v.number`;
}
