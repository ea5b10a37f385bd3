/**
 * The detached-process protocol shared by the local and SSH runners: pure functions of paths that
 * produce the shell text run on the host. Nothing here touches the file system or spawns.
 *
 * Terminology (see also app/contracts/runner.ts):
 * - wrapper: `.vh/wrapper.sh`, a small /bin/sh script started in its own session (Node's
 *   `detached: true` locally, `setsid -f` over SSH). It outlives the control plane, starts the job,
 *   waits for it and writes the job's exit code. It is never in the job's process group, so a
 *   group kill never hits it, and it catches TERM/INT/HUP (forwarding them to the job).
 * - job: `setsid -w /bin/sh -c '<write $$ to .vh/pid>; exec COMMAND'`, a second session whose
 *   process-group id is written to `.vh/pid` by the job itself (so the file exists only once the
 *   group does). stdout/stderr are appended to `.vh/stdout.log` / `.vh/stderr.log` by the wrapper's
 *   redirections, never through the control plane.
 * - exit code: `.vh/exit_code`, written atomically (tmp + mv) after the job's main process ended
 *   and every process left in its group was killed, so once it exists the logs are complete.
 *   A signal death is recorded as 128+signal (TERM → 143, KILL → 137), as sh reports it.
 * - end time: the exit-code file's mtime, which is when the job ended, also when the control
 *   plane reads it hours later; except when `exit_note` exists (vh made the code up on noticing a
 *   vanished wrapper, and then the time is only when it noticed).
 */
import path from "node:path";
import { RunnerError } from "../../../app/errors.js";

/** Every path of one work dir (POSIX paths: the host is Linux, also when reached over SSH). */
export interface WorkPaths {
  root: string;
  repository: string;
  inputs: string;
  outputs: string;
  config: string;
  /** The runner's own directory. */
  vh: string;
  script: string;
  wrapper: string;
  /** Process-group id of the job, written by the job. */
  pidFile: string;
  /** Pid of the wrapper, written by the wrapper. */
  wrapperPidFile: string;
  exitCodeFile: string;
  stdoutLog: string;
  stderrLog: string;
  /** Docker `--env-file` (docker mode). */
  envFile: string;
  /** The job's environment as `export` lines, sourced by withJobEnv (process mode). */
  jobEnv: string;
  /** Saved LaunchResult: its presence means the launch completed. */
  launched: string;
  /** Written just before the wrapper is spawned: a launch that crashed after it may have a live job. */
  spawned: string;
  /** What the launch prepared (mode, fetched inputs), for adopting a job after a crash. */
  prepared: string;
  /** Set by the control plane when it had to make up an exit code (wrapper gone, see poll). */
  exitNote: string;
}

export function workPaths(workDir: string): WorkPaths {
  const root = path.posix.normalize(workDir);
  const vh = path.posix.join(root, ".vh");
  return {
    root,
    repository: path.posix.join(root, "repository"),
    inputs: path.posix.join(root, "inputs"),
    outputs: path.posix.join(root, "outputs"),
    config: path.posix.join(root, "config"),
    vh,
    script: path.posix.join(vh, "script.sh"),
    wrapper: path.posix.join(vh, "wrapper.sh"),
    pidFile: path.posix.join(vh, "pid"),
    wrapperPidFile: path.posix.join(vh, "wrapper_pid"),
    exitCodeFile: path.posix.join(vh, "exit_code"),
    stdoutLog: path.posix.join(vh, "stdout.log"),
    stderrLog: path.posix.join(vh, "stderr.log"),
    envFile: path.posix.join(vh, "env"),
    jobEnv: path.posix.join(vh, "job.env"),
    launched: path.posix.join(vh, "launched.json"),
    spawned: path.posix.join(vh, "spawned"),
    prepared: path.posix.join(vh, "prepared.json"),
    exitNote: path.posix.join(vh, "exit_note"),
  };
}

/** Quote one word for /bin/sh: single quotes, with embedded single quotes as '\''. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

export interface WrapperOptions {
  workDir: string;
  /**
   * The job's argv: for a process, `withJobEnv(…)` around `/bin/sh <work>/.vh/script.sh` (behind
   * setpriv and the /valohai view where they apply); `docker run …` for docker. The wrapper's own
   * environment is never the job's: what root runs before privileges drop must not be chosen by
   * a PATH or LD_PRELOAD from valohai.yaml.
   */
  command: string[];
}

