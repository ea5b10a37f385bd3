/** Stopping a pipeline run and approving a node that waits for approval. */
import type { Sql } from "../../db/client.js";
import type { PipelineNodeStatus } from "../../db/schema/pipelines.js";
import { addPipelineAdvance } from "../../db/queries/pipelines.js";
import { VhError } from "../errors.js";
import { stopExecution } from "../executions/stop.js";
import { ACTIVE, type ExecutionStatus } from "../executions/state.js";

/** Stops a run: its waiting nodes skipped, its running executions stopped; the driver settles the rest. */
export async function stopPipeline(sql: Sql, id: string, by: string): Promise<boolean> {
  const [p] = await sql<{ id: string }[]>`update pipelines set status = 'stopped', status_detail = ${`Stopped by ${by}.`}, ended_at = now() where id = ${id} and status = 'running' returning id`;
  if (!p) return false;
  await sql`update pipeline_nodes set status = 'skipped', status_detail = ${`The pipeline was stopped by ${by}.`}, ended_at = now()
    where pipeline_id = ${id} and status in ('waiting', 'awaiting-approval')`;
  const live = await sql<{ id: string; status: ExecutionStatus }[]>`
    select e.id, e.status from pipeline_nodes n join executions e on e.id = n.execution_id where n.pipeline_id = ${id} and n.status = 'running'
    union all
    select e.id, e.status from pipeline_nodes n join sweep_executions se on se.sweep_id = n.sweep_id join executions e on e.id = se.execution_id
    where n.pipeline_id = ${id} and n.status = 'running'`;
  for (const e of live) if (ACTIVE.includes(e.status)) await stopExecution(sql, e.id, { reason: `The pipeline was stopped by ${by}.` });
  await addPipelineAdvance(sql, id);
  return true;
}

/** Approves a node that waits for approval (require-approval); the driver then starts it. */
export async function approveNode(sql: Sql, id: string, node: string, by: string): Promise<void> {
  const [n] = await sql<{ status: PipelineNodeStatus }[]>`select status from pipeline_nodes where pipeline_id = ${id} and name = ${node}`;
  if (!n) {
    const names = await sql<{ name: string }[]>`select name from pipeline_nodes where pipeline_id = ${id} order by position`;
    throw new VhError("not_found", `The pipeline has no node "${node}". Nodes: ${names.map((x) => x.name).join(", ")}.`);
  }
  if (n.status !== "awaiting-approval") throw new VhError("conflict", `Node "${node}" is ${n.status}, not waiting for approval.`);
  await sql`update pipeline_nodes set approved_by = ${by}, status = 'waiting', status_detail = ${`Approved by ${by}.`} where pipeline_id = ${id} and name = ${node} and status = 'awaiting-approval'`;
  await addPipelineAdvance(sql, id);
}
