/** Stopping: not yet started → stopped at once; started → stopping, and its supervisor kills the process group. */
import type { Sql } from "../../db/client.js";
import { recordStopCause } from "../../db/queries/executions.js";
import { transition } from "./state.js";

/**
 * The status change and the stop cause are written in one transaction: a cause recorded for an
 * execution that meanwhile ended by itself would report a completed run as stopped.
 */
export async function stopExecution(sql: Sql, id: string, opts: { cause?: "user" | "sweep" | "early-stop"; reason?: string } = {}): Promise<void> {
  const cause = opts.cause ?? "user";
  await sql.begin(async (tx) => {
    const t = tx as unknown as Sql;
    if (await transition(t, id, "stopped", { from: ["created", "queued"], reason: opts.reason ?? "Stopped before it started." })) {
      await tx`update executions set stop_cause = ${cause} where id = ${id}`;
      await tx`select graphile_worker.remove_job(${id}::text)`;
      return;
    }
    if (await transition(t, id, "stopping", { from: ["starting", "running"], reason: opts.reason ?? "Stop requested." })) {
      await recordStopCause(tx, id, cause);
    }
  });
}
