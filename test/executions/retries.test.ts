/**
 * Retries on failure (`retries`, `--retries N`), end to end on a real server with its worker and
 * local runner: a step that fails on its first attempt and passes on its second completes as
 * attempt 2, with the failed attempt in its record and the retry's reason in its history; one that
 * keeps failing stops after its retries; without retries a failure is final; a stopped execution is
 * never retried; the comment grammar and the API refuse a bad count.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { uploadFiles } from "../helpers/snapshot.js";
import { parseComment } from "../../app/bot/commands/parse.js";
import { retryAllowed } from "../../db/queries/executions.js";
import { loadSweepViews, sweepDone } from "../../app/reporting/view.js";

// Fails (exit 3) while its attempt (VH_RESUME_ATTEMPT, set from the second on) is at most pass-after.
const YAML = `
- step:
    name: flaky
    image: python:3.12
    command: python3 flaky.py {parameters}
    parameters:
      - name: pass-after
        type: integer
        default: 1
- step:
    name: slow
    image: python:3.12
    command: "sleep 30; exit 1"
`;
const FLAKY = `import os, sys
after = int(dict(a[2:].split("=", 1) for a in sys.argv[1:])["pass-after"])
n = int(os.environ.get("VH_RESUME_ATTEMPT", "1"))
print("attempt", n, flush=True)
sys.exit(0 if n > after else 3)
`;

interface Execution {
  id: string;
  counter: number;
  status: string;
  attempt: number;
  retries: number;
  attempts: { attempt: number; outcome: string; reason: string | null }[];
  statusHistory?: { status: string; reason: string | null }[];
}

describe("retries on failure", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
    code = await uploadFiles(stack, { "valohai.yaml": YAML, "flaky.py": FLAKY });
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  const run = (body: Record<string, unknown>) => stack.api<Execution>("POST", "/api/v1/projects/demo/executions", { code, ...body });
  const read = (counter: number) => stack.api<Execution>("GET", `/api/v1/projects/demo/executions/${counter}`);
  const ended = (counter: number, ms = 60_000) =>
    waitFor(`#${counter} to end for good`, async () => {
      const e = await read(counter);
      if (!["completed", "failed", "stopped", "error"].includes(e.status)) return undefined;
      // Settled (this attempt recorded), and not one the settle step queues again.
      if (e.attempts.length !== e.attempt) return undefined;
      const [r] = await db.sql<{ stop_cause: string | null }[]>`select stop_cause from executions where id = ${e.id}`;
      const again = retryAllowed({ status: e.status, stop_cause: r!.stop_cause, attempt: e.attempt, outcomes: e.attempts.map((a) => a.outcome), retries: e.retries }, { lostRetries: 1 });
      return again ? undefined : e;
    }, ms, 200);

  it("a failure with a retry left runs again, and the second attempt completes; the record keeps both", async () => {
    const made = await run({ step: "flaky", parameters: { "pass-after": 1 }, retries: 2 });
    expect(made.retries).toBe(2);
    const e = await ended(made.counter);
    expect(e.status).toBe("completed");
    expect(e.attempt).toBe(2);
    expect(e.attempts.map((a) => [a.attempt, a.outcome])).toEqual([[1, "failed"], [2, "completed"]]);
    const statuses = e.statusHistory!.map((h) => h.status);
    expect(statuses.filter((s) => s === "failed")).toHaveLength(1);
    expect(statuses.slice(statuses.indexOf("failed"), statuses.indexOf("failed") + 2)).toEqual(["failed", "queued"]);
    const retry = e.statusHistory!.find((h, i) => h.status === "queued" && e.statusHistory![i - 1]?.status === "failed");
    expect(retry!.reason).toBe("Retry 1 of 2 after a failure (exit code 3); attempt 2 starts afresh.");
    const logs = await db.sql<{ line: string }[]>`select line from log_lines where execution_id = ${e.id} and stream = 'stdout' order by seq`;
    expect(logs.map((l) => l.line)).toEqual(["attempt 1", "attempt 2"]);
  }, 90_000);

  it("stops after its retries: three failures with two retries end failed at attempt 3; none without retries", async () => {
    const lines = async (id: string) => (await db.sql<{ line: string }[]>`select line from log_lines where execution_id = ${id} and stream = 'stdout' order by seq`).map((l) => l.line);
    const e = await ended((await run({ step: "flaky", parameters: { "pass-after": 99 }, retries: 2 })).counter);
    expect(e.status).toBe("failed");
    expect(e.attempt).toBe(3);
    expect(e.attempts.map((a) => a.outcome)).toEqual(["failed", "failed", "failed"]);
    expect(await lines(e.id)).toEqual(["attempt 1", "attempt 2", "attempt 3"]);

    const once = await ended((await run({ step: "flaky", parameters: { "pass-after": 1 } })).counter);
    expect(once.status).toBe("failed");
    expect(once.retries).toBe(0);
    expect(once.attempts.map((a) => a.outcome)).toEqual(["failed"]);
    expect(await lines(once.id)).toEqual(["attempt 1"]);
  }, 120_000);

  it("a sweep's executions each get the retries; the sweep has not ended while a failed one will run again", async () => {
    const made = await stack.api<{ id: string; executions: Execution[] }>("POST", "/api/v1/projects/demo/sweeps", { code, step: "flaky", parameters: { "pass-after": [1, 0] }, retries: 1 });
    expect(made.executions.map((e) => e.retries)).toEqual([1, 1]);
    const done = await Promise.all(made.executions.map((e) => ended(e.counter)));
    expect(done.map((e) => [e.status, e.attempt])).toEqual([["completed", 2], ["completed", 1]]);
    const [view] = await loadSweepViews(db.sql, [made.id]);
    expect(sweepDone(view!)).toBe(true);
    // The moment between the failure and the settle step's retry, as the report reads it: not ended.
    const first = done[0]!;
    await db.sql`update executions set status = 'failed', attempt = 1, attempts = '[]'::jsonb where id = ${first.id}`;
    const [between] = await loadSweepViews(db.sql, [made.id]);
    expect(between!.executions[0]!.retrying).toBe(true);
    expect(sweepDone(between!)).toBe(false);
    // …and nothing deletes it then: it is about to run again.
    const refused = await stack.api("DELETE", `/api/v1/projects/demo/executions/${first.counter}`).then(() => null, (e: unknown) => e as { status: number; body: string });
    expect(refused!.status).toBe(409);
    expect(JSON.parse(refused!.body).error.message).toBe(`Execution #${first.counter} failed and will be queued again (the retries it asked for): delete it once that run has ended.`);
    // Its last retry failed too (recorded or not yet): ended.
    await db.sql`update executions set attempt = 2, attempts = ${db.sql.json([{ attempt: 1, outcome: "failed" }] as never)} where id = ${first.id}`;
    const [last] = await loadSweepViews(db.sql, [made.id]);
    expect(last!.executions[0]!.retrying).toBe(false);
    expect(sweepDone(last!)).toBe(true);
    // Lost (its host went away): queued again only under the server's policy, which the report passes.
    await db.sql`update executions set status = 'lost', stop_cause = null, attempt = 1, attempts = '[]'::jsonb where id = ${first.id}`;
    const [lost] = await loadSweepViews(db.sql, [made.id], { lostRetries: 1 });
    expect(sweepDone(lost!)).toBe(false);
    const [noPolicy] = await loadSweepViews(db.sql, [made.id], { lostRetries: 0 });
    expect(sweepDone(noPolicy!)).toBe(true);
  }, 90_000);

  it("with max parallel 1, a failed execution that will run again keeps its slot: the next waits for its last attempt", async () => {
    const made = await stack.api<{ id: string; executions: Execution[] }>("POST", "/api/v1/projects/demo/sweeps", {
      code, step: "flaky", parameters: { "pass-after": [1, 0] }, retries: 1, task: { maxParallel: 1 },
    });
    const [a, b] = await Promise.all(made.executions.map((e) => ended(e.counter)));
    expect([a!.attempt, b!.attempt]).toEqual([2, 1]);
    const times = await db.sql<{ execution_id: string; status: string; at: Date }[]>`
      select execution_id, status, at from execution_status_history where execution_id = any(${[a!.id, b!.id]}::uuid[]) order by id`;
    const firstDone = times.filter((t) => t.execution_id === a!.id && t.status === "completed").at(-1)!.at;
    const secondQueued = times.find((t) => t.execution_id === b!.id && t.status === "queued")!.at;
    expect(secondQueued.getTime()).toBeGreaterThanOrEqual(firstDone.getTime());
  }, 90_000);

  it("a stopped execution is not retried", async () => {
    const made = await run({ step: "slow", retries: 3 });
    await waitFor("it runs", async () => ((await read(made.counter)).status === "running" ? true : undefined), 30_000, 100);
    await stack.api("POST", `/api/v1/projects/demo/executions/${made.counter}/stop`);
    const e = await ended(made.counter);
    expect(e.status).toBe("stopped");
    expect(e.attempt).toBe(1);
  }, 60_000);

  it("refuses a bad count in the API and in a comment, naming it", async () => {
    const err = await run({ step: "flaky", retries: 11 }).then(() => null, (e: unknown) => e as { status: number; body: string });
    expect(err!.status).toBe(400);
    expect(err!.body).toContain("retries: retries must be at most 10");
    expect(parseComment("/vh run train --retries 2")).toMatchObject({ kind: "command", command: { options: { retries: 2 } } });
    expect(parseComment("/vh run train --retries 11")).toMatchObject({ kind: "reply", error: "`--retries` is at most 10, not 11." });
    expect(parseComment("/vh run train --retries many")).toMatchObject({ kind: "reply", error: expect.stringContaining("`--retries` takes how many times a failed execution runs again (0 to 10)") });
  });

  it("the rule itself: failures count against the execution's own retries; a stop cause or none asked means no retry", () => {
    const f = (outcomes: string[], retries: number, stop_cause: string | null = null) => retryAllowed({ status: "failed", stop_cause, attempt: outcomes.length, outcomes, retries }, { lostRetries: 1 });
    expect(f(["failed"], 1)).toBe("failed");
    expect(f(["failed", "failed"], 1)).toBeNull();
    expect(f(["lost", "failed"], 1)).toBe("failed");
    expect(f(["failed"], 0)).toBeNull();
    expect(f(["failed"], 3, "user")).toBeNull();
    expect(retryAllowed({ status: "completed", stop_cause: null, attempt: 1, outcomes: ["completed"], retries: 3 }, { lostRetries: 1 })).toBeNull();
  });
});
