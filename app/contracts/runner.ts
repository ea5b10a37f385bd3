/**
 * Runners: what starts an execution's command on a host and lets the control plane watch it.
 *
 * Terminology (also in docs/architecture.md):
 * - execution: one run of one step with its parameters and inputs (a row in `executions`).
 * - host: a machine a runner runs commands on (this machine for `local`, an SSH host, an EC2 instance).
 * - work dir: the execution's directory on the host: `repository/`, `inputs/NAME/…`, `outputs/`,
 *   `config/` (the runtime contract of valohai-spec §3), plus `.vh/` with the runner's own files
 *   (script, pid file, exit-code file, stdout.log, stderr.log).
 * - handle: the JSON-serialisable record `launch` returns; stored in `executions.runner_handle`.
 *   Everything needed to re-attach after the control plane restarts is in it.
 *
 * The process runs detached from the control plane (its own session / process group, output to
 * files), so killing vh never kills a training run, and vh re-attaches by handle afterwards.
 */
import type { Readable } from "node:stream";

/** Where one input file comes from, resolved by the control plane before launch. */
export type InputSource =
  | { kind: "http"; url: string }
  /** An object in the artifact store (a datum, later a model version file). */
  | { kind: "store"; key: string }
  /**
   * An object in an S3 (or S3-compatible) bucket, as resolved at creation: `endpoint` is the NAME of
   * a configured endpoint (VH_S3_INPUT_ENDPOINTS; absent: the AWS SDK's default), never credentials.
   * The fetch is pinned: to `versionId` when the bucket keeps versions, else to `etag`.
   */
  | { kind: "s3"; bucket: string; key: string; endpoint?: string; versionId?: string; etag?: string };

export interface InputFileSpec {
  /** Input name: the directory under inputs/. */
  input: string;
  /** Path of the file relative to inputs/NAME/ (the step's `filename`, else the URL's basename). */
  name: string;
  /** The URI the user gave (`https://…`, `datum://…`), recorded in inputs.json. */
  uri: string;
  source: InputSource;
  /** Known checksum (datums): lets the host cache hit without downloading. */
  sha256?: string;
  size?: number;
  /** Datum id when the input is a datum. */
  datumId?: string;
  /** Sidecar metadata of a datum, shown to the step in inputs.json `files[].metadata`. */
  metadata?: Record<string, unknown>;
}

/** What a host reports it fetched for one input file. */
export interface FetchedInput {
  input: string;
  name: string;
  uri: string;
  sha256: string;
  size: number;
  /** True when the file came from the host's checksum cache without a download. */
  cached: boolean;
}

export interface LaunchSpec {
  executionId: string;
  /** The final shell script (command list joined per the configured joiner), run with /bin/sh. */
  script: string;
  /** Environment for the command (VH_* variables and the step's variables). Secrets included: never log. */
  env: Record<string, string>;
  image: string;
  /** `docker`: run in `image` with the work dir mounted at /valohai; `process`: a plain process. */
  mode: "docker" | "process";
  /** Code snapshot: a gzipped tarball in the store, extracted into repository/. Null: empty repository. */
  code: { key: string; sha256: string } | null;
  inputs: InputFileSpec[];
  /** Files written into config/ before start: parameters.json, inputs.json is written by the runner. */
  configFiles: Record<string, string>;
  /** GPU device indices assigned to this execution (empty: none). */
  gpus: number[];
  /**
   * A later attempt of an execution (after a spot interruption): the outputs its earlier attempts
   * saved, put back into outputs/ before the step starts (`name` is the path under outputs/), so a
   * step that saves checkpoints resumes. Fetched like inputs (checksum-verified, cached by sha256).
   */
  restoreOutputs?: InputFileSpec[];
}

export interface RunnerHandle {
  runner: string;
  host: string;
  workDir: string;
  /** Any runner-specific fields (pid, container name, connection id…). */
  [k: string]: unknown;
}

export interface LaunchResult {
  handle: RunnerHandle;
  /** How the work dir maps for the step: docker mounts at /valohai, a process gets VH_* paths. */
  mode: "docker" | "process";
  inputs: FetchedInput[];
  /** Docker image digest when known. */
  imageDigest?: string;
}

export interface LogChunk {
  stream: "stdout" | "stderr";
  /** Bytes read; may end mid-line (the caller keeps the partial line). */
  data: Buffer;
  /** Offset in the stream's file where `data` starts. */
  offset: number;
}

export interface PollResult {
  chunks: LogChunk[];
  /** Null while running; the exit code (or 128+signal) once the process has ended. */
  exitCode: number | null;
  /** True once the process has ended AND every byte of its output has been returned. */
  finished: boolean;
}

export interface OutputFileInfo {
  /** Path relative to outputs/, slash-separated. */
  path: string;
  size: number;
  /** No write bit for anyone: the "upload me now" signal of valohai-utils live uploads. */
  readOnly: boolean;
}

export interface HostInfo {
  hostname: string;
  os: string;
  kernel: string;
  arch: string;
  cpuModel: string;
  cpuCount: number;
  memoryBytes: number;
  gpus: { index: number; uuid: string; name: string; memoryMiB: number; driverVersion: string }[];
  cudaVersion: string | null;
  dockerAvailable: boolean;
}

/**
 * Every method's contract is checked by test/contracts/runner-contract.ts for every runner.
 */
export interface Runner {
  /** Runner kind: `local`, `ssh`, `ec2`. */
  readonly kind: string;
  /** Host name as shown to users and recorded on executions. */
  readonly host: string;

  /**
   * Materialise the work dir (code, inputs, config files) and start the script detached.
   * Returns as soon as the process is spawned. Idempotent per executionId: calling it again for an
   * execution already launched returns the same handle and does not start a second process.
   * Throws RunnerError with a message naming the input/URL on a failed input download.
   */
  launch(spec: LaunchSpec): Promise<LaunchResult>;

  /**
   * Bytes written to stdout/stderr after the given offsets, and whether the process ended.
   * Works after a control-plane restart given only the handle. Never returns bytes twice for the same offsets.
   */
  poll(handle: RunnerHandle, offsets: { stdout: number; stderr: number }): Promise<PollResult>;

  /**
   * Signal the whole process group (the command and every child). Idempotent: an ended process is fine.
   * `graceSeconds` > 0: SIGTERM, then SIGKILL after the grace period if still alive.
   */
  terminate(handle: RunnerHandle, graceSeconds: number): Promise<void>;

  /** Files under outputs/ (recursive), excluding nothing: the caller decides what a sidecar is. */
  listOutputs(handle: RunnerHandle): Promise<OutputFileInfo[]>;
  openOutput(handle: RunnerHandle, relPath: string): Promise<Readable>;
  /** Remove one output file (after a live upload). Idempotent. */
  removeOutput(handle: RunnerHandle, relPath: string): Promise<void>;

  /** Delete the work dir (not the host's caches). Idempotent. */
  cleanup(handle: RunnerHandle): Promise<void>;

  /** Facts about the host for the execution record (OS, CPU, memory, GPUs, CUDA, docker). */
  describeHost(): Promise<HostInfo>;
}
