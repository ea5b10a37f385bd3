/**
 * From an execution row to what a runner needs: the runtime contract of valohai-spec §3 —
 * config/parameters.json(.yaml), config/execution.json(.yaml), VH_* variables — around the script;
 * and from what the runner started back to the execution's `runtime` record.
 *
 * Not written: `config/api.json` and `config/distributed.json`. valohai-utils (0.7.0) reads their
 * absence as "no Valohai API here" and "not a distributed task", silently; an empty `{}` would make
 * every `set_status_detail()` and `is_distributed_task()` warn, and vh has neither that API nor
 * distributed tasks to describe.
 */
import YAML from "yaml";
import type { Execution } from "../db/schema/executions.js";
import type { HostInfo, LaunchResult, LaunchSpec } from "../app/contracts/runner.js";
import { snapshotKey } from "../app/contracts/store-keys.js";
import { valohaiViewOf } from "./runners/shared/detached.js";
import type { ValohaiView } from "./runners/shared/valohai-view.js";
import { imageDigestOf, maskFingerprintText, parseFingerprint, programsOfCommand, type RuntimeFingerprint } from "./runners/shared/fingerprint.js";
import { secretValues } from "../app/executions/secrets.js";

export function executionConfig(exec: Execution, projectName: string): Record<string, unknown> {
  return {
    "valohai.commit-identifier": exec.commitSha ?? (exec.codeSha256 ? `~${exec.codeSha256}` : null),
    "valohai.creator-id": null,
    "valohai.creator-name": null,
    "valohai.creator-email": null,
    "valohai.environment-id": exec.runner,
    "valohai.environment-name": exec.runner,
    "valohai.environment-slug": exec.runner,
    "valohai.execution-counter": exec.counter,
    "valohai.execution-ctime": exec.createdAt.toISOString(),
    "valohai.execution-duration": null,
    "valohai.execution-id": exec.id,
    "valohai.execution-image": exec.image,
    "valohai.execution-qtime": exec.queuedAt?.toISOString() ?? null,
    "valohai.execution-status": "started",
    "valohai.execution-step": exec.step,
    "valohai.execution-tags": [],
    "valohai.execution-title": exec.title,
    "valohai.project-id": exec.projectId,
    "valohai.project-name": projectName,
  };
}

export function buildLaunchSpec(exec: Execution, projectName: string, mode: "docker" | "process", gpus: number[]): LaunchSpec {
  const parameters = exec.parameters;
  const execution = executionConfig(exec, projectName);
  return {
    executionId: exec.id,
    script: exec.command,
    image: exec.image,
    mode,
    code: exec.codeSha256 ? { key: snapshotKey(exec.codeSha256), sha256: exec.codeSha256 } : null,
    inputs: exec.inputs.map((i) => ({
      input: i.name,
      name: i.file,
      uri: i.uri,
      source: i.source,
      ...(i.sha256 ? { sha256: i.sha256 } : {}),
      ...(i.size !== undefined ? { size: i.size } : {}),
      ...(i.datumId ? { datumId: i.datumId } : {}),
    })),
    configFiles: {
      "parameters.json": JSON.stringify(parameters, null, 2),
      "parameters.yaml": YAML.stringify(parameters),
      "execution.json": JSON.stringify(execution, null, 2),
      "execution.yaml": YAML.stringify(execution),
    },
    env: {
      ...exec.environmentVariables,
      VH_JOB_ID: `exec-${exec.id}`,
      VH_EXECUTION_ID: exec.id,
      VH_PROJECT_ID: exec.projectId,
      VH_GPUS: String(exec.gpus),
      // A later attempt (after a spot interruption or a lost host): the outputs saved so far are back in outputs/.
      ...(exec.attempt > 1 ? { VH_RESUME_ATTEMPT: String(exec.attempt) } : {}),
    },
    gpus,
  };
}

/**
 * The execution's `runtime` record: what actually ran, as the API and the CLI show it
 * (`vh exec show N --json`). Besides the mode and the host's facts it says whether the step's
 * image was used (a plain process runs the host's own programs, whatever the step's `image:`
 * says, and the record must not suggest otherwise) and what the step saw at /valohai.
 */
