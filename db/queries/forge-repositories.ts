/** The repositories vh serves on each forge (forge_repositories), and the project each belongs to. */
import { repoRef, type ForgeKind, type RepoRef } from "../../app/contracts/forge.js";
import type { Sql } from "../client.js";

/** Records (or revives) a repository; its project is kept when it has one. */
export async function upsertForgeRepository(
  sql: Sql,
  r: { forge: ForgeKind; id: number; installationId: number; fullName: string; projectId?: string | null },
): Promise<void> {
  await sql`
    insert into forge_repositories (forge, id, installation_id, full_name, project_id)
    values (${r.forge}, ${r.id}, ${r.installationId}, ${r.fullName}, ${r.projectId ?? null})
    on conflict (forge, id) do update set installation_id = excluded.installation_id, full_name = excluded.full_name,
      project_id = coalesce(forge_repositories.project_id, excluded.project_id), removed_at = null`;
}

/** Marks repositories removed: by id, or every one of an installation. */
export async function markRepositoriesRemoved(sql: Sql, forge: ForgeKind, which: { ids: number[] } | { installationId: number }): Promise<void> {
  if ("ids" in which) {
    if (which.ids.length === 0) return;
    await sql`update forge_repositories set removed_at = now() where forge = ${forge} and id = any(${which.ids}::bigint[])`;
  } else {
    await sql`update forge_repositories set removed_at = now() where forge = ${forge} and installation_id = ${which.installationId}`;
  }
}

/** The live repository linked to a project (the one `vh exec run --commit` runs), if any. */
export async function repositoryOfProject(sql: Sql, projectId: string): Promise<RepoRef | null> {
  const [row] = await sql<{ forge: ForgeKind; id: string; installation_id: string; full_name: string }[]>`
    select forge, id, installation_id, full_name from forge_repositories
    where project_id = ${projectId} and removed_at is null order by created_at desc limit 1`;
  if (!row) return null;
  return repoRef({ forge: row.forge, id: Number(row.id), installationId: Number(row.installation_id), fullName: row.full_name });
}
