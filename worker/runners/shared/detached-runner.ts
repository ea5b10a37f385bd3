/**
 * The detached-job runner, implemented once: everything after the job is started — polling logs
 * and the exit code, stopping, outputs, clean-up, the runtime fingerprint, the end time — over a
 * HostShell (host-shell.ts). `local/` and `ssh/` each bring only their half of a launch (preparing
 * the work dir: code, inputs, config files, the wrapper; then starting it with the protocol of
 * protocol.ts) and a shell; `createDetachedRunner` makes the Runner of the two.
 *
 * A launch is asked once per execution id at a time (a second call while one runs gets the same
 * promise); the runner's own launch is idempotent across processes (it adopts a job an earlier,
 * crashed try started).
 */
import path from "node:path";
import type { Readable } from "node:stream";
import { RunnerError } from "../../../app/errors.js";
import type { HostInfo, LaunchResult, LaunchSpec, LogChunk, OutputFileInfo, PollResult, Runner, RunnerHandle } from "../../../app/contracts/runner.js";
import { assertExecutionId, POLL_READ_CAP, type DetachedHandle, type KnowsEndTime } from "./detached.js";
import { FINGERPRINT_TOTAL_BYTES, fingerprintPaths, type ReadsFingerprint } from "./fingerprint.js";
import { isInsideFolder, type HostShell } from "./host-shell.js";
import { assertRelativePath } from "./inputs.js";
import { workPaths, type WorkPaths } from "./protocol.js";

/** After a kill, how long terminate waits for the wrapper to record the exit code. */
export const EXIT_RECORD_WAIT_MS = 3_000;

export interface DetachedRunnerOptions {
  kind: string;
  /** The host's name as users see it (the hosts table's). */
  host: string;
  shell: HostShell;
  /** The folder the work dirs are made in (over SSH it depends on the remote $HOME, hence a promise). */
  runsDir: () => string | Promise<string>;
  /** The runner's own half: prepare the work dir and start the job, or adopt the one an earlier try started. */
  launch: (spec: LaunchSpec) => Promise<LaunchResult>;
  describeHost: () => Promise<HostInfo>;
}

export type DetachedRunner = Runner & KnowsEndTime & ReadsFingerprint & {
  /** The host's shell (the registry runs short scripts on the host with it: spot notices). */
  readonly shell: HostShell;
};

/** A handle of this runner kind, checked field by field (handles are read back from the database). */
export function parseDetachedHandle(kind: string, handle: RunnerHandle): DetachedHandle {
  const h = handle as Partial<DetachedHandle>;
  const intOrNull = (v: unknown) => v === null || (typeof v === "number" && Number.isInteger(v));
  if (
    h.runner !== kind ||
    typeof h.workDir !== "string" ||
    !path.posix.isAbsolute(h.workDir) ||
    typeof h.executionId !== "string" ||
    !intOrNull(h.pgid) ||
    !intOrNull(h.wrapperPid) ||
    (h.mode !== "docker" && h.mode !== "process")
  ) {
    throw new RunnerError(`Not ${kind === "ssh" ? "an SSH" : `a ${kind}`} runner handle: ${JSON.stringify(handle)}`);
  }
  return h as DetachedHandle;
}

