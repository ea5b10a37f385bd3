/**
 * Starting a pipeline run (`vh pipeline run NAME`, `POST /projects/:p/pipelines`, `/vh pipeline
 * run NAME` on a pull request): the pipeline read from valohai.yaml in the code snapshot, and
 * every reason it cannot run said at creation, located (file:line:column), before anything is
 * written — a deployment node (vh does not deploy endpoints), a node whose step comes from
 * another commit, an edge type vh cannot carry, a cycle, an unknown pipeline parameter or
 * `--param node.name` — then the run and its nodes written in one transaction with the first
 * `pipeline_advance` job, which starts the nodes that wait for nothing.
 */
import type { AlsoInTransaction, Sql } from "../../db/client.js";
import type { Project } from "../../db/schema/projects.js";
import type { PipelineEdgeRecord } from "../../db/schema/pipelines.js";
import type { SweepSource } from "../../db/schema/sweeps.js";
import type { Store } from "../contracts/store.js";
import { addPipelineAdvance } from "../../db/queries/pipelines.js";
import { VhError } from "../errors.js";
import { loadSnapshotConfig } from "../snapshots/config.js";
import { nodeStep, suggest, type Pipeline, type PipelineNode, type ValohaiConfig } from "../valohai/index.js";
import { findCycle, parameterTarget } from "./graph.js";

export interface PipelineRequest {
  name: string;
  code: string;
  commitSha: string | null;
  yamlPath: string;
  /** Pipeline parameters (name → value). */
  parameters: Record<string, unknown>;
  /** `node.parameter` → value. */
  nodeParameters: Record<string, unknown>;
  reuse: boolean;
  source: SweepSource;
  triggeredBy: string;
  requestKey?: string;
}

/** The socket pairs an edge may join (valohai-spec §1.8), source type → target types. */
const CARRIED: Record<string, readonly string[]> = {
  output: ["input"],
  input: ["input"],
  parameter: ["parameter"],
  metadata: ["parameter"],
  "environment-variable": ["environment-variable"],
  dependency: ["dependency"],
};

function at(file: string, x: { line?: number; column?: number }): string {
  return x.line !== undefined ? ` (${file}:${x.line}${x.column !== undefined ? `:${x.column}` : ""})` : "";
}

