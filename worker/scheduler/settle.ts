/**
 * After an execution ends: release what it holds (exactly once: releaseExecution only touches
 * unreleased rows) and let the scheduler use it at once. A `lost` execution (its host stopped
 * answering) is retried by policy: `VH_LOST_RETRIES` times (default once), back to `queued` with
 * the reason in its status history, and a clean slate for the new attempt (the old attempt's log
 * lines stay; the new process's files are read from offset 0, in a work dir of its own).
 */
import type { Sql } from "../../db/client.js";
import { lostCount } from "../../db/queries/executions.js";
import type { Cols } from "../../db/queries/rows.js";
import type { executions } from "../../db/schema/executions.js";
import { TERMINAL, transition, type ExecutionStatus } from "../../app/executions/state.js";
import { releaseExecution } from "./apply.js";
import { requestSchedulerPass } from "../../db/queries/jobs.js";

export interface SettleResult {
  released: number;
  retried: boolean;
}


export async function settleEnded(sql: Sql, executionId: string, opts: { lostRetries: number }): Promise<SettleResult | null> {
  const [row] = await sql<Cols<typeof executions, "status" | "status_detail" | "stop_cause">[]>`
    select status, status_detail, stop_cause from executions where id = ${executionId}`;
  if (!row || !TERMINAL.includes(row.status)) return null;
  const released = await releaseExecution(sql, executionId, row.status);
  let retried = false;
  // An execution that was being stopped when its host went silent is not run again.
  if (row.status === "lost" && row.stop_cause === null) {
    const lost = await lostCount(sql, executionId);
    if (lost <= opts.lostRetries) {
      retried = await sql.begin(async (tx) => {
        const prev = await transition(tx as unknown as Sql, executionId, "queued", {
          from: ["lost"],
          reason: `Retry ${lost} of ${opts.lostRetries}: ${row.status_detail ?? "the host stopped answering"}`,
        });
        if (!prev) return false;
        await tx`
          update executions set runner_handle = null, exit_code = null, runtime = null, started_at = null, ended_at = null,
            lease_owner = null, lease_until = null, log_offsets = '{"stdout":0,"stderr":0}'::jsonb, log_partial = '{"stdout":"","stderr":""}'::jsonb,
            last_output_at = null, stop_requested_at = null
          where id = ${executionId}`;
        return true;
      });
    }
  }
  await requestSchedulerPass(sql);
  return { released, retried };
}
