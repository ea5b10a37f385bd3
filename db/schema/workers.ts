import { pgTable, text, timestamp, integer, index } from "drizzle-orm/pg-core";

/**
 * The vh processes that run queue jobs, each with the ids of its graphile-worker workers and a
 * heartbeat. graphile-worker keeps a job locked for 4 hours after its worker died mid-job (a
 * SIGKILL, a lost machine); the queue's liveness sweep (worker/tasks/liveness.ts) releases, within
 * a minute, the jobs and queues locked by a worker that no live process claims, so they run again
 * (every task is safe to run twice).
 */
export const workerProcesses = pgTable(
  "worker_processes",
  {
    id: text("id").primaryKey(),
    hostname: text("hostname").notNull(),
    pid: integer("pid").notNull(),
    workerIds: text("worker_ids").array().notNull().default([]),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    heartbeatAt: timestamp("heartbeat_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("worker_processes_heartbeat").on(t.heartbeatAt)],
);
