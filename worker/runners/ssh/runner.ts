/**
 * The SSH runner: executions run on a host reached over SSH (ssh2), with the same detached-process
 * protocol as the local runner (worker/runners/shared/protocol.ts): `.vh/wrapper.sh` started with
 * `setsid -f`, the job in its own session (`setsid -w`, group id in `.vh/pid`), logs appended to
 * files, exit code written atomically. Nothing on the host depends on the SSH connection staying up.
 *
 * Remote layout under the host's root (default `$HOME/.vh`, or the path of the ssh:// URL):
 * - `runs/<executionId>/`: the work dir (repository/, inputs/, outputs/, config/, .vh/).
 * - `cache/code/<sha256>.tgz`: code snapshots, content-addressed: sent once per host over SFTP.
 * - `cache/sha256/<hex>`: input files by checksum (read-only, hard-linked into work dirs).
 * - `cache/urls/<sha256 of the URL>.json`: ETag/Last-Modified of the last download of a URL.
 *
 * Inputs: store objects (datums) are streamed from the store over SFTP, hashed on the way; http(s)
 * inputs are downloaded by curl ON THE HOST, with a conditional request when the URL was seen
 * before. Why on the host: datasets are large and the host usually sits next to them; passing them
 * through the control plane would make it the bottleneck of every launch. `s3://` inputs are the
 * exception, streamed from the bucket over SFTP like store objects: the worker holds the endpoints'
 * credentials and the host gets none; a pinned object fetched before (`cache/s3/<id>.json`) is not
 * fetched again.
 *
 * After the launch, the Runner is the shared detached runner (../shared/detached-runner.ts) over
 * this host's shell (./shell.ts): one script or SFTP request per step, over the same connection.
 *
 * Cancellation: a process-group kill sent over a second channel (`kill -- -PGID` from `.vh/pid`),
 * which works as root and after a reconnect, unlike ssh channel signals (toolchain-spikes §9).
 *
 * /valohai: when the SSH user is root and the host allows a private mount namespace (checked once
 * per runner with the same probe as the local runner, worker/runners/shared/valohai-view.ts), a
 * plain process sees its work dir at /valohai too; otherwise it gets the VH_*_DIR variables only,
 * the handle says why, and a step whose command names /valohai/… is refused at launch.
 */
import crypto from "node:crypto";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import YAML from "yaml";
import { RunnerError, StoreUnavailable } from "../../../app/errors.js";
import { refuseHostSideEnv, type DetachedHandle } from "../shared/detached.js";
import type { Store } from "../../../app/contracts/store.js";
import type { FetchedInput, HostInfo, LaunchResult, LaunchSpec } from "../../../app/contracts/runner.js";
import { buildDockerRunArgv, buildInputsJson, buildJobEnv, containerName } from "../shared/job.js";
import { buildDetachedStartCommand, buildDockerEnvFile, buildShellEnvFile, buildWrapperScript, shellQuote as q, withJobEnv, workPaths, type WorkPaths } from "../shared/protocol.js";
import { buildValohaiProbeScript, buildValohaiViewArgv, parseValohaiProbe, usesValohaiPaths, valohaiUnavailableMessage, type ValohaiView } from "../shared/valohai-view.js";
import { NVIDIA_SMI_QUERY_ARGS, parseCudaVersion, parseGpuQuery } from "../shared/gpu.js";
import { assertRelativePath, downloadLabel, hashingStream, INPUT_STALL_SECONDS, openS3Input, s3RecordName } from "../shared/inputs.js";
import type { S3InputsConfig } from "../../../app/config.js";
import type { S3Sender } from "../../../app/inputs/s3-client.js";
import { SshClient, type SshTarget } from "./client.js";
import { createSshShell, intOrNull } from "./shell.js";
import { createDetachedRunner, type DetachedRunner } from "../shared/detached-runner.js";
import { buildFingerprintScript, fingerprintPaths, programsOfCommand, withFingerprint } from "../shared/fingerprint.js";

