/**
 * The HTTP app: one Hono sub-app per resource, one error handler. Tested through `app.request()`
 * and over a real socket in the end-to-end test.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Sql } from "../../db/client.js";
import type { Store } from "../contracts/store.js";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { VhError, httpStatusOf } from "../errors.js";
import { bearerAuth } from "./middleware/auth.js";
import { tokenRoutes } from "./routes/tokens.js";
import { projectRoutes } from "./routes/projects.js";
import { codeRoutes } from "./routes/snapshots.js";
import { executionRoutes } from "./routes/executions.js";
import { validateRoutes } from "./routes/validate.js";
import { dataRoutes, projectDataRoutes } from "./routes/data.js";
import { modelRoutes } from "./routes/models.js";
import { lineageRoutes, openLineageSchemaRoutes } from "./routes/lineage.js";
import { datasetRoutes } from "./routes/datasets.js";
import { hostRoutes } from "./routes/hosts.js";
import { environmentRoutes } from "./routes/environments.js";
import { homeRoutes } from "./ui/home.js";
import { githubSetupRoutes } from "./ui/github-setup.js";
import { uiRoutes } from "./ui/pages.js";
import { findExecutionRow, loadPresented } from "../executions/present.js";
import {
  gitRepoService,
  gitWebhookRoutes,
  githubWebhookRoutes,
  gitlabWebhookRoutes,
  GIT_WEBHOOK_PATH,
  GITHUB_SETUP_PATH,
  GITHUB_WEBHOOK_PATH,
  GITLAB_WEBHOOK_PATH,
  type LiveForges,
} from "../forges/registry.js";
import { repoRoutes } from "./routes/repos.js";
import { sweepRoutes } from "./routes/sweeps.js";
import { pipelineRoutes } from "./routes/pipelines.js";
import { auditRoutes } from "./routes/audit.js";

export interface HttpDeps {
  config: Config;
  sql: Sql;
  store: Store;
  log: Logger;
  /** The process's one forge provider (shared with the worker): the set-up page swaps the App it serves. */
  forges: LiveForges;
  fetch?: typeof fetch;
}

export function createHttpApp(deps: HttpDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof VhError) {
      return c.json({ error: { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) } }, httpStatusOf[err.code] as 400);
    }
    if (err instanceof HTTPException) return err.getResponse();
    deps.log.error("request failed", { path: c.req.path, err });
    return c.json({ error: { code: "internal", message: "Internal error; the server log has the details." } }, 500);
  });
  app.notFound((c) => c.json({ error: { code: "not_found", message: `No route ${c.req.method} ${c.req.path}.` } }, 404));

  app.get("/healthz", async (c) => {
    await deps.sql`select 1`;
    return c.json({ ok: true });
  });
  app.route("/", homeRoutes(deps));
  // The web UI (app/http/ui/pages.ts, docs/ui.md): pages and the bundled script, signed in by the home page's cookie.
  app.route("/ui", uiRoutes(deps));
  // The JSON Schema of vh's custom OpenLineage facets (no token: it describes shapes, holds no data).
  app.route("/", openLineageSchemaRoutes());
  // The GitHub App's webhooks, at Probot's default path, always: 503 naming the settings until an App
  // exists, then verified with the App of the moment (config.github, set at start or by the set-up page).
  const setupUrl = (deps.config.http.publicUrl ?? "") + GITHUB_SETUP_PATH;
  app.route(GITHUB_WEBHOOK_PATH, githubWebhookRoutes({ sql: deps.sql, app: () => deps.config.github, setupUrl, log: deps.log }));
  app.route(GITHUB_SETUP_PATH, githubSetupRoutes(deps));
  // GitLab's webhooks: the secret checked in constant time before the body is parsed; 503 naming the settings while GitLab is not configured.
  app.route(GITLAB_WEBHOOK_PATH, gitlabWebhookRoutes({ sql: deps.sql, config: () => deps.config.gitlab, log: deps.log }));
  // A plain Git host's push hook (HMAC-SHA256 with the repository's secret): an immediate poll.
  app.route(GIT_WEBHOOK_PATH, gitWebhookRoutes({ sql: deps.sql, log: deps.log }));

  const api = new Hono();
  api.use("*", bearerAuth({ sql: deps.sql }));
  api.get("/me", (c) => c.json({ token: c.get("token") }));
  api.route("/tokens", tokenRoutes({ sql: deps.sql }));
  api.route("/projects", projectRoutes(deps));
  api.route("/projects/:project/executions/validate", validateRoutes(deps));
  api.route("/projects/:project/executions", executionRoutes(deps));
  api.route("/projects/:project/sweeps", sweepRoutes(deps));
  api.route("/projects/:project/pipelines", pipelineRoutes(deps));
  api.route("/projects/:project/datasets", datasetRoutes(deps));
  api.route("/projects/:project/data", projectDataRoutes({ sql: deps.sql, store: deps.store, maxBytes: deps.config.maxUploadBytes }));
  api.route("/code", codeRoutes({ sql: deps.sql, store: deps.store, maxBytes: deps.config.maxCodeBytes, limits: deps.config.codeLimits }));
  api.route("/data", dataRoutes(deps));
  api.route("/models", modelRoutes(deps));
  api.route("/audit", auditRoutes(deps));
  api.route("/lineage", lineageRoutes(deps));
  api.route("/", hostRoutes({ sql: deps.sql, dataDir: deps.config.dataDir }));
  api.route("/environments", environmentRoutes({ sql: deps.sql, config: deps.config }));
  api.route("/", repoRoutes({ repos: gitRepoService(deps) }));
  // A token scoped to a project finds its project's executions only (app/auth/access.ts, `owned`).
  api.get("/executions/:id", async (c) => c.json(await loadPresented(deps.sql, await findExecutionRow(deps.sql, c.get("token").project?.id ?? null, c.req.param("id")))));
  app.route("/api/v1", api);
  return app;
}
