/** Statements on projects used from more than one place. */
import type { Project, projects } from "../schema/projects.js";
import type { Conn, Row } from "./rows.js";

/** A `select * from projects` row as the schema type (camelCase). */
export function toProject(r: Row<typeof projects>): Project {
  return { id: r.id, name: r.name, executionCounter: r.execution_counter, pipelineCounter: r.pipeline_counter, forkCommands: r.fork_commands, forkConfigs: r.fork_configs, createdAt: r.created_at };
}

export async function projectById(sql: Conn, id: string): Promise<Project | null> {
  const [row] = await sql<Row<typeof projects>[]>`select * from projects where id = ${id}`;
  return row ? toProject(row) : null;
}

export async function projectByName(sql: Conn, name: string): Promise<Project | null> {
  const [row] = await sql<Row<typeof projects>[]>`select * from projects where name = ${name}`;
  return row ? toProject(row) : null;
}

/** Creates project `name` unless one of that name exists; true when this call created it. */
export async function createProject(sql: Conn, name: string): Promise<boolean> {
  const rows = await sql`insert into projects (name) values (${name}) on conflict (name) do nothing returning id`;
  return rows.length > 0;
}

/** A project's settings changed (`PATCH /projects/:project`); the project as it is now. */
export async function updateProjectSettings(sql: Conn, id: string, settings: { forkCommands?: boolean; forkConfigs?: boolean }): Promise<Project | null> {
  const [row] = await sql<Row<typeof projects>[]>`
    update projects set fork_commands = coalesce(${settings.forkCommands ?? null}::boolean, fork_commands),
      fork_configs = coalesce(${settings.forkConfigs ?? null}::boolean, fork_configs)
    where id = ${id} returning *`;
  return row ? toProject(row) : null;
}

/** The project a forge repository's runs belong to, when it has one yet (a repository's first run makes it). */
export async function projectOfRepository(sql: Conn, forge: string, repositoryId: number): Promise<Project | null> {
  const [row] = await sql<Row<typeof projects>[]>`
    select p.* from forge_repositories r join projects p on p.id = r.project_id where r.forge = ${forge} and r.id = ${repositoryId}`;
  return row ? toProject(row) : null;
}
