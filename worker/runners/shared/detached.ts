/**
 * What every runner built on the detached-wrapper protocol (protocol.ts) shares: the handle's
 * fields, the read cap, the exit code recorded for a vanished job, and the checks on ids and URLs.
 */
import { RunnerError } from "../../../app/errors.js";
import type { Runner, RunnerHandle } from "../../../app/contracts/runner.js";
import type { ValohaiView } from "./valohai-view.js";

/** The handle of a job started with the shared wrapper (stored in executions.runner_handle). */
export interface DetachedHandle extends RunnerHandle {
  executionId: string;
  /** Process-group id of the job (null when it never started, e.g. setsid missing). */
  pgid: number | null;
  wrapperPid: number | null;
  mode: "docker" | "process";
  /** Docker container name in docker mode. */
  container: string | null;
  /** Boot id when launched: after a reboot the pids mean nothing. */
  bootId: string | null;
  /** What the job sees at /valohai (absent in handles made before vh recorded it). */
  valohai?: ValohaiView;
}

/**
 * A runner that knows when an execution's process ended by the host's own record (the wrapper's
 * exit-code file), so an execution that ended while the control plane was down gets its true end
 * time, not the time vh came back and noticed. Found with `knowsEndTime`.
 */
export interface KnowsEndTime {
  /** When the process ended; null while it runs, or when the host has no trustworthy record of it. */
  endedAt(handle: RunnerHandle): Promise<Date | null>;
}

export function knowsEndTime(runner: Runner): runner is Runner & KnowsEndTime {
  return typeof (runner as Partial<KnowsEndTime>).endedAt === "function";
}

/** The view recorded in a handle of the detached protocol, or null (another runner, an old handle). */
export function valohaiViewOf(handle: RunnerHandle): ValohaiView | null {
  const v = (handle as Partial<DetachedHandle>).valohai;
  return v && typeof v === "object" && typeof v.provided === "boolean" ? v : null;
}

/** Bytes returned per stream per poll. */
export const POLL_READ_CAP = 4 << 20;

/** Exit code recorded when the process ended without the wrapper recording one. */
export const LOST_EXIT_CODE = 137;

/** Execution ids become directory names on hosts: plain names only. */
export function assertExecutionId(id: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id)) {
    throw new RunnerError(`Invalid execution id "${id}": letters, digits, "_", "." and "-" only.`);
  }
}

/** The URL as shown in messages: without user:password. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Docker mode: a value Docker's --env-file cannot carry (a line break or NUL) is refused. It must
 * never be handed to the host-side wrapper's environment instead: a PATH from valohai.yaml would
 * then pick the programs the wrapper runs on the host, outside the container.
 */
export function refuseHostSideEnv(names: string[]): void {
  if (names.length === 0) return;
  throw new RunnerError(
    `Environment variable${names.length > 1 ? "s" : ""} ${names.join(", ")} contain${names.length > 1 ? "" : "s"} a line break or NUL, which cannot be passed into a container; pass multi-line values as an input file.`,
  );
}
