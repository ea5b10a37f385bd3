/**
 * A keyed job that coalesces "something changed" (pipeline_advance, sweep_advance, forge_report,
 * schedule) must never lose a change. graphile-worker's add_job, when a job of that key is being
 * locked by a worker in a transaction that has not committed yet, waits for that lock, finds the
 * job locked and adds nothing: the change is dropped, and the worker's run may have read the state
 * before the change's transaction committed. db/queries/jobs.ts closes that window: an add holds a
 * shared advisory lock on the key until its transaction ends, and a task's run first takes the
 * key's lock exclusively (worker/tasks/index.ts), so it reads after every add it could have missed.
 *
 * The race is played here step by step on a real Postgres, with the worker's locking transaction
 * held open by the test.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { addJob, awaitKeyedAdds } from "../../db/queries/jobs.js";
import { createTestDatabase } from "../helpers/db.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;

beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});

const KEY = "pipeline_advance:00000000-0000-4000-8000-000000000001";
const payload = { pipelineId: "00000000-0000-4000-8000-000000000001" };
const settled = <T>(p: Promise<T>) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);

type Reserved = Awaited<ReturnType<typeof db.sql.reserve>>;

/**
 * The race's opening, the same for both: a job of KEY exists; the worker's get_job has locked it in
 * a transaction not yet committed; the change's transaction (begun) adds KEY again with `add`, which
 * must wait on that lock. Then the worker commits, and the add returns.
 */
async function race(add: (change: Reserved) => Promise<unknown>, then: (change: Reserved) => Promise<void>): Promise<void> {
  await addJob(db.sql, "pipeline_advance", payload, { jobKey: KEY });
  const worker = await db.sql.reserve();
  const change = await db.sql.reserve();
  try {
    await worker`begin`;
    await worker`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'w1' where key = ${KEY}`;
    await change`begin`;
    const adding = add(change);
    expect(await settled(adding)).toBe(false); // waits on the locking transaction
    await worker`commit`;
    await adding;
    await then(change);
  } finally {
    worker.release();
    change.release();
  }
}

describe("a keyed add that races a worker locking the job", () => {
  it("graphile-worker alone drops the add (what the barrier is for)", async () => {
    // graphile's own add_job, no barrier.
    await race(
      (change) => change`select graphile_worker.add_job('pipeline_advance', ${db.sql.json(payload)}::json, job_key => ${KEY})`.execute(),
      async (change) => {
        await change`commit`;
        const jobs = await db.sql<{ n: number }[]>`select count(*)::int as n from graphile_worker._private_jobs where task_id = (select id from graphile_worker._private_tasks where identifier = 'pipeline_advance')`;
        // Only the locked job: no new job will run after it, though it may have read stale state.
        expect(jobs[0]!.n).toBe(1);
      },
    );
  });

  it("with vh's add, the run's barrier waits until the change has committed", async () => {
    await race(
      (change) => addJob(change as never, "pipeline_advance", payload, { jobKey: KEY }), // dropped by graphile, as above
      async (change) => {
        // The worker's run starts: its barrier must wait for the change's transaction.
        const barrier = awaitKeyedAdds(db.sql, KEY);
        expect(await settled(barrier)).toBe(false);
        await change`commit`;
        expect(await settled(barrier)).toBe(true);
      },
    );
  });

  it("transactions adding the same keys, with a run's barrier waiting among them, all commit", async () => {
    // (In any one order, as the statement that ends an execution adds them: graphile's own row
    // locks would deadlock adds of the same keys in opposite orders, with or without the barrier.)
    const keys = Array.from({ length: 6 }, (_, i) => `pipeline_advance:00000000-0000-4000-8000-00000000000${i}`);
    const barrier = new Promise((r) => setTimeout(r, 12)).then(() => awaitKeyedAdds(db.sql, keys[3]!));
    await Promise.all(
      [keys, keys, keys].map((order) =>
        db.sql.begin(async (tx) => {
          for (const k of order) {
            await addJob(tx, "pipeline_advance", { pipelineId: k.split(":")[1]! }, { jobKey: k });
            await new Promise((r) => setTimeout(r, 5));
          }
        }),
      ),
    );
    await barrier;
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from graphile_worker._private_jobs where key = any(${keys})`;
    expect(n!.n).toBe(6);
  });
});
