/**
 * A pipeline run moving on (task `pipeline_advance`: added when the run is made, approved or
 * stopped, and by the statement that ends any of its nodes' executions; one at a time per run):
 *
 * 1. Running nodes settle from their execution (or their task's sweep, once it is done).
 * 2. A failed node applies its `on-error`: `stop-all` (default) fails the run, stopping what runs
 *    and skipping what waits; `stop-next` skips what depends on it; `continue` lets its
 *    dependants run without what it would have given; `retry` runs it once more.
 * 3. Node actions on `node-complete`/`node-error` whose `if` holds on the node's metadata:
 *    `stop-pipeline`, `error-pipeline`.
 * 4. Each waiting node whose upstream is done starts: `require-approval` (an action on
 *    `node-starting`) pauses it until someone approves; else its execution (or task sweep) is made
 *    with the values and files its edges carry — unless reuse finds an earlier completed
 *    execution with the same code, image, command, parameters and inputs, which then stands in.
 * 5. When every node has ended, so has the run.
 */
import type { Sql } from "../../db/client.js";
import type { PipelineEdgeRecord, PipelineNodeStatus, PipelineStatus } from "../../db/schema/pipelines.js";
import type { SweepSource } from "../../db/schema/sweeps.js";
import { projectById } from "../../db/queries/projects.js";
import { lastOutputsOf } from "../../db/queries/datums.js";
import { mayBeRetried, willBeRetried } from "../../db/queries/executions.js";
import { insertSweep, insertSweepExecutions } from "../../db/queries/sweeps.js";
import type { SweepDefinition } from "../contracts/sweeps.js";
import { createExecutions, insertExecution, prepareExecution, type CreateDeps } from "../executions/create.js";
import { isTerminal, type ExecutionStatus } from "../executions/state.js";
import { stopExecution } from "../executions/stop.js";
import { VhError, isUsersMistake } from "../errors.js";
import { globRegExp } from "../inputs/s3.js";
import { compileExpression, conditionHolds, type EvalValue } from "../valohai/evaluate.js";
import { nodeStep, type PipelineNode, type ValohaiConfig } from "../valohai/index.js";
import { definitionOfBlueprint } from "../sweeps/blueprint.js";
import { planSweep } from "../sweeps/plan.js";
import { sweepPlanSize } from "../sweeps/definition.js";
import { loadPipeline } from "./create.js";
import { parameterTarget, upstreamOf } from "./graph.js";
import type { Project } from "../../db/schema/projects.js";
import { reportTargetOfPr, scheduleReport } from "../reporting/schedule.js";
import { bestCompleted, sweepHasEnded } from "../reporting/view.js";

interface NodeRow {
  name: string;
  position: number;
  type: "execution" | "task";
  status: PipelineNodeStatus;
  status_detail: string | null;
  on_error: string;
  edge_merge_mode: string;
  actions: { when: string[]; if: string[]; then: string[] }[];
  execution_id: string | null;
  sweep_id: string | null;
  reused_from: string | null;
  approved_by: string | null;
}

interface RunRow {
  id: string;
  project_id: string;
  counter: number;
  name: string;
  status: PipelineStatus;
  commit_sha: string | null;
  code_sha256: string;
  yaml_path: string;
  edges: PipelineEdgeRecord[];
  parameters: Record<string, unknown>;
  node_parameters: Record<string, Record<string, unknown>>;
  reuse: "yes" | "no";
  triggered_by: string;
}

interface ExecFacts {
  id: string;
  counter: number;
  status: ExecutionStatus;
  parameters: Record<string, unknown>;
  metadata_latest: Record<string, unknown>;
  inputs: { name: string; uri: string; file: string }[];
  environment_variables: Record<string, string>;
}

const DONE: readonly PipelineNodeStatus[] = ["completed", "reused"];
const ENDED: readonly PipelineNodeStatus[] = ["completed", "reused", "failed", "skipped", "stopped"];

