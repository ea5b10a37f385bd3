/**
 * graphile-worker retries its own queries (fetching, completing and failing jobs) only on
 * serialization failures and on 57P03 / EHOSTUNREACH / ETIMEDOUT; any other error ends the worker,
 * then the whole pool, or surfaces as an uncaught exception (graphile-worker 0.17, src/lib.ts
 * `RETRYABLE_ERROR_CODES`). A Postgres restart or failover shows as 57P01 (connections terminated
 * by the administrator), 57P02 (crash shutdown), then ECONNREFUSED / ECONNRESET while it is down:
 * the same kind of outage, so vh adds these to that table at start, with graphile's own backoff,
 * and the queue rides out a database restart instead of taking the process down with it
 * (`npm run bench -- chaos` restarts Postgres under load).
 *
 * The table is graphile-worker's internal: `retryQueueThroughOutages()` says whether it was found,
 * and test/db/queue-outages.test.ts fails when an upgrade moves it.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** The codes added, each retried from 1 s up to 30 s apart. */
export const OUTAGE_CODES = ["57P01", "57P02", "ECONNREFUSED", "ECONNRESET", "EPIPE"] as const;

type RetryTable = Record<string, { minDelay: number; maxDelay: number }>;

/** The table graphile-worker reads, or null when this version has none. */
export function graphileRetryTable(): RetryTable | null {
  const lib = require("graphile-worker/dist/lib.js") as { RETRYABLE_ERROR_CODES?: RetryTable };
  return lib.RETRYABLE_ERROR_CODES ?? null;
}

/** Adds the outage codes (idempotent); false when graphile-worker no longer has the table. */
export function retryQueueThroughOutages(): boolean {
  const table = graphileRetryTable();
  if (!table) return false;
  for (const code of OUTAGE_CODES) table[code] ??= { minDelay: 1000, maxDelay: 30_000 };
  return true;
}
