/**
 * What happens in a sweep when one of its executions ends (task `sweep_advance`, added by the
 * statement that ends it: db/queries/sweeps.ts `advanceJobOnEnd`; one at a time per sweep):
 *
 * 1. Stop rules: the target value reached (Valohai's optimization-target-value) or the task's
 *    stop-condition holding on an execution's metadata stops the sweep: the reason is recorded,
 *    the waiting and queued executions are stopped and the running ones told to stop.
 * 2. Max parallel: waiting executions (`created`) are queued, in order, while fewer than the limit
 *    are queued or running.
 * 3. Bayesian (TPE): while the plan has room and a slot is free, new points are proposed from the
 *    ended executions' target metric and created through the one creation service.
 *
 * A sweep whose executions were all stopped by request makes no more.
 */
import type { Sql } from "../../db/client.js";
import { insertSweepExecutions, sweepMembers, type SweepMember } from "../../db/queries/sweeps.js";
import { willRetry } from "../../db/queries/executions.js";
import { projectById } from "../../db/queries/projects.js";
import { requestSchedulerPass } from "../../db/queries/jobs.js";
import type { SweepDefinition } from "../contracts/sweeps.js";
import { createExecutions, type CreateDeps } from "../executions/create.js";
import { ACTIVE, isTerminal, transition, type ExecutionStatus } from "../executions/state.js";
import { stopExecution } from "../executions/stop.js";
import { VhError } from "../errors.js";
import { compileExpression, conditionHolds, type EvalValue } from "../valohai/evaluate.js";
import { numberText, pointText, searchSpace, seedOf } from "./definition.js";
import { seededRng } from "./search/rng.js";
import { DEFAULT_STARTUP_TRIALS, proposeTpe, type Observation } from "./search/tpe.js";
import type { SweepSource } from "../../db/schema/sweeps.js";

type Member = SweepMember;

export interface AdvanceResult {
  released: number;
  proposed: number;
  stopped: string | null;
}

