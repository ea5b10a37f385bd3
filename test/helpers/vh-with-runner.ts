/**
 * A vh (HTTP, then a worker) whose local runner a test replaces or wraps: the registry built as
 * worker/start.ts builds it, with `local` put in place of this machine's runner. For tests that
 * must make a runner fail or see what it does (an unreachable host, a missing /valohai).
 */
import path from "node:path";
import { loadConfig, type Config } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import { startVh, type RunningVh } from "../../app/start.js";
import type { Runner } from "../../app/contracts/runner.js";
import type { Store } from "../../app/contracts/store.js";
import { startWorker, type Worker } from "../../worker/start.js";
import { createStore } from "../../worker/stores/index.js";
import { createRunnerRegistry, type RunnerRegistry } from "../../worker/runners/registry.js";

export interface VhWithRunner {
  vh: RunningVh;
  worker: Worker;
  config: Config;
  /** The REST API with the admin token; a gzip body when `raw` is given; throws on non-2xx. */
  api<T>(method: string, p: string, body?: unknown, raw?: Buffer): Promise<T>;
  stop(): Promise<void>;
}

export async function startVhWithRunner(opts: {
  databaseUrl: string;
  /** Data dir `<dir>/data`, state dir `dir`, config home `<dir>/xdg`. */
  dir: string;
  /** This machine's runner as the test wants it, made from the one vh would use. */
  local: (real: Runner, ctx: { config: Config; store: Store; registry: RunnerRegistry }) => Runner;
  logLevel?: "warn" | "silent";
  /** More settings (e.g. VH_UPLOAD_GIVE_UP_S). */
  env?: Record<string, string>;
}): Promise<VhWithRunner> {
  const config = loadConfig({
    DATABASE_URL: opts.databaseUrl,
    VH_DATA_DIR: path.join(opts.dir, "data"),
    VH_STATE_DIR: opts.dir,
    VH_UNSAFE_SAME_USER: process.getuid?.() === 0 ? "false" : "true",
    PORT: "0",
    VH_DOCKER: "never",
    XDG_CONFIG_HOME: path.join(opts.dir, "xdg"),
    VH_LOG_LEVEL: opts.logLevel ?? "warn",
    ...opts.env,
  });
  const log = createLogger(config.logLevel);
  const vh = await startVh(config, log, { worker: false });
  const store = createStore(config.store);
  const base = createRunnerRegistry(config, store, [], vh.database.sql);
  const local = opts.local(base.default(), { config, store, registry: base });
  const runners: RunnerRegistry = {
    ...base,
    default: () => local,
    get: (kind) => (kind === "local" ? local : base.get(kind)),
    forHost: (host) => (host.kind === "local" ? local : base.forHost(host)),
    resolve: async (kind, name) => (kind === "local" ? local : base.resolve(kind, name)),
  };
  const worker = await startWorker({ config, database: vh.database, store, log, runners });
  return {
    vh,
    worker,
    config,
    async api<T>(method: string, p: string, body?: unknown, raw?: Buffer): Promise<T> {
      const res = await fetch(vh.url + p, {
        method,
        headers: { authorization: `Bearer ${vh.token}`, "content-type": raw ? "application/gzip" : "application/json" },
        body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${p} → ${res.status}: ${text}`);
      return JSON.parse(text) as T;
    },
    async stop() {
      await worker.stop();
      await vh.stop();
    },
  };
}
