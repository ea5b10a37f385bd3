/**
 * One worker: graphile-worker (the queue, in two pools: core tasks and Git host tasks) plus the
 * supervisor (running executions). `npm start` runs one in the server process; `npm run worker`
 * runs one alone, so workers scale out as N processes against one Postgres.
 */
import os from "node:os";
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import pg from "pg";
import { run, type Runner as GraphileRunner } from "graphile-worker";
import type { Config } from "../app/config.js";
import type { Logger } from "../app/log.js";
import { silentGraphileLogger, type Database } from "../db/client.js";
import type { Store } from "../app/contracts/store.js";
import { createRunnerRegistry, type RunnerRegistry } from "./runners/registry.js";
import { createSupervisor, type Supervisor, type SupervisorOptions } from "./supervisor/supervisor.js";
import { createForges, ensureGitPolls, type LiveForges } from "../app/forges/registry.js";
import type { WorkerDeps } from "./deps.js";
import { handlers, taskList } from "./tasks/index.js";
import { createQueueLiveness, type QueueLivenessOptions } from "./tasks/liveness.js";
import { retryQueueThroughOutages } from "./queue-outages.js";
import { createHostMonitor, type HostMonitor } from "./hosts/monitor.js";
import { createComputeManager, type ComputeManager } from "./compute/lifecycle.js";
import { createComputeProviders } from "./compute/registry.js";
import { ensureComputeKey } from "./compute/keys.js";
import { readEnvironmentsFile } from "../app/environments/file.js";
import type { Compute } from "../app/contracts/compute.js";

export interface Worker {
  deps: WorkerDeps;
  supervisor: Supervisor;
  /** Host checks, GPU discovery, periodic scheduler kicks. */
  hosts: HostMonitor;
  /** Rented hosts (VH_ENVIRONMENTS_FILE): launches, boot checks, idle shutdown, spot notices, the reconciler; null without environments. */
  compute: ComputeManager | null;
  stop(): Promise<void>;
}