/** The facts of several executions in one read, by id. */
async function execFactsOf(sql: Sql, ids: readonly string[]): Promise<Map<string, ExecFacts>> {
  if (ids.length === 0) return new Map();
  const rows = await sql<ExecFacts[]>`select id, counter, status, parameters, metadata_latest, inputs, environment_variables from executions where id = any(${ids as string[]}::uuid[])`;
  return new Map(rows.map((r) => [r.id, r]));
}

async function execFacts(sql: Sql, id: string): Promise<ExecFacts | null> {
  return (await execFactsOf(sql, [id])).get(id) ?? null;
}

/** A task node's sweep: its executions' facts, whether it is done, and its best (by its target, else the first completed). */
async function sweepFacts(sql: Sql, sweepId: string, policy?: CreateDeps["config"]["worker"]): Promise<{ done: boolean; execs: ExecFacts[]; best: ExecFacts | null }> {
  const [s] = await sql<{ definition: SweepDefinition | null; stopped_reason: string | null }[]>`select definition, stopped_reason from sweeps where id = ${sweepId}`;
  const execs = await sql<ExecFacts[]>`
    select e.id, e.counter, e.status, e.parameters, e.metadata_latest, e.inputs, e.environment_variables
    from sweep_executions se join executions e on e.id = se.execution_id where se.sweep_id = ${sweepId} order by se.position`;
  const planned = s?.definition ? sweepPlanSize(s.definition) : execs.length;
  // A lost execution that policy queues again has not ended (as for an execution node).
  const retried = new Set<string>();
  if (policy) for (const e of execs) if (mayBeRetried(e.status) && (await willBeRetried(sql, e.id, policy))) retried.add(e.id);
  const done = sweepHasEnded(execs.map((e) => (retried.has(e.id) ? { status: "queued" as const } : e)), planned, s?.stopped_reason ?? null);
  const completed = execs.filter((e) => e.status === "completed");
  const t = s?.definition?.target;
  const best = (t ? bestCompleted(execs, (e) => e.metadata_latest, { name: t.metric, goal: t.direction })?.item : undefined) ?? completed[0] ?? null;
  return { done, execs, best };
}

export interface AdvanceResult {
  started: string[];
  status: PipelineStatus;
}

export async function advancePipeline(deps: CreateDeps, pipelineId: string): Promise<AdvanceResult> {
  const result = await advanceOnce(deps, pipelineId);
  // The pull request it was started from shows it (its check run): a round after every move.
  const [src] = await deps.sql<{ source: SweepSource }[]>`select source from pipelines where id = ${pipelineId}`;
  if (src?.source.kind === "forge" && src.source.pr !== null) {
    const target = await reportTargetOfPr(deps.sql, { forge: src.source.forge, id: src.source.repositoryId }, src.source.pr);
    if (target) await scheduleReport(deps.sql, target, 0);
  }
  return result;
}

