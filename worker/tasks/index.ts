/**
 * The worker's side of the queue: one handler per task declared in app/contracts/jobs.ts (the
 * mapped type makes a missing or extra handler a compile error), each given its payload already
 * parsed by the declaration's zod schema. `taskList(…, pool)` is what a graphile-worker runner (or
 * graphile's `runOnce`, in tests) is given.
 */
import type { JobHelpers, Task, TaskList } from "graphile-worker";
import { JOBS, JOB_NAMES, type JobDeclaration, type JobName, type JobPayload, type JobPool } from "../../app/contracts/jobs.js";
import { handleForgeDelivery, pollGitRepository } from "../../app/forges/registry.js";
import type { Forges } from "../../app/contracts/forge.js";
import { runReport } from "../../app/bot/pr-report.js";
import { scheduleReport } from "../../app/reporting/schedule.js";
import type { BotDeps } from "../../app/bot/commands/types.js";
import type { WorkerDeps } from "../deps.js";
import { schedulePass } from "../scheduler/apply.js";
import { settleEnded } from "../scheduler/settle.js";
import { readEnvironmentsFile } from "../../app/environments/file.js";
import { startExecution } from "./start-execution.js";
import { settleReproduction } from "../../app/executions/reproduce.js";
import { replyWithVerdict } from "../../app/bot/commands/reproduce.js";
import { advanceSweep } from "../../app/sweeps/advance.js";
import { advancePipeline } from "../../app/pipelines/advance.js";
import { checkEarlyStop } from "../../app/sweeps/early-stop.js";
import { AWAIT_KEYED_ADDS_SQL, JOB_KEY_LOCK } from "../../db/queries/jobs.js";

export type Handler<K extends JobName> = (payload: JobPayload<K>, helpers: JobHelpers) => Promise<void>;
export type Handlers = { [K in JobName]: Handler<K> };

export function handlers(deps: WorkerDeps, forges: Forges): Handlers {
  const bot: BotDeps = { sql: deps.sql, store: deps.store, config: deps.config, log: deps.log, forges };
  const attempt = (helpers: JobHelpers) => ({ number: helpers.job.attempts, max: helpers.job.max_attempts });
  return {
    start_execution: (p) => startExecution(deps, p.executionId),
    schedule: () =>
      schedulePass(
        deps.sql,
        {
          escalationSeconds: deps.config.hosts.escalationSeconds,
          environments: readEnvironmentsFile(deps.config.compute.environmentsFile).map((e) => ({ name: e.name, gpus: e.instanceTypes[0]?.gpus ?? 0 })),
        },
        // An end whose settle was cut off: retried by policy now, its attempt recorded.
        (id) => settleEnded(deps.sql, id, { lostRetries: deps.config.worker.lostRetries, maxAttempts: deps.config.worker.maxAttempts }),
      ),
    // vh's own failures throw and the queue retries with backoff; the last attempt reports them on the pull request instead.
    forge_event: async (p, helpers) => {
      await handleForgeDelivery(bot, p.forge, p.deliveryId, attempt(helpers));
    },
    forge_report: async (p) => {
      await runReport(bot, p);
    },
    git_poll: async (p) => {
      await pollGitRepository(bot, p.repositoryId);
    },
    reproduction_verdict: async (p) => {
      await settleReproduction(deps.sql, p.executionId, deps.config.worker);
    },
    reproduction_reply: async (p) => {
      await replyWithVerdict(bot, p.executionId);
    },
    sweep_advance: async (p) => {
      const r = await advanceSweep(deps, p.sweepId);
      if (r.stopped) deps.log.info("sweep stopped", { sweep: p.sweepId, reason: r.stopped });
    },
    pipeline_advance: async (p) => {
      await advancePipeline(deps, p.pipelineId);
    },
    sweep_early_stop: async (p) => {
      const r = await checkEarlyStop(deps.sql, p.executionId);
      if (r.stopped) deps.log.info("execution early-stopped", { execution: p.executionId, reason: r.reason });
    },
    // Jobs queued under the first names, before vh had several forges.
    github_event: async (p, helpers) => {
      await handleForgeDelivery(bot, "github", p.deliveryId, attempt(helpers));
    },
    // handed to the target's forge_report queue, so it never runs beside a round of the new name
    github_report: async (p) => {
      await scheduleReport(deps.sql, p, 0);
    },
  };
}

function bind<K extends JobName>(name: K, handler: Handler<K>): Task {
  const decl = JOBS[name] as JobDeclaration;
  return async (raw, helpers) => {
    // A keyed job reads only after every add of its key that it could have missed has committed (db/queries/jobs.ts).
    if (helpers.job.key) await helpers.query(AWAIT_KEYED_ADDS_SQL, [JOB_KEY_LOCK, helpers.job.key]);
    return handler(decl.payload.parse(raw) as JobPayload<K>, helpers);
  };
}

/** The graphile task list of one pool (or of both). */
export function taskList(h: Handlers, pool?: JobPool): TaskList {
  const list: TaskList = {};
  for (const name of JOB_NAMES) {
    if (pool && JOBS[name].pool !== pool) continue;
    list[name] = bind(name, h[name] as Handler<typeof name>);
  }
  return list;
}