export interface SshRunnerOptions {
  /** Host name as shown to users (the hosts table's name). */
  name: string;
  target: SshTarget;
  store: Store;
  docker: "auto" | "always" | "never";
  /** Where `s3://` inputs are read from (Config.s3Inputs); absent: such inputs fail with a message saying so. */
  s3Inputs?: S3InputsConfig;
  /** Tests: the S3 client to send GetObject with, instead of the endpoint's. */
  s3Client?: S3Sender;
  /** Reuse an existing client (tests cut its connection). */
  client?: SshClient;
}

export interface SshHandle extends DetachedHandle {
  runner: "ssh";
}

interface Prepared {
  mode: "docker" | "process";
  inputs: FetchedInput[];
  valohai: ValohaiView;
}

const START_TIMEOUT_S = 15;


function parseKv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}


export function createSshRunner(opts: SshRunnerOptions): DetachedRunner & { client: SshClient; close(): void } {
  const client = opts.client ?? new SshClient(opts.target, { name: opts.name });
  let rootP: Promise<string> | null = null;
  let dockerP: Promise<boolean> | null = null;
  let viewP: Promise<{ view: ValohaiView; unshare: string | null }> | null = null;

  function root(): Promise<string> {
    if (opts.target.root) return Promise.resolve(path.posix.normalize(opts.target.root));
    rootP ??= client.run('printf %s "$HOME"', "Reading $HOME").then((home) => path.posix.join(home.trim() || "/tmp", ".vh"));
    rootP.catch(() => (rootP = null));
    return rootP;
  }

  function dockerAvailable(): Promise<boolean> {
    if (opts.docker === "never") return Promise.resolve(false);
    dockerP ??= client.exec("docker info --format '{{.ServerVersion}}' >/dev/null 2>&1").then((r) => r.code === 0);
    dockerP.catch(() => (dockerP = null));
    return dockerP;
  }

  /** Whether plain processes on this host can have their own /valohai, and unshare's path there. */
  function valohaiView(): Promise<{ view: ValohaiView; unshare: string | null }> {
    viewP ??= client.run(`${buildValohaiProbeScript()}command -v unshare`, "Checking for a private /valohai").then((out) => {
      const [first = "", second = ""] = out.trim().split("\n");
      const view = parseValohaiProbe(first);
      const unshare = second.startsWith("/") ? second.trim() : null;
      if (view.provided && !unshare) return { view: parseValohaiProbe("no missing unshare"), unshare: null };
      return { view, unshare };
    });
    viewP.catch(() => (viewP = null));
    return viewP;
  }

  async function chooseMode(spec: LaunchSpec): Promise<"docker" | "process"> {
    if (opts.docker === "never") return "process";
    if (opts.docker === "always") return "docker";
    if (spec.mode === "process") return "process";
    return (await dockerAvailable()) ? "docker" : "process";
  }

  /** Stream a store object to a remote file over SFTP; returns its sha256 and size. */
  async function sendToHost(body: Readable, remote: string): Promise<{ sha256: string; size: number }> {
    const sftp = await client.sftp();
    const hasher = hashingStream();
    await pipeline(body, hasher, sftp.createWriteStream(remote, { mode: 0o644 }));
    return hasher.digest();
  }

  async function ensureCode(code: { key: string; sha256: string }, cacheDir: string): Promise<string> {
    const label = `Code snapshot ${code.key}`;
    if (!/^[0-9a-f]{64}$/.test(code.sha256)) throw new RunnerError(`${label}: invalid sha256 "${code.sha256}".`);
    const file = `${cacheDir}/code/${code.sha256}.tgz`;
    const hit = await client.exec(`test -f ${q(file)}`);
    if (hit.code === 0) return file;
    await client.run(`mkdir -p ${q(`${cacheDir}/code`)} ${q(`${cacheDir}/tmp`)}`, "Creating the code cache");
    const tmp = `${cacheDir}/tmp/${crypto.randomUUID()}.tgz`;
    let body: Readable;
    try {
      body = await opts.store.get(code.key);
    } catch (err) {
      // The store away: the start is tried again later (worker/tasks/start-execution.ts); anything else is this execution's error.
      if (err instanceof StoreUnavailable) throw new StoreUnavailable(`${label} could not be read from the store: ${err.message}`);
      throw new RunnerError(`${label} could not be read from the store: ${(err as Error).message}`);
    }
    const got = await sendToHost(body, tmp);
    if (got.sha256 !== code.sha256) {
      await client.exec(`rm -f ${q(tmp)}`);
      throw new RunnerError(`${label}: checksum mismatch: expected sha256 ${code.sha256}, got ${got.sha256}.`);
    }
    await client.run(`chmod 444 ${q(tmp)} && mv -f ${q(tmp)} ${q(file)}`, "Caching the code snapshot");
    return file;
  }

  async function cachedInput(cacheDir: string, sha256: string, size?: number): Promise<boolean> {
    const f = `${cacheDir}/sha256/${sha256}`;
    const r = await client.exec(`stat -c %s ${q(f)} 2>/dev/null`);
    if (r.code !== 0) return false;
    return size === undefined || Number(r.stdout.toString().trim()) === size;
  }

  async function fetchStoreInput(spec: LaunchSpec["inputs"][number], key: string, cacheDir: string): Promise<{ sha256: string; size: number }> {
    const label = `Input "${spec.input}": could not read ${spec.uri} from the store`;
    let body: Readable;
    try {
      body = await opts.store.get(key);
    } catch (err) {
      throw new RunnerError(`${label}: ${(err as Error).message}`);
    }
    const tmp = `${cacheDir}/tmp/${crypto.randomUUID()}.part`;
    let got: { sha256: string; size: number };
    try {
      got = await sendToHost(body, tmp);
    } catch (err) {
      await client.exec(`rm -f ${q(tmp)}`);
      throw new RunnerError(`${label}: ${(err as Error).message}`);
    }
    if (spec.sha256 && spec.sha256 !== got.sha256) {
      await client.exec(`rm -f ${q(tmp)}`);
      throw new RunnerError(`${label}: checksum mismatch: expected sha256 ${spec.sha256}, got ${got.sha256}.`);
    }
    const dest = `${cacheDir}/sha256/${got.sha256}`;
    await client.run(`if [ -f ${q(dest)} ]; then rm -f ${q(tmp)}; else chmod 444 ${q(tmp)} && mv -f ${q(tmp)} ${q(dest)}; fi`, "Caching an input");
    return got;
  }

  /** An S3 object streamed from the bucket to the host over SFTP (pinned: see app/inputs/s3-client.ts), unless fetched before. */
  async function fetchS3Input(spec: LaunchSpec["inputs"][number], source: Extract<LaunchSpec["inputs"][number]["source"], { kind: "s3" }>, cacheDir: string): Promise<{ sha256: string; size: number; cached: boolean }> {
    const recName = s3RecordName(source);
    const recFile = recName ? `${cacheDir}/s3/${recName}` : null;
    if (recFile) {
      const recText = await client.exec(`cat ${q(recFile)} 2>/dev/null`);
      if (recText.code === 0) {
        try {
          const rec = JSON.parse(recText.stdout.toString()) as { sha256?: unknown; size?: unknown };
          if (typeof rec.sha256 === "string" && /^[0-9a-f]{64}$/.test(rec.sha256) && typeof rec.size === "number" && (!spec.sha256 || spec.sha256 === rec.sha256) && (await cachedInput(cacheDir, rec.sha256, rec.size))) {
            return { sha256: rec.sha256, size: rec.size, cached: true };
          }
        } catch {
          // a damaged record: fetch
        }
      }
    }
    const { body, size: told, label } = await openS3Input(spec, source, opts.s3Inputs, opts.s3Client);
    const tmp = `${cacheDir}/tmp/${crypto.randomUUID()}.part`;
    let got: { sha256: string; size: number };
    try {
      got = await sendToHost(body, tmp);
    } catch (err) {
      body.destroy();
      await client.exec(`rm -f ${q(tmp)}`);
      throw new RunnerError(`${label}: ${(err as Error).message}`);
    }
    const expected = told ?? spec.size;
    const bad =
      spec.sha256 && spec.sha256 !== got.sha256
        ? `checksum mismatch: expected sha256 ${spec.sha256}, got ${got.sha256}.`
        : expected !== undefined && expected !== got.size
          ? `got ${got.size} bytes, expected ${expected}: the transfer was cut short.`
          : null;
    if (bad) {
      await client.exec(`rm -f ${q(tmp)}`);
      throw new RunnerError(`${label}: ${bad}`);
    }
    const dest = `${cacheDir}/sha256/${got.sha256}`;
    await client.run(`if [ -f ${q(dest)} ]; then rm -f ${q(tmp)}; else chmod 444 ${q(tmp)} && mv -f ${q(tmp)} ${q(dest)}; fi`, "Caching an input");
    if (recFile) {
      await client.run(`mkdir -p ${q(`${cacheDir}/s3`)}`, "Creating the input cache");
      await client.writeFile(recFile, JSON.stringify({ sha256: got.sha256, size: got.size }), 0o600);
    }
    return { ...got, cached: false };
  }

  async function fetchHttpInput(spec: LaunchSpec["inputs"][number], url: string, cacheDir: string): Promise<{ sha256: string; size: number; cached: boolean }> {
    const label = downloadLabel(spec.input, url);
    const recFile = `${cacheDir}/urls/${crypto.createHash("sha256").update(url).digest("hex")}.json`;
    type UrlRecord = { url: string; sha256: string; size: number; etag: string | null; lastModified: string | null };
    let rec = null as UrlRecord | null;
    const recText = await client.exec(`cat ${q(recFile)} 2>/dev/null`);
    if (recText.code === 0) {
      try {
        const r = JSON.parse(recText.stdout.toString()) as UrlRecord | null;
        if (r && r.url === url && (await cachedInput(cacheDir, r.sha256, r.size))) rec = r;
      } catch {
        rec = null;
      }
    }
    const headers: string[] = [];
    if (rec?.etag) headers.push("-H", `If-None-Match: ${rec.etag}`);
    if (rec?.lastModified) headers.push("-H", `If-Modified-Since: ${rec.lastModified}`);
    const t = `${cacheDir}/tmp/${crypto.randomUUID()}`;
    const script = [
      `mkdir -p ${q(`${cacheDir}/tmp`)} ${q(`${cacheDir}/sha256`)} ${q(`${cacheDir}/urls`)}`,
      `command -v curl >/dev/null 2>&1 || { echo rc=127; echo "err=curl is not installed on the host"; exit 0; }`,
      `code=$(curl -sS -L --connect-timeout 30 --speed-limit 1 --speed-time ${INPUT_STALL_SECONDS} -o ${q(`${t}.part`)} -D ${q(`${t}.hdr`)} -w '%{http_code}' ${headers.map(q).join(" ")} -- ${q(url)} 2>${q(`${t}.err`)}); rc=$?`,
      `echo "rc=$rc"; echo "http=$code"`,
      `if [ "$rc" != 0 ]; then echo "err=$(head -c 300 ${q(`${t}.err`)} | tr '\\n' ' ')"; rm -f ${q(t)}.*; exit 0; fi`,
      `hdr() { grep -i "^$1:" ${q(`${t}.hdr`)} | tail -n 1 | cut -d: -f2- | tr -d '\\r' | sed 's/^ *//'; }`,
      `echo "etag=$(hdr etag)"; echo "lastmod=$(hdr last-modified)"`,
      `if [ "$code" = 200 ]; then`,
      `  sum=$(sha256sum ${q(`${t}.part`)} | cut -d' ' -f1); echo "sha256=$sum"; echo "size=$(stat -c %s ${q(`${t}.part`)})"`,
      `  if [ -f ${q(`${cacheDir}/sha256/`)}"$sum" ]; then rm -f ${q(`${t}.part`)}; else chmod 444 ${q(`${t}.part`)} && mv -f ${q(`${t}.part`)} ${q(`${cacheDir}/sha256/`)}"$sum"; fi`,
      `fi`,
      `rm -f ${q(`${t}.part`)} ${q(`${t}.hdr`)} ${q(`${t}.err`)}`,
    ].join("\n");
    const kv = parseKv(await client.run(script, `Downloading input "${spec.input}"`));
    if (kv.rc !== "0") throw new RunnerError(`${label}: ${kv.err?.trim() || `curl exited with ${kv.rc}`}`);
    if (kv.http === "304" && rec) return { sha256: rec.sha256, size: rec.size, cached: true };
    if (kv.http !== "200" || !kv.sha256) throw new RunnerError(`${label}: HTTP ${kv.http}`);
    const got = { sha256: kv.sha256, size: Number(kv.size) };
    if (spec.sha256 && spec.sha256 !== got.sha256) {
      throw new RunnerError(`${label}: checksum mismatch: expected sha256 ${spec.sha256}, got ${got.sha256}.`);
    }
    const record = { url, sha256: got.sha256, size: got.size, etag: kv.etag || null, lastModified: kv.lastmod || null };
    await client.writeFile(recFile, JSON.stringify(record), 0o600);
    return { ...got, cached: false };
  }

  async function fetchInputs(spec: LaunchSpec, p: WorkPaths, cacheDir: string): Promise<FetchedInput[]> {
    await client.run(`mkdir -p ${q(`${cacheDir}/sha256`)} ${q(`${cacheDir}/tmp`)} ${q(`${cacheDir}/urls`)}`, "Creating the input cache");
    const fetched: FetchedInput[] = [];
    const links: string[] = [];
    for (const input of spec.inputs) {
      assertRelativePath(input.input, "Input name");
      if (input.input.includes("/")) throw new RunnerError(`Input name "${input.input}" cannot contain "/".`);
      assertRelativePath(input.name, `Input "${input.input}": file name`);
      let got: { sha256: string; size: number; cached: boolean };
      if (input.sha256 && (await cachedInput(cacheDir, input.sha256, input.size))) {
        const r = await client.run(`stat -c %s ${q(`${cacheDir}/sha256/${input.sha256}`)}`, "Reading the input cache");
        got = { sha256: input.sha256, size: Number(r.trim()), cached: true };
      } else if (input.source.kind === "store") {
        got = { ...(await fetchStoreInput(input, input.source.key, cacheDir)), cached: false };
      } else if (input.source.kind === "s3") {
        got = await fetchS3Input(input, input.source, cacheDir);
      } else {
        got = await fetchHttpInput(input, input.source.url, cacheDir);
      }
      const dest = path.posix.join(p.inputs, input.input, input.name);
      const src = `${cacheDir}/sha256/${got.sha256}`;
      links.push(`mkdir -p ${q(path.posix.dirname(dest))} && rm -f ${q(dest)} && { ln ${q(src)} ${q(dest)} 2>/dev/null || cp ${q(src)} ${q(dest)}; } && chmod 444 ${q(dest)}`);
      fetched.push({ input: input.input, name: input.name, uri: input.uri, sha256: got.sha256, size: got.size, cached: got.cached });
    }
    // A later attempt's saved outputs: copied (not linked) into outputs/, so a checkpoint the step
    // rewrites in place never changes the cache's copy.
    for (const saved of spec.restoreOutputs ?? []) {
      assertRelativePath(saved.name, "Saved output");
      let sha = saved.sha256 && (await cachedInput(cacheDir, saved.sha256, saved.size)) ? saved.sha256 : null;
      if (!sha) {
        if (saved.source.kind !== "store") throw new RunnerError(`Saved output "${saved.name}" is not in the store`);
        sha = (await fetchStoreInput(saved, saved.source.key, cacheDir)).sha256;
      }
      const dest = path.posix.join(p.outputs, saved.name);
      links.push(`mkdir -p ${q(path.posix.dirname(dest))} && cp ${q(`${cacheDir}/sha256/${sha}`)} ${q(dest)} && chmod 644 ${q(dest)}`);
    }
    if (links.length > 0) await client.run(links.join("\n"), "Linking inputs into the work dir");
    return fetched;
  }

  async function prepare(spec: LaunchSpec, p: WorkPaths, cacheDir: string): Promise<Prepared> {
    await client.run(
      `mkdir -p ${q(p.repository)} ${q(p.inputs)} ${q(p.outputs)} ${q(p.config)} && mkdir -p -m 700 ${q(p.vh)}`,
      "Creating the work dir",
    );
    if (spec.code) {
      const file = await ensureCode(spec.code, cacheDir);
      const r = await client.exec(`tar xzf ${q(file)} -C ${q(p.repository)}`);
      if (r.code !== 0) throw new RunnerError(`Code snapshot ${spec.code.key} could not be extracted: ${r.stderr.toString().trim().slice(0, 300)}`);
    }
    const inputs = await fetchInputs(spec, p, cacheDir);
    const mode = await chooseMode(spec);
    const found = mode === "docker" ? { view: { provided: true, how: "docker" } as ValohaiView, unshare: null } : await valohaiView();
    const valohai = found.view;
    if (!valohai.provided && usesValohaiPaths(spec.script)) throw new RunnerError(`${valohaiUnavailableMessage(valohai.reason)} (host ${opts.name})`);
    const at = valohai.provided ? "valohai" : "host";
    // File contents go over SFTP (mode 0600: the job runs as this user, docker as root), never on a
    // command line, where every user of the host could read them (/proc/<pid>/cmdline).
    const files: { file: string; content: string | Buffer; mode: number }[] = [];
    for (const [name, content] of Object.entries(spec.configFiles)) {
      if (name.includes("/") || name === "." || name === ".." || name === "") throw new RunnerError(`Invalid config file name "${name}".`);
      files.push({ file: path.posix.join(p.config, name), content, mode: 0o600 });
    }
    const inputsJson = buildInputsJson(at, p.root, inputs.map((fetched, i) => ({ spec: spec.inputs[i] as LaunchSpec["inputs"][number], fetched })));
    files.push({ file: path.posix.join(p.config, "inputs.json"), content: JSON.stringify(inputsJson, null, 2), mode: 0o600 });
    files.push({ file: path.posix.join(p.config, "inputs.yaml"), content: YAML.stringify(inputsJson), mode: 0o600 });
    files.push({ file: p.script, content: spec.script, mode: 0o600 });
    // The remote login environment supplies PATH, HOME and LANG (the wrapper inherits it).
    const env = buildJobEnv({ mode, workDir: p.root, env: spec.env, gpus: spec.gpus, hostDefaults: {}, paths: at });
    let command: string[];
    let sourced: Record<string, string>;
    if (mode === "docker") {
      const envFile = buildDockerEnvFile(env);
      files.push({ file: p.envFile, content: envFile.text, mode: 0o600 });
      refuseHostSideEnv(envFile.passThrough);
      command = buildDockerRunArgv({ executionId: spec.executionId, workDir: p.root, image: spec.image, envFile: p.envFile, passEnv: [], gpus: spec.gpus });
      command = withFingerprint(command, { kind: "docker", image: spec.image, nonce: crypto.randomBytes(8).toString("hex") }, fingerprintPaths(p.root).out);
      sourced = {};
    } else {
      // The job's environment is added last, after the /valohai mounts (run as this user, root here).
      const asJob = (inner: string[]): string[] => {
        const job = withJobEnv(p.jobEnv, inner);
        return valohai.provided && found.unshare ? buildValohaiViewArgv(found.unshare, p.root, job) : job;
      };
      command = asJob(["/bin/sh", p.script]);
      // The runtime fingerprint, taken the same way just before the step (shared/fingerprint.ts).
      const fp = fingerprintPaths(p.root);
      files.push({ file: fp.script, content: buildFingerprintScript(programsOfCommand(spec.script), crypto.randomBytes(8).toString("hex")), mode: 0o600 });
      command = withFingerprint(command, { kind: "process", argv: asJob(["/bin/sh", fp.script]) }, fp.out);
      sourced = env;
    }
    files.push({ file: p.jobEnv, content: buildShellEnvFile(sourced), mode: 0o600 });
    files.push({ file: p.wrapper, content: buildWrapperScript({ workDir: p.root, command }), mode: 0o700 });
    await Promise.all(files.map((f) => client.writeFile(f.file, f.content, f.mode)));
    await client.run(`: >> ${q(p.stdoutLog)}; : >> ${q(p.stderrLog)}`, "Writing the work dir");
    const prepared: Prepared = { mode, inputs, valohai };
    await client.writeFile(p.prepared, JSON.stringify(prepared), 0o600);
    return prepared;
  }

  async function finishLaunch(executionId: string, p: WorkPaths, prepared: Prepared): Promise<LaunchResult> {
    const loops = START_TIMEOUT_S * 50;
    const out = await client.run(
      [
        `i=0; while [ $i -lt ${loops} ]; do { [ -s ${q(p.pidFile)} ] || [ -s ${q(p.exitCodeFile)} ]; } && break; sleep 0.02; i=$((i+1)); done`,
        `echo "pid=$(cat ${q(p.pidFile)} 2>/dev/null)"`,
        `echo "wpid=$(cat ${q(p.wrapperPidFile)} 2>/dev/null)"`,
        `echo "exit=$(cat ${q(p.exitCodeFile)} 2>/dev/null)"`,
        `echo "boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"`,
      ].join("\n"),
      "Waiting for the job to start",
    );
    const kv = parseKv(out);
    const pgid = intOrNull(kv.pid);
    if (pgid === null && intOrNull(kv.exit) === null) {
      throw new RunnerError(`The execution's process did not start within ${START_TIMEOUT_S} s on ${opts.name} (no ${p.pidFile}).`);
    }
    const handle: SshHandle = {
      runner: "ssh",
      host: opts.name,
      workDir: p.root,
      executionId,
      pgid,
      wrapperPid: intOrNull(kv.wpid),
      mode: prepared.mode,
      container: prepared.mode === "docker" ? containerName(executionId) : null,
      bootId: kv.boot?.trim() || null,
      ...(prepared.valohai ? { valohai: prepared.valohai } : {}),
    };
    const result: LaunchResult = { handle, mode: prepared.mode, inputs: prepared.inputs };
    await client.writeFile(p.launched, JSON.stringify(result), 0o600);
    return result;
  }

  async function launchOnce(spec: LaunchSpec): Promise<LaunchResult> {
    const base = await root();
    const cacheDir = `${base}/cache`;
    const p = workPaths(`${base}/runs/${spec.executionId}`);
    const state = parseKv(
      await client.run(
        `if [ -f ${q(p.launched)} ]; then echo "state=launched"; elif [ -e ${q(p.spawned)} ]; then echo "state=spawned"; elif [ -e ${q(p.root)} ]; then echo "state=partial"; else echo "state=none"; fi`,
        "Inspecting the work dir",
      ),
    );
    if (state.state === "launched") {
      return JSON.parse((await client.run(`cat ${q(p.launched)}`, "Reading the launch record")).toString()) as LaunchResult;
    }
    if (state.state === "spawned") {
      const text = await client.exec(`cat ${q(p.prepared)}`);
      if (text.code === 0) return finishLaunch(spec.executionId, p, JSON.parse(text.stdout.toString()) as Prepared);
    }
    if (state.state !== "none") await client.run(`chmod -R u+w ${q(p.root)} 2>/dev/null; rm -rf ${q(p.root)}`, "Clearing a half-made work dir");
    let prepared: Prepared;
    try {
      prepared = await prepare(spec, p, cacheDir);
    } catch (err) {
      await client.exec(`chmod -R u+w ${q(p.root)} 2>/dev/null; rm -rf ${q(p.root)}`).catch(() => undefined);
      // the store away is tried again later (worker/tasks/start-execution.ts)
      if (err instanceof RunnerError || err instanceof StoreUnavailable) throw err;
      throw new RunnerError(`Could not prepare the work dir ${p.root} on ${opts.name}: ${(err as Error).message}`);
    }
    await client.run(`: > ${q(p.spawned)} && cd ${q(p.root)} && ${buildDetachedStartCommand(p.root)}`, "Starting the job");
    return finishLaunch(spec.executionId, p, prepared);
  }

  const runner = createDetachedRunner({
    kind: "ssh",
    host: opts.name,
    shell: createSshShell(client, opts.name),
    runsDir: async () => `${await root()}/runs`,
    launch: launchOnce,
    describeHost: () => describeSshHost(client, opts.name),
  });
  return Object.assign(runner, {
    client,
    close() {
      client.close();
    },
  });
}

