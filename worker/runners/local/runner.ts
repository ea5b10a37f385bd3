/**
 * The local runner: executions run on the machine of the worker, as a plain process or in docker.
 *
 * Design (see worker/runners/shared/protocol.ts for the shell side):
 * - launch prepares `<workRoot>/<executionId>/` (code, inputs, config), then spawns
 *   `.vh/wrapper.sh` detached (`detached: true` = its own session; stdio ignored; unref'd). The
 *   wrapper starts the job in a second session with `setsid -w`, appends its output to
 *   `.vh/stdout.log`/`.vh/stderr.log` and writes `.vh/exit_code` when it ends. Nothing depends on
 *   this Node process staying alive.
 * - Idempotency: `.vh/launched.json` holds the LaunchResult; `.vh/spawned` marks that a wrapper may
 *   have been started, so a launch that crashed after spawning adopts the job instead of starting a
 *   second one; any other half-made work dir is cleared and prepared again.
 * - Everything after the launch (poll, terminate, outputs, cleanup, fingerprint, end time) is the
 *   shared detached runner (worker/runners/shared/detached-runner.ts) over this machine's shell
 *   (./shell.ts); it needs only the handle (work dir, pgid, wrapper pid), so it works after a
 *   restart of the control plane.
 * - Isolation (plain-process mode): as root, every job runs as an OS user of its own — a uid and gid
 *   picked at random from a range no account uses, free of running processes and work dirs — with
 *   privileges dropped by `setpriv` after the wrapper (root) has written the pid file and opened the
 *   logs. The job can enter only its own work dir (`<id>/` is root:<gid> 750), owns `repository/`,
 *   `outputs/` and `home/` (its HOME), reads `inputs/` and `config/`, and cannot write `.vh/` (the
 *   wrapper's files: exit code, pid, logs) nor see VH_DATA_DIR, the server's environment or another
 *   execution. Without root this cannot be done: the registry refuses plain-process jobs unless
 *   VH_UNSAFE_SAME_USER=true (see docs/threat-model.md).
 * - The root-run part of a plain-process job (wrapper, /valohai mounts, setpriv) runs with a PATH
 *   of vh's own and nothing else; the job's environment (`.vh/job.env`) is added by the last shell
 *   in the chain, after privileges dropped, so a PATH or LD_PRELOAD from valohai.yaml never picks
 *   what root runs.
 * - /valohai (plain-process mode): as root, each job gets its own in a private mount namespace
 *   (worker/runners/shared/valohai-view.ts), checked once per runner; where that is impossible the
 *   job gets only the VH_*_DIR variables, the handle says why, and a step whose command names
 *   /valohai/… is refused at launch with the fix.
 * - A wrapper that died without writing the exit code (SIGKILL, OOM killer) is detected by poll (./shell.ts's probe):
 *   wrapper gone and no live process left in the job's group → exit code 137, recorded in
 *   `.vh/exit_code` with an explanation in `.vh/exit_note`. The exit-code file is read again after
 *   the liveness checks, which closes the race with a wrapper that just wrote it and exited.
 */
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import * as tar from "tar";
import YAML from "yaml";
import { RunnerError, StoreUnavailable } from "../../../app/errors.js";
import { refuseHostSideEnv, type DetachedHandle } from "../shared/detached.js";
import type { Store } from "../../../app/contracts/store.js";
import type { FetchedInput, LaunchResult, LaunchSpec } from "../../../app/contracts/runner.js";
import { buildDockerRunArgv, buildInputsJson, buildJobEnv, containerName } from "../shared/job.js";
import { buildDockerEnvFile, buildShellEnvFile, buildWrapperScript, withJobEnv, workPaths, type WorkPaths } from "../shared/protocol.js";
import {
  buildValohaiProbeScript,
  buildValohaiViewArgv,
  parseValohaiProbe,
  usesValohaiPaths,
  valohaiUnavailableMessage,
  VALOHAI_ROOT,
  type ValohaiView,
} from "../shared/valohai-view.js";
import { createInputCache, hashingStream } from "../shared/inputs.js";
import type { S3InputsConfig } from "../../../app/config.js";
import { buildFingerprintScript, fingerprintPaths, programsOfCommand, withFingerprint } from "../shared/fingerprint.js";
import { describeThisHost, probeDocker, readBootId, run } from "./host.js";
import { createDetachedRunner, type DetachedRunner } from "../shared/detached-runner.js";
import { createLocalShell, exists, forceRemove, readIntFile, readText, writeAtomic } from "./shell.js";

