/**
 * POST /api/github/webhooks (Probot's default path): verify the signature on the raw body before
 * parsing anything, hand the event to Probot's webhooks, whose one handler records the delivery
 * (once per X-GitHub-Delivery) and queues its handling. The answer comes in milliseconds: the
 * work (reaction, permission checks, creating executions) runs in the `github_event` task.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { Probot } from "probot";
import { verify } from "@octokit/webhooks-methods";
import type { Sql } from "../../db/client.js";
import type { GitHubAppConfig } from "../config.js";
import type { Logger } from "../log.js";
import { HANDLED_EVENTS, recordDelivery } from "./deliveries.js";

export const WEBHOOK_PATH = "/api/github/webhooks";

export interface WebhookDeps {
  sql: Sql;
  github: GitHubAppConfig;
  log: Logger;
}

export function githubWebhookRoutes(deps: WebhookDeps): Hono {
  const outcomes = new WeakMap<object, "queued" | "duplicate">();
  // Probot receives the verified event; its handler only records and queues.
  const probot = new Probot({ appId: deps.github.appId, privateKey: deps.github.privateKey, secret: deps.github.webhookSecret, baseUrl: deps.github.baseUrl, logLevel: "warn" });
  probot.onAny(async (event) => {
    const payload = event.payload as unknown as Record<string, unknown>;
    outcomes.set(payload, await recordDelivery(deps.sql, { id: event.id, event: event.name, payload }));
  });

  const app = new Hono();
  // GitHub caps webhook payloads at 25 MB; a bigger body is refused while it streams in, before
  // anything is buffered or verified.
  app.use(
    "/",
    bodyLimit({
      maxSize: 25 * 1024 * 1024,
      onError: (c) => c.json({ error: { code: "too_large", message: "Webhook payloads are at most 25 MB." } }, 413),
    }),
  );
  app.post("/", async (c) => {
    const id = c.req.header("x-github-delivery");
    const name = c.req.header("x-github-event");
    const signature = c.req.header("x-hub-signature-256");
    if (!id || !name) return c.json({ error: { code: "bad_request", message: "Missing X-GitHub-Delivery or X-GitHub-Event: this endpoint takes GitHub webhooks." } }, 400);
    if (!signature) return c.json({ error: { code: "unauthorized", message: "Missing X-Hub-Signature-256: set a webhook secret on the GitHub App (and WEBHOOK_SECRET here)." } }, 401);
    const body = await c.req.text();
    let ok = false;
    try {
      ok = await verify(deps.github.webhookSecret, body, signature);
    } catch {
      ok = false;
    }
    if (!ok) {
      deps.log.warn("webhook signature mismatch", { delivery: id, event: name });
      return c.json({ error: { code: "unauthorized", message: "The signature does not match: WEBHOOK_SECRET must equal the App's webhook secret." } }, 401);
    }
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return c.json({ error: { code: "bad_request", message: "The body is not JSON: set the App's webhook content type to application/json." } }, 400);
    }
    if (name === "ping") return c.json({ ok: true, pong: true });
    if (!HANDLED_EVENTS.has(name)) return c.json({ ok: true, ignored: `event ${name} is not used` });
    await probot.receive({ id, name, payload } as never);
    const outcome = outcomes.get(payload) ?? "queued";
    return c.json({ ok: true, delivery: id, [outcome]: true }, outcome === "queued" ? 202 : 200);
  });
  return app;
}
