import { Hono } from "hono";
import { z } from "zod";
import type { Sql } from "../../../db/client.js";
import { createProject, projectById, projectByName, toProject, updateProjectSettings } from "../../../db/queries/projects.js";
import type { Row } from "../../../db/queries/rows.js";
import type { Project, projects } from "../../../db/schema/projects.js";
import { VhError } from "../../errors.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export async function findProject(sql: Sql, ref: string): Promise<Project> {
  const isId = /^[0-9a-f-]{36}$/i.test(ref);
  const project = isId ? await projectById(sql, ref) : await projectByName(sql, ref);
  if (!project) throw new VhError("not_found", `Project "${ref}" does not exist: create it with \`vh project create ${ref}\`.`);
  return project;
}

function present(p: Project) {
  return { id: p.id, name: p.name, createdAt: p.createdAt.toISOString(), executionCount: p.executionCounter, forkCommands: p.forkCommands, forkConfigs: p.forkConfigs };
}

const SETTINGS = z.object({ forkCommands: z.boolean().optional(), forkConfigs: z.boolean().optional() }).strict();

export function projectRoutes(deps: { sql: Sql }) {
  const app = new Hono();
  app.post("/", async (c) => {
    const body = z.object({ name: z.string() }).safeParse(await c.req.json().catch(() => null));
    if (!body.success) throw new VhError("bad_request", 'Send {"name": "<project name>"}.');
    const name = body.data.name.trim();
    if (!NAME.test(name)) {
      throw new VhError("bad_request", `Project name "${name}" is not allowed: use letters, digits, ".", "_" and "-" (up to 100), starting with a letter or digit.`);
    }
    if (!(await createProject(deps.sql, name))) throw new VhError("conflict", `Project "${name}" already exists: link it with \`vh project link ${name}\`.`);
    return c.json(present(await findProject(deps.sql, name)), 201);
  });
  app.get("/", async (c) => {
    // A token scoped to a project sees that one only (app/auth/access.ts).
    const scoped = c.get("token")?.project?.id ?? null;
    const rows = await deps.sql<Row<typeof projects>[]>`select * from projects where ${scoped}::uuid is null or id = ${scoped}::uuid order by name`;
    return c.json({ results: rows.map((r) => present(toProject(r))) });
  });
  app.get("/:project", async (c) => c.json(present(await findProject(deps.sql, c.req.param("project")))));
  // Its settings (a project admin's: app/auth/access.ts): `forkCommands` lets commands run on fork pull requests without --allow-fork.
  app.patch("/:project", async (c) => {
    const project = await findProject(deps.sql, c.req.param("project"));
    const body = SETTINGS.safeParse(await c.req.json().catch(() => null));
    if (!body.success) {
      const i = body.error.issues[0];
      const where = i?.path.length ? `\`${i.path.join(".")}\`: ` : "";
      throw new VhError("bad_request", `${where}${i?.message ?? "not an object"}. Send {"forkCommands": true|false, "forkConfigs": true|false}.`);
    }
    return c.json(present((await updateProjectSettings(deps.sql, project.id, body.data))!));
  });
  return app;
}