export async function startWorker(opts: {
  config: Config;
  database: Database;
  store: Store;
  log: Logger;
  runners?: RunnerRegistry;
  supervisor?: SupervisorOptions;
  /** The Git host client (GitHub App); built from the config when absent. */
  forges?: LiveForges;
  /** Compute providers by kind (tests wrap one); built from the config when absent. */
  computeProviders?: ReadonlyMap<string, Compute>;
  /** The queue's liveness sweep (worker/tasks/liveness.ts): jobs of workers that died are released. */
  liveness?: QueueLivenessOptions;
}): Promise<Worker> {
  const deps: WorkerDeps = {
    config: opts.config,
    sql: opts.database.sql,
    db: opts.database.db,
    store: opts.store,
    runners: opts.runners ?? createRunnerRegistry(opts.config, opts.store, [], opts.database.sql),
    log: opts.log,
    workerId: `${os.hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`,
  };
  // This machine (and the hosts file's hosts) registered before the first scheduler pass.
  const hosts = createHostMonitor({
    sql: deps.sql,
    runners: deps.runners,
    log: deps.log,
    checkSeconds: opts.config.hosts.checkSeconds,
    local: opts.config.hosts.local,
    ...(opts.config.hosts.file ? { hostsFile: opts.config.hosts.file } : {}),
  });
  await hosts.start();
  // Two graphile-worker runners on one Postgres pool. graphile's get_job takes only jobs whose task
  // its runner knows (`task_id = any(...)`), so the core runner's VH_WORKER_CONCURRENCY slots only
  // ever run schedule and start_execution, and the Git host's jobs (forge_event, forge_report, git_poll)
  // wait for the forge runner's VH_FORGE_CONCURRENCY slots: a slow or unreachable GitHub holds
  // those (each request bounded by VH_GITHUB_TIMEOUT_S, the job then retried by the queue with
  // backoff), never the slots that schedule and start executions.
  // Our own pool, so an idle client killed by a Postgres shutdown is logged, not a crash, and so
  // the pool is closed before the database goes away. Each runner holds one more client to LISTEN.
  const { concurrency, forgeConcurrency, gitConcurrency } = opts.config.worker;
  const pgPool = new pg.Pool({ connectionString: opts.database.connectionString, max: concurrency + forgeConcurrency + gitConcurrency + 6 });
  pgPool.on("error", (err) => opts.log.debug("queue pool client error", { err }));
  pgPool.on("connect", (client) => client.on("error", (err) => opts.log.debug("queue client error", { err })));
  // Every graphile worker of this process is claimed by its heartbeat; a job locked by a worker that
  // nothing claims any more (its process died mid-job) is released by any process's sweep.
  const liveness = createQueueLiveness(
    { sql: deps.sql, log: deps.log, processId: deps.workerId },
    opts.liveness ?? { deadAfterSeconds: opts.config.worker.deadAfterSeconds, heartbeatMs: Math.min(5_000, (opts.config.worker.deadAfterSeconds * 1000) / 4) },
  );
  const events = new EventEmitter();
  // (graphile 0.17 locks a job under its worker pool's id; a worker's own id is claimed too)
  events.on("pool:create", ({ workerPool }: { workerPool: { id: string } }) => liveness.workerCreated(workerPool.id));
  events.on("worker:create", ({ worker }: { worker: { workerId: string } }) => liveness.workerCreated(worker.workerId));
  const runnerOptions = { pgPool, noHandleSignals: true, pollInterval: 1000, logger: silentGraphileLogger(), events };
  const runners: GraphileRunner[] = [];
  // A Postgres restart is an outage the queue waits out (worker/queue-outages.ts).
  if (!retryQueueThroughOutages()) opts.log.warn("graphile-worker's retry table was not found: a Postgres restart stops this worker (worker/queue-outages.ts)");
  try {
    await liveness.start();
    // one after the other: the first one migrates graphile-worker's schema
    const h = handlers(deps, opts.forges ?? createForges({ config: deps.config, log: deps.log, sql: deps.sql }));
    runners.push(await run({ ...runnerOptions, concurrency, taskList: taskList(h, "core") }));
    runners.push(await run({ ...runnerOptions, concurrency: forgeConcurrency, taskList: taskList(h, "forge") }));
    runners.push(await run({ ...runnerOptions, concurrency: gitConcurrency, taskList: taskList(h, "git") }));
    // every linked plain-Git repository has its next poll queued (idempotent: one key per repository)
    const polls = await ensureGitPolls(deps);
    if (polls) opts.log.debug("git polls queued", { repositories: polls });
  } catch (err) {
    await Promise.allSettled(runners.map((r) => r.stop()));
    await liveness.stop();
    await hosts.stop();
    await pgPool.end();
    throw err;
  }
  const supervisor = createSupervisor(deps, opts.supervisor);
  supervisor.start();
  // Rented hosts, when environments are configured.
  let compute: ComputeManager | null = null;
  const envFile = opts.config.compute.environmentsFile;
  if (envFile) {
    const environments = () => readEnvironmentsFile(envFile);
    environments(); // a broken file stops the start here, with its line and column
    compute = createComputeManager({
      sql: deps.sql,
      log: deps.log,
      runners: deps.runners,
      providers: opts.computeProviders ?? createComputeProviders(environments),
      environments,
      cluster: opts.config.compute.cluster,
      key: ensureComputeKey(opts.config.compute.sshKeyPath),
      tickMs: opts.config.compute.tickSeconds * 1000,
      reconcileMs: opts.config.compute.reconcileSeconds * 1000,
      spotPollSeconds: opts.config.compute.spotPollSeconds,
    });
    await compute.start();
  }
  let stopped: Promise<void> | null = null;
  return {
    deps,
    supervisor,
    hosts,
    compute,
    stop() {
      stopped ??= (async () => {
        await compute?.stop();
        await hosts.stop();
        await Promise.all(runners.map((r) => r.stop()));
        await liveness.stop();
        await supervisor.stop();
        await pgPool.end();
        deps.runners.close();
      })();
      return stopped;
    },
  };
}
