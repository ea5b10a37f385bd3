/**
 * The queue's tasks through graphile-worker's own `runOnce` (every job that is due, then return):
 * `taskList(handlers(deps, forges))` from worker/tasks/index.ts on a real Postgres, a real local
 * store, the runner registry built as worker/start.ts builds it (temp data and state dirs), and an
 * in-memory forge. Jobs are added the way vh adds them (db/queries/jobs.ts, or the bot); after each
 * awaited runOnce the exact state is asserted. Nothing polls.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runOnce, type TaskList } from "graphile-worker";
import { z } from "zod";
import { loadConfig } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import type { Actor } from "../../app/contracts/forge.js";
import { JOBS, type JobName } from "../../app/contracts/jobs.js";
import { snapshotKey } from "../../app/contracts/store-keys.js";
import type { BotDeps } from "../../app/bot/commands/types.js";
import { handleEvent } from "../../app/bot/handle-event.js";
import { recordGitHubDelivery } from "../../app/forges/registry.js";
import { upsertLocalHost } from "../../app/hosts/records.js";
import { STICKY_MARKER } from "../../templates/github/render.js";
import { silentGraphileLogger } from "../../db/client.js";
import { addJob, addJobs } from "../../db/queries/jobs.js";
import type { LocalHandle } from "../../worker/runners/local/runner.js";
import { createRunnerRegistry, type RunnerRegistry } from "../../worker/runners/registry.js";
import { createStore } from "../../worker/stores/index.js";
import type { WorkerDeps } from "../../worker/deps.js";
import { handlers, taskList, type Handlers } from "../../worker/tasks/index.js";
import { createTestDatabase } from "../helpers/db.js";
import { addFixturePullRequest, createMemoryForge, FIXTURE, type MemoryForgeWorld, type MemoryRepo } from "../helpers/memory-forge.js";

const { repo: REPO, repoId: REPO_ID, installation: INSTALLATION, pr: PR } = FIXTURE;
const alice: Actor = { login: "alice", id: 11, isBot: false };

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dataDir: string;
let stateDir: string;
let deps: WorkerDeps;
let bot: BotDeps;
let runners: RunnerRegistry;
let h: Handlers;
let world: MemoryForgeWorld;
let repo: MemoryRepo;
let head: string;
let localHostId: string;
let deliveries = 0;

beforeEach(async () => {
  db = await createTestDatabase();
  dataDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "vh-tasks-")));
  // As root, jobs' work dirs live in the state dir (app/host-dirs.ts), which their own users must enter.
  stateDir = `${dataDir}.state`;
  fs.mkdirSync(stateDir, { mode: 0o711 });
  fs.chmodSync(stateDir, 0o711);
  const config = loadConfig({
    DATABASE_URL: db.connectionString,
    VH_DATA_DIR: dataDir,
    VH_STATE_DIR: stateDir,
    // As test/helpers/stack.ts: without root, plain-process jobs run only with this accepted.
    VH_UNSAFE_SAME_USER: process.getuid?.() === 0 ? "false" : "true",
    VH_DOCKER: "never",
    VH_SECRETS_KEY: randomBytes(32).toString("base64"),
    VH_LOG_LEVEL: "silent",
  });
  const store = createStore(config.store);
  const log = createLogger("silent");
  runners = createRunnerRegistry(config, store, [], db.sql);
  deps = { config, sql: db.sql, db: db.db, store, runners, log, workerId: "test-worker" };
  world = createMemoryForge();
  ({ repo, head } = addFixturePullRequest(world, alice));
  repo.grant("alice", "admin");
  bot = { sql: db.sql, store, config, log, forges: world.provider };
  h = handlers(deps, world.provider);
  // This machine as a host, checked in, as the worker's host monitor registers it.
  localHostId = await upsertLocalHost(db.sql, runners.localHostName, await runners.hostInfo("local"), true);
});

afterEach(async () => {
  // Jobs this test started are ended through the runner that started them.
  const started = await db.sql<{ runner_handle: LocalHandle }[]>`select runner_handle from executions where runner_handle is not null`;
  for (const r of started) await runners.default().terminate(r.runner_handle, 0);
  runners.close();
  await db.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(stateDir, { recursive: true, force: true });
});

/** graphile-worker's runOnce with these tasks of the real task list (runOnce takes only jobs of tasks it knows). */
async function runTasks(names: JobName[]): Promise<void> {
  const all = taskList(h);
  const list: TaskList = Object.fromEntries(names.map((n) => [n, all[n]!]));
  await runOnce({ connectionString: db.connectionString, logger: silentGraphileLogger(), noHandleSignals: true }, list);
  await settled();
}