/**
 * Which OS user a plain-process job runs as. `users`: one of its own (needs root); `same-user`:
 * vh's own (the job can read everything vh can: only with VH_UNSAFE_SAME_USER=true, or in tests);
 * `refuse`: plain-process jobs fail with `reason`.
 */
export type JobIsolation = { kind: "users"; uidBase: number; uidCount: number } | { kind: "same-user" } | { kind: "refuse"; reason: string };

/** The uids vh gives jobs: far above any account's (and below 2^31, for tools that use a signed int). */
export const JOB_UID_BASE = 1_900_000_000;
export const JOB_UID_COUNT = 100_000_000;

/** Jobs' own users when root, else vh's own user (the registry decides what production allows). */
export function defaultIsolation(): JobIsolation {
  return process.getuid?.() === 0 ? { kind: "users", uidBase: JOB_UID_BASE, uidCount: JOB_UID_COUNT } : { kind: "same-user" };
}

export interface LocalRunnerOptions {
  workRoot: string;
  cacheRoot: string;
  store: Store;
  /** `auto`: docker when the spec asks for it and `docker info` succeeds. */
  docker: "auto" | "always" | "never";
  hostName?: string;
  fetch?: typeof fetch;
  /** Where `s3://` inputs are read from (Config.s3Inputs). */
  s3Inputs?: S3InputsConfig;
  /** Default: `defaultIsolation()`. */
  isolation?: JobIsolation;
  /** What a code snapshot may unpack to (also checked at upload); default: 4 GiB, 200,000 files. */
  codeLimits?: { maxBytes: number; maxFiles: number };
  /** Where a plain process sees its work dir as on Valohai: `/valohai` (tests point it elsewhere). */
  valohaiRoot?: string;
  /** Take the runtime fingerprint before each job (shared/fingerprint.ts); default true. */
  fingerprint?: boolean;
}

/** The handle of a local execution (stored as JSON in executions.runner_handle). */
export interface LocalHandle extends DetachedHandle {
  runner: "local";
}

interface Prepared {
  mode: "docker" | "process";
  inputs: FetchedInput[];
  valohai: ValohaiView;
}

/** How long launch waits for the job's pid file after spawning. */
const START_TIMEOUT_MS = 15_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


/** The uids of running processes (from /proc), so a job never gets the uid of a leftover process. */
async function processUids(): Promise<Set<number>> {
  const uids = new Set<number>();
  const entries = await fsp.readdir("/proc").catch(() => [] as string[]);
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const st = await fsp.stat(`/proc/${e}`).catch(() => null);
    if (st) uids.add(st.uid);
  }
  return uids;
}

/** chown -R to the job's user, clearing setuid/setgid/sticky bits from the archive; links are not followed. */
async function giveTree(dir: string, uid: number): Promise<void> {
  const st = await fsp.lstat(dir);
  await fsp.lchown(dir, uid, uid);
  if (st.isSymbolicLink()) return;
  await fsp.chmod(dir, st.mode & 0o777);
  if (!st.isDirectory()) return;
  for (const e of await fsp.readdir(dir)) await giveTree(path.join(dir, e), uid);
}

