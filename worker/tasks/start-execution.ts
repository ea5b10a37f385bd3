/**
 * Handler of task `start_execution` { executionId } (declared in app/contracts/jobs.ts): queued → starting → running, on the host and GPUs the
 * scheduler placed it on (execution_placements). Materialises the work dir and spawns the process
 * through that host's runner, records the runner handle, and returns: the process
 * is not held by this job (supervision, which survives restarts, is the supervisor's). Safe to run
 * twice: runners' launch is idempotent per execution, and status checks make repeats no-ops.
 */
import type { Task } from "graphile-worker";
import { transition } from "../../app/executions/state.js";
import { RunnerError } from "../../app/errors.js";
import { buildLaunchSpec, runtimeRecord } from "../launch-spec.js";
import type { WorkerDeps } from "../deps.js";
import type { HostInfo, Runner } from "../../app/contracts/runner.js";
import { releaseExecution } from "../scheduler/apply.js";
import { addJob, requestSchedulerPass } from "../../db/queries/jobs.js";
import { loadExecution, lostCount } from "../../db/queries/executions.js";
import type { SshHostRow } from "../../db/queries/hosts.js";
import { realEnvironment, SealError } from "../../app/executions/secrets.js";
import { secretsKeyOf } from "../../app/config.js";

/** Handler of `start_execution`. */
export async function startExecution(deps: WorkerDeps, executionId: string): Promise<void> {
  const loaded = await loadExecution(deps.db, executionId);
  if (!loaded) return; // deleted meanwhile
  const { exec, projectName } = loaded;
  if (exec.status === "queued") {
    if (!(await transition(deps.sql, executionId, "starting"))) return;
  } else if (!(exec.status === "starting" || (exec.status === "stopping" && !exec.runnerHandle))) {
    // Already running, stopped or ended: nothing to do. (Stopped during a start that crashed
    // before saving its handle: launch again — it adopts a process already spawned — so the
    // supervisor has a handle to stop; otherwise it would sit in `stopping` for ever.)
    return;
  }
  // Where the scheduler put it (worker/scheduler/); an execution queued before the scheduler existed runs here.
  const [placed] = await deps.sql<(SshHostRow & { facts: HostInfo | null; gpus: number[] })[]>`
    select h.id, h.name, h.kind, h.address, h.key_path, h.host_key_sha256, h.facts, p.gpu_indices as gpus
    from execution_placements p join hosts h on h.id = p.host_id
    where p.execution_id = ${executionId} and p.released_at is null`;
  const fail = async (reason: string) => {
    await transition(deps.sql, executionId, "error", { reason });
    await releaseExecution(deps.sql, executionId, "error");
    await requestSchedulerPass(deps.sql);
  };
  if (placed?.kind === "local" && placed.name !== deps.runners.localHostName) {
    // Another machine's own host: only that machine's worker can start it. Hand the job back
    // to the queue (any worker may pick it up) rather than failing the execution.
    await addJob(deps.sql, "start_execution", { executionId }, { delayMs: 1000 });
    return;
  }
  let runner: Runner;
  let hostName: string;
  try {
    runner = placed ? deps.runners.forHost({ id: placed.id, name: placed.name, kind: placed.kind, address: placed.address, keyPath: placed.key_path, hostKeySha256: placed.host_key_sha256 }) : deps.runners.default();
    hostName = placed?.name ?? runner.host;
  } catch (err) {
    if (err instanceof RunnerError) {
      await fail(err.message);
      return;
    }
    throw err;
  }
  let host: HostInfo;
  try {
    host = placed?.kind === "ssh" ? (placed.facts ?? (await runner.describeHost())) : await deps.runners.hostInfo(runner.kind);
  } catch (err) {
    await fail(`Could not inspect host ${hostName}: ${String(err)}`);
    return;
  }
  const mode = deps.config.docker === "always" || (deps.config.docker === "auto" && host.dockerAvailable) ? "docker" : "process";
  let env: Record<string, string>;
  try {
    env = realEnvironment(exec, secretsKeyOf(deps.config));
  } catch (err) {
    if (err instanceof SealError) {
      await fail(err.message);
      return;
    }
    throw err;
  }
  const spec = buildLaunchSpec({ ...exec, environmentVariables: env }, projectName, mode, placed?.gpus ?? []);
  // A retry after `lost` gets a work dir of its own (launch is idempotent per spec.executionId).
  const attempt = await lostCount(deps.sql, executionId);
  if (attempt > 0) spec.executionId = `${exec.id}.r${attempt}`;
  let result;
  try {
    result = await runner.launch(spec);
  } catch (err) {
    if (err instanceof RunnerError) {
      await fail(err.message);
      return;
    }
    throw err; // unexpected: let graphile-worker retry (launch is idempotent)
  }
  const runtime = runtimeRecord({ result, runner: runner.kind, host, hostName, image: exec.image, docker: deps.config.docker });
  await deps.sql.begin(async (tx) => {
    await tx`
      update executions set runner = ${runner.kind}, host = ${hostName}, runner_handle = ${tx.json(result.handle as never)},
        runtime = ${tx.json(runtime as never)}
      where id = ${executionId}`;
    for (const i of result.inputs) {
      const datumId = exec.inputs.find((r) => r.name === i.input && r.file === i.name)?.datumId ?? null;
      await tx`
        insert into execution_inputs (execution_id, input, name, uri, datum_id, sha256, size)
        values (${executionId}, ${i.input}, ${i.name}, ${i.uri}, ${datumId}, ${i.sha256}, ${i.size})
        on conflict do nothing`;
    }
  });
  // A stop that arrived during launch left the status at `stopping`: the supervisor ends it.
  await transition(deps.sql, executionId, "running", { from: ["starting"] });
}