async function runPool(pool: "core" | "forge"): Promise<void> {
  await runOnce({ connectionString: db.connectionString, logger: silentGraphileLogger(), noHandleSignals: true }, taskList(h, pool));
  await settled();
}

/**
 * runOnce can resolve while the outcome of its last job (a failure's error and backoff) is still
 * being written, seen once on a loaded machine: wait, at most 5 s, until graphile holds no job
 * locked. This waits on the queue's own bookkeeping, not on what the jobs did.
 */
async function settled(): Promise<void> {
  for (const until = Date.now() + 5000; ; ) {
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from graphile_worker._private_jobs where locked_at is not null`;
    if (row!.n === 0) return;
    if (Date.now() > until) throw new Error(`${row!.n} graphile job(s) still locked 5 s after runOnce returned`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function jobs() {
  return db.sql<{ task: string; key: string | null; payload: unknown; attempts: number; max_attempts: number; last_error: string | null; due: boolean }[]>`
    select j.task_identifier as task, j.key, p.payload, j.attempts, j.max_attempts, j.last_error, j.run_at <= now() as due
    from graphile_worker.jobs j join graphile_worker._private_jobs p on p.id = j.id order by j.id`;
}

async function run(body: string): Promise<{ sweepId: string; ids: string[] }> {
  const outcome = await handleEvent(bot, repo.commentEvent(PR, alice, body), { forge: "github", deliveryId: `d-${++deliveries}`, attempt: { number: 1, max: 10 } });
  const rows = await db.sql<{ sweep_id: string; id: string; counter: number }[]>`
    select se.sweep_id, e.id, e.counter from sweep_executions se join executions e on e.id = se.execution_id order by e.counter`;
  expect(outcome).toBe(`created sweep ${rows[0]!.sweep_id}: ${rows.map((r) => `#${r.counter}`).join(", ")}`);
  return { sweepId: rows[0]!.sweep_id, ids: rows.map((r) => r.id) };
}

async function history(id: string): Promise<string[]> {
  const rows = await db.sql<{ status: string }[]>`select status from execution_status_history where execution_id = ${id} order by id`;
  return rows.map((r) => r.status);
}

async function prRowId(): Promise<string> {
  const [row] = await db.sql<{ id: string }[]>`select id from change_requests where repository_id = ${REPO_ID} and number = ${PR}`;
  return row!.id;
}

describe("runOnce: schedule and start_execution", () => {
  it("a schedule job places each queued execution on this machine's host and adds one start_execution per execution, keyed by its id", async () => {
    const { ids } = await run("/vh run train lr=[0.1,0.01]");
    const pr = await prRowId();
    expect((await jobs()).map((j) => [j.task, j.key])).toEqual([["schedule", "vh_schedule"], ["forge_report", `forge_report:pr:${pr}`]]);

    await runTasks(["schedule"]);

    const placed = await db.sql<{ execution_id: string; host_id: string; gpu_indices: number[]; released: boolean }[]>`
      select execution_id, host_id, gpu_indices, released_at is not null as released from execution_placements order by placed_at, execution_id`;
    expect([...placed].sort((a, b) => ids.indexOf(a.execution_id) - ids.indexOf(b.execution_id))).toEqual(
      ids.map((id) => ({ execution_id: id, host_id: localHostId, gpu_indices: [], released: false })),
    );
    const statuses = await db.sql`select status from executions order by counter`;
    expect(statuses).toEqual([{ status: "queued" }, { status: "queued" }]);
    const after = await jobs();
    expect(after[0]).toEqual({ task: "forge_report", key: `forge_report:pr:${pr}`, payload: { pr }, attempts: 0, max_attempts: 25, last_error: null, due: true });
    expect(after.slice(1).sort((a, b) => ids.indexOf(a.key!) - ids.indexOf(b.key!))).toEqual(
      ids.map((id) => ({ task: "start_execution", key: id, payload: { executionId: id }, attempts: 0, max_attempts: 5, last_error: null, due: true })),
    );
    expect(after).toHaveLength(3);
    // The core tasks never speak to the Git host: only the bot's 👀 is on the forge.
    expect(world.writes.map((w) => w.kind)).toEqual(["reaction"]);
    expect(world.authentications).toEqual([INSTALLATION]);
  });

  it("the core pool takes a placed execution queued → starting → running on the local runner, with its handle recorded", async () => {
    const { ids } = await run("/vh run evaluate");
    const id = ids[0]!;
    await runPool("core");

    const [e] = await db.sql<{ status: string; runner: string; host: string; runner_handle: LocalHandle; runtime: { mode: string; runner: string }; started: boolean }[]>`
      select status, runner, host, runner_handle, runtime, started_at is not null as started from executions where id = ${id}`;
    expect(e!.status).toBe("running");
    expect(await history(id)).toEqual(["created", "queued", "starting", "running"]);
    expect(e!.runner).toBe("local");
    expect(e!.host).toBe(os.hostname());
    expect(e!.started).toBe(true);
    expect(e!.runtime.mode).toBe("process");
    expect(e!.runtime.runner).toBe("local");
    const workRoot = fs.realpathSync(path.join(dataDir, "runs"));
    expect(e!.runner_handle).toMatchObject({ runner: "local", host: os.hostname(), workDir: path.join(workRoot, id), executionId: id, mode: "process", container: null });
    expect(fs.existsSync(path.join(workRoot, id, "repository", "valohai.yaml"))).toBe(true);
    const [p] = await db.sql`select host_id, released_at from execution_placements where execution_id = ${id}`;
    expect(p).toEqual({ host_id: localHostId, released_at: null });
    // Both core jobs ran (the pass, then the start it added); the report job is the forge pool's.
    const pr = await prRowId();
    expect((await jobs()).map((j) => [j.task, j.key, j.attempts])).toEqual([["forge_report", `forge_report:pr:${pr}`, 0]]);
  });

  it("a start the runner cannot make ends the execution in error with the runner's reason, frees its placement and asks for a pass", async () => {
    const { ids } = await run("/vh run evaluate");
    const id = ids[0]!;
    await runTasks(["schedule"]);
    // The code snapshot is gone from the store (say, removed by hand): the runner cannot unpack it.
    const [row] = await db.sql<{ code_sha256: string }[]>`select code_sha256 from executions where id = ${id}`;
    const key = snapshotKey(row!.code_sha256);
    await deps.store.delete(key);
    const storeSays = await deps.store.get(key).then(
      () => "no error",
      (err: Error) => err.message,
    );

    await runTasks(["start_execution"]);

    const [e] = await db.sql`select status, status_detail, runner_handle, ended_at is not null as ended from executions where id = ${id}`;
    expect(e).toEqual({ status: "error", status_detail: `Code snapshot ${key} could not be read from the store: ${storeSays}`, runner_handle: null, ended: true });
    expect(await history(id)).toEqual(["created", "queued", "starting", "error"]);
    const [p] = await db.sql`select released_at is not null as released from execution_placements where execution_id = ${id}`;
    expect(p).toEqual({ released: true });
    expect(fs.existsSync(path.join(fs.realpathSync(path.join(dataDir, "runs")), id))).toBe(false);
    // The job itself succeeded (the failure is the execution's, not the queue's); a pass is requested.
    const pr = await prRowId();
    expect((await jobs()).map((j) => [j.task, j.key, j.attempts, j.last_error])).toEqual([
      ["forge_report", `forge_report:pr:${pr}`, 0, null],
      ["schedule", "vh_schedule", 0, null],
    ]);
  });
});

describe("runOnce: the forge pool", () => {
  it("a forge_report job writes the sweep's check run and the sticky comment, and the next round waits for the interval", async () => {
    const { sweepId } = await run("/vh run train lr=[0.1,0.01]");
    await runPool("forge");

    expect(world.writes.map((w) => w.kind)).toEqual(["reaction", "check_run_created", "comment_created"]);
    const [check] = world.checkRuns(REPO, head);
    expect(world.checkRuns(REPO)).toHaveLength(1);
    expect(check!.spec).toMatchObject({ sha: head, externalId: sweepId, status: "queued" });
    expect(check!.spec).toEqual({
      sha: head,
      name: "vh: train (sweep of 2)",
      externalId: sweepId,
      status: "queued",
      title: "2 executions: 2 queued",
      summary:
        `**2 executions: 2 queued** · step \`train\` · \`lr=[0.1,0.01]\` · commit \`${head.slice(0, 7)}\`\n\n` +
        "| Execution | Parameters | Status | Duration |\n|---|---|---|---|\n| #1 | `lr=0.1` | ⏳ queued | — |\n| #2 | `lr=0.01` | ⏳ queued | — |\n\n<sub>Started by @alice</sub>\n",
      actions: [
        { label: "Stop", description: "Stop its running and queued executions", identifier: "stop" },
        { label: "Re-run", description: "Run this sweep again at this commit", identifier: "rerun" },
      ],
    });
    expect(check!.annotations).toEqual([]);
    const sticky = world.comments(REPO, PR).filter((c) => c.author.isBot);
    expect(sticky).toHaveLength(1);
    expect(sticky[0]!.body).toBe(
      `${STICKY_MARKER}\n### vh · pull request #${PR}\n\n#### \`train\` · grid sweep of 2\n2 executions: 2 queued · commit \`${head.slice(0, 7)}\` · by @alice (comment)\n\n` +
        "| Execution | Parameters | Status | Duration |\n|---|---|---|---|\n| #1 | `lr=0.1` | ⏳ queued | — |\n| #2 | `lr=0.01` | ⏳ queued | — |\n\n" +
        "<sub>`/vh run STEP name=[a,b]` starts a sweep · `/vh status` · `/vh stop N|all` · `/vh rerun N` · `/vh help`</sub>\n",
    );

    const [cr] = await db.sql`select check_run_id::int as id, annotations_sent from sweep_reports where sweep_id = ${sweepId}`;
    expect(cr).toEqual({ id: check!.id, annotations_sent: true });
    const [prRow] = await db.sql`select sticky_comment_id::int as id from change_requests where repository_id = ${REPO_ID} and number = ${PR}`;
    expect(prRow).toEqual({ id: sticky[0]!.id });
    const pr = await prRowId();
    // Still active: one more round, 3 s on (not due yet, so runOnce returned), and the scheduler's pass untouched.
    expect((await jobs()).map((j) => [j.task, j.key, j.due])).toEqual([
      ["schedule", "vh_schedule", true],
      ["forge_report", `forge_report:pr:${pr}`, false],
    ]);

    // Nothing is due in the forge pool now: a second run writes nothing.
    await runPool("forge");
    expect(world.writes).toHaveLength(3);
  });

  /** GitHub's issue_comment.created payload for a comment on the fixture pull request. */
  const issueCommentPayload = (comment: { id: number; body: string; url: string }) => ({
    action: "created",
    issue: { number: PR, pull_request: { url: `https://api.github.com/repos/${REPO}/pulls/${PR}` } },
    comment: { id: comment.id, body: comment.body, html_url: comment.url, user: { login: "alice", id: alice.id, type: "User" } },
    repository: { id: REPO_ID, name: "widgets", full_name: REPO, owner: { login: "acme" } },
    installation: { id: INSTALLATION },
  });

  it("a forge_event job handles a recorded delivery through the bot and records its outcome", async () => {
    const comment = repo.say(PR, alice, "/vh run train epochs=[1,2,3]");
    const payload = issueCommentPayload(comment);
    expect(await recordGitHubDelivery(db.sql, { id: "delivery-1", event: "issue_comment", payload })).toBe("queued");
    expect((await jobs()).map((j) => [j.task, j.key, j.payload])).toEqual([["forge_event", "forge_event:github:delivery-1", { forge: "github", deliveryId: "delivery-1" }]]);

    await runTasks(["forge_event"]);

    const [sweep] = await db.sql<{ id: string }[]>`select id from sweeps`;
    const [d] = await db.sql`select outcome, processed_at is not null as processed from forge_deliveries where id = 'delivery-1'`;
    expect(d).toEqual({ outcome: `created sweep ${sweep!.id}: #1, #2, #3`, processed: true });
    const execs = await db.sql`select counter, status, parameters from executions order by counter`;
    expect(execs).toEqual([1, 2, 3].map((n) => ({ counter: n, status: "queued", parameters: { lr: 0.01, epochs: n, note: "none" } })));
    const pr = await prRowId();
    expect((await jobs()).map((j) => [j.task, j.key])).toEqual([["schedule", "vh_schedule"], ["forge_report", `forge_report:pr:${pr}`]]);
    expect(world.writes).toEqual([{ kind: "reaction", repo: REPO, commentId: comment.id, reaction: "eyes" }]);
  });

  it("a github_event job queued before vh had several forges (migration 0010 kept its delivery) is handled as forge github's", async () => {
    const comment = repo.say(PR, alice, "/vh run train epochs=[4]");
    const payload = issueCommentPayload(comment);
    // what an older vh wrote: the delivery row (now forge github's) and a job under the first name
    await db.sql`insert into forge_deliveries (forge, id, event, action, installation_id, payload) values ('github', 'old-1', 'issue_comment', 'created', ${INSTALLATION}, ${db.sql.json(payload)})`;
    await db.sql`select graphile_worker.add_job('github_event', json_build_object('deliveryId', 'old-1'), job_key => 'github_event:old-1')`;
    await runTasks(["github_event"]);
    const [d] = await db.sql<{ outcome: string }[]>`select outcome from forge_deliveries where id = 'old-1' and processed_at is not null`;
    expect(d!.outcome).toMatch(/^created sweep [0-9a-f-]{36}: #1$/);
    expect((await db.sql`select parameters from executions`).map((r) => r["parameters"])).toEqual([{ lr: 0.01, epochs: 4, note: "none" }]);
  });
});

