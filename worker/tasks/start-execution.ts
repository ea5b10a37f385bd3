/**
 * Handler of task `start_execution` { executionId } (declared in app/contracts/jobs.ts): queued → starting → running, on the host and GPUs the
 * scheduler placed it on (execution_placements). Materialises the work dir and spawns the process
 * through that host's runner, records the runner handle, and returns: the process
 * is not held by this job (supervision, which survives restarts, is the supervisor's). Safe to run
 * twice: runners' launch is idempotent per execution, and status checks make repeats no-ops.
 *
 * The runtime fingerprint (worker/runners/shared/fingerprint.ts) is written by the job itself just
 * before the step's command; once the execution is `running` this task waits a few seconds for it
 * and merges it into `runtime`. When it is not there yet (a docker image still being pulled, a host
 * out of reach) the same task is queued again later, which only reads the fingerprint, until it is
 * written, the job ended without one, or an hour passed.
 */
import type { Task } from "graphile-worker";
import { transition } from "../../app/executions/state.js";
import { settleEnded } from "../scheduler/settle.js";
import { HostUnreachable, RunnerError, StoreUnavailable } from "../../app/errors.js";
import { buildLaunchSpec, fingerprintPatch, runtimeRecord, seedOf } from "../launch-spec.js";
import type { WorkerDeps } from "../deps.js";
import type { HostInfo, Runner, RunnerHandle } from "../../app/contracts/runner.js";
import type { Execution } from "../../db/schema/executions.js";
import { readsFingerprint, type ReadsFingerprint } from "../runners/shared/fingerprint.js";
import { releaseExecution } from "../scheduler/apply.js";
import { addJob, requestSchedulerPass } from "../../db/queries/jobs.js";
import { loadExecution, retriedCount } from "../../db/queries/executions.js";
import type { SshHostRow } from "../../db/queries/hosts.js";
import { realEnvironment, SealError } from "../../app/executions/secrets.js";
import { secretsKeyOf } from "../../app/config.js";

/** How long the start waits for the job's fingerprint before leaving it to a later read (a worker slot is held meanwhile; the prologue has a hard limit of 10 s). */
export const FINGERPRINT_WAIT_MS = 2_000;
/** Then: asked again this often, for at most this long after the start. */
const FINGERPRINT_RETRY_MS = 5_000;
const FINGERPRINT_GIVE_UP_MS = 60 * 60_000;

/** Handler of `start_execution`. */
export async function startExecution(deps: WorkerDeps, executionId: string): Promise<void> {
  const loaded = await loadExecution(deps.db, executionId);
  if (!loaded) return; // deleted meanwhile
  const { exec, projectName } = loaded;
  const since = pendingFingerprintSince(exec);
  if (since !== null && exec.runnerHandle && exec.status !== "queued" && exec.status !== "starting") {
    await followUpFingerprint(deps, exec, since);
    return;
  }
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
    if (err instanceof HostUnreachable && placed) {
      await hostOutOfReach(deps, executionId, placed, err);
      return;
    }
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
  // A later attempt gets back what the earlier ones saved in outputs/ (the latest file of each name).
  if (exec.attempt > 1) {
    const saved = await deps.sql<{ id: string; name: string; sha256: string; size: number; store_key: string }[]>`
      select distinct on (name) id, name, sha256, size, store_key from datums
      where execution_id = ${exec.id} order by name, created_at desc, id`;
    if (saved.length) {
      spec.restoreOutputs = saved.map((d) => ({ input: "", name: d.name, uri: `datum://${d.id}`, source: { kind: "store", key: d.store_key }, sha256: d.sha256, size: Number(d.size), datumId: d.id }));
    }
  }
  // A retry (after `lost`, or a failure with retries left) gets a work dir of its own (launch is idempotent per spec.executionId).
  const attempt = await retriedCount(deps.sql, executionId);
  if (attempt > 0) spec.executionId = `${exec.id}.r${attempt}`;
  let result;
  try {
    result = await runner.launch(spec);
  } catch (err) {
    if (err instanceof HostUnreachable && placed) {
      await hostOutOfReach(deps, executionId, placed, err);
      return;
    }
    if (err instanceof StoreUnavailable) {
      await storeAway(deps, executionId, err, fail);
      return;
    }
    if (err instanceof RunnerError) {
      await fail(err.message);
      return;
    }
    throw err; // unexpected: let graphile-worker retry (launch is idempotent)
  }
  const runtime = runtimeRecord({
    result,
    runner: runner.kind,
    host,
    hostName,
    image: exec.image,
    docker: deps.config.docker,
    seed: seedOf(exec),
    fingerprint: readsFingerprint(runner)
      ? { status: "pending", since: new Date().toISOString() }
      : { status: "missing", reason: `the ${runner.kind} runner does not take a runtime fingerprint` },
  });
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
  if (readsFingerprint(runner) && runtime.fingerprint.status === "pending") {
    await recordFingerprint(deps, exec, runner, result.handle, { env, mode: result.mode, since: runtime.fingerprint.since, waitMs: FINGERPRINT_WAIT_MS });
  }
}

/** When this attempt's start began (its latest move to `starting`). */
async function startingSince(deps: WorkerDeps, executionId: string): Promise<Date | null> {
  const [r] = await deps.sql<{ since: Date | null }[]>`
    select max(at) as since from execution_status_history where execution_id = ${executionId} and status = 'starting'`;
  return r?.since ?? null;
}

/**
 * The placed host did not answer during the start (or the connection to it dropped). The host is
 * marked down at once, so nothing more is placed there until a host check reaches it again. The
 * launch may have got as far as starting the job, so the start is tried again on that host (a
 * launch adopts the job it started) every few seconds; once the execution has been starting for
 * VH_LOST_AFTER_S it is `lost`, and retried by policy, elsewhere.
 */
