/**
 * POST /api/github/webhooks (Probot's default path): check the headers, then verify the signature
 * while the body streams in (HMAC-SHA256 over the chunks, constant-time compare) before parsing
 * anything, and hand the event to Probot's webhooks, whose one handler records the delivery (once
 * per X-GitHub-Delivery) and queues its handling. The answer comes in milliseconds: the work
 * (reaction, permission checks, creating executions) runs in the `github_event` task.
 *
 * Bounded for hostile senders: header values are checked before a byte of the body is read; at
 * most `webhookConcurrency` bodies are being read at once and at most BODY_BUDGET bytes (by their
 * Content-Length) are held at once, beyond either 503 with Retry-After; a body must arrive within
 * BODY_TIMEOUT_MS (GitHub itself gives up on a delivery after 10 s) and within 25 MB.
 *
 * Mounted whether or not an App exists: without one every delivery is a 503 naming the settings
 * (and the set-up page); the App, and so the secret, is read per request, so the App the set-up
 * page registers is verified from its first delivery on.
 */
import { createHmac, timingSafeEqual, type Hmac } from "node:crypto";
import { Hono, type Context } from "hono";
import { Probot } from "probot";
import type { Sql } from "../../../db/client.js";
import type { GitHubAppConfig } from "../../config.js";
import type { Logger } from "../../log.js";
import { HANDLED_EVENTS, recordDelivery } from "./deliveries.js";

export const WEBHOOK_PATH = "/api/github/webhooks";

/** GitHub caps webhook payloads at 25 MB. */
export const MAX_BODY_BYTES = 25 * 1024 * 1024;
/** The most body bytes held at once over all deliveries in flight (one 25 MB payload always fits). */
export const BODY_BUDGET = 64 * 1024 * 1024;
/** A body still arriving after this is refused (408): GitHub's own delivery timeout is 10 s. */
export const BODY_TIMEOUT_MS = 10_000;
/** X-GitHub-Delivery is a GUID; this also bounds it to what the github_event task accepts. */
const DELIVERY_ID = /^[A-Za-z0-9_-]{1,200}$/;
const EVENT_NAME = /^[a-z_]{1,64}$/;
const SIGNATURE = /^sha256=[0-9a-fA-F]{64}$/;

export interface WebhookDeps {
  sql: Sql;
  /** The App of the moment (null until one is configured or set up). */
  app: () => GitHubAppConfig | null;
  /** The set-up page's address, named when there is no App. */
  setupUrl: string;
  log: Logger;
}

type Refusal = { status: 400 | 401 | 408 | 413 | 503; code: string; message: string; retryAfter?: number };

const tooLarge: Refusal = { status: 413, code: "too_large", message: "Webhook payloads are at most 25 MB." };

