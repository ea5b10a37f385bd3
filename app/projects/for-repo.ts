/** A repository's vh project: created the first time vh is used on it, named `owner--repo` (GitLab: each `/` of the path a `--`). */
import { createHash } from "node:crypto";
import type { Sql } from "../../db/client.js";
import { createProject, projectByName, projectOfRepository } from "../../db/queries/projects.js";
import type { Project } from "../../db/schema/projects.js";
import type { RepoRef } from "../contracts/forge.js";
import { upsertForgeRepository } from "../../db/queries/forge-repositories.js";

/** `owner--repo` (GitHub owners never contain `--`), kept to the project-name alphabet and 100 characters. */
export function projectNameFor(fullName: string): string {
  const name = fullName.replaceAll("/", "--").replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  if (name.length <= 100) return name;
  return `${name.slice(0, 91)}-${createHash("sha256").update(fullName).digest("hex").slice(0, 8)}`;
}

/**
 * The repository's project if there is one yet, without making it: the linked one, or the one of
 * its name made ahead of its first run (to set it up, e.g. its fork policy).
 */
export async function existingProjectForRepo(sql: Sql, repo: RepoRef): Promise<Project | null> {
  return (await projectOfRepository(sql, repo.forge, repo.id)) ?? (await projectByName(sql, projectNameFor(repo.fullName)));
}

export async function projectForRepo(sql: Sql, repo: RepoRef): Promise<Project> {
  const linked = await projectOfRepository(sql, repo.forge, repo.id);
  if (linked) return linked;
  const name = projectNameFor(repo.fullName);
  await createProject(sql, name);
  const p = await projectByName(sql, name);
  await upsertForgeRepository(sql, { forge: repo.forge, id: repo.id, installationId: repo.installationId, fullName: repo.fullName, projectId: p!.id });
  return p!;
}
