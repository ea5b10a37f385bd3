/**
 * schedule-throughput: executions placed per second by the real scheduler pass (read queue + fleet,
 * pure schedule, write placements + GPU allocations + start jobs, in one transaction) with 10,000
 * queued (1/2/4/8 GPUs at 50/25/15/10 %) on 4 hosts × 8 GPUs, where every placed execution ends
 * at once (so the fleet is refilled pass after pass until the queue is empty); against raw
 * graphile-worker: 10,000 jobs added in bulk, run by a worker with a no-op task, in the same run on
 * the same Postgres. `BENCH_QUEUED` changes the queue length.
 */
import { run as runGraphile } from "graphile-worker";
import { migrateDatabase, openDatabase, silentGraphileLogger } from "../db/client.js";
import { runSchedulePass } from "../worker/scheduler/apply.js";
import { benchPostgres, round, size } from "./support.js";

const QUEUED = size("BENCH_QUEUED", 10_000, 200);

export async function run(): Promise<Record<string, number>> {
  const pg = await benchPostgres();
  const database = openDatabase(pg.connectionString);
  try {
    await migrateDatabase(database);
    const sql = database.sql;

    // raw graphile-worker
    let done = 0;
    let allDone: () => void = () => {};
    const finished = new Promise<void>((r) => (allDone = r));
    await sql`select graphile_worker.add_jobs(array(select row('raw_noop', '{}'::json, null, null, null, null, null, null)::graphile_worker.job_spec from generate_series(1, ${QUEUED})))`;
    const t0 = performance.now();
    const worker = await runGraphile({
      connectionString: pg.connectionString,
      concurrency: 10,
      noHandleSignals: true,
      pollInterval: 100,
      logger: silentGraphileLogger(),
      taskList: {
        raw_noop: async () => {
          if (++done === QUEUED) allDone();
        },
      },
    });
    await finished;
    const rawS = (performance.now() - t0) / 1000;
    await worker.stop();

    // vh: 4 hosts × 8 GPUs, QUEUED executions
    const [project] = await sql<{ id: string }[]>`insert into projects (name) values ('bench') returning id`;
    const hostIds: string[] = [];
    for (let h = 0; h < 4; h++) {
      const [row] = await sql<{ id: string }[]>`
        insert into hosts (name, kind, address, key_path, status, last_seen_at) values (${`gpu-${h}`}, 'ssh', ${`ssh://root@10.0.0.${h}`}, '/dev/null', 'up', now())
        returning id`;
      hostIds.push(row!.id);
      await sql`insert into gpus (host_id, index) select ${row!.id}, g from generate_series(0, 7) as g`;
    }
    await sql`
      insert into executions (project_id, counter, step, status, image, command, command_list, parameters, inputs, environment_variables, gpus, queued_at)
      select ${project!.id}, i, 'train', 'queued', 'busybox', 'true', '[]'::jsonb, '{}'::jsonb, '[]'::jsonb, '{}'::jsonb,
        case when i % 20 < 10 then 1 when i % 20 < 15 then 2 when i % 20 < 18 then 4 else 8 end,
        now() - make_interval(secs => ${QUEUED} - i)
      from generate_series(1, ${QUEUED}) as i`;
    await sql`analyze`;
    let placed = 0;
    let passes = 0;
    const t1 = performance.now();
    while (placed < QUEUED) {
      const res = await runSchedulePass(sql, { escalationSeconds: 3600 * 24 * 365 });
      passes++;
      if (res.placed === 0) throw new Error(`a pass placed nothing with ${QUEUED - placed} queued`);
      placed += res.placed;
      // Everything placed ends at once: the next pass's sweep frees its GPUs.
      await sql`update executions e set status = 'completed' from execution_placements p
        where p.execution_id = e.id and p.released_at is null and e.status = 'queued'`;
    }
    const vhS = (performance.now() - t1) / 1000;
    const [jobs] = await sql<{ n: number }[]>`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'start_execution'`;
    if (jobs!.n !== QUEUED) throw new Error(`expected ${QUEUED} start jobs, found ${jobs!.n}`);
    process.stderr.write(`${QUEUED} placed in ${passes} passes (${round(vhS, 2)} s); raw graphile-worker ran ${QUEUED} jobs in ${round(rawS, 2)} s\n`);
    return { per_s: round(QUEUED / vhS, 0), raw_per_s: round(QUEUED / rawS, 0) };
  } finally {
    await database.close();
    await pg.stop();
  }
}
