/**
 * One scheduler pass in one transaction: read the queue and the fleet, run the pure `schedule`,
 * write placements + GPU allocations + reservations, refuse the impossible, and add one
 * `start_execution` job per placement. Passes are serialised by a transaction-level advisory lock,
 * so two workers never place against the same view of the fleet; the partial unique index on
 * gpu_allocations makes a double allocation impossible even so.
 *
 * Task `schedule` (keyed `vh_schedule`, so a burst of creations coalesces into one pending pass)
 * runs a pass; `requestSchedulerPass` (db/queries/jobs.ts) enqueues it. The worker also kicks it every few seconds (escalation
 * is a matter of time passing; hosts come back).
 */
import type { Task } from "graphile-worker";
import type postgres from "postgres";
import type { Sql } from "../../db/client.js";
import { gpuQuotaRows } from "../../db/queries/hosts.js";
import { addJobs, requestSchedulerPass } from "../../db/queries/jobs.js";
import { transition } from "../../app/executions/state.js";
import { TERMINAL } from "../../app/executions/state.js";
import { schedule, type Reservation, type SchedHost, type SchedJob, type SchedOutput, type SchedPolicy, type SchedRunning } from "./schedule.js";

/** A local host whose worker has not checked in for this long is not given new work. */
const LOCAL_HOST_STALE_S = 120;
const LOCK_KEY = 0x76685f73; // "vh_s"

export interface SchedulerSettings {
  escalationSeconds: number;
  /** Placements per transaction at most (the rest wait for the next pass, enqueued at once). */
  batch?: number;
  /** Queued executions one pass reads, from the head of the scheduler's order (default max(2000, 4 × batch)). */
  window?: number;
  /**
   * The environments (VH_ENVIRONMENTS_FILE) and their instance's GPUs: each counts as a host that
   * can exist (rule 1 does not refuse its jobs while it has no instance up); its instances are placed on
   * like any host once ready (worker/compute/ launches them).
   */
  environments?: readonly { name: string; gpus: number }[];
}

/**
 * Release what an execution holds (its GPUs, its placement, its reservation), exactly once: only
 * rows not yet released are touched. Returns how many GPU allocations this call released.
 */
export async function releaseExecution(sql: Sql, executionId: string, reason: string): Promise<number> {
  const rows = await sql`
    update gpu_allocations set released_at = now(), release_reason = ${reason}
    where execution_id = ${executionId} and released_at is null returning id`;
  await sql`update execution_placements set released_at = now() where execution_id = ${executionId} and released_at is null`;
  await sql`delete from gpu_reservations where execution_id = ${executionId}`;
  return rows.length;
}

interface QueueRow {
  id: string;
  gpus: number;
  queued_ms: string;
  project: string;
  time_limit_s: number | null;
  environment: string | null;
}

export interface PassResult {
  placed: number;
  refused: number;
  waiting: number;
  /** True when the pass stopped at `batch`: call again. */
  more: boolean;
  /** Ended executions whose placement this pass freed: their end was never settled (settle.ts). */
  unsettled: string[];
  output: SchedOutput;
}