/** A util-linux tool by absolute path (so no PATH, the job's least of all, picks what root runs). */
function findTool(name: "setpriv" | "unshare"): string | null {
  for (const d of ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    const p = path.join(d, name);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/**
 * The PATH of the root-run part of a plain-process job (the wrapper and what it starts before
 * privileges drop): vh's own, without relative entries (the wrapper's working directory is the
 * work dir, whose repository/ the job's code fills).
 */
function wrapperPath(): string {
  const abs = (process.env.PATH ?? "").split(":").filter((d) => d.startsWith("/"));
  return abs.length > 0 ? abs.join(":") : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

export function createLocalRunner(opts: LocalRunnerOptions): DetachedRunner {
  const host = opts.hostName ?? os.hostname();
  const workRoot = path.resolve(opts.workRoot);
  const isolation = opts.isolation ?? defaultIsolation();
  const reservedUids = new Set<number>();
  let workRootReachable = false;
  const setpriv = isolation.kind === "users" ? findTool("setpriv") : null;
  const valohaiRoot = opts.valohaiRoot ?? VALOHAI_ROOT;
  let valohaiProbe: Promise<ValohaiView> | null = null;

  /** Whether plain processes here can have their own /valohai (checked once: see valohai-view.ts). */
  function valohaiView(): Promise<ValohaiView> {
    valohaiProbe ??= (async () => {
      const unshare = findTool("unshare");
      if (!unshare) return parseValohaiProbe("no missing unshare", valohaiRoot);
      const r = await run("/bin/sh", ["-c", buildValohaiProbeScript(valohaiRoot)], 15_000, { PATH: wrapperPath() });
      // A check that itself failed (timed out under load, could not spawn) is not an answer: asked again next time.
      if (!r.ok) valohaiProbe = null;
      return parseValohaiProbe(r.ok ? r.stdout : `no refused ${r.stderr}`, valohaiRoot);
    })();
    return valohaiProbe;
  }

  /** A uid (= gid) for one job: random in the range, unused by processes, work dirs and other launches. */
  async function allocateUid(iso: Extract<JobIsolation, { kind: "users" }>): Promise<number> {
    const used = await processUids();
    for (const e of await fsp.readdir(workRoot).catch(() => [] as string[])) {
      const st = await fsp.stat(path.join(workRoot, e)).catch(() => null);
      if (st) used.add(st.gid).add(st.uid);
    }
    for (let i = 0; i < 1000; i++) {
      const uid = iso.uidBase + crypto.randomInt(iso.uidCount);
      if (!used.has(uid) && !reservedUids.has(uid)) {
        reservedUids.add(uid);
        return uid;
      }
    }
    throw new RunnerError("No free uid for the job's OS user in the configured range.");
  }
  const inputCache = createInputCache({ cacheRoot: opts.cacheRoot, store: opts.store, fetch: opts.fetch ?? globalThis.fetch, ...(opts.s3Inputs ? { s3Inputs: opts.s3Inputs } : {}) });
  let dockerProbe: Promise<boolean> | null = null;

  function dockerAvailable(): Promise<boolean> {
    if (opts.docker === "never") return Promise.resolve(false);
    dockerProbe ??= probeDocker();
    return dockerProbe;
  }

  async function chooseMode(spec: LaunchSpec): Promise<"docker" | "process"> {
    if (opts.docker === "never") return "process";
    if (opts.docker === "always") return "docker";
    if (spec.mode === "process") return "process";
    return (await dockerAvailable()) ? "docker" : "process";
  }

  async function extractCode(code: { key: string; sha256: string }, dest: string): Promise<void> {
    const label = `Code snapshot ${code.key}`;
    let body: Readable;
    try {
      body = await opts.store.get(code.key);
    } catch (err) {
      // The store away: the start is tried again later (worker/tasks/start-execution.ts); anything else is this execution's error.
      if (err instanceof StoreUnavailable) throw new StoreUnavailable(`${label} could not be read from the store: ${err.message}`);
      throw new RunnerError(`${label} could not be read from the store: ${(err as Error).message}`);
    }
    const hasher = hashingStream();
    const limits = opts.codeLimits ?? { maxBytes: 4096 * 1048576, maxFiles: 200_000 };
    let bytes = 0;
    let files = 0;
    let over: RunnerError | null = null;
    // Counted while it unpacks (snapshots stored before the upload check existed are not trusted).
    const unpack: tar.Unpack = tar.x({
      cwd: dest,
      strict: true,
      preserveOwner: false,
      filter: (_p: string, entry?: { size?: number }) => {
        files++;
        bytes += entry?.size ?? 0;
        if (!over && (bytes > limits.maxBytes || files > limits.maxFiles)) {
          over = new RunnerError(`${label} unpacks to over ${Math.round(limits.maxBytes / 1048576)} MiB or ${limits.maxFiles} files (VH_MAX_CODE_UNPACKED_MB, VH_MAX_CODE_FILES).`);
          unpack.abort(over);
        }
        return !over;
      },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        body.on("error", reject);
        hasher.on("error", reject);
        unpack.on("error", reject);
        unpack.on("finish", () => resolve());
        body.pipe(hasher).pipe(unpack);
      });
    } catch (err) {
      body.destroy();
      if (over) throw over;
      const { sha256 } = hasher.digest();
      if (sha256 !== code.sha256) throw new RunnerError(`${label} could not be extracted (sha256 mismatch, corrupt archive): ${(err as Error).message}`);
      throw new RunnerError(`${label} could not be extracted: ${(err as Error).message}`);
    }
    const { sha256 } = hasher.digest();
    if (sha256 !== code.sha256) {
      throw new RunnerError(`${label}: checksum mismatch: expected sha256 ${code.sha256}, got ${sha256}.`);
    }
  }

  /** Steps 1–5 of launch: everything up to spawning. */
  async function prepare(spec: LaunchSpec, p: WorkPaths): Promise<{ prepared: Prepared; wrapperEnv: NodeJS.ProcessEnv }> {
    await fsp.mkdir(workRoot, { recursive: true, mode: 0o711 });
    await fsp.mkdir(p.root, { mode: 0o700 });
    for (const dir of [p.repository, p.inputs, p.outputs, p.config]) await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
    await fsp.mkdir(p.vh, { recursive: true, mode: 0o700 });
    if (spec.code) await extractCode(spec.code, p.repository);
    const inputs = await inputCache.fetchInputs(spec.inputs, p.inputs);
    await inputCache.restoreOutputs(spec.restoreOutputs ?? [], p.outputs);
    const mode = await chooseMode(spec);
    if (mode === "process" && isolation.kind === "refuse") throw new RunnerError(isolation.reason);
    const valohai: ValohaiView = mode === "docker" ? { provided: true, how: "docker" } : await valohaiView();
    if (!valohai.provided && usesValohaiPaths(spec.script, valohaiRoot)) throw new RunnerError(valohaiUnavailableMessage(valohai.reason, valohaiRoot));
    const at = valohai.provided ? "valohai" : "host";
    // The job's own OS user (plain processes as root): see the design notes at the top.
    let jobUid: number | null = null;
    const home = path.join(p.root, "home");
    if (mode === "process" && isolation.kind === "users") {
      if (!setpriv) throw new RunnerError("vh runs jobs as users of their own with setpriv (util-linux), which is not installed on this host.");
      jobUid = await allocateUid(isolation);
      if (!workRootReachable) {
        // The job's user must be able to enter the work root (every folder above it enterable).
        const r = spawnSync("test", ["-x", workRoot], { uid: jobUid, gid: jobUid, stdio: "ignore" });
        if (r.status !== 0) {
          reservedUids.delete(jobUid);
          throw new RunnerError(
            `Jobs run as users of their own, who cannot enter the work root ${workRoot} (a folder above it is private, e.g. mode 700). ` +
              `Put the work root where every user can enter (vh's own default is under /var/lib/vh).`,
          );
        }
        workRootReachable = true;
      }
    }

    for (const [name, content] of Object.entries(spec.configFiles)) {
      if (name.includes("/") || name === "." || name === ".." || name === "") throw new RunnerError(`Invalid config file name "${name}".`);
      await fsp.writeFile(path.join(p.config, name), content);
    }
    const inputsJson = buildInputsJson(
      at,
      p.root,
      inputs.map((fetched, i) => ({ spec: spec.inputs[i] as LaunchSpec["inputs"][number], fetched })),
    );
    await fsp.writeFile(path.join(p.config, "inputs.json"), JSON.stringify(inputsJson, null, 2));
    await fsp.writeFile(path.join(p.config, "inputs.yaml"), YAML.stringify(inputsJson));

    await fsp.writeFile(p.script, spec.script, { mode: 0o644 });
    const env = buildJobEnv({
      mode,
      workDir: p.root,
      env: spec.env,
      gpus: spec.gpus,
      hostDefaults: { PATH: process.env.PATH, HOME: jobUid === null ? process.env.HOME : home, LANG: process.env.LANG },
      paths: at,
    });
    if (jobUid !== null) {
      try {
        await fsp.mkdir(home, { mode: 0o700 });
        for (const d of [p.repository, p.outputs, home]) await giveTree(d, jobUid);
        await fsp.chmod(p.outputs, 0o700);
        // The job may read its script but not list or write the wrapper's folder.
        await fsp.chmod(p.vh, 0o711);
        await fsp.chown(p.root, 0, jobUid);
        await fsp.chmod(p.root, 0o750); // its own folders listable, at /valohai too
      } finally {
        reservedUids.delete(jobUid); // the work dir's gid marks it as taken from here on
      }
      env.USER ??= "vh-job";
      env.LOGNAME ??= "vh-job";
    }
    let command: string[];
    let wrapperEnv: NodeJS.ProcessEnv;
    if (mode === "docker") {
      const envFile = buildDockerEnvFile(env);
      refuseHostSideEnv(envFile.passThrough);
      await fsp.writeFile(p.envFile, envFile.text, { mode: 0o600 });
      command = buildDockerRunArgv({
        executionId: spec.executionId,
        workDir: p.root,
        image: spec.image,
        envFile: p.envFile,
        passEnv: [],
        gpus: spec.gpus,
      });
      if (opts.fingerprint !== false) {
        command = withFingerprint(command, { kind: "docker", image: spec.image, nonce: crypto.randomBytes(8).toString("hex") }, fingerprintPaths(p.root).out);
      }
      // The docker CLI needs the host's environment (DOCKER_HOST, HOME for its config), and
      // nothing of the job's: the wrapper runs on the host, outside the container.
      wrapperEnv = { ...process.env };
    } else {
      // Only the job's user reads its environment (root:<gid> 640); see the design notes at the top.
      await fsp.writeFile(p.jobEnv, buildShellEnvFile(env), { mode: 0o600 });
      if (jobUid !== null) {
        await fsp.chown(p.jobEnv, 0, jobUid);
        await fsp.chmod(p.jobEnv, 0o640);
      }
      /** `inner` as the job: its own user, its /valohai, its environment (the fingerprint runs the same way). */
      const asJob = (inner: string[]): string[] => {
        const job = withJobEnv(p.jobEnv, inner);
        const chain = jobUid === null ? job : [setpriv!, `--reuid=${jobUid}`, `--regid=${jobUid}`, "--clear-groups", "--no-new-privs", "--", ...job];
        return valohai.provided ? buildValohaiViewArgv(findTool("unshare")!, p.root, chain, valohaiRoot) : chain;
      };
      command = asJob(["/bin/sh", p.script]);
      if (opts.fingerprint !== false) {
        const fp = fingerprintPaths(p.root);
        await fsp.writeFile(fp.script, buildFingerprintScript(programsOfCommand(spec.script), crypto.randomBytes(8).toString("hex")), { mode: 0o644 });
        command = withFingerprint(command, { kind: "process", argv: asJob(["/bin/sh", fp.script]) }, fp.out);
      }
      wrapperEnv = { PATH: wrapperPath() };
    }
    await fsp.writeFile(p.wrapper, buildWrapperScript({ workDir: p.root, command }), { mode: 0o700 });
    await fsp.writeFile(p.stdoutLog, "", { flag: "a" });
    await fsp.writeFile(p.stderrLog, "", { flag: "a" });
    const prepared: Prepared = { mode, inputs, valohai };
    await writeAtomic(p.prepared, JSON.stringify(prepared));
    return { prepared, wrapperEnv };
  }

  /** Wait for the job's pid file (or an exit code), then save and return the LaunchResult. */
  async function finishLaunch(executionId: string, p: WorkPaths, prepared: Prepared, spawnError: () => Error | null): Promise<LaunchResult> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let pgid: number | null = null;
    let exitCode: number | null = null;
    for (;;) {
      pgid = await readIntFile(p.pidFile);
      if (pgid !== null) break;
      exitCode = await readIntFile(p.exitCodeFile);
      if (exitCode !== null) break;
      const err = spawnError();
      if (err) throw new RunnerError(`Could not start the execution's process: ${err.message}`);
      if (Date.now() > deadline) {
        throw new RunnerError(`The execution's process did not start within ${START_TIMEOUT_MS / 1000} s (no ${p.pidFile}).`);
      }
      await sleep(5);
    }
    const handle: LocalHandle = {
      runner: "local",
      host,
      workDir: p.root,
      executionId,
      pgid,
      wrapperPid: await readIntFile(p.wrapperPidFile),
      mode: prepared.mode,
      container: prepared.mode === "docker" ? containerName(executionId) : null,
      bootId: await readBootId(),
      ...(prepared.valohai ? { valohai: prepared.valohai } : {}),
    };
    const result: LaunchResult = { handle, mode: prepared.mode, inputs: prepared.inputs };
    await writeAtomic(p.launched, JSON.stringify(result));
    return result;
  }

  /** A launch crashed after `.vh/spawned`: adopt the job when its wrapper ran, else null. */
  async function adopt(executionId: string, p: WorkPaths): Promise<LaunchResult | null> {
    const text = await readText(p.prepared);
    if (text === null) return null;
    const prepared = JSON.parse(text) as Prepared;
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      if ((await exists(p.wrapperPidFile)) || (await exists(p.pidFile)) || (await exists(p.exitCodeFile))) {
        return finishLaunch(executionId, p, prepared, () => null);
      }
      await sleep(20);
    }
    return null;
  }

  async function launchOnce(spec: LaunchSpec): Promise<LaunchResult> {
    const p = workPaths(path.join(workRoot, spec.executionId));
    const saved = await readText(p.launched);
    if (saved !== null) return JSON.parse(saved) as LaunchResult;
    if (await exists(p.root)) {
      if (await exists(p.spawned)) {
        const adopted = await adopt(spec.executionId, p);
        if (adopted) return adopted;
      }
      await forceRemove(p.root);
    }
    let ready: Awaited<ReturnType<typeof prepare>>;
    try {
      ready = await prepare(spec, p);
    } catch (err) {
      await forceRemove(p.root).catch(() => undefined);
      // the store away is tried again later (worker/tasks/start-execution.ts)
      if (err instanceof RunnerError || err instanceof StoreUnavailable) throw err;
      throw new RunnerError(`Could not prepare the work dir ${p.root}: ${(err as Error).message}`);
    }
    await fsp.writeFile(p.spawned, "");
    let spawnErr: Error | null = null;
    const child = spawn("/bin/sh", [p.wrapper], { cwd: p.root, env: ready.wrapperEnv, detached: true, stdio: "ignore" });
    child.on("error", (err) => {
      spawnErr = err;
    });
    child.unref();
    return finishLaunch(spec.executionId, p, ready.prepared, () => spawnErr);
  }

  return createDetachedRunner({
    kind: "local",
    host,
    shell: createLocalShell(),
    runsDir: () => workRoot,
    launch: launchOnce,
    describeHost: async () => describeThisHost(host, await dockerAvailable()),
  });
}
