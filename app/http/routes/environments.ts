/**
 * Environments (docs/compute.md), mounted at `/api/v1/environments`:
 * - `GET /environments`: every environment of VH_ENVIRONMENTS_FILE with its instances now, its queue and its cost so far.
 * - `GET /environments/:name`: one of them (404 naming the ones there are).
 */
import { Hono } from "hono";
import type { Sql } from "../../../db/client.js";
import type { Config } from "../../config.js";
import { readEnvironmentsFile } from "../../environments/file.js";
import { environmentViews } from "../../environments/present.js";

export function environmentRoutes(deps: { sql: Sql; config: Config }): Hono {
  const app = new Hono();
  const envs = () => readEnvironmentsFile(deps.config.compute.environmentsFile);
  app.get("/", async (c) => c.json({ results: await environmentViews(deps.sql, envs(), deps.config.compute.defaultEnvironment) }));
  app.get("/:name", async (c) => {
    const [one] = await environmentViews(deps.sql, envs(), deps.config.compute.defaultEnvironment, c.req.param("name"));
    return c.json(one);
  });
  return app;
}
