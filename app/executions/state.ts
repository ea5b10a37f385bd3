/**
 * The execution state machine: the only place that changes `executions.status`.
 * docs/runs-and-executions.md draws it and says who triggers each transition.
 *
 *   created ─▶ queued ─▶ starting ─▶ running ─▶ uploading ─▶ completed | failed
 *      │          │          │           │           └──────▶ error | stopped
 *      │          │          │           └─▶ stopping ─▶ uploading ─▶ stopped
 *      └──────────┴──────────┴─▶ stopped | error            (any live state) ─▶ lost ─▶ queued (retry)
 */
import type { ExecutionStatus } from "../../db/schema/executions.js";
import type { Sql } from "../../db/client.js";
import { executionStatus } from "../../db/queries/executions.js";
import { verdictJobOnEnd } from "../../db/queries/reproductions.js";
import { advanceJobOnEnd } from "../../db/queries/sweeps.js";
import { pipelineJobOnEnd } from "../../db/queries/pipelines.js";
import { VhError } from "../errors.js";

export type { ExecutionStatus };

export const TERMINAL: readonly ExecutionStatus[] = ["completed", "failed", "error", "stopped", "lost"];
export const ACTIVE: readonly ExecutionStatus[] = ["created", "queued", "starting", "running", "stopping", "uploading"];

/** Every transition is announced on this channel as `<execution id>:<status>` (pg_notify, sent at commit). */
export const STATUS_CHANNEL = "vh_execution_status";

/** to ← allowed from. */
const ALLOWED_FROM: Record<ExecutionStatus, readonly ExecutionStatus[]> = {
  created: [],
  // lost: the host went away; failed: a retry on failure (`retries`, worker/scheduler/settle.ts).
  queued: ["created", "lost", "failed"],
  starting: ["queued"],
  running: ["starting"],
  stopping: ["starting", "running"],
  uploading: ["running", "stopping"],
  completed: ["uploading"],
  failed: ["uploading"],
  error: ["created", "queued", "starting", "running", "stopping", "uploading"],
  stopped: ["created", "queued", "starting", "stopping", "uploading"],
  lost: ["starting", "running", "stopping", "uploading"],
};

export function canTransition(from: ExecutionStatus, to: ExecutionStatus): boolean {
  return ALLOWED_FROM[to].includes(from);
}

export function isTerminal(s: ExecutionStatus): boolean {
  return TERMINAL.includes(s);
}

export interface TransitionOptions {
  reason?: string | null;
  /** Only move from these statuses (a subset of the legal ones), e.g. to win a race explicitly. */
  from?: readonly ExecutionStatus[];
  /**
   * An end: when the process ended by the host's own record (it ended while no one watched), set
   * as `ended_at` in the same statement — never later than now, nor before the start. Absent: now.
   */
  endedAt?: Date | null;
}

/**
 * Moves an execution to `to` if its current status allows it, records the history row, and stamps
 * the matching time column, in one statement; returns the previous status, or null when the
 * current status does not allow the move (a lost race, or a repeated call: callers treat null as
 * "someone else already moved it").
 */
export async function transition(
  sql: Sql,
  executionId: string,
  to: ExecutionStatus,
  opts: TransitionOptions = {},
): Promise<ExecutionStatus | null> {
  const from = (opts.from ?? ALLOWED_FROM[to]).filter((s) => ALLOWED_FROM[to].includes(s));
  if (from.length === 0) throw new VhError("illegal_transition", `No status can move to "${to}".`);
  const reason = opts.reason ?? null;
  const endedAt = opts.endedAt ?? null;
  const rows = await sql<{ prev: ExecutionStatus }[]>`
    with prev as (
      select id, status from executions where id = ${executionId} and status = any(${from as string[]}::text[]) for update
    ), upd as (
      update executions e set
        status = ${to}::text,
        status_detail = ${reason}::text,
        queued_at = case when ${to}::text = 'queued' then now() else e.queued_at end,
        started_at = case when ${to}::text = 'running' then coalesce(e.started_at, now()) else e.started_at end,
        ended_at = case when ${to}::text = any(${TERMINAL as string[]}::text[])
          then case when ${endedAt}::timestamptz < now() then greatest(coalesce(e.started_at, ${endedAt}::timestamptz), ${endedAt}::timestamptz) else now() end
          else e.ended_at end,
        stop_requested_at = case when ${to}::text = 'stopping' then now() else e.stop_requested_at end,
        lease_owner = case when ${to}::text = any(${TERMINAL as string[]}::text[]) then null else e.lease_owner end,
        lease_until = case when ${to}::text = any(${TERMINAL as string[]}::text[]) then null else e.lease_until end
      from prev where e.id = prev.id
      returning prev.status as prev
    ), hist as (
      insert into execution_status_history (execution_id, status, reason)
      select ${executionId}::uuid, ${to}::text, ${reason}::text from upd
    )
    select prev, pg_notify(${STATUS_CHANNEL}, ${executionId}::text || ':' || ${to}::text),
      ${verdictJobOnEnd(sql, executionId, TERMINAL.includes(to))} as verdict_jobs,
      ${advanceJobOnEnd(sql, executionId, TERMINAL.includes(to))} as sweep_jobs,
      ${pipelineJobOnEnd(sql, executionId, TERMINAL.includes(to))} as pipeline_jobs from upd`;
  return rows[0]?.prev ?? null;
}

/** Like `transition`, but a refused move is an error naming both statuses. */
export async function mustTransition(
  sql: Sql,
  executionId: string,
  to: ExecutionStatus,
  opts: TransitionOptions = {},
): Promise<ExecutionStatus> {
  const prev = await transition(sql, executionId, to, opts);
  if (prev) return prev;
  const now = await executionStatus(sql, executionId);
  if (!now) throw new VhError("not_found", `Execution ${executionId} does not exist.`);
  throw new VhError("illegal_transition", `Execution ${executionId} is ${now}; it cannot become ${to}.`);
}