/** The metric's last value in an execution, when it is a finite number. */
export function metricOf(m: { metadata_latest: Record<string, unknown> }, metric: string): number | null {
  const v = m.metadata_latest[metric];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** Why the sweep must stop, or null: its target value reached, or its stop-condition holding on an execution. */
export function stopReasonOf(def: SweepDefinition, members: readonly Member[]): string | null {
  const t = def.target;
  if (t?.value !== undefined) {
    for (const m of members) {
      const v = metricOf(m, t.metric);
      if (v !== null && (t.direction === "max" ? v >= t.value : v <= t.value)) {
        return `Target reached: #${m.counter} has ${t.metric} ${numberText(v)} (target ${t.direction === "max" ? "≥" : "≤"} ${numberText(t.value)}).`;
      }
    }
  }
  if (def.stopCondition) {
    const c = compileExpression(def.stopCondition);
    if ("evaluate" in c) {
      for (const m of members) {
        const duration = m.started_at ? ((m.ended_at ?? new Date()).getTime() - m.started_at.getTime()) / 1000 : 0;
        const scope = { metadata: m.metadata_latest as EvalValue, execution: { duration, status: m.status, counter: m.counter } };
        if (conditionHolds(c, scope)) return `The task's stop-condition \`${def.stopCondition}\` held on #${m.counter}.`;
      }
    }
  }
  return null;
}


export async function advanceSweep(deps: CreateDeps, sweepId: string): Promise<AdvanceResult> {
  const { sql } = deps;
  const [sweep] = await sql<{ id: string; project_id: string; step: string; commit_sha: string; code_sha256: string; triggered_by: string; source: SweepSource; definition: SweepDefinition | null; stopped_reason: string | null }[]>`
    select id, project_id, step, commit_sha, code_sha256, triggered_by, source, definition, stopped_reason from sweeps where id = ${sweepId}`;
  const result: AdvanceResult = { released: 0, proposed: 0, stopped: null };
  if (!sweep?.definition) return result;
  const def = sweep.definition;
  const all = await sweepMembers(sql, sweepId);

  // 1. Stop rules.
  let reason = sweep.stopped_reason;
  if (!reason) reason = stopReasonOf(def, all);
  if (!reason && all.length > 0 && all.every((m) => isTerminal(m.status))) {
    const last = [...all].sort((a, b) => (b.ended_at?.getTime() ?? 0) - (a.ended_at?.getTime() ?? 0))[0]!;
    if (last.stop_cause === "user") reason = "Stopped by request: every execution of the sweep was stopped.";
  }
  if (reason) {
    if (!sweep.stopped_reason) {
      const [set] = await sql<{ id: string }[]>`update sweeps set stopped_reason = ${reason} where id = ${sweepId} and stopped_reason is null returning id`;
      if (set) result.stopped = reason;
    }
    for (const m of all) {
      if (m.status === "created" || m.status === "queued" || m.status === "starting" || m.status === "running") {
        await stopExecution(sql, m.id, { cause: "sweep", reason: `The sweep stopped: ${reason}` });
      }
    }
    return result;
  }

  // 2. Max parallel: queue waiting ones while slots are free.
  const limit = def.maxParallel ?? Infinity;
  // One the settle step queues again (a failure with retries left, lost under the server's policy) still holds its slot.
  const activeCount = () => all.filter((m) => (m.status !== "created" && ACTIVE.includes(m.status)) || willRetry(m, deps.config.worker)).length;
  let free = limit - activeCount();
  for (const m of all) {
    if (free <= 0) break;
    if (m.status !== "created") continue;
    if (await transition(sql, m.id, "queued", { from: ["created"], reason: "A slot of the sweep freed (max parallel)." })) {
      m.status = "queued";
      result.released++;
      free--;
    }
  }
  if (result.released > 0) await requestSchedulerPass(sql);

  // 3. Bayesian: propose while the plan has room and slots are free.
  if (def.kind !== "bayesian_tpe" || !def.target) return result;
  const room = Math.min((def.count ?? 0) - all.length, free);
  if (room <= 0 || all.some((m) => m.status === "created")) return result;
  const { space, fixed } = searchSpace(def);
  const order = Object.keys(def.parameters);
  const target = def.target;
  const spacePoint = (p: Record<string, string>) => {
    const point: Record<string, string | number | boolean> = {};
    for (const [name, dim] of Object.entries(space)) {
      const text = p[name];
      if (text === undefined) continue;
      point[name] = dim.kind === "categorical" ? text : Number(text);
    }
    return point;
  };
  const observations: Observation[] = [];
  for (const m of all) {
    const v = metricOf(m, target.metric);
    if (v === null || !isTerminal(m.status) || !m.point) continue;
    observations.push({ point: spacePoint(m.point), value: v });
  }
  // Constant liar: the points still running, and each one proposed in this round, count as the
  // worst result seen so far, so that parallel proposals spread out instead of piling on one spot.
  const values = observations.map((o) => o.value);
  // Only once TPE proposes (enough real results): before that proposals are random draws, and liars would end the random phase early.
  const liar = observations.length >= DEFAULT_STARTUP_TRIALS ? (target.direction === "max" ? Math.min(...values) : Math.max(...values)) : null;
  const withLiars = [...observations];
  if (liar !== null) for (const m of all) if (!isTerminal(m.status) && m.point) withLiars.push({ point: spacePoint(m.point), value: liar });
  const rng = seededRng((seedOf(def) + all.length * 7919) >>> 0);
  const proposals: Record<string, string>[] = [];
  for (let k = 0; k < room; k++) {
    const p = pointText(proposeTpe(space, withLiars, rng, { direction: target.direction }), fixed, order);
    proposals.push(p);
    if (liar !== null) withLiars.push({ point: spacePoint(p), value: liar });
  }
  const yamlPath = all[0]?.yaml_path ?? "valohai.yaml";
  const where = sweep.source.kind === "forge" && sweep.source.pr !== null ? `${sweep.source.forge === "gitlab" ? "MR !" : "PR #"}${sweep.source.pr}: ` : "";
  const bodies = proposals.map((p) => ({
    step: sweep.step,
    code: sweep.code_sha256,
    yamlPath,
    // Where the sweep's first executions run (an environment asked for at its start).
    ...(all[0]?.environment ? { environment: all[0].environment } : {}),
    // and with the retries on failure they asked for.
    ...(all[0]?.retries ? { retries: all[0].retries } : {}),
    parameters: p,
    title: `${where}${sweep.step} ${Object.entries(p).map(([k, v]) => `${k}=${v}`).join(" ")}`.slice(0, 500),
  }));
  const project = await projectById(sql, sweep.project_id);
  if (!project) return result;
  const origin = { ...(sweep.commit_sha ? { commitSha: sweep.commit_sha } : {}), triggeredBy: sweep.triggered_by };
  try {
    await createExecutions(deps, project, bodies, origin, async (tx, { created }) => {
      // Serial per sweep (its own queue), so the positions are this call's.
      const [n] = await tx<{ n: number }[]>`select count(*)::int as n from sweep_executions where sweep_id = ${sweepId}`;
      await insertSweepExecutions(tx, sweepId, n!.n, created, proposals);
    });
  } catch (err) {
    // A proposal the step refuses (or a valohai.yaml gone bad) ends the search, said on the record; vh's own failures are retried.
    if (!(err instanceof VhError)) throw err;
    const why = `The search stopped: its next point could not be created (${err.message.split("\n")[0]}).`;
    await sql`update sweeps set stopped_reason = ${why} where id = ${sweepId} and stopped_reason is null`;
    result.stopped = why;
    return result;
  }
  result.proposed = proposals.length;
  return result;
}
