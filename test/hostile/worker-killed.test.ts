/**
 * A worker process killed in the middle of a queue job (SIGKILL: no graceful release). graphile-
 * worker alone keeps that job locked for 4 hours, so the execution it was starting would sit in
 * `starting` that long. vh's liveness sweep (worker/tasks/liveness.ts) sees that no live process
 * claims the job's worker and releases it; another worker starts the execution and it completes.
 *
 * The start is held mid-job by an input download that a loopback server answers only later; the
 * worker is a real `npm run worker` child process on the same database and data dir.
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { repoRoot } from "../helpers/server-process.js";
import { createQueueLiveness } from "../../worker/tasks/liveness.js";
import { createLogger } from "../../app/log.js";

const fixture = path.resolve(import.meta.dirname, "../fixtures/projects/train-basic");
const DATASET = "x,y\n1,2\n3,4\n";

describe("a worker killed mid-job", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let files: http.Server;
  let filesUrl: string;
  let release = false;
  let gets = 0;
  const held: http.ServerResponse[] = [];
  const base = tempDir("vh-killed-");
  const dataDir = path.join(base, "data");

  beforeAll(async () => {
    db = await createTestDatabase();
    files = http.createServer((req, res) => {
      if (req.method === "HEAD") return void res.writeHead(200, { "content-type": "text/csv" }).end();
      gets++;
      if (!release) return void held.push(res); // the download hangs: the start job is mid-way
      res.writeHead(200, { "content-type": "text/csv" }).end(DATASET);
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const r of held) r.destroy();
    files.closeAllConnections();
    await new Promise((r) => files.close(r));
    await db?.drop();
    fs.rmSync(base, { recursive: true, force: true });
  });

  it("has its job released by the liveness sweep; another worker starts the execution and it completes", async () => {
    // The API alone first (no worker), so the killed child is the one that takes the start.
    let stack: Stack = await startStack({ databaseUrl: db.connectionString, dataDir, worker: false });
    const stateDir = `${dataDir}.state`;
    await stack.api("POST", "/api/v1/projects", { name: "p" });
    const code = await uploadSnapshot(stack, fixture);
    const e = await stack.api<{ id: string; counter: number }>("POST", "/api/v1/projects/p/executions", { step: "train", code, inputs: { dataset: `${filesUrl}/data.csv` } });
    await stack.stop();

    const child = spawn(process.execPath, ["--import", "tsx", "worker/main.ts"], {
      cwd: repoRoot,
      env: {
        PATH: process.env["PATH"] ?? "",
        HOME: base,
        DATABASE_URL: db.connectionString,
        VH_DATA_DIR: dataDir,
        VH_STATE_DIR: stateDir,
        VH_UNSAFE_SAME_USER: process.getuid?.() === 0 ? "false" : "true",
        VH_DOCKER: "never",
        XDG_CONFIG_HOME: path.join(dataDir, "xdg"),
        VH_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => child.on("exit", () => r()));
    try {
      await waitFor("the child worker to be mid-start (downloading the input)", async () => {
        const [x] = await db.sql<{ status: string }[]>`select status from executions where id = ${e.id}`;
        return x?.status === "starting" && gets > 0 ? true : undefined;
      }, 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${out}`);
      });
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
    const [locked] = await db.sql<{ locked_by: string | null }[]>`
      select j.locked_by from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id where t.identifier = 'start_execution'`;
    expect(locked?.locked_by, "the dead worker's job is still locked (graphile would keep it 4 hours)").toMatch(/^(pool|worker)-/);
    const [row] = await db.sql<{ worker_ids: string[] }[]>`select worker_ids from worker_processes`;
    expect(row?.worker_ids, "the killed process had claimed its workers").toContain(locked!.locked_by);

    release = true;
    stack = await startStack({ databaseUrl: db.connectionString, dataDir, env: { VH_WORKER_DEAD_AFTER_S: "2" } });
    try {
      const done = await waitFor("the execution to end after another worker took over", async () => {
        const x = await stack.api<{ status: string }>("GET", `/api/v1/projects/p/executions/${e.counter}`);
        return ["completed", "failed", "error", "lost"].includes(x.status) ? x : undefined;
      }, 90_000);
      expect(done.status).toBe("completed");
      const logs = await stack.api<{ lines: { line: string }[] }>("GET", `/api/v1/projects/p/executions/${e.counter}/logs`);
      expect(logs.lines.map((l) => l.line)).toContain("dataset rows 3 sha256 " + (await import("node:crypto")).createHash("sha256").update(DATASET).digest("hex"));
      // Nothing is held by the dead worker any more (the live stack's own jobs may be running now).
      const [jobs] = await db.sql<{ n: number }[]>`select count(*)::int as n from graphile_worker._private_jobs where locked_by = ${locked!.locked_by}`;
      expect(jobs!.n).toBe(0);
    } finally {
      await stack.stop();
    }
  }, 180_000);

  it("never releases the job of a worker whose process still beats, however long it runs", async () => {
    const log = createLogger("silent");
    const live = createQueueLiveness({ sql: db.sql, log, processId: "live-process" }, { heartbeatMs: 60_000, deadAfterSeconds: 2 });
    live.workerCreated("worker-live");
    await live.start();
    const sweeper = createQueueLiveness({ sql: db.sql, log, processId: "sweeper" }, { heartbeatMs: 60_000, deadAfterSeconds: 2 });
    try {
      await db.sql`select graphile_worker.add_job('schedule', '{}'::json, queue_name => 'q-live', job_key => 'k-live')`;
      await db.sql`select graphile_worker.add_job('schedule', '{}'::json, queue_name => 'q-dead', job_key => 'k-dead')`;
      const lock = (key: string, worker: string, queue: string) => db.sql`
        with j as (update graphile_worker._private_jobs set locked_at = now() - interval '1 minute', locked_by = ${worker}, attempts = attempts + 1 where key = ${key} returning 1)
        update graphile_worker._private_job_queues set locked_at = now() - interval '1 minute', locked_by = ${worker} where queue_name = ${queue}`;
      await lock("k-live", "worker-live", "q-live");
      await lock("k-dead", "worker-gone", "q-dead");
      expect(await sweeper.sweep()).toEqual(["worker-gone"]);
      const rows = await db.sql<{ key: string; locked_by: string | null }[]>`select key, locked_by from graphile_worker._private_jobs where key in ('k-live', 'k-dead') order by key`;
      expect(rows).toEqual([{ key: "k-dead", locked_by: null }, { key: "k-live", locked_by: "worker-live" }]);
      const queues = await db.sql<{ queue_name: string; locked_by: string | null }[]>`select queue_name, locked_by from graphile_worker._private_job_queues where queue_name in ('q-live', 'q-dead') order by queue_name`;
      expect(queues).toEqual([{ queue_name: "q-dead", locked_by: null }, { queue_name: "q-live", locked_by: "worker-live" }]);
      // Its heartbeat stops: then its worker is dead too.
      await db.sql`update worker_processes set heartbeat_at = now() - interval '1 minute' where id = 'live-process'`;
      expect(await sweeper.sweep()).toEqual(["worker-live"]);
    } finally {
      await live.stop();
      await sweeper.stop();
      await db.sql`delete from graphile_worker._private_jobs where key in ('k-live', 'k-dead')`;
    }
  });
});
