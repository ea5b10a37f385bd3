/**
 * `Idempotency-Key` on the REST requests that create (POST executions, sweeps, pipelines): a client
 * that did not get its answer (the control plane was killed or restarted, the connection dropped)
 * sends the same request with the same key again and gets what the first one made, never a second
 * one. The CLI sends a new key with each command and the same key on each of its retries.
 *
 * - The key is the caller's: it is kept per token, project and kind (`api_requests`, db/schema/
 *   api-requests.ts), with the sha256 of the body, in the transaction that makes the execution,
 *   sweep or pipeline. So it is there exactly when what it made is.
 * - The same key again with the same body: the answer the first request got (201, what it made, as
 *   it is now), with `Idempotent-Replayed: true`. Two at once: one makes it, the other waits for
 *   its commit and answers the same.
 * - The same key with another body: 409 `conflict`; nothing is made.
 * - 1–255 visible ASCII characters (a UUID is usual); anything else is 400. Kept
 *   API_REQUEST_KEEP_HOURS (24, as Stripe keeps theirs), pruned as new keys are written.
 * - A request without the header is not deduplicated, as before.
 */
import { createHash } from "node:crypto";
import type { Context } from "hono";
import type postgres from "postgres";
import type { Sql } from "../../db/client.js";
import { VhError } from "../errors.js";

export const IDEMPOTENCY_HEADER = "Idempotency-Key";
export const REPLAYED_HEADER = "Idempotent-Replayed";
export const API_REQUEST_KEEP_HOURS = 24;
const KEY = /^[\x21-\x7e]{1,255}$/;

export type ApiRequestKind = "execution" | "sweep" | "pipeline";

/** What a creating request claims: written with what it makes, in the same transaction. */
export interface RequestClaim {
  key: string;
  clientKey: string;
  bodySha256: string;
  kind: ApiRequestKind;
}

/** Writes the claim in the creating transaction; `made` is the id of what the request made. */
export type ClaimInTransaction = (tx: postgres.TransactionSql, made: string) => Promise<void>;

/** The request's claim, or null without the header; a malformed key is 400. */
export function requestClaim(c: Context, scope: { projectId: string; kind: ApiRequestKind }, body: string): RequestClaim | null {
  const clientKey = c.req.header(IDEMPOTENCY_HEADER);
  if (clientKey === undefined) return null;
  if (!KEY.test(clientKey)) {
    throw new VhError("bad_request", `${IDEMPOTENCY_HEADER} must be 1 to 255 visible ASCII characters (a UUID, say), not ${JSON.stringify(clientKey.slice(0, 60))}.`);
  }
  const token = c.get("token") as { id: string };
  return {
    key: `${token.id}:${scope.projectId}:${scope.kind}:${clientKey}`,
    clientKey,
    bodySha256: createHash("sha256").update(body).digest("hex"),
    kind: scope.kind,
  };
}

async function priorOf(sql: Sql, claim: RequestClaim): Promise<string | null> {
  const [row] = await sql<{ body_sha256: string; resource_id: string }[]>`
    select body_sha256, resource_id from api_requests
    where key = ${claim.key} and created_at > now() - make_interval(hours => ${API_REQUEST_KEEP_HOURS})`;
  if (!row) return null;
  if (row.body_sha256 !== claim.bodySha256) {
    throw new VhError(
      "conflict",
      `${IDEMPOTENCY_HEADER} ${JSON.stringify(claim.clientKey)} was already used for another ${claim.kind} request with a different body: nothing was made. Send a new key for a new request.`,
    );
  }
  return row.resource_id;
}

function isClaimConflict(err: unknown): boolean {
  const e = err as { code?: string; constraint_name?: string };
  return e.code === "23505" && e.constraint_name === "api_requests_pkey";
}

/**
 * Runs `create` once per key: with no claim, just runs it; with one, answers what an earlier
 * request with the key made (`replayed` true), or runs `create` with the claim to write in its
 * transaction. A request with the key that commits first wins; the other answers with its result.
 */
export async function once(
  sql: Sql,
  claim: RequestClaim | null,
  create: (claimIn: ClaimInTransaction | undefined) => Promise<string>,
): Promise<{ id: string; replayed: boolean }> {
  if (!claim) return { id: await create(undefined), replayed: false };
  const prior = await priorOf(sql, claim);
  if (prior) return { id: prior, replayed: true };
  try {
    const id = await create(async (tx, made) => {
      // An expired key of this caller's is free again; a few old rows go with each new one.
      await tx`
        delete from api_requests where key in (
          select key from api_requests where created_at < now() - make_interval(hours => ${API_REQUEST_KEEP_HOURS}) limit 100)
        or (key = ${claim.key} and created_at < now() - make_interval(hours => ${API_REQUEST_KEEP_HOURS}))`;
      await tx`insert into api_requests (key, body_sha256, kind, resource_id) values (${claim.key}, ${claim.bodySha256}, ${claim.kind}, ${made})`;
    });
    return { id, replayed: false };
  } catch (err) {
    if (!isClaimConflict(err)) throw err;
    // The same request, made at the same time, committed first: its result is this one's.
    const other = await priorOf(sql, claim);
    if (!other) throw err;
    return { id: other, replayed: true };
  }
}

/** The answer's headers: a replay says so. */
export function replayHeaders(replayed: boolean): Record<string, string> {
  return replayed ? { [REPLAYED_HEADER]: "true" } : {};
}