async function advanceOnce(deps: CreateDeps, pipelineId: string): Promise<AdvanceResult> {
  const { sql } = deps;
  const [run] = await sql<RunRow[]>`
    select id, project_id, counter, name, status, commit_sha, code_sha256, yaml_path, edges, parameters, node_parameters, reuse, triggered_by from pipelines where id = ${pipelineId}`;
  if (!run) return { started: [], status: "failed" };
  const nodes = await sql<NodeRow[]>`select * from pipeline_nodes where pipeline_id = ${pipelineId} order by position`;
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const setNode = async (n: NodeRow, status: PipelineNodeStatus, detail: string | null, extra: { execution_id?: string; sweep_id?: string; reused_from?: string } = {}) => {
    n.status = status;
    n.status_detail = detail;
    Object.assign(n, extra);
    await sql`
      update pipeline_nodes set status = ${status}, status_detail = ${detail},
        execution_id = coalesce(${extra.execution_id ?? null}::uuid, execution_id), sweep_id = coalesce(${extra.sweep_id ?? null}::uuid, sweep_id),
        reused_from = coalesce(${extra.reused_from ?? null}::uuid, reused_from),
        started_at = case when ${status} = 'running' then coalesce(started_at, now()) else started_at end,
        ended_at = case when ${status} = any(${ENDED as string[]}::text[]) then coalesce(ended_at, now()) else ended_at end
      where pipeline_id = ${pipelineId} and name = ${n.name}`;
  };
  const endRun = async (status: PipelineStatus, detail: string | null) => {
    run.status = status;
    await sql`update pipelines set status = ${status}, status_detail = coalesce(status_detail, ${detail}), ended_at = coalesce(ended_at, now()) where id = ${pipelineId} and status = 'running'`;
  };
  /** Stops every running node and skips every waiting one (the run stopped or failed). */
  const haltAll = async (why: string) => {
    for (const n of nodes) {
      if (n.status === "waiting" || n.status === "awaiting-approval") await setNode(n, "skipped", why);
      else if (n.status === "running") {
        const ids = n.execution_id ? [n.execution_id] : n.sweep_id ? (await sweepFacts(sql, n.sweep_id)).execs.map((e) => e.id) : [];
        for (const id of ids) await stopExecution(sql, id, { cause: "user", reason: `The pipeline stopped: ${why}` });
      }
    }
  };

  // 1. Settle running nodes.
  const facts = new Map<string, { exec: ExecFacts | null; all: ExecFacts[] }>();
  const known = await execFactsOf(sql, nodes.flatMap((n) => (n.type === "execution" && (n.execution_id ?? n.reused_from) ? [(n.execution_id ?? n.reused_from)!] : [])));
  for (const n of nodes) {
    const standIn = n.execution_id ?? n.reused_from;
    if (n.type === "execution" && standIn) {
      const e = known.get(standIn) ?? null;
      facts.set(n.name, { exec: e, all: e ? [e] : [] });
      // A lost execution that policy queues again (a spot interruption, a lost host) has not ended.
      if (n.status === "running" && e && isTerminal(e.status) && !(mayBeRetried(e.status) && (await willBeRetried(sql, e.id, deps.config.worker)))) {
        if (e.status === "completed") await setNode(n, "completed", null);
        else {
          const retried = (n.status_detail ?? "").startsWith("Retried") ? "Retried once; " : "";
          if (e.status === "stopped") await setNode(n, run.status === "running" ? "failed" : "stopped", `${retried}#${e.counter} was stopped.`);
          else await setNode(n, "failed", `${retried}#${e.counter} ${e.status}.`);
        }
      }
    } else if (n.type === "task" && n.sweep_id) {
      const s = await sweepFacts(sql, n.sweep_id, deps.config.worker);
      facts.set(n.name, { exec: s.best, all: s.execs.filter((e) => e.status === "completed") });
      if (n.status === "running" && s.done) {
        if (s.best) await setNode(n, "completed", `${s.execs.filter((e) => e.status === "completed").length} of ${s.execs.length} completed; best #${s.best.counter}.`);
        else await setNode(n, "failed", `None of its ${s.execs.length} executions completed.`);
      }
    }
  }
  if (run.status !== "running") {
    // Stopped or failed earlier: what is still running is being stopped; nothing new starts.
    return { started: [], status: run.status };
  }

  // 2 and 3: errors and actions of nodes that just ended.
  for (const n of nodes) {
    if (n.status !== "completed" && n.status !== "failed") continue;
    const metadata = (facts.get(n.name)?.exec?.metadata_latest ?? {}) as EvalValue;
    for (const action of n.actions) {
      const when = n.status === "completed" ? "node-complete" : "node-error";
      if (!action.when.includes(when)) continue;
      const holds = action.if.length === 0 || action.if.every((expr) => {
        const c = compileExpression(expr);
        return "evaluate" in c && conditionHolds(c, { metadata });
      });
      if (!holds) continue;
      if (action.then.includes("stop-pipeline") || action.then.includes("error-pipeline")) {
        const failed = action.then.includes("error-pipeline");
        const why = `node "${n.name}" ${when === "node-complete" ? "completed" : "failed"}${action.if.length ? ` and ${action.if.join(" and ")} held` : ""} (${failed ? "error-pipeline" : "stop-pipeline"}).`;
        await haltAll(why);
        await endRun(failed ? "failed" : "stopped", `Stopped: ${why}`);
        return { started: [], status: run.status };
      }
    }
  }
  const failedNode = nodes.find((n) => n.status === "failed" && (n.on_error === "stop-all" || (n.on_error === "retry" && (n.status_detail ?? "").startsWith("Retried"))));
  if (failedNode) {
    const why = `node "${failedNode.name}" failed${failedNode.status_detail ? ` (${failedNode.status_detail})` : ""}.`;
    await haltAll(why);
    await endRun("failed", `Failed: ${why}`);
    return { started: [], status: run.status };
  }
  const retry = nodes.find((n) => n.status === "failed" && n.on_error === "retry" && !(n.status_detail ?? "").startsWith("Retried"));

  // 4. Start the nodes whose upstream is done.
  const up = upstreamOf(nodes.map((n) => n.name), run.edges);
  const project = await projectById(sql, run.project_id);
  if (!project) return { started: [], status: run.status };
  const { config, pipeline } = await loadPipeline(deps.store, { code: run.code_sha256, yamlPath: run.yaml_path, commitSha: run.commit_sha, name: run.name });
  const started: string[] = [];
  const toStart = nodes.filter((n) => n.status === "waiting" || (retry && n === retry));
  for (const n of toStart) {
    const ups = [...(up.get(n.name) ?? [])].map((u) => byName.get(u)!);
    const blocked = ups.find((u) => u.status === "failed" && u.on_error === "stop-next") ?? ups.find((u) => u.status === "skipped" || u.status === "stopped");
    if (blocked) {
      await setNode(n, "skipped", `Upstream node "${blocked.name}" ${blocked.status}.`);
      continue;
    }
    const ready = ups.every((u) => DONE.includes(u.status) || (u.status === "failed" && u.on_error === "continue"));
    if (!ready) continue;
    const def = pipeline.nodes.find((x) => x.name === n.name);
    if (!def || def.type === "deployment") continue;
    const wantsApproval = n.actions.some((a) => a.then.includes("require-approval") && (a.when.length === 0 || a.when.includes("node-starting")));
    if (wantsApproval && !n.approved_by) {
      if (n.status !== "awaiting-approval") await setNode(n, "awaiting-approval", "Waiting for approval: vh pipeline approve, or /vh approve pipeline on the pull request.");
      continue;
    }
    try {
      await startNode(deps, { run, project, config, node: def, row: n, upstream: ups, facts, setNode, retry: n === retry });
      started.push(n.name);
    } catch (err) {
      if (!isUsersMistake(err)) throw err;
      await setNode(n, "failed", `Could not start: ${(err as Error).message.split("\n").join(" ")}`);
      if (n.on_error === "stop-all") {
        await haltAll(`node "${n.name}" could not start.`);
        await endRun("failed", `Failed: node "${n.name}" could not start: ${(err as Error).message.split("\n")[0]}`);
        return { started, status: run.status };
      }
    }
  }
  // Skips can unblock nothing but can end the run: settle until nothing changes.
  if (nodes.every((n) => ENDED.includes(n.status))) {
    const failed = nodes.filter((n) => n.status === "failed");
    await endRun(failed.length ? "failed" : "completed", failed.length ? `Failed nodes: ${failed.map((f) => f.name).join(", ")}.` : null);
  } else if (started.length === 0 && nodes.some((n) => n.status === "skipped") && !nodes.some((n) => n.status === "running" || n.status === "awaiting-approval")) {
    // A skip may make more nodes skippable: look again.
    const again = nodes.filter((n) => n.status === "waiting");
    if (again.length) return advanceOnce(deps, pipelineId);
  }
  return { started, status: run.status };
}