export function createDetachedRunner(opts: DetachedRunnerOptions): DetachedRunner {
  const { shell } = opts;
  const where = shell.where;
  const inflight = new Map<string, Promise<LaunchResult>>();
  const parse = (handle: RunnerHandle) => parseDetachedHandle(opts.kind, handle);

  async function readLog(file: string, offset: number, size: number, stream: "stdout" | "stderr"): Promise<{ chunk: LogChunk | null; atEnd: boolean }> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RunnerError(`Invalid ${stream} offset ${offset}.`);
    if (offset >= size) return { chunk: null, atEnd: true };
    const data = (await shell.readRange(file, offset, Math.min(size - offset, POLL_READ_CAP))).subarray(0, POLL_READ_CAP);
    return { chunk: data.length > 0 ? { stream, data, offset } : null, atEnd: offset + data.length >= size };
  }

  /**
   * The output's path with its folder resolved on the host (links followed), refused unless that
   * folder is outputs/ or inside it: the job owns outputs/ and may swap a folder for a link out of
   * it (to the data dir, say) at any moment.
   */
  async function confinedOutputPath(p: WorkPaths, rel: string): Promise<{ full: string; dir: string; root: string }> {
    assertRelativePath(rel, "Output path");
    const full = path.posix.join(p.outputs, rel);
    const root = await shell.realpath(p.outputs);
    const dir = await shell.realpath(path.posix.dirname(full));
    if (root === null || dir === null || !isInsideFolder(dir, root)) {
      throw new RunnerError(`Output "${rel}" is not inside ${p.outputs}${where} (a folder on its path is a link out of it).`);
    }
    return { full: path.posix.join(dir, path.posix.basename(full)), dir, root };
  }

  return {
    kind: opts.kind,
    host: opts.host,
    shell,

    async launch(spec) {
      assertExecutionId(spec.executionId);
      const prev = inflight.get(spec.executionId);
      if (prev) return prev;
      const p = opts.launch(spec).finally(() => inflight.delete(spec.executionId));
      inflight.set(spec.executionId, p);
      return p;
    },

    async poll(handle, offsets): Promise<PollResult> {
      const h = parse(handle);
      const p = workPaths(h.workDir);
      // Exit code and sizes first: once the exit code exists the logs are final up to those sizes.
      const st = await shell.probe(p, h);
      if (st.state === "gone") throw new RunnerError(`The work dir ${p.root}${where} is gone.`);
      const out = await readLog(p.stdoutLog, offsets.stdout, st.sizes.stdout, "stdout");
      const err = await readLog(p.stderrLog, offsets.stderr, st.sizes.stderr, "stderr");
      const chunks = [out.chunk, err.chunk].filter((c): c is LogChunk => c !== null);
      return { chunks, exitCode: st.exitCode, finished: st.exitCode !== null && out.atEnd && err.atEnd };
    },

    async terminate(handle, graceSeconds) {
      const h = parse(handle);
      const p = workPaths(h.workDir);
      if (graceSeconds > 0) {
        if (!(await shell.signalJob(p, h, "TERM"))) return;
        if (await shell.waitEnded(p, h, graceSeconds * 1000)) return;
      }
      if (!(await shell.signalJob(p, h, "KILL"))) return;
      if (await shell.waitEnded(p, h, EXIT_RECORD_WAIT_MS)) return;
      await shell.probe(p, h).catch(() => null); // records the exit code of a job that vanished
    },

    async listOutputs(handle): Promise<OutputFileInfo[]> {
      const p = workPaths(parse(handle).workDir);
      const files = await shell.listFiles(p.outputs);
      return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },

    async openOutput(handle, relPath): Promise<Readable> {
      const p = workPaths(parse(handle).workDir);
      const { full } = await confinedOutputPath(p, relPath);
      const stream = await shell.openFile(full);
      if (!stream) throw new RunnerError(`Output "${relPath}" is not a file in ${p.outputs}${where}.`);
      return stream;
    },

    async removeOutput(handle, relPath) {
      const p = workPaths(parse(handle).workDir);
      const c = await confinedOutputPath(p, relPath).catch(() => null);
      if (c) await shell.removeFileIn(c.dir, path.posix.basename(c.full), c.root);
    },

    async cleanup(handle) {
      const dir = path.posix.normalize(parse(handle).workDir);
      const runs = path.posix.normalize(await opts.runsDir());
      if (path.posix.dirname(dir) !== runs) throw new RunnerError(`Refusing to remove ${dir}: not a work dir under ${runs}.`);
      await shell.removeTree(dir);
    },

    describeHost: () => opts.describeHost(),

    async fingerprint(handle, waitMs) {
      const p = workPaths(parse(handle).workDir);
      return shell.readFingerprint(p, fingerprintPaths(p.root).out, waitMs, FINGERPRINT_TOTAL_BYTES);
    },

    async endedAt(handle) {
      const p = workPaths(parse(handle).workDir);
      if (await shell.exists(p.exitNote)) return null; // vh made the exit code up: the time is when it noticed
      return shell.mtime(p.exitCodeFile);
    },
  };
}
