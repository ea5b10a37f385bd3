/**
 * The audit chains (app/audit/, docs/audit.md): `model_events` and `execution_status_history` are
 * append-only in Postgres itself, and each of their rows carries `prev_hash` and `hash`, a sha256
 * over the previous row's hash and the row's canonical content, computed by the insert trigger.
 *
 * Terminology:
 * - chain: one audited table, its rows in id order; the first row's prev_hash is GENESIS (64 zeros).
 * - head: this table's row for a chain: the last id and hash and how many rows it holds. The insert
 *   trigger locks it (which serialises the chain's inserts) and moves it on; it lets a verifier see
 *   rows missing at the end, which links alone cannot show.
 */
import { bigint, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const auditChainHeads = pgTable("audit_chain_heads", {
  /** The audited table's name. */
  chain: text("chain").primaryKey(),
  lastId: bigint("last_id", { mode: "number" }),
  lastHash: text("last_hash").notNull(),
  rowCount: bigint("row_count", { mode: "number" }).notNull().default(0),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

export type AuditChainHead = typeof auditChainHeads.$inferSelect;