/**
 * The wrapper script. Its steps:
 * 1. write its own pid (`wrapper_pid`), catch TERM/INT/HUP (a handler, not an ignore, so the job
 *    does not inherit an ignored signal) and forward them to the job's group;
 * 2. start the job in a new session with `setsid -w`, logs appended by redirection;
 * 3. `wait` for it, again after an interrupting signal while the job still exists;
 * 4. kill whatever is left in the job's group (what a container's end does), so the logs are final;
 * 5. write the exit code atomically.
 */
export function buildWrapperScript(opts: WrapperOptions): string {
  const p = workPaths(opts.workDir);
  const q = shellQuote;
  const jobBody = `echo $$ > "$0/pid.tmp" && mv -f "$0/pid.tmp" "$0/pid" && exec "$@"`;
  const lines = [
    "#!/bin/sh",
    "# Written by vh (worker/runners/shared/protocol.ts): runs the job detached and records its exit code.",
    `V=${q(p.vh)}`,
    `echo $$ > "$V/wrapper_pid.tmp" && mv -f "$V/wrapper_pid.tmp" "$V/wrapper_pid"`,
    `forward() { pg=$(cat "$V/pid" 2>/dev/null); [ -n "$pg" ] && kill -s "$1" -- "-$pg" 2>/dev/null; }`,
    `trap 'forward TERM' TERM`,
    `trap 'forward INT' INT`,
    `trap 'forward HUP' HUP`,
    `code=127`,
    `if cd ${q(p.repository)}; then`,
    `  setsid -w /bin/sh -c ${q(jobBody)} "$V" ${opts.command.map(q).join(" ")} </dev/null >>"$V/stdout.log" 2>>"$V/stderr.log" &`,
    `  child=$!`,
    `  while :; do`,
    `    wait "$child"`,
    `    code=$?`,
    // An interrupting (trapped) signal makes wait return early while the child still exists.
    `    kill -0 "$child" 2>/dev/null || break`,
    `  done`,
    `fi`,
    `pg=$(cat "$V/pid" 2>/dev/null)`,
    `[ -n "$pg" ] && kill -s KILL -- "-$pg" 2>/dev/null`,
    `echo "$code" > "$V/exit_code.tmp" && mv -f "$V/exit_code.tmp" "$V/exit_code"`,
    "",
  ];
  return lines.join("\n");
}

/** Shell command that starts the wrapper in its own session, detached, for a remote shell (SSH). */
export function buildDetachedStartCommand(workDir: string): string {
  const p = workPaths(workDir);
  return `setsid -f /bin/sh ${shellQuote(p.wrapper)} </dev/null >/dev/null 2>&1`;
}

/** Shell command that signals the job's whole process group (no-op when it has not started). */
export function buildSignalGroupCommand(workDir: string, signal: "TERM" | "KILL" | "INT"): string {
  const p = workPaths(workDir);
  return `pg=$(cat ${shellQuote(p.pidFile)} 2>/dev/null); [ -z "$pg" ] || kill -s ${signal} -- "-$pg" 2>/dev/null; true`;
}

/**
 * `argv` run with the job's environment added from `envFile` (`export K='v'` lines, see
 * buildShellEnvFile): a shell sources it and execs `argv`. Put it last in the chain, after any step
 * that runs as root, so that only the job's own processes ever see that environment.
 */
export function withJobEnv(envFile: string, argv: string[]): string[] {
  return ["/bin/sh", "-c", 'set -a; . "$0"; set +a; exec "$@"', envFile, ...argv];
}

/** `export K='v'` lines, for withJobEnv. Keys must be shell identifiers. */
export function buildShellEnvFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => {
      assertEnvName(k);
      return `${k}=${shellQuote(v)}\nexport ${k}\n`;
    })
    .join("");
}

/**
 * A docker `--env-file`: `K=V` lines taken literally by docker (no quoting), so a value with a
 * newline cannot be written; such names are returned in `passThrough` for `-e NAME`, which makes
 * docker copy the value from its own environment.
 */
export function buildDockerEnvFile(env: Record<string, string>): { text: string; passThrough: string[] } {
  const lines: string[] = [];
  const passThrough: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    assertEnvName(k);
    if (/[\r\n\0]/.test(v)) passThrough.push(k);
    else lines.push(`${k}=${v}\n`);
  }
  return { text: lines.join(""), passThrough };
}

function assertEnvName(name: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new RunnerError(`Invalid environment variable name "${name}": names are letters, digits and _, not starting with a digit.`);
}

/** Parse the content of `.vh/exit_code` (or `.vh/pid`): a non-negative integer, else null. */
export function parseIntFile(text: string): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}
