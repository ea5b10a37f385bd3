/**
 * `npm start` as a user runs it, in a child process: `node --import tsx app/main.ts` from the repo
 * root with only the environment given (plus PATH), resolved once it prints its URL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export const repoRoot = path.resolve(import.meta.dirname, "../..");

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything it printed so far (stdout and stderr). */
  output: () => string;
}

export function startServerProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "app/main.ts"], {
    cwd: repoRoot,
    env: { PATH: process.env["PATH"] ?? "", HOME: env["HOME"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed in ${timeoutMs / 1000} s:\n${out}`)), timeoutMs);
    child.stdout!.on("data", () => {
      const m = /vh is running at (http:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({ child, url: m[1]!, output: () => out });
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}:\n${out}`));
    });
  });
}

/** Ctrl-C, and its exit code once it has stopped. */
export function stopServerProcess(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.removeAllListeners("exit");
    child.on("exit", (code) => resolve(code));
    child.kill("SIGINT");
  });
}

/** SIGKILL (a crash), resolved once it is gone. */
export function killServerProcess(child: ChildProcess): Promise<void> {
  const gone = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGKILL");
  return gone;
}

/** Ctrl-C, and SIGKILL when it has not stopped within `graceMs`; resolved once it is gone. */
export function stopServerProcessWithin(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, graceMs);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    child.kill("SIGINT");
  });
}

/**
 * The settings every `npm start` child of a bench shares: its database, data and state dirs and a
 * home of its own under `dir`, a free port, info logs, plain processes (and, as a normal user, jobs
 * run as that user). The state dir is made as vh wants it.
 */
export function serverProcessEnv(databaseUrl: string, dir: string, port: number): Record<string, string> {
  const home = path.join(dir, "home");
  fs.mkdirSync(home, { recursive: true });
  const stateDir = path.join(dir, "state");
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o711 });
  return {
    DATABASE_URL: databaseUrl,
    VH_DATA_DIR: path.join(dir, "data"),
    VH_STATE_DIR: stateDir,
    PORT: String(port),
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, "xdg"),
    VH_LOG_LEVEL: "info",
    VH_DOCKER: "never",
    ...(process.getuid?.() === 0 ? {} : { VH_UNSAFE_SAME_USER: "true" }),
  };
}
