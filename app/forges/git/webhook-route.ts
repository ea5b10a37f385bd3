/**
 * `POST /api/git/webhooks/:repo` (repo: the linked repository's id or name): a push notification
 * from any Git host that can send one (Gitea, Forgejo, Gogs, a `post-receive` hook running curl…).
 * It carries nothing vh trusts but its signature: a valid one only makes the next poll happen now,
 * and the poll reads the refs from the remote itself. So the body's shape does not matter, and no
 * payload is parsed.
 *
 * Signature: HMAC-SHA256 of the raw body with the repository's webhook secret, hex, in
 * `X-Hub-Signature-256: sha256=…` (what Gitea, Forgejo and GitHub send) or `X-Vh-Signature`
 * (`sha256=` optional), compared in constant time. Valid → 202 and a poll queued now; missing or
 * wrong → 401; no such repository, or one without a webhook secret → 404. Bodies are read up to
 * MAX_BODY_BYTES within BODY_TIMEOUT_MS.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { Hono, type Context } from "hono";
import type { Sql } from "../../../db/client.js";
import type { Logger } from "../../log.js";
import { requestPoll } from "./poll.js";
import { findRepositoryRow } from "./records.js";

export const WEBHOOK_PATH = "/api/git/webhooks";
/** A push notification is small; the body is only hashed. */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;
export const BODY_TIMEOUT_MS = 10_000;
const SIGNATURE = /^(?:sha256=)?([0-9a-fA-F]{64})$/;

export interface GitWebhookDeps {
  sql: Sql;
  log: Logger;
}

type Refusal = { status: 400 | 401 | 404 | 408 | 413; code: string; message: string };

function refuse(c: Context, r: Refusal) {
  return c.json({ error: { code: r.code, message: r.message } }, r.status);
}

/** The raw body, at most MAX_BODY_BYTES, within BODY_TIMEOUT_MS; or why not. */
async function readBody(c: Context): Promise<Buffer | Refusal> {
  const tooLarge: Refusal = { status: 413, code: "too_large", message: `Webhook bodies are at most ${MAX_BODY_BYTES / 1048576} MiB.` };
  const declared = c.req.header("content-length");
  if (declared && /^\d+$/.test(declared) && Number(declared) > MAX_BODY_BYTES) return tooLarge;
  const stream = c.req.raw.body;
  if (!stream) return Buffer.alloc(0);
  const reader = stream.getReader();
  const chunks: Buffer[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), BODY_TIMEOUT_MS);
  });
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), late]);
      if (next === "late") return { status: 408, code: "timeout", message: `The body did not arrive within ${BODY_TIMEOUT_MS / 1000} s.` };
      if (next.done) break;
      size += next.value.byteLength;
      if (size > MAX_BODY_BYTES) return tooLarge;
      chunks.push(Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength));
    }
  } catch {
    return { status: 400, code: "bad_request", message: "The body could not be read (the connection closed?)." };
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks, size);
}

/** Whether `given` (hex) is the HMAC-SHA256 of `body` under `secret`, compared in constant time. */
export function signatureMatches(secret: string, body: Buffer, given: string): boolean {
  const expected = createHmac("sha256", secret).update(body).digest();
  const got = Buffer.from(given, "hex");
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export function gitWebhookRoutes(deps: GitWebhookDeps): Hono {
  const app = new Hono();
  app.post("/:repo", async (c) => {
    const ref = c.req.param("repo");
    const row = ref.length <= 1000 ? await findRepositoryRow(deps.sql, ref) : null;
    if (!row || !row.webhook_secret) {
      return refuse(c, {
        status: 404,
        code: "not_found",
        message: `No linked repository "${ref.slice(0, 200)}" with a webhook secret: link it with vh repo add URL --webhook-secret-env NAME (vh repo list shows the ids).`,
      });
    }
    const header = c.req.header("x-hub-signature-256") ?? c.req.header("x-vh-signature");
    if (!header) {
      return refuse(c, { status: 401, code: "unauthorized", message: "Missing X-Hub-Signature-256 (or X-Vh-Signature): sign the body with HMAC-SHA256 and the repository's webhook secret." });
    }
    const hex = SIGNATURE.exec(header.trim())?.[1];
    const body = await readBody(c);
    if (!Buffer.isBuffer(body)) return refuse(c, body);
    if (!hex || !signatureMatches(row.webhook_secret, body, hex)) {
      deps.log.warn("git webhook signature mismatch", { repository: row.id });
      return refuse(c, { status: 401, code: "unauthorized", message: "The signature does not match: sign with the webhook secret the repository was linked with (sha256=<hex HMAC of the body>)." });
    }
    await requestPoll(deps, row.id);
    return c.json({ ok: true, repository: row.id, poll: "queued" }, 202);
  });
  return app;
}
