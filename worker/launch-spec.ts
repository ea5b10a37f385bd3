/**
 * From an execution row to what a runner needs: the runtime contract of valohai-spec §3 —
 * config/parameters.json(.yaml), config/execution.json(.yaml), VH_* variables — around the script.
 */
import YAML from "yaml";
import type { Execution } from "../db/schema/executions.js";
import type { LaunchSpec } from "../app/contracts/runner.js";
import { snapshotKey } from "../app/contracts/store-keys.js";

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
    },
    gpus,
  };
}

