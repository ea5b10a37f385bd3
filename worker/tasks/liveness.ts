/**
 * The queue's liveness: every vh process that runs queue jobs keeps a row in `worker_processes`
 * (db/schema/workers.ts) with the ids of its graphile-worker workers and a heartbeat, and sweeps
 * for jobs and queues locked by a worker that no live process claims.
 *
 * Why: graphile-worker keeps a job locked for 4 hours after the process that ran it died (a
 * SIGKILL, an OOM kill, a lost machine), and a queue it held stays locked with it. An execution
 * whose `start_execution` was cut off would sit in `starting`, a pipeline whose `pipeline_advance`
 * was cut off would never move again. The sweep releases them (graphile's own
 * `force_unlock_workers`) once the lock is older than `deadAfterSeconds` and no process with a
 * fresh heartbeat claims the worker; the job then runs again (every task is safe to run twice).
 * A live process's long job is never touched: its worker is claimed by a fresh heartbeat.
 */
import os from "node:os";
import type { Sql } from "../../db/client.js";
import type { Logger } from "../../app/log.js";

export interface QueueLivenessOptions {
  /** How often the heartbeat is written and the sweep runs. */
  heartbeatMs?: number;
  /** A lock older than this, by a worker no process with a heartbeat this fresh claims, is released. */
  deadAfterSeconds?: number;
}

export interface QueueLiveness {
  readonly processId: string;
  /** A graphile worker of this process (graphile's `worker:create` event). */
  workerCreated(workerId: string): void;
  start(): Promise<void>;
  /** Stops the heartbeat and removes this process's row (after its runners stopped gracefully). */
  stop(): Promise<void>;
  /** One sweep: the dead workers whose jobs and queues it released. */
  sweep(): Promise<string[]>;
}

export function createQueueLiveness(deps: { sql: Sql; log: Logger; processId: string }, opts: QueueLivenessOptions = {}): QueueLiveness {
  const heartbeatMs = opts.heartbeatMs ?? 5_000;
  const deadAfter = opts.deadAfterSeconds ?? 45;
  const workerIds = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let tick: Promise<void> | null = null;
  let stopped = false;
  /** A claim of new workers not yet written, and the last claim's write (which start() waits for too). */
  let claim: Promise<void> | null = null;
  let claiming: Promise<void> = Promise.resolve();

  const beat = async () => {
    await deps.sql`
      insert into worker_processes (id, hostname, pid, worker_ids) values (${deps.processId}, ${os.hostname()}, ${process.pid}, ${[...workerIds]})
      on conflict (id) do update set worker_ids = excluded.worker_ids, heartbeat_at = now()`;
  };

  const sweep = async (): Promise<string[]> => {
    const dead = await deps.sql<{ worker: string; tasks: string[] | null }[]>`
      with live as (
        select unnest(worker_ids) as id from worker_processes where heartbeat_at > now() - make_interval(secs => ${deadAfter})
      ), held as (
        select j.locked_by as worker, t.identifier as task from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
        where j.locked_at < now() - make_interval(secs => ${deadAfter})
        union all
        select q.locked_by, null from graphile_worker._private_job_queues q where q.locked_at < now() - make_interval(secs => ${deadAfter})
      )
      select worker, array_agg(task) filter (where task is not null) as tasks from held
      where worker is not null and worker not in (select id from live)
      group by worker`;
    if (dead.length === 0) return [];
    const ids = dead.map((d) => d.worker);
    await deps.sql`select graphile_worker.force_unlock_workers(${ids}::text[])`;
    for (const d of dead) {
      deps.log.warn("released the queue jobs of a worker that died while running them", { worker: d.worker, tasks: d.tasks ?? [], lockedLongerThanSeconds: deadAfter });
    }
    return ids;
  };

  const round = async () => {
    try {
      await beat();
      await sweep();
      // Rows of processes gone for a day: nothing claims by them any more.
      await deps.sql`delete from worker_processes where heartbeat_at < now() - interval '1 day'`;
    } catch (err) {
      if (!stopped) deps.log.warn("queue liveness round failed", { err });
    }
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      tick = round().finally(() => {
        tick = null;
        schedule();
      });
    }, heartbeatMs);
    timer.unref();
  };

  return {
    processId: deps.processId,
    workerCreated(id) {
      if (workerIds.has(id)) return;
      workerIds.add(id);
      // Claimed at once (one write for a burst of new workers), not at the next heartbeat.
      claim ??= Promise.resolve().then(() => {
        claim = null;
        if (stopped) return;
        claiming = beat().catch((err: unknown) => deps.log.warn("queue liveness heartbeat failed", { err }));
        return claiming;
      });
    },
    async start() {
      await beat();
      // A claim of workers made before the start has landed too: a write still in flight would
      // otherwise land later (and, in a test that ages the heartbeat, undo that).
      await claim;
      await claiming;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await tick;
      await claim;
      await deps.sql`delete from worker_processes where id = ${deps.processId}`.catch(() => {});
    },
    sweep,
  };
}
