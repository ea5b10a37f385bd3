/**
 * `/api/v1/projects/:project/datasets`: datasets and their immutable versions (app/datasets/).
 *
 * - `GET /` the project's datasets; `GET /:name` one with its versions, newest first;
 * - `GET /:name/versions/:version` a version (`latest` = the newest; an alias works too) with its files;
 * - `POST /:name/versions` `{"version": "V", "files": [{"datum": "<uuid>", "path": "<name>"}]}` → 201
 *   `{"uri", "dataset", "version", "files", …}`; 409 when the version exists; 400 naming each bad file.
 *   The dataset is made with its first version.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Sql } from "../../../db/client.js";
import { VhError } from "../../errors.js";
import { createVersion, listDatasets, resolveVersion, showDataset, versionRecord } from "../../datasets/versions.js";
import { datasetUri } from "../../datasets/uri.js";
import { findProject } from "./projects.js";

const CreateVersionBody = z.object({
  version: z.string().min(1),
  files: z.array(z.object({ datum: z.string().min(1), path: z.string().optional() }).strict()).min(1),
}).strict();

export function datasetRoutes(deps: { sql: Sql }) {
  const { sql } = deps;
  const app = new Hono();
  app.get("/", async (c) => {
    const project = await findProject(sql, c.req.param("project")!);
    return c.json({ results: await listDatasets(sql, project.id) });
  });
  app.get("/:name", async (c) => {
    const project = await findProject(sql, c.req.param("project")!);
    return c.json(await showDataset(sql, project, c.req.param("name")));
  });
  app.get("/:name/versions/:version", async (c) => {
    const project = await findProject(sql, c.req.param("project")!);
    return c.json(await versionRecord(sql, await resolveVersion(sql, project, datasetUri(c.req.param("name"), c.req.param("version")))));
  });
  app.post("/:name/versions", async (c) => {
    const project = await findProject(sql, c.req.param("project")!);
    const parsed = CreateVersionBody.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) {
      const where = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
      throw new VhError("bad_request", `Send {"version": "V", "files": [{"datum": "<uuid>", "path": "<name in the version>"}, …]}: ${where}`);
    }
    const made = await createVersion(sql, project, { dataset: c.req.param("name"), version: parsed.data.version, files: parsed.data.files }, c.get("token").name);
    return c.json(await versionRecord(sql, await resolveVersion(sql, project, made.uri)), 201);
  });
  return app;
}
