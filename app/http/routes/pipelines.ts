/**
 * Pipeline runs through the REST API, mounted at /projects/:project/pipelines: `POST /` starts a
 * valohai.yaml pipeline at a snapshot (`code`) or a commit of the linked repository (`commit`),
 * refused at creation with every located reason it cannot run (app/pipelines/create.ts);
 * `GET /` lists runs, newest first; `GET /:ref` one run (=N, N or latest) with its nodes, edges and
 * Mermaid graph; `POST /:ref/stop`; `POST /:ref/nodes/:node/approve` (a node waiting on
 * require-approval).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Forges } from "../../contracts/forge.js";
import type { CreateDeps } from "../../executions/create.js";
import { snapshotAtCommit } from "../../executions/at-commit.js";
import { VhError } from "../../errors.js";
import { createPipeline } from "../../pipelines/create.js";
import { approveNode, stopPipeline } from "../../pipelines/control.js";
import { findPipelineId, loadPipelineView } from "../../pipelines/present.js";
import { parseJsonExact } from "../../valohai/index.js";
import { findProject } from "./projects.js";
import { once, replayHeaders, requestClaim } from "../idempotency.js";

const Body = z
  .object({
    name: z.string({ error: "name is required: the valohai.yaml pipeline to run" }).min(1, "name is required: the valohai.yaml pipeline to run"),
    code: z.string().regex(/^[0-9a-f]{64}$/, "code must be the sha256 (64 hex digits) of an uploaded snapshot").optional(),
    commit: z.unknown().optional(),
    yamlPath: z.string().min(1).default("valohai.yaml"),
    parameters: z.record(z.string(), z.unknown()).default({}),
    /** `node.parameter` → value (`vh pipeline run … --param node.parameter=value`). */
    nodeParameters: z.record(z.string(), z.unknown()).default({}),
    reuse: z.boolean().default(true),
  })
  .strict();

export function pipelineRoutes(deps: CreateDeps & { forges?: Forges }) {
  const { sql } = deps;
  const app = new Hono();

  app.post("/", async (c) => {
    const project = await findProject(sql, c.req.param("project")!);
    const text = await c.req.text();
    let raw: unknown;
    try {
      raw = parseJsonExact(text, { pyFloatsUnder: ["parameters", "nodeParameters"] });
    } catch (err) {
      throw new VhError("bad_request", `The body is not JSON (${(err as Error).message}).`);
    }
    const parsed = Body.safeParse(raw);
    if (!parsed.success) throw new VhError("bad_request", parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("\n"));
    const b = parsed.data;
    if ((b.code === undefined) === (b.commit === undefined)) {
      throw new VhError("bad_request", "Give code (the sha256 of an uploaded snapshot) or commit (a branch, tag or sha of the linked repository), one of them.");
    }
    const made = await once(sql, requestClaim(c, { projectId: project.id, kind: "pipeline" }, text), async (claimIn) => {
      let code = b.code ?? "";
      let commitSha: string | null = null;
      if (b.commit !== undefined) {
        if (!deps.forges) throw new VhError("internal", "This server was started without forges: commit runs are not served.");
        ({ code, commitSha } = await snapshotAtCommit({ ...deps, forges: deps.forges }, project, b.commit));
      }
      const p = { name: b.name, code, commitSha, yamlPath: b.yamlPath, parameters: b.parameters, nodeParameters: b.nodeParameters, reuse: b.reuse };
      return (await createPipeline(deps, project, { ...p, source: { kind: "api" }, triggeredBy: c.get("token").name }, claimIn)).id;
    });
    return c.json(await loadPipelineView(sql, made.id), 201, replayHeaders(made.replayed));
  });

  app.get("/", async (c) => {
    const project = await findProject(sql, c.req.param("project")!);
    const limit = Math.min(200, Math.max(1, Number(c.req.query("limit") ?? 50) || 50));
    const rows = await sql<{ id: string }[]>`select id from pipelines where project_id = ${project.id} order by counter desc limit ${limit}`;
    const runs = [];
    for (const r of rows) {
      const v = await loadPipelineView(sql, r.id);
      runs.push({ id: v.id, counter: v.counter, name: v.name, status: v.status, statusDetail: v.statusDetail, commit: v.commit, createdAt: v.createdAt, endedAt: v.endedAt, nodes: v.nodes.map((n) => ({ name: n.name, status: n.status })) });
    }
    return c.json({ pipelines: runs });
  });

  app.get("/:ref", async (c) => {
    const project = await findProject(sql, c.req.param("project")!);
    return c.json(await loadPipelineView(sql, await findPipelineId(sql, project, c.req.param("ref"))));
  });

  app.post("/:ref/stop", async (c) => {
    const project = await findProject(sql, c.req.param("project")!);
    const id = await findPipelineId(sql, project, c.req.param("ref"));
    const stopped = await stopPipeline(sql, id, c.get("token").name);
    return c.json({ stopped, pipeline: await loadPipelineView(sql, id) });
  });

  app.post("/:ref/nodes/:node/approve", async (c) => {
    const project = await findProject(sql, c.req.param("project")!);
    const id = await findPipelineId(sql, project, c.req.param("ref"));
    await approveNode(sql, id, c.req.param("node"), c.get("token").name);
    return c.json(await loadPipelineView(sql, id));
  });

  return app;
}
