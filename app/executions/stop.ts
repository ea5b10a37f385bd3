/** Stopping: not yet started → stopped at once; started → stopping, and its supervisor kills the process group. */
import type { Sql } from "../../db/client.js";
import { transition } from "./state.js";

export async function stopExecution(sql: Sql, id: string): Promise<void> {
  await sql`update executions set stop_cause = 'user' where id = ${id} and stop_cause is null and status in ('created', 'queued', 'starting', 'running')`;
  if (await transition(sql, id, "stopped", { from: ["created", "queued"], reason: "Stopped before it started." })) {
    await sql`select graphile_worker.remove_job(${id}::text)`.catch(() => {});
    return;
  }
  await transition(sql, id, "stopping", { from: ["starting", "running"], reason: "Stop requested." });
}
