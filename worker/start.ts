/**
 * One worker: graphile-worker (the queue) plus the supervisor (running executions). `npm start`
 * runs one in the server process; `npm run worker` runs one alone, so workers scale out as N
 * processes against one Postgres.
 */
import os from "node:os";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { run, type Runner as GraphileRunner, type TaskList } from "graphile-worker";
import type { Config } from "../app/config.js";
import type { Logger } from "../app/log.js";
import { silentGraphileLogger, type Database } from "../db/client.js";
import type { Store } from "./stores/types.js";
import { createRunnerRegistry, type RunnerRegistry } from "./runners/registry.js";
import { createSupervisor, type Supervisor, type SupervisorOptions } from "./supervisor/supervisor.js";
import { START_EXECUTION, startExecutionTask } from "./tasks/start-execution.js";
import type { WorkerDeps } from "./deps.js";

export interface Worker {
  deps: WorkerDeps;
  supervisor: Supervisor;
  stop(): Promise<void>;
}

export function buildTaskList(deps: WorkerDeps): TaskList {
  return {
    [START_EXECUTION]: startExecutionTask(deps),
  };
}

export async function startWorker(opts: {
  config: Config;
  database: Database;
  store: Store;
  log: Logger;
  runners?: RunnerRegistry;
  supervisor?: SupervisorOptions;
}): Promise<Worker> {
  const deps: WorkerDeps = {
    config: opts.config,
    sql: opts.database.sql,
    db: opts.database.db,
    store: opts.store,
    runners: opts.runners ?? createRunnerRegistry(opts.config, opts.store),
    log: opts.log,
    workerId: `${os.hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`,
  };
  // Our own pool, so an idle client killed by a Postgres shutdown is logged, not a crash, and so
  // the pool is closed before the database goes away.
  const pgPool = new pg.Pool({ connectionString: opts.database.connectionString, max: opts.config.worker.concurrency + 2 });
  pgPool.on("error", (err) => opts.log.debug("queue pool client error", { err }));
  pgPool.on("connect", (client) => client.on("error", (err) => opts.log.debug("queue client error", { err })));
  const graphile: GraphileRunner = await run({
    pgPool,
    concurrency: opts.config.worker.concurrency,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: silentGraphileLogger(),
    taskList: buildTaskList(deps),
  });
  const supervisor = createSupervisor(deps, opts.supervisor);
  supervisor.start();
  let stopped: Promise<void> | null = null;
  return {
    deps,
    supervisor,
    stop() {
      stopped ??= (async () => {
        await graphile.stop();
        await supervisor.stop();
        await pgPool.end();
      })();
      return stopped;
    },
  };
}
