/** The sweeps and executions started from one pull request. */
import type { Sql } from "../../db/client.js";
import type { RepoRef } from "../contracts/forge.js";

export async function sweepIdsOfPr(sql: Sql, repo: RepoRef, pr: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select id from sweeps
    where source->>'kind' = 'github' and (source->>'repositoryId')::bigint = ${repo.id} and (source->>'pr')::int = ${pr}
    order by created_at, id`;
  return rows.map((r) => r.id);
}

export async function executionOfPr(sql: Sql, repo: RepoRef, pr: number, counter: number) {
  const [row] = await sql<{ id: string; status: string; sweep_id: string; position: number; spec: Record<string, string[]>; commit_sha: string; step: string }[]>`
    select e.id, e.status, s.id as sweep_id, se.position, s.spec, s.commit_sha, s.step
    from sweeps s join sweep_executions se on se.sweep_id = s.id join executions e on e.id = se.execution_id
    where s.source->>'kind' = 'github' and (s.source->>'repositoryId')::bigint = ${repo.id} and (s.source->>'pr')::int = ${pr}
      and e.counter = ${counter}`;
  return row ?? null;
}
