/**
 * Every queue task vh has, declared once: its identifier, the zod schema of its payload, which
 * worker pool runs it, and its queue defaults. Callers add jobs with `addJob` (db/queries/jobs.ts),
 * typed by these declarations; the worker binds one handler to each (worker/tasks/index.ts), and
 * the payload is parsed again on the way in. The identifiers are stored in queued jobs, so they are
 * never renamed.
 *
 * Pools: `core` tasks schedule and start executions and never wait on a Git host; `forge` tasks
 * talk to the Git host and run in a pool of their own (VH_FORGE_CONCURRENCY), so a slow forge never
 * holds the slots that start executions.
 */
import { z } from "zod";

export interface JobDeclaration<S extends z.ZodType = z.ZodType> {
  payload: S;
  pool: "core" | "forge";
  /** graphile-worker's max_attempts when the caller does not say. */
  maxAttempts: number;
  /** What the job is for, in one line (docs and errors). */
  doc: string;
}

const declare = <S extends z.ZodType>(d: JobDeclaration<S>): JobDeclaration<S> => d;

export const ReportTarget = z.union([z.object({ pr: z.string().uuid() }), z.object({ sweep: z.string().uuid() })]);
export type ReportTarget = z.infer<typeof ReportTarget>;

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
  /** Handle one recorded GitHub webhook delivery. */
  github_event: declare({
    payload: z.object({ deliveryId: z.string().min(1).max(200) }),
    pool: "forge",
    maxAttempts: 10,
    doc: "handle one recorded GitHub webhook delivery (commands, pushes, buttons, reviews)",
  }),
  /** One coalesced round of check-run and sticky-comment updates for a pull request or a sweep. */
  github_report: declare({
    payload: ReportTarget,
    pool: "forge",
    maxAttempts: 25,
    doc: "update a pull request's (or a sweep's) check runs and sticky comment",
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
      github_event: JobPayload<"github_event">;
      github_report: JobPayload<"github_report">;
    }
  }
}
