/**
 * The supervisor: every worker process runs one. It claims running executions by lease (an
 * execution whose supervisor died is claimed by another after the lease expires, or by the same
 * worker after a restart), tails their logs through the runner, enforces stop requests and time
 * limits, uploads live outputs, and at the end uploads outputs and sets the final status.
 *
 * Why not one graphile-worker job per execution: a job held for hours is locked for 4 hours after
 * its worker crashes. A lease of `leaseSeconds` is re-claimed within seconds instead.
 *
 * An execution that ended while no supervisor watched it (vh was down) is settled as soon as it
 * is claimed again, and its `ended_at` is when the process ended by the host's own record (the
 * runner's `endedAt`), not when vh came back.
 */
import os from "node:os";
import { STATUS_CHANNEL, transition } from "../../app/executions/state.js";
import type { Execution, executions } from "../../db/schema/executions.js";
import type { Cols } from "../../db/queries/rows.js";
import type { Sql } from "../../db/client.js";
import type { Runner, RunnerHandle } from "../../app/contracts/runner.js";
import { HostUnreachable } from "../../app/errors.js";
import type { WorkerDeps } from "../deps.js";
import { realEnvironment, secretValues } from "../../app/executions/secrets.js";
import { buildBatch, commitBatch, latestSizes, warnedKinds, withoutMetadata, type Batch, type Cursor } from "./ingest.js";
import { uploadOutputs } from "./outputs.js";
import { executionStatus, loadExecution, recordStopCause } from "../../db/queries/executions.js";
import { settleEnded } from "../scheduler/settle.js";
import { sweepOfExecution } from "../../db/queries/sweeps.js";
import { addJob } from "../../db/queries/jobs.js";
import { compileExpression, conditionHolds, type EvalValue } from "../../app/valohai/evaluate.js";
import { knowsEndTime, valohaiViewOf } from "../runners/shared/detached.js";
import { valohaiMissingHint } from "../runners/shared/valohai-view.js";

/** The real environment for redaction; without the key (a bug) the shown one, which is masked already. */
function realEnvironmentOrShown(exec: { environmentVariables: Record<string, string>; environmentSecrets: string | null }, key: Buffer | null): Record<string, string> {
  if (!key) return exec.environmentVariables;
  try {
    return realEnvironment(exec, key);
  } catch {
    return exec.environmentVariables;
  }
}

export interface SupervisorOptions {
  leaseSeconds?: number;
  claimIntervalMs?: number;
  /** Fastest and slowest poll of one execution's logs. */
  minPollMs?: number;
  maxPollMs?: number;
  liveUploadIntervalMs?: number;
  stopGraceSeconds?: number;
}