/** Every reason the pipeline cannot run, located; [] when it can. */
export function pipelineProblems(config: ValohaiConfig, p: Pipeline, file: string, req: Pick<PipelineRequest, "parameters" | "nodeParameters">): string[] {
  const P = `Pipeline "${p.name}"`;
  const problems: string[] = [];
  const nodes = new Map(p.nodes.map((n) => [n.name, n]));
  for (const n of p.nodes) {
    const where = `${P} node "${n.name}"${at(file, n)}`;
    if (n.type === "deployment") {
      problems.push(`${where} is a deployment node: vh does not deploy endpoints (not supported); remove the node, or run the pipeline up to it.`);
      continue;
    }
    if (n.commit !== undefined) {
      problems.push(`${where} takes its step from another commit (${n.commit}): not supported; vh runs every node at the pipeline's commit.`);
      continue;
    }
    if (!nodeStep(config, n)) problems.push(`${where}: its ${n.type === "task" && n.task ? `task "${n.task}"` : `step "${n.type === "task" ? n.step ?? "" : n.step}"`} does not exist in ${file}.`);
    if (n.type === "task" && n.task && config.tasks.get(n.task)?.type === "distributed") problems.push(`${where} runs a distributed task: vh does not run distributed groups.`);
  }
  for (const e of p.edges) {
    const where = `${P} edge ${e.sourceNode}.${e.sourceType}.${e.sourceKey} → ${e.targetNode}.${e.targetType}.${e.targetKey}${at(file, e)}`;
    const src = nodes.get(e.sourceNode);
    const dst = nodes.get(e.targetNode);
    if (!src || !dst) {
      problems.push(`${where}: node "${!src ? e.sourceNode : e.targetNode}" does not exist.`);
      continue;
    }
    if (src.type === "deployment" || dst.type === "deployment" || e.targetType === "file" || e.sourceType === "deployment") continue; // said on the node
    if (!(CARRIED[e.sourceType] ?? []).includes(e.targetType)) {
      problems.push(`${where}: ${e.sourceType === "dependency" ? "a dependency edge" : `a${/^[aeiou]/.test(e.sourceType) ? "n" : ""} ${e.sourceType}`} cannot feed ${a(e.targetType)}; vh carries output → input, input → input, parameter → parameter, metadata → parameter, environment-variable → environment-variable and dependency → dependency.`);
      continue;
    }
    const step = nodeStep(config, dst);
    if (step && e.targetType === "input" && !step.inputs.has(e.targetKey)) problems.push(`${where}: step "${step.name}" has no input "${e.targetKey}".${hint(e.targetKey, step.inputs.keys())}`);
    if (step && e.targetType === "parameter" && !step.parameters.has(e.targetKey)) problems.push(`${where}: step "${step.name}" has no parameter "${e.targetKey}".${hint(e.targetKey, step.parameters.keys())}`);
  }
  const cycle = findCycle(
    p.nodes.map((n) => n.name),
    p.edges.filter((e) => nodes.has(e.sourceNode) && nodes.has(e.targetNode)),
  );
  if (cycle) problems.push(`${P}${at(file, p)} has a cycle: ${cycle.join(" → ")}; a pipeline's edges must not lead back to a node.`);
  for (const name of Object.keys(req.parameters)) {
    if (!p.parameters.has(name)) problems.push(`${P} has no parameter "${name}".${hint(name, p.parameters.keys())} Parameters: ${[...p.parameters.keys()].join(", ") || "(none)"}.`);
  }
  for (const param of p.parameters.values()) {
    for (const t of param.targets) {
      const target = parameterTarget(t);
      const node = target ? nodes.get(target[0]) : undefined;
      const step = node ? nodeStep(config, node) : undefined;
      if (!target || !node) problems.push(`${P} parameter "${param.name}"${at(file, param)}: target "${t}" is not NODE.parameter.NAME of one of its nodes.`);
      else if (step && !step.parameters.has(target[1])) problems.push(`${P} parameter "${param.name}"${at(file, param)}: node "${node.name}" (step "${step.name}") has no parameter "${target[1]}".`);
    }
  }
  for (const key of Object.keys(req.nodeParameters)) {
    const dot = key.indexOf(".");
    const node = dot > 0 ? nodes.get(key.slice(0, dot)) : undefined;
    const step = node ? nodeStep(config, node) : undefined;
    if (!node) problems.push(`--param ${key}: ${P} has no node "${dot > 0 ? key.slice(0, dot) : key}" (write NODE.PARAMETER=VALUE).${hint(key.slice(0, Math.max(0, dot)), nodes.keys())}`);
    else if (step && !step.parameters.has(key.slice(dot + 1))) problems.push(`--param ${key}: node "${node.name}" (step "${step.name}") has no parameter "${key.slice(dot + 1)}".${hint(key.slice(dot + 1), step.parameters.keys())}`);
  }
  return problems;
}

function a(type: string): string {
  return `${/^[aeiou]/.test(type) ? "an" : "a"} ${type}`;
}

function hint(name: string, candidates: Iterable<string>): string {
  const h = suggest(name, [...candidates]);
  return h ? ` Did you mean "${h}"?` : "";
}

export function edgeRecords(p: Pipeline): PipelineEdgeRecord[] {
  return p.edges.map((e) => ({ sourceNode: e.sourceNode, sourceType: e.sourceType, sourceKey: e.sourceKey, targetNode: e.targetNode, targetType: e.targetType, targetKey: e.targetKey }));
}

