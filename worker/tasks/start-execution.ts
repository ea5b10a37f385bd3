/**
 * Task `start_execution` { executionId }: queued → starting → running. Materialises the work dir
 * and spawns the process through the runner, records the runner handle, and returns: the process
 * is not held by this job (supervision, which survives restarts, is the supervisor's). Safe to run
 * twice: runners' launch is idempotent per execution, and status checks make repeats no-ops.
 */
import { z } from "zod";
import type { Task } from "graphile-worker";
import { eq } from "drizzle-orm";
import { executions, projects, type Execution } from "../../db/schema/index.js";
import { transition } from "../../app/executions/state.js";
import { RunnerError } from "../../app/errors.js";
import { buildLaunchSpec } from "../launch-spec.js";
import type { WorkerDeps } from "../deps.js";

export const START_EXECUTION = "start_execution";
const Payload = z.object({ executionId: z.string().uuid() });

export function startExecutionTask(deps: WorkerDeps): Task {
  return async function startExecution(payload) {
    const { executionId } = Payload.parse(payload);
    await startExecution_(deps, executionId);
  };
}

export async function loadExecution(deps: Pick<WorkerDeps, "db">, id: string): Promise<{ exec: Execution; projectName: string } | null> {
  const [row] = await deps.db
    .select({ exec: executions, projectName: projects.name })
    .from(executions)
    .innerJoin(projects, eq(projects.id, executions.projectId))
    .where(eq(executions.id, id));
  return row ?? null;
}

export async function startExecution_(deps: WorkerDeps, executionId: string): Promise<void> {
  const loaded = await loadExecution(deps, executionId);
  if (!loaded) return; // deleted meanwhile
  const { exec, projectName } = loaded;
  if (exec.status === "queued") {
    if (!(await transition(deps.sql, executionId, "starting"))) return;
  } else if (exec.status !== "starting") {
    return; // already running, stopped or ended: nothing to do
  }
  const runner = deps.runners.default();
  let host;
  try {
    host = await deps.runners.hostInfo(runner.kind);
  } catch (err) {
    await transition(deps.sql, executionId, "error", { reason: `Could not inspect host ${runner.host}: ${String(err)}` });
    return;
  }
  const mode = deps.config.docker === "always" || (deps.config.docker === "auto" && host.dockerAvailable) ? "docker" : "process";
  const spec = buildLaunchSpec(exec, projectName, mode, []);
  let result;
  try {
    result = await runner.launch(spec);
  } catch (err) {
    if (err instanceof RunnerError) {
      await transition(deps.sql, executionId, "error", { reason: err.message });
      return;
    }
    throw err; // unexpected: let graphile-worker retry (launch is idempotent)
  }
  const runtime = { mode: result.mode, host, imageDigest: result.imageDigest ?? null, runner: runner.kind };
  await deps.sql.begin(async (tx) => {
    await tx`
      update executions set runner = ${runner.kind}, host = ${runner.host}, runner_handle = ${tx.json(result.handle as never)},
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
