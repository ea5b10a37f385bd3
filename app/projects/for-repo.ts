/** A repository's vh project: created the first time the App is used on it, named `owner--repo`. */
import { createHash } from "node:crypto";
import type { Sql } from "../../db/client.js";
import { createProject, projectByName, toProject } from "../../db/queries/projects.js";
import type { Row } from "../../db/queries/rows.js";
import type { Project, projects } from "../../db/schema/projects.js";
import type { RepoRef } from "../contracts/forge.js";

/** `owner--repo` (GitHub owners never contain `--`), kept to the project-name alphabet and 100 characters. */
export function projectNameFor(fullName: string): string {
  const name = fullName.replace("/", "--").replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  if (name.length <= 100) return name;
  return `${name.slice(0, 91)}-${createHash("sha256").update(fullName).digest("hex").slice(0, 8)}`;
}

export async function projectForRepo(sql: Sql, repo: RepoRef): Promise<Project> {
  const [linked] = await sql<Row<typeof projects>[]>`
    select p.* from github_repositories r join projects p on p.id = r.project_id where r.id = ${repo.id}`;
  if (linked) return toProject(linked);
  const name = projectNameFor(repo.fullName);
  await createProject(sql, name);
  const p = await projectByName(sql, name);
  await sql`
    insert into github_repositories (id, installation_id, full_name, project_id) values (${repo.id}, ${repo.installationId}, ${repo.fullName}, ${p!.id})
    on conflict (id) do update set installation_id = excluded.installation_id, full_name = excluded.full_name,
      project_id = coalesce(github_repositories.project_id, excluded.project_id), removed_at = null`;
  return p!;
}
