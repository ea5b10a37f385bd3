/**
 * The scheduler pass on a real Postgres: placements, allocations and start jobs written in one
 * transaction; quotas from gpu_quotas (project and team); a refusal when no host can run a job any
 * more; release exactly once.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { releaseExecution, runSchedulePass } from "../../worker/scheduler/apply.js";

describe("scheduler pass (Postgres)", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let counter = 0;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  beforeEach(async () => {
    await db.sql`delete from executions`;
    await db.sql`delete from hosts`;
    await db.sql`delete from gpu_quotas`;
    await db.sql`delete from projects`;
    await db.sql`delete from graphile_worker._private_jobs`; // graphile-worker ≥ 0.16 keeps jobs here (graphile_worker.jobs is a view)
  });

  async function host(name: string, gpus: number, status = "up"): Promise<string> {
    const [h] = await db.sql<{ id: string }[]>`
      insert into hosts (name, kind, address, key_path, status, last_seen_at) values (${name}, 'ssh', 'ssh://x', '/dev/null', ${status}, now()) returning id`;
    if (gpus > 0) await db.sql`insert into gpus (host_id, index) select ${h!.id}, g from generate_series(0, ${gpus - 1}) as g`;
    return h!.id;
  }

  async function project(name: string): Promise<string> {
    const [p] = await db.sql<{ id: string }[]>`insert into projects (name) values (${name}) on conflict (name) do update set name = excluded.name returning id`;
    return p!.id;
  }

  async function queued(projectName: string, gpus: number): Promise<string> {
    const pid = await project(projectName);
    const [e] = await db.sql<{ id: string }[]>`
      insert into executions (project_id, counter, step, status, image, command, command_list, parameters, inputs, environment_variables, gpus, queued_at)
      values (${pid}, ${++counter}, 's', 'queued', 'img', 'true', '[]', '{}', '[]', '{}', ${gpus}, now() - make_interval(secs => ${1000 - counter}))
      returning id`;
    return e!.id;
  }

  const settings = { escalationSeconds: 3600 };

  it("writes placements, allocations and one start job per placement, in device order", async () => {
    const h = await host("h", 4);
    const a = await queued("p", 2);
    const b = await queued("p", 1);
    const res = await runSchedulePass(db.sql, settings);
    expect(res.placed).toBe(2);
    const rows = await db.sql<{ execution_id: string; gpu_index: number }[]>`select execution_id, gpu_index from gpu_allocations where host_id = ${h} order by gpu_index`;
    expect(rows.map((r) => [r.execution_id, r.gpu_index])).toEqual([[b, 0], [a, 1], [a, 2]]);
    const jobs = await db.sql<{ key: string }[]>`select key from graphile_worker.jobs where task_identifier = 'start_execution' order by key`;
    expect(jobs.map((j) => j.key).sort()).toEqual([a, b].sort());
    // A second pass places nothing new.
    expect((await runSchedulePass(db.sql, settings)).placed).toBe(0);
  });

  it("applies project and team quotas from gpu_quotas", async () => {
    await host("h", 8);
    await db.sql`insert into gpu_quotas (key, max_gpus, projects) values ('project:a', 1, '[]'), ('team:ml', 3, '["a", "b"]')`;
    const a1 = await queued("a", 1);
    await queued("a", 1);
    const b2 = await queued("b", 2);
    const b1 = await queued("b", 1);
    const c = await queued("c", 4);
    const res = await runSchedulePass(db.sql, settings);
    // Fewer GPUs first: a1 (a at its cap of 1), a's second waits, b1 (team at 2 of 3); b2 would make 4 > 3.
    expect(res.output.placements.map((p) => p.jobId).sort()).toEqual([a1, b1, c].sort());
    expect(res.output.waiting.get(b2)).toMatch(/quota team:ml: 2 of 3/);
  });

  it("refuses a queued job that no host can run any more", async () => {
    await host("small", 2);
    const e = await queued("p", 4);
    await runSchedulePass(db.sql, settings);
    const [row] = await db.sql<{ status: string; status_detail: string }[]>`select status, status_detail from executions where id = ${e}`;
    expect(row).toEqual({ status: "error", status_detail: "Asks for 4 GPUs, but the largest host has 2: no single host can ever run it." });
  });

  it("does not place on a host that is down, and releases exactly once", async () => {
    await host("down", 4, "down");
    const e = await queued("p", 1);
    expect((await runSchedulePass(db.sql, settings)).placed).toBe(0);
    await db.sql`update hosts set status = 'up'`;
    expect((await runSchedulePass(db.sql, settings)).placed).toBe(1);
    expect(await releaseExecution(db.sql, e, "lost")).toBe(1);
    expect(await releaseExecution(db.sql, e, "lost")).toBe(0);
    const [a] = await db.sql<{ n: number }[]>`select count(*)::int as n from gpu_allocations where execution_id = ${e} and released_at is not null`;
    expect(a!.n).toBe(1);
  });
});
