/** A repository's vh project: created the first time vh is used on it, named `owner--repo` (GitLab: each `/` of the path a `--`). */
import { createHash } from "node:crypto";
import type { Sql } from "../../db/client.js";
import { createProject, projectByName, toProject } from "../../db/queries/projects.js";
import type { Row } from "../../db/queries/rows.js";
import type { Project, projects } from "../../db/schema/projects.js";
import type { RepoRef } from "../contracts/forge.js";
import { upsertForgeRepository } from "../../db/queries/forge-repositories.js";

/** `owner--repo` (GitHub owners never contain `--`), kept to the project-name alphabet and 100 characters. */
export function projectNameFor(fullName: string): string {
  const name = fullName.replaceAll("/", "--").replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  if (name.length <= 100) return name;
  return `${name.slice(0, 91)}-${createHash("sha256").update(fullName).digest("hex").slice(0, 8)}`;
}

export async function projectForRepo(sql: Sql, repo: RepoRef): Promise<Project> {
  const [linked] = await sql<Row<typeof projects>[]>`
    select p.* from forge_repositories r join projects p on p.id = r.project_id where r.forge = ${repo.forge} and r.id = ${repo.id}`;
  if (linked) return toProject(linked);
  const name = projectNameFor(repo.fullName);
  await createProject(sql, name);
  const p = await projectByName(sql, name);
  await upsertForgeRepository(sql, { forge: repo.forge, id: repo.id, installationId: repo.installationId, fullName: repo.fullName, projectId: p!.id });
  return p!;
}
