import type { Config } from "../app/config.js";
import type { Db, Sql } from "../db/client.js";
import type { Logger } from "../app/log.js";
import type { RunnerRegistry } from "./runners/registry.js";
import type { Store } from "../app/contracts/store.js";

/** What every task and the supervisor are given; built once in worker/start.ts. */
export interface WorkerDeps {
  config: Config;
  sql: Sql;
  db: Db;
  store: Store;
  runners: RunnerRegistry;
  log: Logger;
  /** Unique per worker process: the supervision lease owner. */
  workerId: string;
}