export interface Supervisor {
  start(): void;
  /** Stops claiming, detaches from every execution (their processes keep running) and releases the leases. */
  stop(): Promise<void>;
  /** Executions this supervisor is attached to now. */
  attached(): string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Whether a failed commit was Postgres (or the driver) refusing the batch's data rather than the
 * database being unreachable: SQLSTATE classes 22 (data exception) and 54 (program limit
 * exceeded), or a JS error while serialising. Such a batch is committed again without its metadata.
 */
function refusedData(err: unknown): boolean {
  if (err instanceof RangeError || err instanceof TypeError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^(22|54)/.test(code);
}

export function createSupervisor(deps: WorkerDeps, options: SupervisorOptions = {}): Supervisor {
  const leaseSeconds = options.leaseSeconds ?? 30;
  const claimIntervalMs = options.claimIntervalMs ?? 250;
  const minPollMs = options.minPollMs ?? 50;
  const maxPollMs = options.maxPollMs ?? 500;
  const liveUploadIntervalMs = options.liveUploadIntervalMs ?? 1000;
  const stopGraceSeconds = options.stopGraceSeconds ?? 10;
  const capacity = deps.config.worker.supervisorCapacity;
  const outputLimits = { maxOutputBytes: deps.config.quotas.outputBytes };
  const localHost = os.hostname();
  const attachments = new Map<string, Promise<void>>();
  /** Status changes announced by transition() (a stop request reaches the tail loop at once). */
  const announced = new Map<string, string>();
  let unlisten: (() => Promise<void>) | null = null;
  let running = false;
  let loop: Promise<void> | null = null;

  async function claim(): Promise<string[]> {
    const free = capacity - attachments.size;
    if (free <= 0) return [];
    const rows = await deps.sql<{ id: string }[]>`
      update executions set lease_owner = ${deps.workerId}, lease_until = now() + make_interval(secs => ${leaseSeconds})
      where id in (
        select id from executions
        where status in ('running', 'stopping', 'uploading') and runner_handle is not null
          and runner = any(${deps.runners.kinds()}::text[]) and (runner <> 'local' or host = ${localHost})
          and (lease_owner is null or lease_until < now() or lease_owner = ${deps.workerId})
          and not (id = any(${[...attachments.keys()]}::uuid[]))
        order by created_at limit ${free}
        for update skip locked)
      returning id`;
    return rows.map((r) => r.id);
  }

  async function attach(id: string): Promise<void> {
    const loaded = await loadExecution(deps.db, id);
    if (!loaded) return;
    const exec = loaded.exec;
    if (!exec.runnerHandle) return;
    let runner: Runner | undefined;
    try {
      runner = await deps.runners.resolve(exec.runner, exec.host);
    } catch (err) {
      // e.g. the host's key file cannot be read now: let the lease lapse and try again later.
      deps.log.warn("cannot build the execution's runner; will retry", { execution: id, err });
      await deps.sql`update executions set lease_owner = 'backoff', lease_until = now() + interval '10 seconds' where id = ${id} and lease_owner = ${deps.workerId}`;
      return;
    }
    if (!runner) {
      // Its host is no longer registered: nobody can watch it, so say so instead of holding the
      // lease for ever (a retry by policy may place it elsewhere).
      await transition(deps.sql, id, "lost", { reason: `Host ${exec.host ?? "?"} (${exec.runner}) is no longer registered; the execution cannot be watched.` });
      await settleEnded(deps.sql, id, { lostRetries: deps.config.worker.lostRetries, maxAttempts: deps.config.worker.maxAttempts });
      return;
    }
    const handle = exec.runnerHandle as RunnerHandle;
    // Uploads can outlast the lease: keep renewing it while this worker is attached.
    const renew = setInterval(() => {
      deps.sql`update executions set lease_until = now() + make_interval(secs => ${leaseSeconds})
        where id = ${id} and lease_owner = ${deps.workerId}`.catch(() => {});
    }, (leaseSeconds * 1000) / 3);
    try {
      if (exec.status === "uploading") await finish(exec, runner, handle);
      else await tail(exec, runner, handle);
    } finally {
      clearInterval(renew);
    }
    // Ended (or lost): free its GPUs once, retry a lost one by policy, let the scheduler go on.
    const settled = await settleEnded(deps.sql, id, { lostRetries: deps.config.worker.lostRetries, maxAttempts: deps.config.worker.maxAttempts });
    if (settled?.retried) deps.log.warn("execution lost; queued again", { execution: id });
  }

  async function tail(exec: Execution, runner: Runner, handle: RunnerHandle): Promise<void> {
    let cursor: Cursor = {
      offsets: exec.logOffsets,
      partial: exec.logPartial,
      logSeq: exec.logSeq,
      metadataSeq: exec.metadataSeq,
      logBytes: exec.logBytes,
      droppedLines: exec.logDroppedLines,
      droppedBytes: exec.logDroppedBytes,
      warned: warnedKinds(exec.warnings),
      latest: latestSizes(exec.metadataLatest),
    };
    const limits = { maxLogBytes: deps.config.quotas.logBytes, maxLogLines: deps.config.quotas.logLines, redact: secretValues(realEnvironmentOrShown(exec, deps.config.secretsKey)) };
    /** Commits a batch; one whose metadata Postgres refuses is stored again as log lines only. */
    const commit = async (batch: Batch) => {
      try {
        return { batch, res: await commitBatch(deps.sql, exec.id, deps.workerId, batch, leaseSeconds) };
      } catch (err) {
        if (batch.metadata.length === 0 || !refusedData(err)) throw err;
        deps.log.warn("metadata refused; storing the lines without it", { execution: exec.id, err });
        const bare = withoutMetadata(batch, cursor, String((err as Error).message ?? err).slice(0, 200));
        return { batch: bare, res: await commitBatch(deps.sql, exec.id, deps.workerId, bare, leaseSeconds) };
      }
    };
    let status: string = exec.status;
    let terminating: Promise<void> | null = null;
    let lastCommit = 0;
    let lastLive = 0;
    let lastStatusCheck = Date.now();
    let pollMs = minPollMs;
    let lastOutputAt = exec.lastOutputAt?.getTime() ?? exec.startedAt?.getTime() ?? Date.now();
    let firstPollFailure: number | null = null;
    const startedAt = exec.startedAt?.getTime() ?? Date.now();

    // Transition and cause in one transaction (see app/executions/stop.ts): a process that ended
    // on its own meanwhile keeps its own outcome.
    const requestStop = (cause: "time-limit" | "no-output-timeout" | "stop-condition", reason: string) =>
      deps.sql.begin(async (tx) => {
        if (await transition(tx as unknown as Sql, exec.id, "stopping", { from: ["running"], reason })) {
          await recordStopCause(tx, exec.id, cause);
        }
      });

    // The step's stop-condition, judged on the latest value of every key after each commit; and a
    // sweep that stops early or on a rule is told of new metadata (coalesced: at most about once a second).
    const stopCondition = exec.stopCondition ? compileExpression(exec.stopCondition) : null;
    const latest: Record<string, unknown> = { ...exec.metadataLatest };
    const sweep = await sweepOfExecution(deps.sql, exec.id);
    const sweepWatches = !!(sweep?.definition && (sweep.definition.earlyStopping || sweep.definition.stopCondition || sweep.definition.target?.value !== undefined));
    const afterMetadata = async (batch: Batch) => {
      if (batch.metadata.length === 0) return false;
      Object.assign(latest, batch.latest);
      if (sweepWatches) {
        await addJob(deps.sql, "sweep_early_stop", { executionId: exec.id }, { jobKey: `sweep_early_stop:${exec.id}`, jobKeyMode: "preserve_run_at", delayMs: 1000 });
      }
      if (stopCondition && "evaluate" in stopCondition && status === "running" && conditionHolds(stopCondition, { metadata: latest as EvalValue })) {
        await requestStop("stop-condition", `The step's stop-condition \`${exec.stopCondition}\` held (metadata line ${batch.metadata[batch.metadata.length - 1]!.seq}).`);
        return true;
      }
      return false;
    };

    while (running) {
      let poll;
      try {
        poll = await runner.poll(handle, cursor.offsets);
        firstPollFailure = null;
      } catch (err) {
        firstPollFailure ??= Date.now();
        // A rented host whose instance is gone (worker/compute/reconcile.ts said so) will not come back: lost now.
        const [gone] = await deps.sql<{ lifecycle: string }[]>`
          select lifecycle from hosts where name = ${exec.host ?? runner.host} and provider is not null and lifecycle in ('terminated', 'failed')`.catch(() => []);
        if (gone) {
          await transition(deps.sql, exec.id, "lost", { reason: `Host ${exec.host ?? runner.host}'s instance is gone (${gone.lifecycle}): ${String(err)}` });
          return;
        }
        if (Date.now() - firstPollFailure > deps.config.worker.lostAfterSeconds * 1000) {
          await transition(deps.sql, exec.id, "lost", { reason: `Host ${exec.host ?? runner.host} did not answer for ${deps.config.worker.lostAfterSeconds} s: ${String(err)}` });
          return;
        }
        deps.log.warn("poll failed", { execution: exec.id, err });
        await sleep(maxPollMs);
        continue;
      }
      const built = buildBatch(cursor, poll.chunks, undefined, poll.finished, limits);
      const changed = built.lines.length > 0 || built.cursor.offsets.stdout !== cursor.offsets.stdout || built.cursor.offsets.stderr !== cursor.offsets.stderr;
      if (changed || poll.finished || Date.now() - lastCommit > (leaseSeconds * 1000) / 4) {
        const { batch, res } = await commit(built);
        if (!res.held) {
          deps.log.warn("lost the supervision lease; detaching", { execution: exec.id });
          return;
        }
        lastCommit = Date.now();
        cursor = batch.cursor;
        status = res.status ?? status;
        if (batch.lines.length > 0 || batch.dropped > 0) lastOutputAt = Date.now();
        if (!poll.finished && (await afterMetadata(batch))) status = "stopping";
      }
      if (poll.finished) {
        await deps.sql`update executions set exit_code = ${poll.exitCode} where id = ${exec.id}`;
        await transition(deps.sql, exec.id, "uploading", { from: ["running", "stopping"] });
        const fresh = await loadExecution(deps.db, exec.id);
        if (fresh && fresh.exec.status === "uploading") await finish(fresh.exec, runner, handle);
        return;
      }
      const heard = announced.get(exec.id);
      if (heard) {
        announced.delete(exec.id);
        status = heard;
      } else if (Date.now() - lastStatusCheck > 2000) {
        lastStatusCheck = Date.now();
        status = (await executionStatus(deps.sql, exec.id)) ?? status;
      }
      if (status === "stopping" && !terminating) {
        terminating = runner.terminate(handle, stopGraceSeconds).catch((err) => deps.log.warn("terminate failed", { execution: exec.id, err }));
      }
      if (!terminating && status === "running") {
        const now = Date.now();
        if (exec.timeLimitSeconds && now - startedAt > exec.timeLimitSeconds * 1000) {
          await requestStop("time-limit", `Time limit of ${exec.timeLimitSeconds} s exceeded (the step's time-limit).`);
          status = "stopping";
          continue;
        }
        if (exec.noOutputTimeoutSeconds && now - lastOutputAt > exec.noOutputTimeoutSeconds * 1000) {
          await requestStop("no-output-timeout", `No output for ${exec.noOutputTimeoutSeconds} s (the step's no-output-timeout).`);
          status = "stopping";
          continue;
        }
        if (now - lastLive > liveUploadIntervalMs) {
          lastLive = now;
          try {
            await uploadOutputs({ sql: deps.sql, store: deps.store, runner }, exec, handle, "live", outputLimits);
          } catch (err) {
            deps.log.warn("live upload failed; will retry", { execution: exec.id, err });
          }
        }
      }
      pollMs = changed ? minPollMs : Math.min(maxPollMs, pollMs * 2);
      await sleep(pollMs);
    }
  }

  /**
   * Ends an execution whose process has ended: outputs, final status with the process's own end
   * time, and (always) its work dir removed.
   */
  async function finish(exec: Execution, runner: Runner, handle: RunnerHandle): Promise<void> {
    let ended = false;
    try {
      // Read before cleanup removes the record. It goes into the statement that ends the execution
      // (never forward of now, a host clock ahead of ours, nor before the start), so no reader ever
      // sees the end at the time vh noticed it.
      const endedAt = knowsEndTime(runner) ? await runner.endedAt(handle).catch(() => null) : null;
      ended = await settle(exec, runner, handle, endedAt);
    } finally {
      // Only once it has ended: a settle cut off (Postgres away, this worker stopping) is done again by
      // the next supervisor to claim it, from the work dir as the job left it.
      if (ended) {
        try {
          await runner.cleanup(handle);
        } catch (err) {
          deps.log.warn("cleanup failed", { execution: exec.id, err });
        }
      }
    }
  }

  /** `endedAt`: when the process ended by the host's own record (null: unknown, or vh recorded the exit). */
  /** Whether the execution has ended (false: it is left `uploading`, for the next supervisor). */
  async function settle(exec: Execution, runner: Runner, handle: RunnerHandle, endedAt: Date | null = null): Promise<boolean> {
    const end = (to: "completed" | "failed" | "error" | "stopped" | "lost", opts: { reason?: string } = {}) => transition(deps.sql, exec.id, to, { ...opts, endedAt });
    // What the end is decided on (the upload changes none of it).
    const [row] = await deps.sql<(Cols<typeof executions, "exit_code" | "stop_cause" | "log_dropped_lines" | "log_dropped_bytes"> & { stop_reason: string | null; stop_at: Date | null })[]>`
      select exit_code, stop_cause, log_dropped_lines, log_dropped_bytes, s.reason as stop_reason, s.at as stop_at
      from executions e
      left join lateral (select h.reason, h.at from execution_status_history h where h.execution_id = e.id and h.status = 'stopping' order by h.id desc limit 1) s on true
      where e.id = ${exec.id}`;
    let warnings: string[] = [];
    // The store down, the host out of reach: the upload is tried again (each file is stored once,
    // by name and sha256), a host silent for VH_LOST_AFTER_S makes the attempt `lost`, and only
    // VH_UPLOAD_GIVE_UP_S of failures end it `error`.
    const firstFailure = Date.now();
    let unreachableSince: number | null = null;
    let delayMs = 500;
    for (;;) {
      try {
        warnings = (await uploadOutputs({ sql: deps.sql, store: deps.store, runner }, exec, handle, "final", outputLimits)).warnings;
        break;
      } catch (err) {
        // A spot instance taken back before its last outputs were read: the attempt was interrupted,
        // not broken; the next one resumes from the outputs uploaded before (live uploads).
        if (row?.stop_cause === "spot-interruption") {
          await end("lost", { reason: `Interrupted on spot before its last outputs could be read (${String(err)}); it resumes from the outputs saved before.` });
          return true;
        }
        const now = Date.now();
        unreachableSince = err instanceof HostUnreachable ? (unreachableSince ?? now) : null;
        if (unreachableSince !== null && now - unreachableSince > deps.config.worker.lostAfterSeconds * 1000) {
          await end("lost", { reason: `Host ${exec.host ?? runner.host} did not answer for ${deps.config.worker.lostAfterSeconds} s while its outputs were read: ${String(err)}` });
          return true;
        }
        if (now - firstFailure > deps.config.worker.uploadGiveUpSeconds * 1000) {
          await end("error", { reason: `Uploading outputs failed for ${deps.config.worker.uploadGiveUpSeconds} s: ${String(err)}` });
          return true;
        }
        // Shutting down: the execution stays `uploading`, and the next supervisor to claim it uploads.
        if (!running) return false;
        deps.log.warn("uploading outputs failed; will retry", { execution: exec.id, err });
        await sleep(delayMs);
        delayMs = Math.min(delayMs * 2, 5_000);
      }
    }
    if (row && Number(row.log_dropped_lines) > 0) {
      warnings.push(`Log quota: ${row.log_dropped_lines} lines (${row.log_dropped_bytes} bytes) were not stored.`);
    }
    if (warnings.length > 0) {
      // Not twice when a restarted worker finishes it again.
      await deps.sql`update executions set warnings = warnings || coalesce((
          select jsonb_agg(w) from jsonb_array_elements(${deps.sql.json(warnings)}::jsonb) as n(w) where not warnings @> jsonb_build_array(n.w)), '[]'::jsonb)
        where id = ${exec.id}`;
    }
    const code = row?.exit_code ?? null;
    if (row?.stop_cause === "user") await end("stopped", { reason: "Stopped by request." });
    // Stopped by its sweep (early stopping, the sweep's own rules): the reason given when it was told to stop.
    else if (row?.stop_cause === "early-stop" || row?.stop_cause === "sweep") await end("stopped", { reason: row.stop_reason ?? "Stopped by its sweep." });
    // Its spot instance is being taken back, but the step had already ended well (by the host's
    // record, before the notice came): nothing to resume.
    else if (row?.stop_cause === "spot-interruption" && code === 0 && endedAt && row.stop_at && endedAt.getTime() < new Date(row.stop_at).getTime()) {
      await end("completed", { reason: "The command exited with code 0 before its spot instance's interruption notice: nothing to resume." });
    }
    // Its spot instance is being taken back: the outputs so far are uploaded; settleEnded starts the next attempt.
    else if (row?.stop_cause === "spot-interruption") await end("lost", { reason: row.stop_reason ?? "Interrupted on spot." });
    // The step's stop-condition held: the run reached what it was for.
    else if (row?.stop_cause === "stop-condition") await end("completed", { reason: row.stop_reason ?? "The step's stop-condition held." });
    else if (row?.stop_cause === "time-limit") {
      await end("error", { reason: `Time limit of ${exec.timeLimitSeconds} s exceeded (the step's time-limit); the process was stopped.` });
    } else if (row?.stop_cause === "no-output-timeout") {
      await end("error", { reason: `No output for ${exec.noOutputTimeoutSeconds} s (the step's no-output-timeout); the process was stopped.` });
    }
    else if (code === 0) await end("completed");
    else await end("failed", { reason: `The command exited with code ${code}.${await valohaiHint(exec.id, handle)}` });
    return true;
  }

  /** A hint for a failed plain process that had no /valohai and whose last errors name it; else "". */
  async function valohaiHint(id: string, handle: RunnerHandle): Promise<string> {
    const view = valohaiViewOf(handle);
    if (!view || view.provided) return "";
    const rows = await deps.sql<{ line: string }[]>`
      select line from log_lines
      where execution_id = ${id} and stream = 'stderr' and seq > (select log_seq - 2000 from executions where id = ${id})
      order by seq desc limit 200`;
    return rows.some((r) => r.line.includes("/valohai/")) ? ` ${valohaiMissingHint(view.reason)}` : "";
  }

  async function claimLoop(): Promise<void> {
    while (running) {
      try {
        for (const id of await claim()) {
          const p = attach(id)
            .catch((err) => deps.log.error("supervision failed", { execution: id, err }))
            .finally(() => attachments.delete(id));
          attachments.set(id, p);
        }
      } catch (err) {
        if (running) deps.log.warn("claim failed", { err });
      }
      await sleep(claimIntervalMs);
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loop = (async () => {
        try {
          const sub = await deps.sql.listen(STATUS_CHANNEL, (payload) => {
            const [id, st] = payload.split(":");
            if (id && st && attachments.has(id)) announced.set(id, st);
          });
          unlisten = () => sub.unlisten();
        } catch (err) {
          deps.log.warn("LISTEN failed; status changes are polled", { err });
        }
        await claimLoop();
      })();
    },
    async stop() {
      running = false;
      await loop;
      await unlisten?.().catch(() => {});
      await Promise.allSettled([...attachments.values()]);
      await deps.sql`update executions set lease_owner = null, lease_until = null where lease_owner = ${deps.workerId}`.catch(() => {});
    },
    attached: () => [...attachments.keys()],
  };
}
