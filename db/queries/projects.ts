/** Statements on projects used from more than one place. */
import type { Project, projects } from "../schema/projects.js";
import type { Conn, Row } from "./rows.js";

/** A `select * from projects` row as the schema type (camelCase). */
export function toProject(r: Row<typeof projects>): Project {
  return { id: r.id, name: r.name, executionCounter: r.execution_counter, pipelineCounter: r.pipeline_counter, createdAt: r.created_at };
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
