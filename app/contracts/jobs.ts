/**
 * Every queue task vh has, declared once: its identifier, the zod schema of its payload, which
 * worker pool runs it, and its queue defaults. Callers add jobs with `addJob` (db/queries/jobs.ts),
 * typed by these declarations; the worker binds one handler to each (worker/tasks/index.ts), and
 * the payload is parsed again on the way in. The identifiers are stored in queued jobs, so they are
 * never renamed.
 *
 * Pools: `core` tasks schedule and start executions and never wait on a Git host; `forge` tasks
 * talk to GitHub or GitLab and run in a pool of their own (VH_FORGE_CONCURRENCY), so a slow forge
 * never holds the slots that start executions; `git` polls plain Git hosts (VH_GIT_CONCURRENCY),
 * so hung Git servers never hold the slots that handle webhooks and reports.
 */
import { z } from "zod";
import { FORGE_KINDS, type ForgeKind } from "./forge.js";

export type JobPool = "core" | "forge" | "git";
export const JOB_POOLS: readonly JobPool[] = ["core", "forge", "git"];

export interface JobDeclaration<S extends z.ZodType = z.ZodType> {
  payload: S;
  pool: JobPool;
  /** graphile-worker's max_attempts when the caller does not say. */
  maxAttempts: number;
  /** What the job is for, in one line (docs and errors). */
  doc: string;
}

const declare = <S extends z.ZodType>(d: JobDeclaration<S>): JobDeclaration<S> => d;

export const ReportTarget = z.union([z.object({ pr: z.string().uuid() }), z.object({ sweep: z.string().uuid() })]);
export type ReportTarget = z.infer<typeof ReportTarget>;

export const ForgeKindSchema = z.enum(FORGE_KINDS as [ForgeKind, ...ForgeKind[]]);

export const JOBS = {
  /** Start one placed execution on its host: queued → starting → running. */
  start_execution: declare({
    payload: z.object({ executionId: z.string().uuid() }),
    pool: "core",
    maxAttempts: 5,
    doc: "start one placed execution on the host the scheduler chose",
  }),
  /** One scheduler pass (keyed, so a burst of kicks coalesces into one pending pass). */
  schedule: declare({
    payload: z.object({}),
    pool: "core",
    maxAttempts: 25,
    doc: "one scheduler pass: place queued executions on hosts and GPUs",
  }),
  /** Handle one recorded forge delivery (a webhook, or a new commit a poller saw). */
  forge_event: declare({
    payload: z.object({ forge: ForgeKindSchema, deliveryId: z.string().min(1).max(200) }),
    pool: "forge",
    maxAttempts: 10,
    doc: "handle one recorded forge delivery (commands, pushes, buttons, reviews, approvals)",
  }),
  /** One coalesced round of report updates (check runs, commit statuses, the sticky comment) for a pull request or a sweep. */
  forge_report: declare({
    payload: ReportTarget,
    pool: "forge",
    maxAttempts: 25,
    doc: "update a pull request's (or a sweep's) check runs or commit statuses and its sticky comment",
  }),
  /** Poll one linked Git repository for new commits (re-adds itself; one queue per repository). */
  git_poll: declare({
    payload: z.object({ repositoryId: z.number().int().positive() }),
    pool: "git",
    // a Git host's failures are recorded and backed off by the poll itself; only vh's own (the database) throw and are retried
    maxAttempts: 25,
    doc: "poll one linked Git repository's refs and hand new commits on watched branches to the bot",
  }),
  /** A reproduction asked to verify has ended: compare it with its original and record the verdict (app/executions/reproduce.ts). */
  reproduction_verdict: declare({
    payload: z.object({ executionId: z.string().uuid() }),
    pool: "core",
    maxAttempts: 10,
    doc: "compare an ended reproduction's outputs and metrics with its original's and record the verdict",
  }),
  /** Answer a `/vh reproduce N --verify` on its pull request with the verdict, once it is known. */
  reproduction_reply: declare({
    payload: z.object({ executionId: z.string().uuid() }),
    pool: "forge",
    maxAttempts: 25,
    doc: "reply on the pull request that asked for a verified reproduction with its verdict",
  }),
  /** A sweep's execution ended: queue the next waiting ones (max parallel), propose new points (Bayesian), stop the rest when its target or stop-condition is met (app/sweeps/advance.ts). */
  sweep_advance: declare({
    payload: z.object({ sweepId: z.string().uuid() }),
    pool: "core",
    maxAttempts: 10,
    doc: "after a sweep's execution ended: release waiting executions, propose new points, or stop the sweep",
  }),
  /** New metadata of an execution in a sweep with early stopping or a stop-condition: decide whether it (or the sweep) stops (app/sweeps/early-stop.ts). */
  sweep_early_stop: declare({
    payload: z.object({ executionId: z.string().uuid() }),
    pool: "core",
    maxAttempts: 5,
    doc: "judge a sweep execution's metric series by the sweep's early-stopping rule and stop-condition",
  }),
  /** A pipeline's node ended (or the run was made, approved or stopped): settle nodes, start those whose upstream is done, end the run (app/pipelines/advance.ts). */
  pipeline_advance: declare({
    payload: z.object({ pipelineId: z.string().uuid() }),
    pool: "core",
    maxAttempts: 10,
    doc: "settle a pipeline's nodes, start the ones whose inputs are ready, and end the run when all have",
  }),
  /** Jobs queued before 0010 (GitHub deliveries under their first name): handled as `forge_event` with forge github. */
  github_event: declare({
    payload: z.object({ deliveryId: z.string().min(1).max(200) }),
    pool: "forge",
    maxAttempts: 10,
    doc: "(queued before vh had several forges) handle one recorded GitHub delivery",
  }),
  /** Jobs queued before 0010: handled as `forge_report`. */
  github_report: declare({
    payload: ReportTarget,
    pool: "forge",
    maxAttempts: 25,
    doc: "(queued before vh had several forges) one report round",
  }),
} as const;

export type JobName = keyof typeof JOBS;
export type JobPayload<K extends JobName> = z.infer<(typeof JOBS)[K]["payload"]>;
export const JOB_NAMES = Object.keys(JOBS) as JobName[];

/** The scheduler pass's job key: one pending pass at most. */
export const SCHEDULE_JOB_KEY = "vh_schedule";

declare global {
  namespace GraphileWorker {
    interface Tasks {
      start_execution: JobPayload<"start_execution">;
      schedule: JobPayload<"schedule">;
      forge_event: JobPayload<"forge_event">;
      forge_report: JobPayload<"forge_report">;
      git_poll: JobPayload<"git_poll">;
      reproduction_verdict: JobPayload<"reproduction_verdict">;
      reproduction_reply: JobPayload<"reproduction_reply">;
      sweep_advance: JobPayload<"sweep_advance">;
      sweep_early_stop: JobPayload<"sweep_early_stop">;
      pipeline_advance: JobPayload<"pipeline_advance">;
      github_event: JobPayload<"github_event">;
      github_report: JobPayload<"github_report">;
    }
  }
}
