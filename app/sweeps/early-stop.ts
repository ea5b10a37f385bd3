/**
 * Early stopping of a sweep's executions as their metadata streams in (task `sweep_early_stop`,
 * added by the supervisor after it commits an execution's metadata, coalesced per execution): the
 * target metric's series of every execution of the sweep read from `metadata_events`, the rule
 * (median stopping or ASHA: app/sweeps/search/early-stopping.ts) asked about this one, and a stop
 * with the rule's reason when it says so (the execution ends `stopped`, its status detail saying
 * why). The task's stop-condition and target value are checked on the same metadata, so a sweep
 * stops as soon as one of them holds, not only when an execution ends.
 */
import type { Sql } from "../../db/client.js";
import { addJob } from "../../db/queries/jobs.js";
import { advanceQueue, sweepMembers, sweepOfExecution } from "../../db/queries/sweeps.js";
import type { EarlyStopping } from "../contracts/sweeps.js";
import { isTerminal, type ExecutionStatus } from "../executions/state.js";
import { stopExecution } from "../executions/stop.js";
import { ashaStop, medianStop, type CurvePoint, type StopDecision, type TrialCurve } from "./search/early-stopping.js";
import { stopReasonOf } from "./advance.js";

const STEP_KEYS = ["epoch", "step", "iteration", "iter"];

/** One execution's series of `metric`: each metadata line that printed it, at its step (the step key's value, else the report's ordinal). */
export function curveOf(rows: readonly { data: Record<string, unknown> }[], metric: string, stepKey?: string): CurvePoint[] {
  const out: CurvePoint[] = [];
  for (const r of rows) {
    const v = r.data[metric];
    if (typeof v !== "number" || !Number.isFinite(v)) continue;
    const keys = stepKey ? [stepKey] : STEP_KEYS;
    const k = keys.find((key) => typeof r.data[key] === "number" && Number.isFinite(r.data[key]));
    const step = k !== undefined ? (r.data[k] as number) : out.length + 1;
    // A step printed again (a restarted epoch) replaces the earlier value: the curve stays ascending.
    while (out.length && out[out.length - 1]!.step >= step) out.pop();
    out.push({ step, value: v });
  }
  return out;
}

export function decide(es: EarlyStopping, direction: "max" | "min", metric: string, target: TrialCurve, others: TrialCurve[]): StopDecision {
  if (es.rule === "asha") return ashaStop(target, others, { direction, gracePeriod: es.gracePeriod, reductionFactor: es.reductionFactor ?? 3, metric });
  return medianStop(target, others, { direction, gracePeriod: es.gracePeriod, minTrials: 3 });
}

export interface EarlyStopResult {
  stopped: boolean;
  reason?: string;
}

export async function checkEarlyStop(sql: Sql, executionId: string): Promise<EarlyStopResult> {
  const sweep = await sweepOfExecution(sql, executionId);
  const def = sweep?.definition;
  if (!sweep || !def) return { stopped: false };
  const members = await sweepMembers(sql, sweep.id);
  // The sweep's own rules first: once one holds, the driver stops the rest.
  if (!sweep.stopped_reason && stopReasonOf(def, members)) {
    await addJob(sql, "sweep_advance", { sweepId: sweep.id }, { queueName: advanceQueue(sweep.id), jobKey: `sweep_advance:${sweep.id}` });
    return { stopped: false };
  }
  const es = def.earlyStopping;
  const target = def.target;
  const me = members.find((m) => m.id === executionId);
  if (!es || !target || !me || me.status !== "running") return { stopped: false };
  const ids = members.filter((m) => m.status !== "created" && m.status !== "queued").map((m) => m.id);
  // Only the keys a curve is made of travel (a metadata line may hold thousands of others).
  const keys = [target.metric, ...(es.stepKey ? [es.stepKey] : STEP_KEYS)];
  const rows = await sql<{ execution_id: string; data: Record<string, unknown> }[]>`
    select execution_id, (select coalesce(jsonb_object_agg(k, data->k), '{}'::jsonb) from unnest(${keys}::text[]) k where data ? k) as data
    from metadata_events
    where execution_id = any(${ids}::uuid[]) and data ? ${target.metric} order by execution_id, seq`;
  const byExec = new Map<string, { data: Record<string, unknown> }[]>();
  for (const r of rows) {
    const list = byExec.get(r.execution_id) ?? [];
    list.push(r);
    byExec.set(r.execution_id, list);
  }
  const curve = (id: string, status: ExecutionStatus): TrialCurve => ({ id, points: curveOf(byExec.get(id) ?? [], target.metric, es.stepKey), ended: isTerminal(status) });
  const mine = curve(me.id, me.status);
  const others = members.filter((m) => m.id !== me.id && ids.includes(m.id)).map((m) => curve(m.id, m.status));
  const d = decide(es, target.direction, target.metric, mine, others);
  if (!d.stop) return { stopped: false };
  const reason = `Early-stopped: ${d.reason}`;
  await stopExecution(sql, executionId, { cause: "early-stop", reason });
  return { stopped: true, reason };
}
