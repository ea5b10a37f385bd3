/**
 * A whole vh (HTTP + worker + local runner + local store) on a database of its own, for end-to-end
 * tests and benches. `databaseUrl` comes from the test template (tests) or an embedded Postgres
 * started here (benches).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig, type Config } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import { startVh, type RunningVh } from "../../app/start.js";
import type { ProbotOctokit } from "probot";

export interface Stack {
  vh: RunningVh;
  config: Config;
  dataDir: string;
  /** Calls the REST API with the admin token; throws on non-2xx with the server's message. */
  api<T = unknown>(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  raw(method: string, p: string, body?: string | Buffer, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export async function startStack(opts: {
  databaseUrl: string;
  env?: Record<string, string>;
  worker?: boolean;
  /** Reuse a data dir (a restart); otherwise a new temp dir, removed by stop(). */
  dataDir?: string;
  /** The GitHub App's Octokit class (tests: retry and throttling off). */
  github?: { Octokit?: typeof ProbotOctokit };
}): Promise<Stack> {
  // The data dir is made by vh (mode 700) inside a folder of the test's own, as on a real machine;
  // an existing open folder as VH_DATA_DIR would (rightly) be warned about at every start.
  const base = opts.dataDir ? null : tempDir("vh-stack-");
  const dataDir = opts.dataDir ?? path.join(base!, "data");
  // As root, jobs' work dirs live in the state dir (app/host-dirs.ts): one beside the data dir,
  // so a test leaves nothing in /var/lib/vh (and a restart finds the same one).
  const stateDir = `${dataDir}.state`;
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o711 });
  fs.chmodSync(stateDir, 0o711);
  const config = loadConfig({
    DATABASE_URL: opts.databaseUrl,
    VH_DATA_DIR: dataDir,
    VH_STATE_DIR: stateDir,
    // As a normal user vh refuses plain-process jobs (they would run as vh's own user): tests accept it.
    VH_UNSAFE_SAME_USER: process.getuid?.() === 0 ? "false" : "true",
    PORT: "0",
    VH_DOCKER: "never",
    XDG_CONFIG_HOME: path.join(dataDir, "xdg"),
    VH_LOG_LEVEL: "warn",
    ...opts.env,
  });
  const vh = await startVh(config, createLogger(config.logLevel), { worker: opts.worker ?? true, ...(opts.github ? { github: opts.github } : {}) });
  async function raw(method: string, p: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(vh.url + p, { method, body, headers: { authorization: `Bearer ${vh.token}`, ...headers } });
  }
  return {
    vh,
    config,
    dataDir,
    raw,
    async api<T>(method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
      const res = await raw(method, p, body === undefined ? undefined : JSON.stringify(body), { "content-type": "application/json", ...headers });
      const text = await res.text();
      if (!res.ok) throw Object.assign(new Error(`${method} ${p} → ${res.status}: ${text}`), { status: res.status, body: text });
      return (text ? JSON.parse(text) : undefined) as T;
    },
    async stop() {
      await vh.stop();
      if (base) fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Waits until `check` returns a value (not undefined), polling; throws with `what` after `ms`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000, every = 50): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