export async function loadPipeline(store: Store, req: Pick<PipelineRequest, "code" | "yamlPath" | "commitSha" | "name">): Promise<{ config: ValohaiConfig; pipeline: Pipeline }> {
  const loaded = await loadSnapshotConfig(store, { code: req.code, yamlPath: req.yamlPath, commitSha: req.commitSha });
  const pipeline = loaded.config.pipelines.get(req.name);
  if (!pipeline) {
    const names = [...loaded.config.pipelines.keys()];
    throw new VhError("not_found", `${req.yamlPath} has no pipeline "${req.name}".${hint(req.name, names)} Pipelines: ${names.length ? names.join(", ") : "(none)"}.`, { pipelines: names });
  }
  return { config: loaded.config, pipeline };
}

export interface CreatedPipeline {
  id: string;
  counter: number;
  existing: boolean;
}

export async function createPipeline(
  deps: { sql: Sql; store: Store },
  project: Project,
  req: PipelineRequest,
  alsoInTransaction?: AlsoInTransaction,
): Promise<CreatedPipeline> {
  if (req.requestKey) {
    const [done] = await deps.sql<{ id: string; counter: number }[]>`select id, counter from pipelines where request_key = ${req.requestKey}`;
    if (done) return { ...done, existing: true };
  }
  const { config, pipeline } = await loadPipeline(deps.store, req);
  const problems = pipelineProblems(config, pipeline, req.yamlPath, req);
  if (problems.length) throw new VhError("bad_request", problems.join("\n"), { errors: problems });
  const parameters: Record<string, unknown> = {};
  for (const p of pipeline.parameters.values()) {
    if (p.name in req.parameters) parameters[p.name] = req.parameters[p.name];
    else if (p.default !== undefined) parameters[p.name] = p.default;
  }
  const nodeParameters: Record<string, Record<string, unknown>> = {};
  for (const [key, v] of Object.entries(req.nodeParameters)) {
    const dot = key.indexOf(".");
    (nodeParameters[key.slice(0, dot)] ??= {})[key.slice(dot + 1)] = v;
  }
  return deps.sql.begin(async (tx) => {
    const [p] = await tx<{ pipeline_counter: number }[]>`update projects set pipeline_counter = pipeline_counter + 1 where id = ${project.id} returning pipeline_counter`;
    const counter = p!.pipeline_counter;
    const [row] = await tx<{ id: string }[]>`
      insert into pipelines (project_id, counter, name, commit_sha, code_sha256, yaml_path, edges, parameters, node_parameters, reuse, source, triggered_by, request_key)
      values (${project.id}, ${counter}, ${pipeline.name}, ${req.commitSha}, ${req.code}, ${req.yamlPath}, ${tx.json(edgeRecords(pipeline) as never)},
        ${tx.json(jsonSafe(parameters) as never)}, ${tx.json(jsonSafe(nodeParameters) as never)}, ${req.reuse ? "yes" : "no"}, ${tx.json(req.source as never)}, ${req.triggeredBy}, ${req.requestKey ?? null})
      returning id`;
    const id = row!.id;
    const nodes = pipeline.nodes.filter((n): n is Exclude<PipelineNode, { type: "deployment" }> => n.type !== "deployment");
    await tx`
      insert into pipeline_nodes (pipeline_id, name, position, type, on_error, edge_merge_mode, actions)
      select ${id}::uuid, x.name, x.position, x.type, x.on_error, x.merge, x.actions
      from jsonb_to_recordset(${tx.json(nodes.map((n, i) => ({ name: n.name, position: i, type: n.type, on_error: n.onError, merge: n.edgeMergeMode, actions: n.actions })) as never)})
        as x(name text, position int, type text, on_error text, merge text, actions jsonb)`;
    await addPipelineAdvance(tx, id);
    await alsoInTransaction?.(tx, id);
    return { id, counter, existing: false };
  });
}

/** Python values (PyFloat, bigint) as plain JSON. */
function jsonSafe(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x && typeof x === "object" && "value" in x && Object.keys(x).length === 1 ? (x as { value: unknown }).value : x)));
}