interface StartArgs {
  run: RunRow;
  project: Project;
  config: ValohaiConfig;
  node: Exclude<PipelineNode, { type: "deployment" }>;
  row: NodeRow;
  upstream: NodeRow[];
  facts: Map<string, { exec: ExecFacts | null; all: ExecFacts[] }>;
  setNode: (n: NodeRow, status: PipelineNodeStatus, detail: string | null, extra?: { execution_id?: string; sweep_id?: string; reused_from?: string }) => Promise<void>;
  retry: boolean;
}

/** What the node's edges and the run's parameters give it: parameter values, input URIs, environment variables. */
async function carried(sql: Sql, a: StartArgs): Promise<{ parameters: Record<string, unknown>; inputs: Record<string, string[]>; env: Record<string, string> }> {
  const parameters: Record<string, unknown> = {};
  for (const p of a.config.pipelines.get(a.run.name)?.parameters.values() ?? []) {
    if (!(p.name in a.run.parameters)) continue;
    for (const t of p.targets) {
      const target = parameterTarget(t);
      if (target && target[0] === a.node.name) parameters[target[1]] = a.run.parameters[p.name];
    }
  }
  Object.assign(parameters, a.run.node_parameters[a.node.name] ?? {});
  const inputs: Record<string, string[]> = {};
  const env: Record<string, string> = {};
  for (const e of a.run.edges) {
    if (e.targetNode !== a.node.name) continue;
    const src = a.facts.get(e.sourceNode);
    const exec = src?.exec ?? null;
    if (!exec) continue;
    const match = (name: string) => e.sourceKey === "*" || globRegExp(e.sourceKey).test(name);
    switch (`${e.sourceType}>${e.targetType}`) {
      case "parameter>parameter":
        if (e.sourceKey in exec.parameters) parameters[e.targetKey] = exec.parameters[e.sourceKey];
        break;
      case "metadata>parameter":
        if (e.sourceKey in exec.metadata_latest) parameters[e.targetKey] = exec.metadata_latest[e.sourceKey];
        else throw new VhError("bad_request", `edge ${e.sourceNode}.metadata.${e.sourceKey} → ${e.targetNode}.parameter.${e.targetKey}: #${exec.counter} printed no metadata "${e.sourceKey}".`);
        break;
      case "output>input": {
        // A task node gives its best execution's outputs, or all of its completed ones' when the target appends.
        const from = a.node.edgeMergeMode === "append" ? src!.all : [exec];
        const uris: string[] = [];
        for (const x of from) for (const o of await lastOutputsOf(sql, x.id)) if (match(o.name)) uris.push(`datum://${o.id}`);
        inputs[e.targetKey] = [...(inputs[e.targetKey] ?? []), ...uris];
        break;
      }
      case "input>input":
        inputs[e.targetKey] = [...(inputs[e.targetKey] ?? []), ...exec.inputs.filter((i) => match(i.name) || match(`${i.name}/${i.file}`)).map((i) => i.uri)];
        break;
      case "environment-variable>environment-variable":
        if (e.sourceKey in exec.environment_variables) env[e.targetKey] = exec.environment_variables[e.sourceKey]!;
        break;
      default:
        break; // dependency: ordering only
    }
  }
  return { parameters, inputs, env };
}