export function githubWebhookRoutes(deps: WebhookDeps): Hono {
  const outcomes = new WeakMap<object, "queued" | "duplicate">();
  // Probot receives the verified event; its handler only records and queues. One per App (made anew when the App changes).
  let receiver: { app: GitHubAppConfig; probot: Probot } | null = null;
  function probotOf(app: GitHubAppConfig): Probot {
    if (receiver?.app === app) return receiver.probot;
    const probot = new Probot({ appId: app.appId, privateKey: app.privateKey, secret: app.webhookSecret, baseUrl: app.baseUrl, logLevel: "warn" });
    probot.onAny(async (event) => {
      const payload = event.payload as unknown as Record<string, unknown>;
      outcomes.set(payload, await recordDelivery(deps.sql, { id: event.id, event: event.name, payload }));
    });
    receiver = { app, probot };
    return probot;
  }
  const inflight = { reading: 0, bytes: 0 };
  const notConfigured: Refusal = {
    status: 503,
    code: "not_configured",
    message:
      `No GitHub App is configured on this vh server: create one at ${deps.setupUrl} (signed in with the admin token), ` +
      "or set APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET and restart.",
  };

  const refuse = (c: Context, r: Refusal) => {
    if (r.retryAfter) c.header("Retry-After", String(r.retryAfter));
    return c.json({ error: { code: r.code, message: r.message } }, r.status);
  };

  /** The body, read while its HMAC is computed: the bytes, or why not (the slot is the caller's). */
  async function readSigned(c: Context, app: GitHubAppConfig, signature: string, release: () => void): Promise<Buffer | Refusal> {
    const hmac = createHmac("sha256", app.webhookSecret);
    const stream = c.req.raw.body;
    if (!stream) {
      release();
      return verified(c, hmac, signature, Buffer.alloc(0));
    }
    const reader = stream.getReader();
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), BODY_TIMEOUT_MS);
    });
    try {
      for (;;) {
        const next = await Promise.race([reader.read(), deadline]);
        if (next === "late") {
          return { status: 408, code: "timeout", message: `The body did not arrive within ${BODY_TIMEOUT_MS / 1000} s.` };
        }
        if (next.done) break;
        size += next.value.byteLength;
        if (size > MAX_BODY_BYTES) return tooLarge;
        const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
        hmac.update(chunk);
        chunks.push(chunk);
      }
    } catch {
      return { status: 400, code: "bad_request", message: "The body could not be read (the connection closed?)." };
    } finally {
      clearTimeout(timer);
      release();
      reader.cancel().catch(() => {});
    }
    return verified(c, hmac, signature, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  }

  /** The body when `signature` is its HMAC (constant-time compare), else the 401. */
  function verified(c: Context, hmac: Hmac, signature: string, body: Buffer): Buffer | Refusal {
    const expected = hmac.digest();
    const given = Buffer.from(signature.slice("sha256=".length), "hex");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      deps.log.warn("webhook signature mismatch", { delivery: c.req.header("x-github-delivery"), event: c.req.header("x-github-event") });
      return { status: 401, code: "unauthorized", message: "The signature does not match: WEBHOOK_SECRET must equal the App's webhook secret." };
    }
    return body;
  }

  const app = new Hono();
  app.post("/", async (c) => {
    const github = deps.app();
    if (!github) return refuse(c, notConfigured);
    const maxReading = github.webhookConcurrency;
    const id = c.req.header("x-github-delivery");
    const name = c.req.header("x-github-event");
    const signature = c.req.header("x-hub-signature-256");
    if (!id || !name) return refuse(c, { status: 400, code: "bad_request", message: "Missing X-GitHub-Delivery or X-GitHub-Event: this endpoint takes GitHub webhooks." });
    if (!DELIVERY_ID.test(id)) return refuse(c, { status: 400, code: "bad_request", message: "X-GitHub-Delivery must be at most 200 letters, digits, '-' or '_' (GitHub sends a GUID)." });
    if (!EVENT_NAME.test(name)) return refuse(c, { status: 400, code: "bad_request", message: "X-GitHub-Event must be a GitHub event name: 1 to 64 lowercase letters or '_'." });
    if (!signature) return refuse(c, { status: 401, code: "unauthorized", message: "Missing X-Hub-Signature-256: set a webhook secret on the GitHub App (and WEBHOOK_SECRET here)." });
    // GitHub caps payloads at 25 MB: a declared bigger body is refused before a byte is read.
    const lengthHeader = c.req.header("content-length");
    const declared = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
    if (declared !== null && declared > MAX_BODY_BYTES) return refuse(c, tooLarge);
    if (!SIGNATURE.test(signature)) return refuse(c, { status: 400, code: "bad_request", message: "X-Hub-Signature-256 must be sha256= and 64 hex digits (the App's webhook secret signs each delivery)." });

    // Admission: bodies being read, and bytes held, are capped; a body without a length is held as the largest.
    const bytes = declared ?? MAX_BODY_BYTES;
    if (inflight.reading >= maxReading || inflight.bytes + bytes > BODY_BUDGET) {
      deps.log.warn("webhook refused: too many bodies in flight", { reading: inflight.reading, bytes: inflight.bytes });
      c.header("Connection", "close");
      return refuse(c, {
        status: 503,
        code: "busy",
        message: `Too many webhook bodies in flight (at most VH_WEBHOOK_CONCURRENCY=${maxReading} at once, ${BODY_BUDGET / 1048576} MiB in all); try again.`,
        retryAfter: 2,
      });
    }
    inflight.reading++;
    inflight.bytes += bytes;
    let reading = true;
    const doneReading = () => {
      if (reading) inflight.reading--;
      reading = false;
    };
    try {
      const body = await readSigned(c, github, signature, doneReading);
      if (!Buffer.isBuffer(body)) return refuse(c, body);
      let payload: unknown;
      try {
        payload = JSON.parse(body.toString("utf8"));
      } catch {
        return refuse(c, { status: 400, code: "bad_request", message: "The body is not JSON: set the App's webhook content type to application/json." });
      }
      if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
        return refuse(c, { status: 400, code: "bad_request", message: "The body is JSON but not a JSON object: GitHub sends each event as an object." });
      }
      if (name === "ping") return c.json({ ok: true, pong: true });
      if (!HANDLED_EVENTS.has(name)) return c.json({ ok: true, ignored: `event ${name} is not used` });
      await probotOf(github).receive({ id, name, payload } as never);
      const outcome = outcomes.get(payload) ?? "queued";
      return c.json({ ok: true, delivery: id, [outcome]: true }, outcome === "queued" ? 202 : 200);
    } finally {
      doneReading();
      inflight.bytes -= bytes;
    }
  });
  return app;
}
