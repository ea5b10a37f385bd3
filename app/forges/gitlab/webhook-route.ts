/**
 * POST /api/gitlab/webhooks: check `X-Gitlab-Token` (constant time) before reading a byte of the
 * body, read the body (at most 25 MB, within 10 s), check GitLab's signature when a signing token is
 * configured, then record the delivery and queue its `forge_event` job in one statement (once per
 * `Idempotency-Key`, or `X-Gitlab-Event-UUID` from GitLab before 17.4). The answer comes in
 * milliseconds: the work runs in the task.
 *
 * GitLab disables a hook for good after four 4xx answers in a row (and for a while after 5xx), so
 * once the token matched only a 2xx is answered for what retrying cannot fix (a body that is not
 * JSON, an event vh does not use, one too large): `{ ignored }`, and a log line. A bad signature is
 * a 401 (someone else's request, or a misconfigured hook); a database failure a 503 (retried).
 *
 * Mounted whether or not GitLab is configured: until GITLAB_TOKEN and GITLAB_WEBHOOK_SECRET are set,
 * every delivery is a 503 naming them.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { Hono, type Context } from "hono";
import type { Sql } from "../../../db/client.js";
import { recordDelivery } from "../../../db/queries/deliveries.js";
import type { GitLabConfig } from "../../config.js";
import type { Logger } from "../../log.js";

export const GITLAB_WEBHOOK_PATH = "/api/gitlab/webhooks";

/** `X-Gitlab-Event` values vh records (the hook's Comments, Push and Merge request events); others are answered and dropped. */
export const GITLAB_EVENTS: ReadonlySet<string> = new Set(["Note Hook", "Push Hook", "Merge Request Hook"]);

/** The largest body read (GitHub's cap; GitLab's payloads are far smaller). */
export const MAX_BODY_BYTES = 25 * 1024 * 1024;
/** A body still arriving after this is dropped: GitLab.com itself gives up on a hook after 10 s. */
export const BODY_TIMEOUT_MS = 10_000;
/** A signed delivery's `webhook-timestamp` may be this far from now (Standard Webhooks' tolerance). */
export const SIGNATURE_TOLERANCE_S = 300;

const DELIVERY_ID = /^[A-Za-z0-9_.:-]{1,200}$/;
const EVENT_NAME = /^[A-Za-z ]{1,64}$/;

export interface GitLabWebhookDeps {
  sql: Sql;
  /** GitLab's settings of the moment (null while GITLAB_TOKEN is unset). */
  config: () => GitLabConfig | null;
  log: Logger;
  /** The clock, in ms (tests). */
  now?: () => number;
}

type Refusal = { status: 400 | 401 | 503; code: string; message: string };

/** Equal strings, compared in constant time (of their SHA-256, so the length leaks nothing either). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The key of a signing token: `whsec_` and the key in base64 (GitLab's format, Standard Webhooks'). */
export function signingKey(token: string): Buffer {
  return Buffer.from(token.startsWith("whsec_") ? token.slice("whsec_".length) : token, "base64");
}

/** `v1,<base64>` of HMAC-SHA256 over `<id>.<timestamp>.<body>` (what GitLab sends in `webhook-signature`). */
export function signGitLab(token: string, id: string, timestamp: string, body: Buffer | string): string {
  const mac = createHmac("sha256", signingKey(token)).update(`${id}.${timestamp}.`).update(body).digest("base64");
  return `v1,${mac}`;
}

/** Whether one of the space-separated `v1,…` signatures is the body's (constant-time compare). */
export function verifySignature(token: string, id: string, timestamp: string, body: Buffer, header: string): boolean {
  const expected = Buffer.from(signGitLab(token, id, timestamp, body).slice(3), "base64");
  return header.split(" ").some((part) => {
    const [version, sig] = part.split(",", 2);
    if (version !== "v1" || !sig) return false;
    const given = Buffer.from(sig, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

type Body = { kind: "body"; bytes: Buffer } | { kind: "too_large" } | { kind: "timeout" } | { kind: "broken" };

/** The request's body: at most `max` bytes, arriving within `ms`. */
async function readBody(stream: ReadableStream<Uint8Array> | null, max: number, ms: number): Promise<Body> {
  if (!stream) return { kind: "body", bytes: Buffer.alloc(0) };
  const reader = stream.getReader();
  const chunks: Buffer[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), ms);
  });
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), deadline]);
      if (next === "late") return { kind: "timeout" };
      if (next.done) break;
      size += next.value.byteLength;
      if (size > max) return { kind: "too_large" };
      chunks.push(Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength));
    }
  } catch {
    return { kind: "broken" };
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
  return { kind: "body", bytes: Buffer.concat(chunks, size) };
}

