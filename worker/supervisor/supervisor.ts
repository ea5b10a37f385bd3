/**
 * The supervisor: every worker process runs one. It claims running executions by lease (an
 * execution whose supervisor died is claimed by another after the lease expires, or by the same
 * worker after a restart), tails their logs through the runner, enforces stop requests and time
 * limits, uploads live outputs, and at the end uploads outputs and sets the final status.
 *
 * Why not one graphile-worker job per execution: a job held for hours is locked for 4 hours after
 * its worker crashes. A lease of `leaseSeconds` is re-claimed within seconds instead.
 */
import os from "node:os";
import { STATUS_CHANNEL, transition } from "../../app/executions/state.js";
import type { Execution } from "../../db/schema/executions.js";
import type { Sql } from "../../db/client.js";
import type { Runner, RunnerHandle } from "../runners/types.js";
import type { WorkerDeps } from "../deps.js";
import { buildBatch, commitBatch, type Cursor } from "./ingest.js";
import { uploadOutputs } from "./outputs.js";
import { loadExecution } from "../tasks/start-execution.js";
import { settleEnded } from "../scheduler/settle.js";

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

export function createSupervisor(deps: WorkerDeps, options: SupervisorOptions = {}): Supervisor {
  const leaseSeconds = options.leaseSeconds ?? 30;
  const claimIntervalMs = options.claimIntervalMs ?? 250;
  const minPollMs = options.minPollMs ?? 50;
  const maxPollMs = options.maxPollMs ?? 500;
  const liveUploadIntervalMs = options.liveUploadIntervalMs ?? 1000;
  const stopGraceSeconds = options.stopGraceSeconds ?? 10;
  const capacity = deps.config.worker.supervisorCapacity;
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
    const loaded = await loadExecution(deps, id);
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
      await settleEnded(deps.sql, id, { lostRetries: deps.config.worker.lostRetries });
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
    const settled = await settleEnded(deps.sql, id, { lostRetries: deps.config.worker.lostRetries });
    if (settled?.retried) deps.log.warn("execution lost; queued again", { execution: id });
  }

  async function tail(exec: Execution, runner: Runner, handle: RunnerHandle): Promise<void> {
    let cursor: Cursor = {
      offsets: exec.logOffsets,
      partial: exec.logPartial,
      logSeq: exec.logSeq,
      metadataSeq: exec.metadataSeq,
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
    const requestStop = (cause: "time-limit" | "no-output-timeout", reason: string) =>
      deps.sql.begin(async (tx) => {
        if (await transition(tx as unknown as Sql, exec.id, "stopping", { from: ["running"], reason })) {
          await tx`update executions set stop_cause = coalesce(stop_cause, ${cause}) where id = ${exec.id}`;
        }
      });

    while (running) {
      let poll;
      try {
        poll = await runner.poll(handle, cursor.offsets);
        firstPollFailure = null;
      } catch (err) {
        firstPollFailure ??= Date.now();
        if (Date.now() - firstPollFailure > deps.config.worker.lostAfterSeconds * 1000) {
          await transition(deps.sql, exec.id, "lost", { reason: `Host ${exec.host ?? runner.host} did not answer for ${deps.config.worker.lostAfterSeconds} s: ${String(err)}` });
          return;
        }
        deps.log.warn("poll failed", { execution: exec.id, err });
        await sleep(maxPollMs);
        continue;
      }
      const batch = buildBatch(cursor, poll.chunks, undefined, poll.finished);
      const changed = batch.lines.length > 0 || batch.cursor.offsets.stdout !== cursor.offsets.stdout || batch.cursor.offsets.stderr !== cursor.offsets.stderr;
      if (changed || poll.finished || Date.now() - lastCommit > (leaseSeconds * 1000) / 4) {
        const res = await commitBatch(deps.sql, exec.id, deps.workerId, batch, leaseSeconds);
        if (!res.held) {
          deps.log.warn("lost the supervision lease; detaching", { execution: exec.id });
          return;
        }
        lastCommit = Date.now();
        cursor = batch.cursor;
        status = res.status ?? status;
        if (batch.lines.length > 0) lastOutputAt = Date.now();
      }
      if (poll.finished) {
        await deps.sql`update executions set exit_code = ${poll.exitCode} where id = ${exec.id}`;
        await transition(deps.sql, exec.id, "uploading", { from: ["running", "stopping"] });
        const fresh = await loadExecution(deps, exec.id);
        if (fresh && fresh.exec.status === "uploading") await finish(fresh.exec, runner, handle);
        return;
      }
      const heard = announced.get(exec.id);
      if (heard) {
        announced.delete(exec.id);
        status = heard;
      } else if (Date.now() - lastStatusCheck > 2000) {
        lastStatusCheck = Date.now();
        const [cur] = await deps.sql<{ status: string }[]>`select status from executions where id = ${exec.id}`;
        status = cur?.status ?? status;
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
            await uploadOutputs({ sql: deps.sql, store: deps.store, runner }, exec, handle, "live");
          } catch (err) {
            deps.log.warn("live upload failed; will retry", { execution: exec.id, err });
          }
        }
      }
      pollMs = changed ? minPollMs : Math.min(maxPollMs, pollMs * 2);
      await sleep(pollMs);
    }
  }

  async function finish(exec: Execution, runner: Runner, handle: RunnerHandle): Promise<void> {
    let warnings: string[] = [];
    try {
      warnings = (await uploadOutputs({ sql: deps.sql, store: deps.store, runner }, exec, handle, "final")).warnings;
    } catch (err) {
      await transition(deps.sql, exec.id, "error", { reason: `Uploading outputs failed: ${String(err)}` });
      return;
    }
    if (warnings.length > 0) {
      await deps.sql`update executions set warnings = warnings || ${deps.sql.json(warnings)} where id = ${exec.id}`;
    }
    const [row] = await deps.sql<{ exit_code: number | null; stop_cause: string | null }[]>`
      select exit_code, stop_cause from executions where id = ${exec.id}`;
    const code = row?.exit_code ?? null;
    if (row?.stop_cause === "user") await transition(deps.sql, exec.id, "stopped", { reason: "Stopped by request." });
    else if (row?.stop_cause === "time-limit") {
      await transition(deps.sql, exec.id, "error", { reason: `Time limit of ${exec.timeLimitSeconds} s exceeded (the step's time-limit); the process was stopped.` });
    } else if (row?.stop_cause === "no-output-timeout") {
      await transition(deps.sql, exec.id, "error", { reason: `No output for ${exec.noOutputTimeoutSeconds} s (the step's no-output-timeout); the process was stopped.` });
    }
    else if (code === 0) await transition(deps.sql, exec.id, "completed");
    else await transition(deps.sql, exec.id, "failed", { reason: `The command exited with code ${code}.` });
    try {
      await runner.cleanup(handle);
    } catch (err) {
      deps.log.warn("cleanup failed", { execution: exec.id, err });
    }
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
