/**
 * Task `github_report` { pr } | { sweep }: one coalesced round of check-run and sticky-comment
 * updates (app/reporting/report.ts). Safe to run twice: unchanged bodies are not written.
 */
import { z } from "zod";
import type { Task } from "graphile-worker";
import { GITHUB_REPORT } from "../../app/reporting/schedule.js";
import { runReport } from "../../app/reporting/report.js";
import type { ForgeProvider } from "../../app/forges/types.js";
import type { WorkerDeps } from "../deps.js";

export { GITHUB_REPORT };
const Payload = z.union([z.object({ pr: z.string().uuid() }), z.object({ sweep: z.string().uuid() })]);

export function githubReportTask(deps: WorkerDeps, forges: ForgeProvider): Task {
  return async function githubReport(payload) {
    const target = Payload.parse(payload);
    await runReport({ sql: deps.sql, store: deps.store, config: deps.config, log: deps.log, forges }, target);
  };
}