export interface RuntimeRecord {
  mode: "docker" | "process";
  runner: string;
  host: HostInfo;
  /** Docker: `sha256:…` of the image that ran (its repo digest, else its id), once the fingerprint is read. */
  imageDigest: string | null;
  image:
    | { name: string; used: true; id?: string | null; repoDigests?: string[] }
    | { name: string; used: false; note: string };
  /** Null for a runner that does not say (not one built on the detached protocol). */
  valohai: ValohaiView | null;
  /** What the host offered the step (runners/shared/fingerprint.ts); `pending` until the job's prologue wrote it. */
  fingerprint: FingerprintRecord;
  /** The random seed the step was given, where it says one (seedOf). */
  seed: SeedRecord | null;
}

export type FingerprintRecord =
  | { status: "pending"; since: string }
  | { status: "missing"; reason: string }
  | ({ status: "recorded" } & RuntimeFingerprint);

/** VH_SEED of the step's environment (set by `--seed`, or by the step itself) and its `seed` parameter. */
export interface SeedRecord {
  env: string | null;
  parameter: unknown;
}

/** The seed of an execution: VH_SEED in its (shown) environment, and a parameter named `seed`; null when neither. */
export function seedOf(exec: Pick<Execution, "environmentVariables" | "parameters">): SeedRecord | null {
  const env = exec.environmentVariables["VH_SEED"] ?? null;
  const parameter = Object.hasOwn(exec.parameters, "seed") ? (exec.parameters["seed"] ?? null) : null;
  return env === null && parameter === null ? null : { env, parameter };
}

export function runtimeRecord(opts: {
  result: LaunchResult;
  runner: string;
  host: HostInfo;
  hostName: string;
  image: string;
  docker: "auto" | "always" | "never";
  /** Default: none (no seed in the step). */
  seed?: SeedRecord | null;
  /** Default: pending since now. */
  fingerprint?: FingerprintRecord;
}): RuntimeRecord {
  const { result, host, hostName } = opts;
  const why =
    opts.docker === "never"
      ? "VH_DOCKER=never"
      : !host.dockerAvailable
        ? `Docker is not available on ${hostName}`
        : "the runner ran it as a plain process";
  return {
    mode: result.mode,
    runner: opts.runner,
    host,
    imageDigest: result.imageDigest ?? null,
    image:
      result.mode === "docker"
        ? { name: opts.image, used: true }
        : { name: opts.image, used: false, note: `not used: ${why}, so the step ran as a plain process with ${hostName}'s own programs` },
    valohai: valohaiViewOf(result.handle) ?? (result.mode === "docker" ? { provided: true, how: "docker" } : null),
    fingerprint: opts.fingerprint ?? { status: "pending", since: new Date().toISOString() },
    seed: opts.seed ?? null,
  };
}

/**
 * The part of the runtime record that the job's fingerprint fills in (merged into `runtime`):
 * the fingerprint, and in docker mode the image's digest, id and repo digests. `raw` is the text
 * the job's prologue wrote (untrusted: parsed defensively; credentials in URLs and the execution's
 * secret values masked).
 */
export function fingerprintPatch(
  raw: string,
  opts: { command: string; image: string; mode: "docker" | "process"; env: Record<string, string> },
): Pick<RuntimeRecord, "fingerprint"> & Partial<Pick<RuntimeRecord, "imageDigest" | "image">> {
  const parsed = parseFingerprint(maskFingerprintText(raw, secretValues(opts.env)), programsOfCommand(opts.command));
  if (!parsed) return { fingerprint: { status: "missing", reason: "the host wrote no readable fingerprint" } };
  const fingerprint: FingerprintRecord = { status: "recorded", ...parsed };
  if (opts.mode !== "docker") return { fingerprint };
  return {
    fingerprint,
    imageDigest: imageDigestOf(opts.image, parsed.docker),
    image: { name: opts.image, used: true, id: parsed.docker?.imageId ?? null, repoDigests: parsed.docker?.repoDigests ?? [] },
  };
}

