/**
 * Starting vh in one process: database (embedded unless DATABASE_URL), migrations, store, worker
 * (queue + supervisor + local runner), HTTP server. `stop()` undoes it in reverse order.
 */
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { parseSecretsKey, type Config } from "./config.js";
import { ensureDir } from "./host-dirs.js";
import type { Logger } from "./log.js";
import { migrateDatabase, openDatabase, type Database } from "../db/client.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../db/embedded.js";
import { createStore } from "../worker/stores/index.js";
import { startWorker, type Worker } from "../worker/start.js";
import { ensureAdminToken } from "./auth/api-tokens.js";
import { createHttpApp } from "./http/server.js";
import { createForges } from "./forges/registry.js";
import { removeLocalServer, writeLocalServer } from "./cli/local-servers.js";
import type { ProbotOctokit } from "probot";

export interface RunningVh {
  url: string;
  token: string;
  tokenFile: string;
  database: Database;
  worker: Worker | null;
  /** Every route the HTTP server answers (method and pattern; none without http): what the route × role matrix covers. */
  routes: { method: string; path: string }[];
  stop(): Promise<void>;
}

export async function startVh(
  config: Config,
  log: Logger,
  opts: { worker?: boolean; http?: boolean; github?: { Octokit?: typeof ProbotOctokit } } = {},
): Promise<RunningVh> {
  // Private: tokens, the database password and the local store live here; jobs never enter it.
  // Made mode 700; a folder that was there already keeps its mode (app/host-dirs.ts), and is
  // warned about when others can enter it.
  if (!ensureDir(config.dataDir, 0o700)) warnAboutOpenDataDir(config.dataDir, log);
  // What jobs must never read is private on its own, whatever the data dir's mode: the local store
  // (every project's snapshots and outputs) and the input cache (jobs get hard links in their own
  // inputs/, never a path through it). These are vh's own folders, so their mode is vh's to set.
  for (const own of [...(config.store.kind === "local" ? [config.store.root] : []), path.join(config.dataDir, "cache")]) {
    fs.mkdirSync(own, { recursive: true, mode: 0o700 });
    fs.chmodSync(own, 0o700);
  }
  warnAboutExposure(config, log);
  config.secretsKey ??= ensureSecretsKey(config.dataDir);
  let embedded: EmbeddedDatabase | null = null;
  let connectionString = config.databaseUrl;
  if (!connectionString) {
    log.info("starting the embedded Postgres", { dir: path.join(config.dataDir, "postgres") });
    embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPostgresPort,
      ...(config.stateDir ? { stateDir: config.stateDir } : {}),
    });
    connectionString = embedded.connectionString;
  }
  const database = openDatabase(connectionString);
  const cleanup: (() => Promise<void>)[] = [];
  // Last started, first stopped: the HTTP server, then the worker (supervisor and queue), then the
  // database pools, then Postgres. Once, however often it is called (a second call, e.g. a second
  // signal, waits for the first instead of stopping Postgres under a worker still stopping).
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      for (const f of [...cleanup].reverse()) {
        try {
          await f();
        } catch (err) {
          log.warn("shutdown step failed", { err });
        }
      }
    })());
  cleanup.push(async () => embedded?.stop());
  cleanup.push(() => database.close());
  try {
    await migrateDatabase(database);
    const store = createStore(config.store);
    const admin = await ensureAdminToken(database.sql, config.dataDir);
    // one provider for the worker's tasks and the HTTP server: the GitHub App set-up page swaps the App it serves
    const forges = createForges({ config, log, sql: database.sql, ...(opts.github?.Octokit ? { Octokit: opts.github.Octokit } : {}) });
    let worker: Worker | null = null;
    if (opts.worker !== false) {
      worker = await startWorker({ config, database, store, log, forges });
      cleanup.push(() => worker!.stop());
    }
    let url = "";
    const routes: RunningVh["routes"] = [];
    if (opts.http !== false) {
      const app = createHttpApp({ config, sql: database.sql, store, log, forges });
      for (const r of app.routes) if (r.method !== "ALL" && !routes.some((x) => x.method === r.method && x.path === r.path)) routes.push({ method: r.method, path: r.path });
      const server: ServerType = await new Promise((resolve) => {
        const s = serve({ fetch: app.fetch, port: config.http.port, hostname: config.http.host }, () => resolve(s));
      });
      // An idle kept-alive connection is closed by the client, never by us first: with Node's 5 s
      // default, a client that reuses the socket at that moment (undici keeps sockets 4 s, longer
      // under load) gets "other side closed" on a request the server never read.
      const http = server as unknown as { keepAliveTimeout: number; headersTimeout: number };
      http.keepAliveTimeout = 65_000;
      http.headersTimeout = 66_000; // longer than keep-alive, as Node wants
      const addr = server.address() as AddressInfo;
      const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
      url = config.http.publicUrl ?? `http://${host}:${addr.port}`;
      cleanup.push(
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      );
      writeLocalPointer(config, url, admin.file);
      cleanup.push(async () => removeLocalPointer(config, url));
    }
    return { url, token: admin.token, tokenFile: admin.file, database, worker, routes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** `<dataDir>/secrets.key` (32 random bytes, mode 600), made once. */
function ensureSecretsKey(dataDir: string): Buffer {
  const file = path.join(dataDir, "secrets.key");
  try {
    return parseSecretsKey(fs.readFileSync(file, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const key = randomBytes(32);
  fs.writeFileSync(file, key.toString("base64") + "\n", { mode: 0o600, flag: "wx" });
  return key;
}

/**
 * VH_DATA_DIR was there before vh (so vh leaves its mode alone: it may be the system's temp dir,
 * whose sticky bit every user needs) and others can enter it: say what that exposes and the fix.
 */
function warnAboutOpenDataDir(dir: string, log: Logger): void {
  const mode = fs.statSync(dir).mode & 0o7777;
  if ((mode & 0o077) === 0) return;
  const who = process.getuid?.() === 0 ? "other users and jobs (each runs as a user of its own)" : "other users";
  log.warn(
    `VH_DATA_DIR ${dir} is open to other users (mode ${mode.toString(8)}) and vh did not make it, so vh leaves its mode as it is: ` +
      `${who} can list it and read the local store and the input cache in it (the tokens, the database password and the secrets key ` +
      `stay mode 600). Point VH_DATA_DIR at a folder of vh's own (vh makes it mode 700), or chmod 700 this one if only vh uses it.`,
  );
}

/** Says loudly what a job could reach: vh's own user without isolation, a world-readable App key. */
function warnAboutExposure(config: Config, log: Logger): void {
  if (process.getuid?.() !== 0 && config.unsafeSameUser) {
    log.warn(
      "VH_UNSAFE_SAME_USER=true: plain-process jobs run as vh's own OS user and can read everything vh can " +
        "(tokens, the database password, the GitHub App key, other executions). Run vh as root or use Docker to isolate them.",
    );
  }
  const keyPath = config.github?.privateKeyPath;
  if (keyPath) {
    try {
      const mode = fs.statSync(keyPath).mode & 0o777;
      if (mode & 0o044) log.warn(`The GitHub App key ${keyPath} is readable by other users (mode ${mode.toString(8)}): chmod 600 it.`);
    } catch {
      // read at config time already
    }
  }
}

/**
 * Lets the `vh` CLI on this machine find this server and its admin token without a login: an
 * entry of its own among the local servers' (app/cli/local-servers.ts), so servers on other data
 * dirs or ports keep theirs.
 */
function writeLocalPointer(config: Config, url: string, tokenFile: string): void {
  writeLocalServer(config.cliConfigDir, { url, tokenFile, dataDir: config.dataDir, pid: process.pid, startedAt: new Date().toISOString() });
}

/** Removes this server's entry, never another server's. */
function removeLocalPointer(config: Config, url: string): void {
  removeLocalServer(config.cliConfigDir, { dataDir: config.dataDir, url, pid: process.pid });
}
