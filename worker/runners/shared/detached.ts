/**
 * What every runner built on the detached-wrapper protocol (protocol.ts) shares: the handle's
 * fields, the read cap, the exit code recorded for a vanished job, and the checks on ids and URLs.
 */
import { RunnerError } from "../../../app/errors.js";
import type { RunnerHandle } from "../../../app/contracts/runner.js";

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