describe("payloads checked against their declared schemas", () => {
  it("addJob and addJobs refuse a payload its task's zod schema refuses, before anything is inserted", async () => {
    const refused = async (p: Promise<unknown>) => {
      const err = await p.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(z.ZodError);
      return (err as z.ZodError).issues.map((i) => [i.path.join("."), i.code]);
    };
    expect(await refused(addJob(db.sql, "start_execution", { executionId: "not-a-uuid" }))).toEqual([["executionId", "invalid_format"]]);
    expect(await refused(addJob(db.sql, "forge_event", { forge: "github", deliveryId: "" }))).toEqual([["deliveryId", "too_small"]]);
    expect(await refused(addJob(db.sql, "start_execution", { execution_id: randomUUID() } as never))).toEqual([["executionId", "invalid_type"]]);
    // One bad payload refuses the whole batch: the good one is not inserted either.
    expect(await refused(addJobs(db.sql, "start_execution", [{ payload: { executionId: randomUUID() } }, { payload: { executionId: "x" } }]))).toEqual([
      ["executionId", "invalid_format"],
    ]);
    await expect(addJob(db.sql, "start_executions" as JobName, {} as never)).rejects.toThrow('addJob: no task "start_executions" is declared in app/contracts/jobs.ts');
    expect(await jobs()).toEqual([]);
  });

  it("a raw job whose payload breaks its schema fails in the task list, and its handler does nothing", async () => {
    const { ids } = await run("/vh run evaluate");
    const id = ids[0]!;
    const pr = await prRowId();
    // Jobs added around addJob (by hand, by an older vh): the wrong field name, a bad id.
    const bad = { start_execution: { execution_id: id }, forge_report: { pr: "not-a-uuid" } };
    await db.sql`select graphile_worker.add_job('start_execution', ${db.sql.json(bad.start_execution)}::json, job_key => 'bad-start')`;
    await db.sql`select graphile_worker.add_job('forge_report', ${db.sql.json(bad.forge_report)}::json, job_key => 'bad-report')`;
    const writesBefore = world.writes.length;
    const authBefore = world.authentications.length;

    await runTasks(["start_execution", "forge_report"]);

    const byKey = new Map((await jobs()).map((j) => [j.key, j]));
    for (const [name, key] of [["start_execution", "bad-start"], ["forge_report", "bad-report"]] as const) {
      const expected = JOBS[name].payload.safeParse(bad[name]);
      expect(expected.success).toBe(false);
      expect(byKey.get(key)).toMatchObject({ task: name, attempts: 1, last_error: expected.error!.message, due: false });
    }
    // The good report job ran (the pull request's check run and sticky comment); the bad one touched nothing more.
    expect(byKey.has(`forge_report:pr:${pr}`)).toBe(true);
    expect(byKey.get(`forge_report:pr:${pr}`)!.due).toBe(false);
    expect(world.writes.slice(writesBefore).map((w) => w.kind)).toEqual(["check_run_created", "comment_created"]);
    expect(world.authentications.length - authBefore).toBe(1);
    // The execution was not started: still queued, no handle, no work dir.
    const [e] = await db.sql`select status, runner_handle from executions where id = ${id}`;
    expect(e).toEqual({ status: "queued", runner_handle: null });
    expect(await history(id)).toEqual(["created", "queued"]);
    expect(fs.existsSync(path.join(dataDir, "runs", id))).toBe(false);
  });
});
