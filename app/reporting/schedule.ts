/**
 * Coalesced reporting: one `forge_report` job per pull request (or per sweep outside a PR), in a
 * named queue of its own so two never run at once, and keyed so a burst of changes makes one
 * job: `preserve_run_at` keeps the earliest scheduled time, so a pull request gets at most one
 * round of writes per interval however many executions change.
 */
import type postgres from "postgres";
import type { Sql } from "../../db/client.js";
import { addJob } from "../../db/queries/jobs.js";
import type { ReportTarget } from "../contracts/jobs.js";
import type { RepoRef } from "../contracts/forge.js";


export type { ReportTarget };

export function reportKey(t: ReportTarget): string {
  return "pr" in t ? `forge_report:pr:${t.pr}` : `forge_report:sweep:${t.sweep}`;
}

export async function scheduleReport(sql: Sql | postgres.TransactionSql, target: ReportTarget, delayMs: number): Promise<void> {
  // One queue per target (rounds never overlap) and one pending round (a later request keeps the earlier run_at).
  const key = reportKey(target);
  await addJob(sql, "forge_report", target, { queueName: key, jobKey: key, delayMs, jobKeyMode: "preserve_run_at" });
}

/** The report target of a sweep: its pull request's, or its own. */
export async function reportTargetOfSweep(sql: Sql, sweepId: string): Promise<ReportTarget | null> {
  const [row] = await sql<{ pr_id: string | null }[]>`
    select pr.id as pr_id from sweeps s
    left join change_requests pr on pr.forge = s.source->>'forge' and pr.repository_id = (s.source->>'repositoryId')::bigint and pr.number = (s.source->>'pr')::int
    where s.id = ${sweepId} and s.source->>'kind' = 'forge'`;
  if (!row) return null;
  return row.pr_id ? { pr: row.pr_id } : { sweep: sweepId };
}

/** The report target of a pull request, by its repository and number (null: vh has no record of it). */
export async function reportTargetOfPr(sql: Sql, repo: Pick<RepoRef, "forge" | "id">, pr: number): Promise<ReportTarget | null> {
  const [row] = await sql<{ id: string }[]>`select id from change_requests where forge = ${repo.forge} and repository_id = ${repo.id} and number = ${pr}`;
  return row ? { pr: row.id } : null;
}
