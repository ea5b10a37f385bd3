/** A pipeline run as the REST API, the CLI and reports show it: its nodes with their executions, its edges, and the Mermaid drawing. */
import type { Sql } from "../../db/client.js";
import type { PipelineEdgeRecord, PipelineNodeStatus, PipelineStatus } from "../../db/schema/pipelines.js";
import type { Project } from "../../db/schema/projects.js";
import type { SweepSource } from "../../db/schema/sweeps.js";
import { VhError } from "../errors.js";
import { pipelineMermaid } from "./graph.js";

export interface PipelineNodeView {
  name: string;
  type: "execution" | "task";
  status: PipelineNodeStatus;
  detail: string | null;
  onError: string;
  execution: { id: string; counter: number; status: string } | null;
  reusedFrom: { id: string; counter: number } | null;
  sweep: { id: string; executions: { counter: number; status: string }[] } | null;
  approvedBy: string | null;
}

export interface PipelineView {
  id: string;
  counter: number;
  name: string;
  status: PipelineStatus;
  statusDetail: string | null;
  commit: string | null;
  code: string;
  parameters: Record<string, unknown>;
  nodeParameters: Record<string, Record<string, unknown>>;
  reuse: boolean;
  source: SweepSource;
  triggeredBy: string;
  createdAt: string;
  endedAt: string | null;
  nodes: PipelineNodeView[];
  edges: PipelineEdgeRecord[];
  mermaid: string;
}

/** `=3`, `3` or `latest` → the run's id in the project, or not_found. */
export async function findPipelineId(sql: Sql, project: Project, ref: string): Promise<string> {
  const m = /^=?(\d{1,9})$/.exec(ref.trim());
  const rows = ref.trim() === "latest"
    ? await sql<{ id: string }[]>`select id from pipelines where project_id = ${project.id} order by counter desc limit 1`
    : m
      ? await sql<{ id: string }[]>`select id from pipelines where project_id = ${project.id} and counter = ${Number(m[1])}`
      : [];
  if (!rows[0]) throw new VhError("not_found", `Pipeline run ${ref} does not exist in project ${project.name} (give its number, e.g. =3, or latest).`);
  return rows[0].id;
}

export async function loadPipelineView(sql: Sql, id: string): Promise<PipelineView> {
  const [p] = await sql<{ id: string; counter: number; name: string; status: PipelineStatus; status_detail: string | null; commit_sha: string | null; code_sha256: string; parameters: Record<string, unknown>; node_parameters: Record<string, Record<string, unknown>>; reuse: string; source: SweepSource; triggered_by: string; created_at: Date; ended_at: Date | null; edges: PipelineEdgeRecord[] }[]>`
    select id, counter, name, status, status_detail, commit_sha, code_sha256, parameters, node_parameters, reuse, source, triggered_by, created_at, ended_at, edges from pipelines where id = ${id}`;
  if (!p) throw new VhError("not_found", `Pipeline ${id} does not exist.`);
  const rows = await sql<{ name: string; type: "execution" | "task"; status: PipelineNodeStatus; status_detail: string | null; on_error: string; approved_by: string | null; execution_id: string | null; e_counter: number | null; e_status: string | null; reused_from: string | null; r_counter: number | null; sweep_id: string | null }[]>`
    select n.name, n.type, n.status, n.status_detail, n.on_error, n.approved_by, n.execution_id, e.counter as e_counter, e.status as e_status,
      n.reused_from, r.counter as r_counter, n.sweep_id
    from pipeline_nodes n left join executions e on e.id = n.execution_id left join executions r on r.id = n.reused_from
    where n.pipeline_id = ${id} order by n.position`;
  const nodes: PipelineNodeView[] = [];
  for (const r of rows) {
    let sweep: PipelineNodeView["sweep"] = null;
    if (r.sweep_id) {
      const execs = await sql<{ counter: number; status: string }[]>`
        select e.counter, e.status from sweep_executions se join executions e on e.id = se.execution_id where se.sweep_id = ${r.sweep_id} order by se.position`;
      sweep = { id: r.sweep_id, executions: execs };
    }
    nodes.push({
      name: r.name,
      type: r.type,
      status: r.status,
      detail: r.status_detail,
      onError: r.on_error,
      execution: r.execution_id && r.e_counter !== null ? { id: r.execution_id, counter: r.e_counter, status: r.e_status ?? "" } : null,
      reusedFrom: r.reused_from && r.r_counter !== null ? { id: r.reused_from, counter: r.r_counter } : null,
      sweep,
      approvedBy: r.approved_by,
    });
  }
  const label = (n: PipelineNodeView) => (n.reusedFrom ? `reused #${n.reusedFrom.counter}` : n.execution ? `#${n.execution.counter}` : n.sweep ? `${n.sweep.executions.length} executions` : null);
  return {
    id: p.id,
    counter: p.counter,
    name: p.name,
    status: p.status,
    statusDetail: p.status_detail,
    commit: p.commit_sha,
    code: p.code_sha256,
    parameters: p.parameters,
    nodeParameters: p.node_parameters,
    reuse: p.reuse === "yes",
    source: p.source,
    triggeredBy: p.triggered_by,
    createdAt: p.created_at.toISOString(),
    endedAt: p.ended_at?.toISOString() ?? null,
    nodes,
    edges: p.edges,
    mermaid: pipelineMermaid(nodes.map((n) => ({ name: n.name, status: n.status, detail: label(n) })), p.edges),
  };
}

