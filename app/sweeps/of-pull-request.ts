/** The sweeps and executions started from one pull request. */
import type { Sql } from "../../db/client.js";
import type { Cols } from "../../db/queries/rows.js";
import { sourceOf, sweepIdsOfPullRequest } from "../../db/queries/sweeps.js";
import type { executions } from "../../db/schema/executions.js";
import type { sweepExecutions, sweeps } from "../../db/schema/sweeps.js";
import type { RepoRef } from "../contracts/forge.js";
import { expandSweep } from "./index.js";

export async function sweepIdsOfPr(sql: Sql, repo: RepoRef, pr: number): Promise<string[]> {
  return sweepIdsOfPullRequest(sql, repo, pr);
}

export async function executionOfPr(sql: Sql, repo: RepoRef, pr: number, counter: number) {
  const [row] = await sql<(Cols<typeof executions, "id" | "status"> & Cols<typeof sweepExecutions, "sweep_id" | "position" | "point"> & Cols<typeof sweeps, "spec" | "commit_sha" | "code_sha256" | "step">)[]>`
    select e.id, e.status, s.id as sweep_id, se.position, se.point, s.spec, s.commit_sha, s.code_sha256, s.step
    from sweeps s join sweep_executions se on se.sweep_id = s.id join executions e on e.id = se.execution_id
    where s.source @> ${sql.json(sourceOf(repo, pr) as never)}::jsonb and e.counter = ${counter}`;
  return row ?? null;
}

/** The point execution `e` ran: recorded with it, or (rows made before 0019) its position in the grid of `spec`. */
export function pointOf(e: { point: Record<string, string> | null; spec: Record<string, string[]>; position: number }): Record<string, string> {
  return e.point ?? expandSweep("grid", e.spec)[e.position] ?? {};
}