async function startNode(deps: CreateDeps, a: StartArgs): Promise<void> {
  const { sql } = deps;
  const step = nodeStep(a.config, a.node);
  if (!step) throw new VhError("invalid_config", `Node "${a.node.name}" has no step in this snapshot.`);
  const given = await carried(sql, a);
  // `append` keeps the step's own default inputs beside what the edges bring; `replace` (default) uses only the edges'.
  if (a.node.edgeMergeMode === "append") {
    for (const [name, uris] of Object.entries(given.inputs)) given.inputs[name] = [...(step.inputs.get(name)?.default ?? []), ...uris];
  }
  const origin = { ...(a.run.commit_sha ? { commitSha: a.run.commit_sha } : {}), triggeredBy: a.run.triggered_by, pipelineNode: { pipeline: a.run.name, node: a.node.name } };
  const title = `=${a.run.counter} ${a.run.name}: ${a.node.name}`;
  const body = { step: step.name, code: a.run.code_sha256, yamlPath: a.run.yaml_path, parameters: given.parameters, inputs: given.inputs, environmentVariables: given.env, title };

  if (a.node.type === "execution") {
    const prepared = await prepareExecution(deps, a.project, body, origin);
    if (a.run.reuse === "yes" && !a.retry) {
      const [same] = await sql<{ id: string; counter: number }[]>`
        select id, counter from executions
        where project_id = ${a.project.id} and status = 'completed' and deleted_at is null and step = ${step.name} and code_sha256 = ${a.run.code_sha256}
          and image = ${prepared.req.image ?? step.image} and command = ${prepared.command}
          and parameters = ${sql.json(prepared.parameters as never)}::jsonb
          and (select coalesce(jsonb_agg(jsonb_build_object('name', i->>'name', 'file', i->>'file', 'sha256', i->>'sha256', 'datum', i->>'datumId', 'uri', i->>'uri') order by i->>'name', i->>'file'), '[]'::jsonb) from jsonb_array_elements(inputs) i)
            = (select coalesce(jsonb_agg(jsonb_build_object('name', i->>'name', 'file', i->>'file', 'sha256', i->>'sha256', 'datum', i->>'datumId', 'uri', i->>'uri') order by i->>'name', i->>'file'), '[]'::jsonb) from jsonb_array_elements(${sql.json(prepared.inputs as never)}::jsonb) i)
        order by ended_at desc limit 1`;
      if (same) {
        await a.setNode(a.row, "reused", `Reused #${same.counter}: the same code, image, command, parameters and inputs completed before.`, { reused_from: same.id });
        const e = await execFacts(sql, same.id);
        a.facts.set(a.node.name, { exec: e, all: e ? [e] : [] });
        return;
      }
    }
    const made = await sql.begin(async (tx) => {
      const m = await insertExecution(tx, a.project, prepared, origin);
      await tx`update pipeline_nodes set status = 'running', status_detail = ${a.retry ? "Retried once (on-error: retry)." : null}, execution_id = ${m.id}, started_at = coalesce(started_at, now())
        where pipeline_id = ${a.run.id} and name = ${a.node.name}`;
      return m;
    });
    a.row.status = "running";
    a.row.execution_id = made.id;
    return;
  }

  // A task node: a sweep inside the pipeline — the blueprint's, or the step's with list values as a grid.
  const blueprint = a.node.task ? a.config.tasks.get(a.node.task) : undefined;
  const base: SweepDefinition = blueprint ? definitionOfBlueprint(blueprint, a.run.yaml_path) : { kind: "grid", parameters: {} };
  const parameters = { ...base.parameters };
  for (const [name, v] of Object.entries(given.parameters)) {
    parameters[name] = Array.isArray(v) ? (v.length === 1 ? { style: "single", value: text(v[0]) } : { style: "multiple", items: v.map(text) }) : { style: "single", value: text(v) };
  }
  const plan = planSweep({ ...base, parameters }, deps.config.sweepCap, "Use fewer values in the task node.");
  const bodies = plan.points.map((p) => ({ ...body, parameters: p, title: `${title} ${Object.entries(p).map(([k, v]) => `${k}=${v}`).join(" ")}`.slice(0, 500) }));
  const source: SweepSource = { kind: "pipeline", pipelineId: a.run.id, node: a.node.name };
  await createExecutions(deps, a.project, bodies, origin, async (tx, { created, prepared }) => {
    const sweepId = await insertSweep(tx, {
      projectId: a.project.id, step: prepared[0]!.step.name, kind: plan.definition.kind, spec: plan.spec, definition: plan.definition,
      commitSha: a.run.commit_sha ?? "", codeSha256: a.run.code_sha256, source, triggeredBy: a.run.triggered_by,
    });
    await insertSweepExecutions(tx, sweepId, 0, created, plan.points);
    await tx`update pipeline_nodes set status = 'running', sweep_id = ${sweepId}, started_at = coalesce(started_at, now()) where pipeline_id = ${a.run.id} and name = ${a.node.name}`;
    a.row.status = "running";
    a.row.sweep_id = sweepId;
  }, { held: plan.held });
}

function text(v: unknown): string {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && "value" in v) return String((v as { value: unknown }).value);
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}
