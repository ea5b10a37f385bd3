/**
 * After an execution ends: release what it holds (exactly once: releaseExecution only touches
 * unreleased rows), record the attempt (where it ran, for how long, what it cost: `executions.attempts`
 * and `cost_usd`), and let the scheduler use the host at once.
 *
 * Three kinds of end start a new attempt of the same execution, back to `queued` with the reason in
 * its status history and a clean slate (the old attempt's log lines stay; the new process's files are
 * read from offset 0, in a work dir of its own):
 * - `lost` (its host stopped answering): `VH_LOST_RETRIES` times (default once);
 * - interrupted on spot (worker/compute/spot.ts stopped it on the instance's notice, and its outputs
 *   were uploaded): up to `VH_MAX_ATTEMPTS` attempts in all (default 3). The next attempt gets those
 *   outputs back in its outputs dir and `VH_RESUME_ATTEMPT=N` (worker/launch-spec.ts), so a step that
 *   saves checkpoints resumes;
 * - failed (the process exited non-zero), when the execution asked for retries (`retries`, opt-in:
 *   `--retries N`): while no more than that many attempts failed. The outputs a failed attempt
 *   uploaded stay stored, and the next attempt gets them back in outputs/ as after a spot resume.
 */
import { attemptCostUsd } from "../../app/executions/present.js";
import type { Sql } from "../../db/client.js";
import type { ExecutionAttempt } from "../../app/contracts/compute.js";
import { TERMINAL, transition, type ExecutionStatus } from "../../app/executions/state.js";
import { releaseExecution } from "./apply.js";
import { requestSchedulerPass } from "../../db/queries/jobs.js";
import { retryAllowed, retryFactsOf, type RetryPolicy } from "../../db/queries/executions.js";

export interface SettleResult {
  released: number;
  retried: boolean;
}

export type SettleOptions = RetryPolicy;

interface EndedRow {
  status: ExecutionStatus;
  status_detail: string | null;
  stop_cause: string | null;
  attempt: number;
  attempts: ExecutionAttempt[];
  retries: number;
  exit_code: number | null;
  host: string | null;
  started_at: Date | null;
  ended_at: Date | null;
  instance_id: string | null;
  instance_type: string | null;
  spot: boolean | null;
  price_per_hour: number | null;
}

/** The attempt that just ended, as the record keeps it. */
function attemptOf(row: EndedRow, interrupted: boolean): ExecutionAttempt {
  const ended = row.ended_at ?? new Date();
  const seconds = row.started_at ? Math.max(0, (ended.getTime() - row.started_at.getTime()) / 1000) : null;
  const price = row.price_per_hour;
  return {
    attempt: row.attempt,
    host: row.host,
    instanceId: row.instance_id,
    instanceType: row.instance_type,
    spot: row.spot,
    pricePerHour: price,
    startedAt: row.started_at?.toISOString() ?? null,
    endedAt: ended.toISOString(),
    seconds: seconds === null ? null : Math.round(seconds * 1000) / 1000,
    costUsd: attemptCostUsd(price, seconds),
    outcome: interrupted ? "interrupted" : row.status,
    reason: row.status_detail,
  };
}

export async function settleEnded(sql: Sql, executionId: string, opts: SettleOptions): Promise<SettleResult | null> {
  // One transaction: the release, the attempt's record and the retry happen together or not at
  // all, so a process killed in between leaves the end unsettled (the scheduler's pass finds it by
  // its placement) rather than released and never retried.
  const settled = await sql.begin((tx) => settleIn(tx as unknown as Sql, executionId, opts));
  if (settled) await requestSchedulerPass(sql);
  return settled;
}

async function settleIn(sql: Sql, executionId: string, opts: SettleOptions): Promise<SettleResult | null> {
  const [row] = await sql<EndedRow[]>`
    select e.status, e.status_detail, e.stop_cause, e.attempt, e.attempts, e.retries, e.exit_code, e.host, e.started_at, e.ended_at,
      h.instance_id, h.instance_type, h.spot, h.price_per_hour
    from executions e left join hosts h on h.name = e.host and h.provider is not null
    where e.id = ${executionId}
    for update of e`;
  if (!row || !TERMINAL.includes(row.status)) return null;
  const released = await releaseExecution(sql, executionId, row.status);
  const interrupted = row.status === "lost" && row.stop_cause === "spot-interruption";
  // Recorded once per attempt, however often an end is settled.
  const record = attemptOf(row, interrupted);
  const recorded = await sql`
    update executions set attempts = attempts || ${sql.json([record] as never)}::jsonb,
      cost_usd = case when ${record.costUsd}::float8 is null then cost_usd else coalesce(cost_usd, 0) + ${record.costUsd}::float8 end
    where id = ${executionId} and attempt = ${row.attempt}
      and not exists (select 1 from jsonb_array_elements(attempts) a where (a->>'attempt')::int = ${row.attempt})
    returning id`;
  const attempts = recorded.length > 0 ? [...row.attempts, record] : row.attempts;
  let retried = false;
  // An execution that was being stopped (by a person, a limit, its sweep) when its host went silent is not run again.
  const why = retryAllowed(retryFactsOf(row), opts);
  if (why) {
    const maxAttempts = opts.maxAttempts ?? 3;
    const lostSoFar = attempts.filter((a) => a.outcome === "lost").length;
    const next = row.attempt + 1;
    const failedSoFar = attempts.filter((a) => a.outcome === "failed").length;
    const reason =
      why === "failed"
        ? `Retry ${failedSoFar} of ${row.retries} after a failure (${row.exit_code === null ? "it failed" : `exit code ${row.exit_code}`}); attempt ${next} starts afresh.`
        : why === "interrupted"
        ? `Interrupted on spot${row.instance_id ? ` (instance ${row.instance_id}${row.instance_type ? `, ${row.instance_type}` : ""})` : ""}; resumed as attempt ${next} of at most ${maxAttempts}, with the outputs saved so far.`
        : `Retry ${lostSoFar} of ${opts.lostRetries}: ${row.status_detail ?? "the host stopped answering"}`;
    if (await transition(sql, executionId, "queued", { from: [why === "failed" ? "failed" : "lost"], reason })) {
      await sql`
        update executions set runner_handle = null, exit_code = null, runtime = null, started_at = null, ended_at = null,
          lease_owner = null, lease_until = null, log_offsets = '{"stdout":0,"stderr":0}'::jsonb, log_partial = '{"stdout":"","stderr":""}'::jsonb,
          last_output_at = null, stop_requested_at = null, stop_cause = null, attempt = ${next}
        where id = ${executionId}`;
      retried = true;
    }
  }
  return { released, retried };
}