export async function runSchedulePass(sql: Sql, settings: SchedulerSettings): Promise<PassResult> {
  const batch = settings.batch ?? 500;
  const window = settings.window ?? Math.max(2000, batch * 4);
  const result = await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${LOCK_KEY})`;
    // Sweep: anything still held by an execution that ended (a stop before start, a crash) is freed.
    // Driven from what is held (a few rows), never from the ever-growing set of ended executions.
    await tx`
      with held as materialized (select id, execution_id from gpu_allocations where released_at is null)
      update gpu_allocations a set released_at = now(), release_reason = e.status
      from held h join executions e on e.id = h.execution_id
      where a.id = h.id and e.status = any(${TERMINAL as string[]}::text[])`;
    // An ended execution that still held its placement was never settled (its supervisor or start
    // was killed between the end and the settle): the caller settles it (retry by policy, attempt record).
    const unsettled = await tx<{ execution_id: string }[]>`
      with held as materialized (select execution_id from execution_placements where released_at is null)
      update execution_placements p set released_at = now()
      from held h join executions e on e.id = h.execution_id
      where p.execution_id = h.execution_id and p.released_at is null and e.status = any(${TERMINAL as string[]}::text[])
      returning p.execution_id`;
    await tx`delete from gpu_reservations r using executions e where e.id = r.execution_id and e.status <> 'queued'`;

    const now = Number((await tx<{ ms: string }[]>`select (extract(epoch from clock_timestamp()) * 1000)::bigint::text as ms`)[0]!.ms);
    const hostRows = await tx<{ id: string; name: string; kind: string; labels: Record<string, string>; ok: boolean; gpus: number[] | null; environment: string | null; provider: string | null }[]>`
      select h.id, h.name, h.kind, h.labels, h.environment, h.provider,
        (h.enabled and h.status = 'up' and (h.kind <> 'local' or h.last_seen_at > now() - make_interval(secs => ${LOCAL_HOST_STALE_S}))
          and (h.provider is null or h.lifecycle = 'ready')) as ok,
        (select array_agg(g.index order by g.index) from gpus g where g.host_id = h.id and g.present) as gpus
      from hosts h where h.enabled`;
    const hosts: SchedHost[] = hostRows.map((h) => ({
      id: h.id,
      name: h.name,
      schedulable: h.ok,
      gpus: h.gpus ?? [],
      labels: h.labels,
      environment: h.environment,
      // A rented instance runs one execution at a time (as Valohai's do).
      ...(h.provider ? { slots: 1 } : {}),
    }));
    for (const env of settings.environments ?? []) {
      hosts.push({ id: `environment:${env.name}`, name: `environment:${env.name}`, schedulable: false, gpus: Array.from({ length: env.gpus }, (_, i) => i), labels: {}, environment: env.name, slots: 1 });
    }

    const quotaRows = await gpuQuotaRows(tx);
    const quotas: Record<string, number> = {};
    const teamsOf = new Map<string, string[]>();
    for (const q of quotaRows) {
      quotas[q.key] = q.max_gpus;
      if (q.key.startsWith("team:")) for (const p of q.projects) teamsOf.set(p, [...(teamsOf.get(p) ?? []), q.key]);
    }
    const keysOf = (project: string) => [`project:${project}`, ...(teamsOf.get(project) ?? [])];

    const runningRows = await tx<{ id: string; host_id: string; gpus: number[]; project: string; ends_ms: string | null }[]>`
      select p.execution_id as id, p.host_id, p.gpu_indices as gpus, pr.name as project,
        case when e.time_limit_s is null then null
          else ((extract(epoch from coalesce(e.started_at, p.placed_at)) + e.time_limit_s) * 1000)::bigint::text end as ends_ms
      from execution_placements p
      join executions e on e.id = p.execution_id
      join projects pr on pr.id = e.project_id
      where p.released_at is null`;
    const running: SchedRunning[] = runningRows.map((r) => ({
      id: r.id,
      hostId: r.host_id,
      gpus: r.gpus,
      quotaKeys: keysOf(r.project),
      endsBy: r.ends_ms === null ? null : Number(r.ends_ms),
    }));

    const queueRows = await tx<QueueRow[]>`
      select e.id, e.gpus, e.environment, (extract(epoch from coalesce(e.queued_at, e.created_at)) * 1000)::bigint::text as queued_ms,
        pr.name as project, e.time_limit_s
      from executions e
      join projects pr on pr.id = e.project_id
      where e.status = 'queued'
        and not exists (select 1 from execution_placements p where p.execution_id = e.id and p.released_at is null)
      -- The scheduler's own order (rule 2), so that reading only the head of a long queue loses nothing
      -- a pass could place: escalated first by age, then fewer GPUs, then age.
      order by (coalesce(e.queued_at, e.created_at) <= now() - make_interval(secs => ${settings.escalationSeconds})) desc,
        case when coalesce(e.queued_at, e.created_at) <= now() - make_interval(secs => ${settings.escalationSeconds})
          then 0 else e.gpus end,
        coalesce(e.queued_at, e.created_at), e.id
      limit ${window}`;
    const queue: SchedJob[] = queueRows.map((q) => ({
      id: q.id,
      gpus: q.gpus,
      queuedAt: Number(q.queued_ms),
      quotaKeys: keysOf(q.project),
      timeLimitS: q.time_limit_s,
      environment: q.environment,
    }));
    const reservations = await tx<Reservation[]>`select execution_id as "jobId", host_id as "hostId" from gpu_reservations`;

    const policy: SchedPolicy = { kind: "ours", escalationMs: settings.escalationSeconds * 1000, quotas };
    const out = schedule({ now, queue, hosts, running, reservations, policy, maxPlacements: batch });

    if (out.placements.length > 0) {
      const ids = out.placements.map((p) => p.jobId);
      await tx`
        insert into execution_placements (execution_id, host_id, gpu_indices)
        select x.id, x.host, x.gpus from jsonb_to_recordset(${tx.json(out.placements.map((p) => ({ id: p.jobId, host: p.hostId, gpus: p.gpus })) as never)})
          as x(id uuid, host uuid, gpus jsonb)
        on conflict (execution_id) do update set host_id = excluded.host_id, gpu_indices = excluded.gpu_indices, placed_at = now(), released_at = null`;
      const allocs = out.placements.flatMap((p) => p.gpus.map((g) => ({ id: p.jobId, host: p.hostId, gpu: g })));
      if (allocs.length > 0) {
        await tx`
          insert into gpu_allocations (execution_id, host_id, gpu_index)
          select x.id, x.host, x.gpu from jsonb_to_recordset(${tx.json(allocs as never)}) as x(id uuid, host uuid, gpu int)`;
      }
      await addJobs(tx, "start_execution", ids.map((id) => ({ payload: { executionId: id }, jobKey: id })));
    }
    await tx`delete from gpu_reservations`;
    if (out.reservations.length > 0) {
      await tx`
        insert into gpu_reservations (execution_id, host_id)
        select x.id, x.host from jsonb_to_recordset(${tx.json(out.reservations.map((r) => ({ id: r.jobId, host: r.hostId })) as never)}) as x(id uuid, host uuid)`;
    }
    if (out.refusals.length > 0) {
      // Every row to refuse is locked first, in id order, before the first status-history insert
      // takes the audit chain's head (held to commit): a single-statement transition elsewhere locks
      // its row and then waits for the head, so taking a row after the head could deadlock.
      const refusedIds = out.refusals.map((r) => r.jobId).sort();
      await tx`select id from executions where id = any(${refusedIds}::uuid[]) order by id for update`;
    }
    for (const r of out.refusals) {
      await transition(tx as unknown as Sql, r.jobId, "error", { from: ["queued"], reason: r.reason });
    }
    return { placed: out.placements.length, refused: out.refusals.length, waiting: out.waiting.size, more: out.placements.length >= batch, output: out, unsettled: [...new Set(unsettled.map((u) => u.execution_id))] };
  });
  return result;
}

/** Handler of task `schedule`: one pass, and another at once when this one hit the batch limit. */
export async function schedulePass(sql: Sql, settings: SchedulerSettings, settle?: (executionId: string) => Promise<unknown>): Promise<void> {
  const res = await runSchedulePass(sql, settings);
  for (const id of res.unsettled) await settle?.(id);
  if (res.more) await requestSchedulerPass(sql);
}
