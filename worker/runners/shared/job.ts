/**
 * Pure builders for what a job sees, shared by every runner: its environment, the `docker run`
 * command line, and `config/inputs.json` (valohai-spec §3.1, §3.2).
 */
import path from "node:path";
import type { FetchedInput, InputFileSpec } from "../../../app/contracts/runner.js";
import { workPaths } from "./protocol.js";
import { VALOHAI_ROOT } from "./valohai-view.js";

/** Where the work dir appears inside a container (and to a plain process given its own /valohai). */
export const CONTAINER_ROOT = VALOHAI_ROOT;
/** Where `.vh/script.sh` is mounted inside a container. */
export const CONTAINER_SCRIPT = "/vh/script.sh";

/**
 * Where the step sees its work dir: `valohai` at /valohai (docker, and a plain process with its own
 * view, see valohai-view.ts), `host` at the work dir's own path (a plain process without it).
 */
export type StepPaths = "valohai" | "host";

/** The four directory variables of the runtime contract, for where the step sees its work dir. */
export function vhDirs(at: StepPaths, workDir: string): Record<string, string> {
  const p = workPaths(workDir);
  if (at === "valohai") {
    return {
      VH_REPOSITORY_DIR: `${CONTAINER_ROOT}/repository`,
      VH_INPUTS_DIR: `${CONTAINER_ROOT}/inputs`,
      VH_OUTPUTS_DIR: `${CONTAINER_ROOT}/outputs`,
      VH_CONFIG_DIR: `${CONTAINER_ROOT}/config`,
    };
  }
  return { VH_REPOSITORY_DIR: p.repository, VH_INPUTS_DIR: p.inputs, VH_OUTPUTS_DIR: p.outputs, VH_CONFIG_DIR: p.config };
}

export interface JobEnvOptions {
  mode: "docker" | "process";
  workDir: string;
  /** The caller's environment (LaunchSpec.env). */
  env: Record<string, string>;
  gpus: number[];
  /** PATH, HOME, LANG of the host, used when `env` does not set them (process mode only). */
  hostDefaults: Partial<Record<"PATH" | "HOME" | "LANG", string>>;
  /** Where the step sees its work dir; default: `valohai` in docker mode, `host` for a process. */
  paths?: StepPaths;
}

/**
 * The job's environment. Precedence, lowest first: PYTHONUNBUFFERED=1 and the host's PATH/HOME/LANG
 * (process mode), the caller's env, then the VH_*_DIR variables of the mode (they always win: they
 * describe where this runner put things). CUDA_VISIBLE_DEVICES is set from `gpus` in process mode
 * only when non-empty; in docker mode `--gpus` selects the devices and the container numbers them 0…
 */
export function buildJobEnv(opts: JobEnvOptions): Record<string, string> {
  const base: Record<string, string> = { PYTHONUNBUFFERED: "1" };
  if (opts.mode === "process") {
    for (const k of ["PATH", "HOME", "LANG"] as const) {
      const v = opts.hostDefaults[k];
      if (v !== undefined) base[k] = v;
    }
  }
  const at = opts.paths ?? (opts.mode === "docker" ? "valohai" : "host");
  const env: Record<string, string> = { ...base, ...opts.env, ...vhDirs(at, opts.workDir) };
  if (opts.mode === "process" && opts.gpus.length > 0) env.CUDA_VISIBLE_DEVICES = opts.gpus.join(",");
  return env;
}

export interface DockerRunOptions {
  executionId: string;
  workDir: string;
  image: string;
  /** Path of the `--env-file` on the host. */
  envFile: string;
  /** Variable names passed with `-e NAME` (values docker takes from its own environment). */
  passEnv?: string[];
  gpus: number[];
}

export function containerName(executionId: string): string {
  return `vh-${executionId}`;
}

/** The `docker run` argv (argv[0] is `docker`) that runs `.vh/script.sh` in the image. */
export function buildDockerRunArgv(opts: DockerRunOptions): string[] {
  const p = workPaths(opts.workDir);
  for (const dir of [p.root]) {
    // `-v a:b` has no escaping: a colon in a host path would be read as a separator.
    if (dir.includes(":")) throw new Error(`work dir ${dir} contains ":", which docker -v cannot mount`);
  }
  const argv = [
    "docker", "run", "--rm",
    "--name", containerName(opts.executionId),
    "--init",
    "-v", `${p.repository}:${CONTAINER_ROOT}/repository`,
    "-v", `${p.inputs}:${CONTAINER_ROOT}/inputs:ro`,
    "-v", `${p.outputs}:${CONTAINER_ROOT}/outputs`,
    "-v", `${p.config}:${CONTAINER_ROOT}/config:ro`,
    "-v", `${p.script}:${CONTAINER_SCRIPT}:ro`,
    "-w", `${CONTAINER_ROOT}/repository`,
    "--env-file", opts.envFile,
    ...(opts.passEnv ?? []).flatMap((name) => ["-e", name]),
  ];
  // The value is a CSV field for docker: the quotes keep the comma between devices in one field.
  if (opts.gpus.length > 0) argv.push("--gpus", `"device=${opts.gpus.join(",")}"`);
  argv.push(opts.image, "/bin/sh", CONTAINER_SCRIPT);
  return argv;
}

/** One file of `config/inputs.json`. */
export interface InputsJsonFile {
  name: string;
  path: string;
  uri: string;
  size: number;
  checksums: { sha256: string };
  metadata: Record<string, unknown>[];
  datum_id?: string;
}

/**
 * `config/inputs.json` in the Valohai shape. `path` is what the step sees: under /valohai/inputs,
 * or the host path for a plain process without its own /valohai.
 */
export function buildInputsJson(
  at: StepPaths,
  workDir: string,
  files: { spec: InputFileSpec; fetched: FetchedInput }[],
): Record<string, { files: InputsJsonFile[] }> {
  const inputsDir = vhDirs(at, workDir).VH_INPUTS_DIR as string;
  const out: Record<string, { files: InputsJsonFile[] }> = {};
  for (const { spec, fetched } of files) {
    const entry: InputsJsonFile = {
      name: spec.name,
      path: path.posix.join(inputsDir, spec.input, spec.name),
      uri: spec.uri,
      size: fetched.size,
      checksums: { sha256: fetched.sha256 },
      metadata: spec.metadata ? [spec.metadata] : [],
      ...(spec.datumId ? { datum_id: spec.datumId } : {}),
    };
    (out[spec.input] ??= { files: [] }).files.push(entry);
  }
  return out;
}
