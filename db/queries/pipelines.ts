/** Statements on pipelines (db/schema/pipelines.ts) used from more than one place. */
import type { Conn } from "./rows.js";
import { addJob, lockedJobKey } from "./jobs.js";

/** The serial queue of a pipeline's `pipeline_advance` jobs (one at a time per pipeline; a burst of ends coalesced by the key). */
export const pipelineQueue = (pipelineId: string) => `vh_pipeline:${pipelineId}`;

export async function addPipelineAdvance(sql: Conn, pipelineId: string): Promise<void> {
  await addJob(sql, "pipeline_advance", { pipelineId }, { queueName: pipelineQueue(pipelineId), jobKey: `pipeline_advance:${pipelineId}` });
}

/**
 * An SQL expression for the statement that ends an execution (app/executions/state.ts): when it
 * ended and is a pipeline node's execution, or one of a task node's sweep, that pipeline's
 * `pipeline_advance` job is added with the status itself (the next nodes are started by the end,
 * never by polling).
 */
export function pipelineJobOnEnd(sql: Conn, executionId: string, ended: boolean) {
  if (!ended) return sql`null::bigint`;
  return sql`(select count(graphile_worker.add_job('pipeline_advance', json_build_object('pipelineId', n.pipeline_id),
      queue_name => 'vh_pipeline:' || n.pipeline_id::text, max_attempts => 10, job_key => ${lockedJobKey(sql, sql`'pipeline_advance:' || n.pipeline_id::text`)}))
    from pipeline_nodes n
    where n.execution_id = ${executionId}::uuid
      or n.sweep_id = (select se.sweep_id from sweep_executions se where se.execution_id = ${executionId}::uuid))`;
}
