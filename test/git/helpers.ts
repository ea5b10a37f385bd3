/**
 * Real Git servers for the plain-Git forge's tests: `git daemon` (git://) on a free loopback port,
 * bare repositories it serves (also reachable as file://), and a work tree per repository to commit
 * and push from. Every git here runs without the user's or system's config.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../../app/log.js";
import type { GitDeps } from "../../app/forges/git/types.js";
import { pollRepository, type PollOutcome } from "../../app/forges/git/poll.js";
import type { Sql } from "../../db/client.js";
import { freePort } from "../helpers/net.js";

export const GIT_ENV: Record<string, string> = {
  PATH: process.env["PATH"] ?? "/usr/bin:/bin",
  HOME: os.tmpdir(),
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_NAME: "Ada Lovelace",
  GIT_AUTHOR_EMAIL: "ada@example.com",
  GIT_COMMITTER_NAME: "Ada Lovelace",
  GIT_COMMITTER_EMAIL: "ada@example.com",
  LC_ALL: "C",
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, env: GIT_ENV, stdio: ["ignore", "pipe", "pipe"] }).toString("utf8").trim();
}

export const VALID_YAML = "- step:\n    name: train\n    image: python:3.12\n    command: python train.py {parameters}\n    parameters:\n      - name: lr\n        type: float\n        default: 0.1\n";
/** A typo'd parameter type at line 7, column 15. */
export const BROKEN_YAML = VALID_YAML.replace("type: float", "type: flaot");

export function tempDir(prefix: string): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

/** A bare repository `<root>/<name>.git` with a work tree beside it to commit from. */
export class TestRepo {
  readonly bare: string;
  readonly work: string;
  constructor(root: string, name: string, branch = "main") {
    this.bare = path.join(root, `${name}.git`);
    this.work = path.join(root, `${name}-work`);
    fs.mkdirSync(this.bare, { recursive: true });
    git(this.bare, "init", "--bare", "-q", `--initial-branch=${branch}`);
    git(root, "init", "-q", `--initial-branch=${branch}`, this.work);
    git(this.work, "remote", "add", "origin", this.bare);
  }

  get fileUrl(): string {
    return `file://${this.bare}`;
  }

  /** Writes files (null deletes), commits with `message`, pushes the branch; returns the new sha. */
  commit(files: Record<string, string | null>, message: string, branch = "main"): string {
    for (const [p, text] of Object.entries(files)) {
      const f = path.join(this.work, p);
      if (text === null) fs.rmSync(f, { force: true });
      else {
        fs.mkdirSync(path.dirname(f), { recursive: true });
        fs.writeFileSync(f, text);
      }
    }
    git(this.work, "add", "-A");
    git(this.work, "commit", "-q", "--allow-empty", "-m", message);
    git(this.work, "push", "-q", "origin", `HEAD:refs/heads/${branch}`);
    return git(this.work, "rev-parse", "HEAD");
  }

  head(branch = "main"): string {
    return git(this.bare, "rev-parse", `refs/heads/${branch}`);
  }
}

async function waitPort(port: number, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`git daemon did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `git daemon` serving every repository under `root` on 127.0.0.1. */
export interface GitDaemon {
  root: string;
  port: number;
  url(name: string): string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startGitDaemon(root: string): Promise<GitDaemon> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  async function start(): Promise<void> {
    child = spawn(
      "git",
      ["daemon", "--reuseaddr", `--base-path=${root}`, "--export-all", "--enable=receive-pack", "--listen=127.0.0.1", `--port=${port}`, root],
      { env: GIT_ENV, stdio: "ignore" },
    );
    await waitPort(port);
  }
  async function stop(): Promise<void> {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((resolve) => c.once("exit", resolve));
    c.kill("SIGTERM");
    await gone;
  }
  await start();
  return { root, port, url: (name) => `git://127.0.0.1:${port}/${name}.git`, start, stop };
}

export function gitDeps(sql: Sql, dir: string, over: Partial<GitDeps> = {}): GitDeps {
  return {
    sql,
    git: { dir, minPollSeconds: 1, env: {} },
    log: createLogger("silent"),
    env: { PATH: process.env["PATH"], HOME: os.tmpdir() },
    gitTimeoutMs: 15_000,
    random: () => 0.5,
    ...over,
  };
}

export interface QueuedJob {
  task: string;
  key: string | null;
  queue: string | null;
  payload: Record<string, unknown>;
  /** Seconds from now. */
  inS: number;
}

export async function queuedJobs(sql: Sql, task?: string): Promise<QueuedJob[]> {
  const rows = await sql<{ task: string; key: string | null; queue: string | null; payload: Record<string, unknown>; in_s: number }[]>`
    select j.task_identifier as task, j.key, j.queue_name as queue, p.payload, extract(epoch from (j.run_at - now()))::float8 as in_s
    from graphile_worker.jobs j join graphile_worker._private_jobs p on p.id = j.id
    where ${task ? sql`j.task_identifier = ${task}` : sql`true`}
    order by j.id`;
  return rows.map((r) => ({ task: r.task, key: r.key, queue: r.queue, payload: r.payload, inS: r.in_s }));
}

export async function gitDeliveries(sql: Sql): Promise<{ id: string; event: string; installation_id: string | null; payload: Record<string, unknown> }[]> {
  return sql`select id, event, installation_id, payload from forge_deliveries where forge = 'git' order by received_at, id`;
}

/**
 * A poll as the worker runs it: the repository's pending poll is taken (locked, as graphile-worker
 * does while the task runs), the poll runs, and the taken job is done (deleted).
 */
export async function pollAsWorker(deps: GitDeps, id: number): Promise<PollOutcome> {
  await deps.sql`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'test-worker' where key = ${`git_poll:${id}`}`;
  try {
    return await pollRepository(deps, id);
  } finally {
    await deps.sql`delete from graphile_worker._private_jobs where locked_by = 'test-worker'`;
  }
}
