/** Statements on sweeps and their executions used from more than one place. */
import type { ExecutionStatus, executions } from "../schema/executions.js";
import type { sweepExecutions } from "../schema/sweeps.js";
import type { Cols, Conn } from "./rows.js";
import type { RepoRef } from "../../app/contracts/forge.js";

/**
 * What a sweep's `source` contains when it was started from the repository (and pull request `pr`):
 * for `source @> ${sql.json(…)}::jsonb`, whichever the forge.
 */
export function sourceOf(repo: Pick<RepoRef, "forge" | "id">, pr?: number): Record<string, unknown> {
  return { kind: "forge", forge: repo.forge, repositoryId: repo.id, ...(pr !== undefined ? { pr } : {}) };
}

/** The sweeps started from pull request `pr` of the repository, oldest first. */
export async function sweepIdsOfPullRequest(sql: Conn, repo: Pick<RepoRef, "forge" | "id">, pr: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select id from sweeps where source @> ${sql.json(sourceOf(repo, pr) as never)}::jsonb order by created_at, id`;
  return rows.map((r) => r.id);
}

export type SweepExecutionRow = Cols<typeof executions, "id" | "counter"> & Cols<typeof sweepExecutions, "sweep_id">;

/** The executions of these sweeps whose status is one of `statuses`, by counter. */
export async function executionsOfSweeps(sql: Conn, sweepIds: readonly string[], statuses: readonly ExecutionStatus[]): Promise<SweepExecutionRow[]> {
  return sql<SweepExecutionRow[]>`
    select e.id, e.counter, se.sweep_id from sweep_executions se join executions e on e.id = se.execution_id
    where se.sweep_id = any(${sweepIds as string[]}::uuid[]) and e.status = any(${statuses as string[]}::text[]) order by e.counter`;
}
