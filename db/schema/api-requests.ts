import { index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * Creating REST requests that carried an `Idempotency-Key` (app/http/idempotency.ts): the key, the
 * sha256 of the body it came with and what it made. The row is written in the transaction that
 * makes the execution, sweep or pipeline, so a request whose answer was lost (a killed control
 * plane, a dropped connection) and that is sent again finds what the first one made instead of
 * making it twice, and a key sent with another body is refused. Kept API_REQUEST_KEEP_HOURS.
 */
export const apiRequests = pgTable(
  "api_requests",
  {
    /** `<token id>:<project id>:<kind>:<the client's key>`: a key is the caller's own, per project and kind. */
    key: text("key").primaryKey(),
    bodySha256: text("body_sha256").notNull(),
    kind: text("kind").$type<"execution" | "sweep" | "pipeline">().notNull(),
    resourceId: uuid("resource_id").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("api_requests_created").on(t.createdAt)],
);