/**
 * Host facts over SSH, in one command: OS, kernel, arch, CPU, memory, GPUs (nvidia-smi on the
 * remote PATH, run on every call: drivers installed after registration are seen), CUDA, docker.
 * Only nvidia-smi is asked about GPUs, so an integrated GPU of another vendor cannot mask them.
 */
export async function describeSshHost(client: SshClient, name: string): Promise<HostInfo> {
  const sep = "----vh----";
  const script = [
    `hostname 2>/dev/null || cat /proc/sys/kernel/hostname`,
    `echo ${sep}; (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || uname -s`,
    `echo ${sep}; uname -r`,
    `echo ${sep}; uname -m`,
    `echo ${sep}; grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2-`,
    `echo ${sep}; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN`,
    `echo ${sep}; grep MemTotal /proc/meminfo 2>/dev/null | tr -s ' ' | cut -d' ' -f2`,
    `echo ${sep}; command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi ${NVIDIA_SMI_QUERY_ARGS.map(q).join(" ")} 2>&1`,
    `echo ${sep}; command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi 2>&1 | head -n 20`,
    `echo ${sep}; docker info --format '{{.ServerVersion}}' >/dev/null 2>&1 && echo yes || echo no`,
  ].join("\n");
  const out = await client.run(script, `Describing host ${name}`, { timeoutMs: 30_000 });
  const parts = out.split(`${sep}\n`).map((s) => s.trim());
  const gpus = parseGpuQuery(parts[7] ?? "");
  return {
    hostname: parts[0] || name,
    os: parts[1] || "unknown",
    kernel: parts[2] || "unknown",
    arch: parts[3] || "unknown",
    cpuModel: (parts[4] ?? "").trim() || "unknown",
    cpuCount: Math.max(1, Number(parts[5]) || 1),
    memoryBytes: (Number(parts[6]) || 0) * 1024,
    gpus,
    cudaVersion: gpus.length > 0 ? parseCudaVersion(parts[8] ?? "") : null,
    dockerAvailable: (parts[9] ?? "") === "yes",
  };
}