async function hostOutOfReach(deps: WorkerDeps, executionId: string, host: { id: string; name: string }, err: HostUnreachable): Promise<void> {
  await deps.sql`update hosts set status = 'down', last_error = ${err.message}, last_check_at = now() where id = ${host.id}`;
  const since = await startingSince(deps, executionId);
  const lostAfter = deps.config.worker.lostAfterSeconds;
  if (since && Date.now() - since.getTime() > lostAfter * 1000) {
    if (await transition(deps.sql, executionId, "lost", { from: ["starting"], reason: `Host ${host.name} did not answer for ${lostAfter} s while the execution was starting: ${err.message}` })) {
      await settleEnded(deps.sql, executionId, { lostRetries: deps.config.worker.lostRetries, maxAttempts: deps.config.worker.maxAttempts });
    }
    return;
  }
  deps.log.warn("host out of reach during a start; trying again", { execution: executionId, host: host.name, err });
  await addJob(deps.sql, "start_execution", { executionId }, { delayMs: Math.min(5_000, (lostAfter * 1000) / 4) });
}

/** The store did not answer during the start: tried again every few seconds, an error only after VH_UPLOAD_GIVE_UP_S. */
async function storeAway(deps: WorkerDeps, executionId: string, err: StoreUnavailable, fail: (reason: string) => Promise<void>): Promise<void> {
  const since = await startingSince(deps, executionId);
  const giveUp = deps.config.worker.uploadGiveUpSeconds;
  if (since && Date.now() - since.getTime() > giveUp * 1000) {
    await fail(`The store did not answer for ${giveUp} s while the execution was starting: ${err.message}`);
    return;
  }
  deps.log.warn("the store is away during a start; trying again", { execution: executionId, err });
  await addJob(deps.sql, "start_execution", { executionId }, { delayMs: 2_000 });
}

function pendingFingerprintSince(exec: Execution): string | null {
  const fp = (exec.runtime as { fingerprint?: { status?: unknown; since?: unknown } } | null)?.fingerprint;
  return fp?.status === "pending" && typeof fp.since === "string" ? fp.since : null;
}

/**
 * Reads the job's fingerprint and merges it into `runtime` (only while it is still pending there);
 * not written yet: this task again in FINGERPRINT_RETRY_MS, until FINGERPRINT_GIVE_UP_MS after `since`.
 */
async function recordFingerprint(
  deps: WorkerDeps,
  exec: Execution,
  runner: Runner & ReadsFingerprint,
  handle: RunnerHandle,
  opts: { env: Record<string, string>; mode: "docker" | "process"; since: string; waitMs: number },
): Promise<void> {
  let got: Awaited<ReturnType<ReadsFingerprint["fingerprint"]>>;
  try {
    got = await runner.fingerprint(handle, opts.waitMs);
  } catch (err) {
    if (!(err instanceof RunnerError)) throw err;
    got = { state: "pending" }; // the host is out of reach: asked again later
  }
  let patch: Record<string, unknown>;
  if (got.state === "written") {
    patch = fingerprintPatch(got.text, { command: exec.command, image: exec.image, mode: opts.mode, env: opts.env });
  } else if (got.state === "ended") {
    patch = { fingerprint: { status: "missing", reason: "the job ended before its fingerprint was written (stopped before the step's command ran)" } };
  } else if (Date.now() - Date.parse(opts.since) > FINGERPRINT_GIVE_UP_MS) {
    patch = { fingerprint: { status: "missing", reason: `the job wrote no fingerprint within ${FINGERPRINT_GIVE_UP_MS / 60_000} minutes of its start` } };
  } else {
    await addJob(deps.sql, "start_execution", { executionId: exec.id }, { delayMs: FINGERPRINT_RETRY_MS });
    return;
  }
  await deps.sql`
    update executions set runtime = runtime || ${deps.sql.json(patch as never)}::jsonb
    where id = ${exec.id} and runtime -> 'fingerprint' ->> 'status' = 'pending' and runtime -> 'fingerprint' ->> 'since' = ${opts.since}`;
}

/** A later `start_execution` of a started execution whose fingerprint is still pending: read it, without waiting long. */
async function followUpFingerprint(deps: WorkerDeps, exec: Execution, since: string): Promise<void> {
  const [h] = exec.host ? await deps.sql<SshHostRow[]>`select id, name, kind, address, key_path, host_key_sha256 from hosts where name = ${exec.host}` : [];
  if (h?.kind === "local" && h.name !== deps.runners.localHostName) {
    // Only that machine's worker can read its work dir (and only until the give-up time).
    if (Date.now() - Date.parse(since) <= FINGERPRINT_GIVE_UP_MS) await addJob(deps.sql, "start_execution", { executionId: exec.id }, { delayMs: FINGERPRINT_RETRY_MS });
    return;
  }
  let runner: Runner;
  try {
    runner = h ? deps.runners.forHost({ id: h.id, name: h.name, kind: h.kind, address: h.address, keyPath: h.key_path, hostKeySha256: h.host_key_sha256 }) : deps.runners.default();
  } catch (err) {
    if (err instanceof RunnerError) return; // the host is gone from the records: nothing to read
    throw err;
  }
  if (!readsFingerprint(runner)) return;
  let env: Record<string, string>;
  try {
    env = realEnvironment(exec, secretsKeyOf(deps.config));
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    env = exec.environmentVariables; // masking by value needs the secrets; the shown ones are masked already
  }
  const mode = (exec.runtime as { mode?: unknown } | null)?.mode === "docker" ? "docker" : "process";
  await recordFingerprint(deps, exec, runner, exec.runnerHandle as RunnerHandle, { env, mode, since, waitMs: 2_000 });
}