export function gitlabWebhookRoutes(deps: GitLabWebhookDeps): Hono {
  const now = deps.now ?? Date.now;
  const refuse = (c: Context, r: Refusal) => c.json({ error: { code: r.code, message: r.message } }, r.status);
  /** A 200 for what a retry cannot fix: GitLab keeps the hook enabled, vh logs why it dropped it. */
  const ignore = (c: Context, reason: string, fields: Record<string, unknown>) => {
    deps.log.warn("gitlab webhook dropped", { reason, ...fields });
    return c.json({ ok: true, ignored: reason });
  };

  const app = new Hono();
  app.post("/", async (c) => {
    const gitlab = deps.config();
    if (!gitlab) {
      return refuse(c, { status: 503, code: "not_configured", message: "GitLab is not configured on this vh server: set GITLAB_TOKEN and GITLAB_WEBHOOK_SECRET (see docs/gitlab.md) and restart." });
    }
    if (!gitlab.webhookSecret) {
      return refuse(c, {
        status: 503,
        code: "not_configured",
        message: "GITLAB_WEBHOOK_SECRET is not set: vh accepts GitLab webhooks only with a secret token. Set it to the hook's Secret token and restart.",
      });
    }
    const token = c.req.header("x-gitlab-token");
    if (!token || !sameSecret(token, gitlab.webhookSecret)) {
      deps.log.warn("gitlab webhook token mismatch", { event: c.req.header("x-gitlab-event"), instance: c.req.header("x-gitlab-instance") });
      return refuse(c, {
        status: 401,
        code: "unauthorized",
        message: token
          ? "X-Gitlab-Token does not match: the hook's Secret token must equal GITLAB_WEBHOOK_SECRET."
          : "Missing X-Gitlab-Token: set the hook's Secret token to GITLAB_WEBHOOK_SECRET.",
      });
    }

    const event = c.req.header("x-gitlab-event");
    const id = c.req.header("idempotency-key") || c.req.header("x-gitlab-event-uuid");
    if (!event || !EVENT_NAME.test(event)) {
      return refuse(c, { status: 400, code: "bad_request", message: "Missing or malformed X-Gitlab-Event: this endpoint takes GitLab webhooks." });
    }
    if (!id || !DELIVERY_ID.test(id)) {
      return refuse(c, {
        status: 400,
        code: "bad_request",
        message: "Missing or malformed Idempotency-Key and X-Gitlab-Event-UUID: GitLab sends them with each delivery (the UUID since 14.8).",
      });
    }
    const fields = { delivery: id, event };
    if (!GITLAB_EVENTS.has(event)) return c.json({ ok: true, ignored: `event ${event} is not used` });

    const lengthHeader = c.req.header("content-length");
    if (lengthHeader !== undefined && /^\d+$/.test(lengthHeader) && Number(lengthHeader) > MAX_BODY_BYTES) {
      c.header("Connection", "close");
      return ignore(c, "the body is over 25 MB", fields);
    }
    const body = await readBody(c.req.raw.body, MAX_BODY_BYTES, BODY_TIMEOUT_MS);
    if (body.kind !== "body") {
      c.header("Connection", "close");
      const why = { too_large: "the body is over 25 MB", timeout: `the body did not arrive within ${BODY_TIMEOUT_MS / 1000} s`, broken: "the body could not be read" };
      return ignore(c, why[body.kind], fields);
    }

    if (gitlab.signingToken) {
      const refusal = checkSignature(gitlab.signingToken, c, body.bytes, now());
      if (refusal) {
        deps.log.warn("gitlab webhook signature refused", { ...fields, why: refusal.message });
        return refuse(c, refusal);
      }
    }

    let payload: unknown;
    try {
      payload = JSON.parse(body.bytes.toString("utf8"));
    } catch {
      return ignore(c, "the body is not JSON", fields);
    }
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return ignore(c, "the body is not a JSON object", fields);
    const attrs = (payload as { object_attributes?: { action?: unknown } }).object_attributes;
    const action = typeof attrs?.action === "string" ? attrs.action.slice(0, 100) : null;

    let outcome: "queued" | "duplicate";
    try {
      outcome = await recordDelivery(deps.sql, { forge: "gitlab", id, event, action, installationId: null, payload: payload as Record<string, unknown> });
    } catch (err) {
      deps.log.error("gitlab webhook not recorded", { ...fields, err });
      c.header("Retry-After", "5");
      return refuse(c, { status: 503, code: "unavailable", message: "vh could not record the delivery (its database failed); GitLab may send it again." });
    }
    return c.json({ ok: true, delivery: id, [outcome]: true }, outcome === "queued" ? 202 : 200);
  });
  return app;
}

/** GitLab's signature (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`), or why it is refused. */
function checkSignature(signingToken: string, c: Context, body: Buffer, nowMs: number): Refusal | null {
  const id = c.req.header("webhook-id");
  const timestamp = c.req.header("webhook-timestamp");
  const signature = c.req.header("webhook-signature");
  const unauthorized = (message: string): Refusal => ({ status: 401, code: "unauthorized", message });
  if (!id || !timestamp || !signature) {
    return unauthorized(
      "Missing webhook-signature (or webhook-id, webhook-timestamp): GITLAB_WEBHOOK_SIGNING_TOKEN is set, so the hook must have the same Signing token (or unset GITLAB_WEBHOOK_SIGNING_TOKEN).",
    );
  }
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowMs / 1000 - Number(timestamp)) > SIGNATURE_TOLERANCE_S) {
    return unauthorized(`webhook-timestamp is more than ${SIGNATURE_TOLERANCE_S / 60} minutes from now: a replayed request, or this server's clock is off.`);
  }
  if (!verifySignature(signingToken, id, timestamp, body, signature)) {
    return unauthorized("The webhook signature does not match: the hook's Signing token must equal GITLAB_WEBHOOK_SIGNING_TOKEN.");
  }
  return null;
}
