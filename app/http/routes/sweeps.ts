/**
 * Sweeps through the REST API, mounted at /projects/:project/sweeps: `POST /` creates a sweep of
 * any kind — a grid of typed value lists, or with `task` (random, manual, Bayesian, max parallel,
 * early stopping), rule objects (linear, logspace, distributions) or a valohai.yaml `blueprint`
 * (app/sweeps/from-api.ts: the executions made now all or none); `GET /:id` reads one back with its
 * executions in order, as `GET …/executions/:counter` presents each.
 */
import { Hono } from "hono";
import type { Forges } from "../../contracts/forge.js";
import type { CreateDeps } from "../../executions/create.js";
import { findExecutionRow, loadPresented } from "../../executions/present.js";
import { VhError } from "../../errors.js";
import { createApiSweep, findSweep, type ApiSweepRecord } from "../../sweeps/from-api.js";
import type { Project } from "../../../db/schema/projects.js";
import { parseJsonExact } from "../../valohai/index.js";
import { sweepPlanSize } from "../../sweeps/definition.js";
import type { Sql } from "../../../db/client.js";
import { findProject } from "./projects.js";
import { once, replayHeaders, requestClaim } from "../idempotency.js";

async function present(sql: Sql, project: Project, s: ApiSweepRecord) {
  const executions = [];
  for (const id of s.executionIds) executions.push(await loadPresented(sql, await findExecutionRow(sql, project.id, id)));
  return {
    id: s.id,
    project: { id: project.id, name: project.name },
    step: s.step,
    kind: s.kind,
    spec: s.spec,
    definition: s.definition,
    planned: s.definition ? sweepPlanSize(s.definition) : s.executionIds.length,
    stoppedReason: s.stoppedReason,
    commit: s.commit,
    code: s.code,
    source: s.source,
    triggeredBy: s.triggeredBy,
    createdAt: s.createdAt.toISOString(),
    executions,
  };
}

export function sweepRoutes(deps: CreateDeps & { forges?: Forges }) {
  const { sql } = deps;
  const app = new Hono();
  // The sweep row and its executions from one snapshot: the driver records why a sweep stopped and
  // then stops its executions, so separate reads could show them stopped with no reason yet.
  const snapshot = (project: Project, id: string) =>
    sql.begin("isolation level repeatable read read only", async (tx) => {
      const t = tx as unknown as Sql;
      return present(t, project, await findSweep(t, project, id));
    });

  app.post("/", async (c) => {
    const project = await findProject(sql, c.req.param("project")!);
    const text = await c.req.text();
    let body: unknown;
    try {
      // As a single execution's: integers beyond 2^53 stay exact, 1.0 stays a float.
      body = parseJsonExact(text, { pyFloatsUnder: ["parameters"] });
    } catch (err) {
      throw new VhError("bad_request", `The body is not JSON (${(err as Error).message}).`);
    }
    const made = await once(sql, requestClaim(c, { projectId: project.id, kind: "sweep" }, text), async (claimIn) => (await createApiSweep(deps, project, body, c.get("token").name, claimIn)).id);
    return c.json(await snapshot(project, made.id), 201, replayHeaders(made.replayed));
  });

  app.get("/:id", async (c) => {
    const project = await findProject(sql, c.req.param("project")!);
    return c.json(await snapshot(project, c.req.param("id")));
  });

  return app;
}
