/**
 * HostShell: the few things the detached-job runner (detached-runner.ts) needs of a host, each one
 * round trip at most over SSH. `local/shell.ts` does them with this machine's file system and
 * processes, `ssh/shell.ts` with shell scripts and SFTP over one SSH connection. Paths are POSIX
 * paths on that host; the work dir's layout is protocol.ts's `workPaths`.
 */
import type { Readable } from "node:stream";
import type { OutputFileInfo } from "../../../app/contracts/runner.js";
import type { DetachedHandle } from "./detached.js";
import type { WorkPaths } from "./protocol.js";

/** Whether the resolved path `p` is the folder `root` or inside it (both resolved, POSIX). */
export function isInsideFolder(p: string, root: string): boolean {
  return p === root || p.startsWith(root === "/" ? "/" : `${root}/`);
}

/** A job's state as its host records it. */
export interface JobState {
  /**
   * `gone`: the work dir's `.vh/` is not there. `running`: no exit code yet and the wrapper or a
   * member of the job's group lives. `ended`: an exit code is recorded — by the wrapper, or by the
   * probe itself (LOST_EXIT_CODE, with `.vh/exit_note` saying why) when wrapper and group vanished.
   */
  state: "gone" | "running" | "ended";
  exitCode: number | null;
  /** Sizes of stdout.log and stderr.log when probed (with an exit code: their final sizes). */
  sizes: { stdout: number; stderr: number };
}

/** What the job's fingerprint file (fingerprint.ts) looks like now. */
export type FingerprintRead = { state: "written"; text: string } | { state: "ended" } | { state: "pending" };

export interface HostShell {
  /** How messages place the host: "" for this machine, " on <host>" otherwise. */
  readonly where: string;
  /** Runs a short script with /bin/sh; its stdout. A non-zero exit is a RunnerError naming `what`. */
  run(script: string, what: string, timeoutMs?: number): Promise<string>;
  /** The job's state; a job whose wrapper and group vanished without an exit code gets LOST_EXIT_CODE recorded. */
  probe(p: WorkPaths, h: DetachedHandle): Promise<JobState>;
  /** Up to `length` bytes of `file` from `offset` (fewer at its end; none when it is missing). */
  readRange(file: string, offset: number, length: number): Promise<Buffer>;
  /** TERM or KILL to the job's process group (and container, in docker mode); false when an exit code is already recorded (nothing sent). */
  signalJob(p: WorkPaths, h: DetachedHandle, signal: "TERM" | "KILL"): Promise<boolean>;
  /** Waits up to `ms` for the exit code; true once recorded, false at the deadline or as soon as the job's processes are gone without one. */
  waitEnded(p: WorkPaths, h: DetachedHandle, ms: number): Promise<boolean>;
  /** Regular files under `dir`, relative to it (links are skipped: they could point anywhere on the host); empty when `dir` is missing. */
  listFiles(dir: string): Promise<OutputFileInfo[]>;
  /** `file`'s path with every link resolved, or null when it does not exist. */
  realpath(file: string): Promise<string | null>;
  /** A stream of `file` when it is a regular file (a link is not followed), else null. */
  openFile(file: string): Promise<Readable | null>;
  /** Removes `name` (a file or link, never a folder) in folder `dir`, only while `dir` still resolves to `root` or inside it. */
  removeFileIn(dir: string, name: string, root: string): Promise<void>;
  /** rm -rf of `dir`, folders the job made read-only included. */
  removeTree(dir: string): Promise<void>;
  /** Waits up to `waitMs` for the fingerprint file `file` (its first `maxBytes`); `ended` when the exit code came first or `.vh/` is gone. */
  readFingerprint(p: WorkPaths, file: string, waitMs: number, maxBytes: number): Promise<FingerprintRead>;
  /** The modification time of `file`, or null when it does not exist. */
  mtime(file: string): Promise<Date | null>;
  exists(file: string): Promise<boolean>;
}
