import { Hono } from "hono";
import { z } from "zod";
import type { Sql } from "../../../db/client.js";
import type { Project } from "../../../db/schema/projects.js";
import { VhError } from "../../errors.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export async function findProject(sql: Sql, ref: string): Promise<Project> {
  const isId = /^[0-9a-f-]{36}$/i.test(ref);
  const [row] = await sql<{ id: string; name: string; execution_counter: number; created_at: Date }[]>`
    select * from projects where ${isId ? sql`id = ${ref}` : sql`name = ${ref}`}`;
  if (!row) throw new VhError("not_found", `Project "${ref}" does not exist: create it with \`vh project create ${ref}\`.`);
  return { id: row.id, name: row.name, executionCounter: row.execution_counter, createdAt: row.created_at };
}

function present(p: Project) {
  return { id: p.id, name: p.name, createdAt: p.createdAt.toISOString(), executionCount: p.executionCounter };
}

export function projectRoutes(deps: { sql: Sql }) {
  const app = new Hono();
  app.post("/", async (c) => {
    const body = z.object({ name: z.string() }).safeParse(await c.req.json().catch(() => null));
    if (!body.success) throw new VhError("bad_request", 'Send {"name": "<project name>"}.');
    const name = body.data.name.trim();
    if (!NAME.test(name)) {
      throw new VhError("bad_request", `Project name "${name}" is not allowed: use letters, digits, ".", "_" and "-" (up to 100), starting with a letter or digit.`);
    }
    const rows = await deps.sql`insert into projects (name) values (${name}) on conflict (name) do nothing returning id`;
    if (rows.length === 0) throw new VhError("conflict", `Project "${name}" already exists: link it with \`vh project link ${name}\`.`);
    return c.json(present(await findProject(deps.sql, name)), 201);
  });
  app.get("/", async (c) => {
    const rows = await deps.sql<{ id: string; name: string; execution_counter: number; created_at: Date }[]>`select * from projects order by name`;
    return c.json({ results: rows.map((r) => present({ id: r.id, name: r.name, executionCounter: r.execution_counter, createdAt: r.created_at })) });
  });
  app.get("/:project", async (c) => c.json(present(await findProject(deps.sql, c.req.param("project")))));
  return app;
}
