import { integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * execution_id in these two tables is deliberately not a foreign key: rows are only written by
 * commitBatch in the transaction that updates (and so proves) their execution, and the FK's
 * per-row trigger cost ~60 % of ingest time (bench/README.md, log-ingest). Deleting an execution
 * must delete its lines and events explicitly.
 */
export const logLines = pgTable(
  "log_lines",
  {
    executionId: uuid("execution_id").notNull(),
    seq: integer("seq").notNull(),
    time: timestamp("time", { withTimezone: true }).notNull(),
    /** `status`: a line written by vh itself (a warning such as a reached log quota), not by the job. */
    stream: text("stream").$type<"stdout" | "stderr" | "status">().notNull(),
    line: text("line").notNull(),
  },
  (t) => [primaryKey({ columns: [t.executionId, t.seq] })],
);

/** One row per JSON-object stdout line (valohai-spec §3.4). A key's series = rows whose data has the key. */
export const metadataEvents = pgTable(
  "metadata_events",
  {
    executionId: uuid("execution_id").notNull(),
    seq: integer("seq").notNull(),
    time: timestamp("time", { withTimezone: true }).notNull(),
    data: jsonb("data").$type<Record<string, unknown>>().notNull(),
  },
  // No GIN index on data: a key's series is read per execution (the primary key's prefix), and a
  // GIN index would cost on every metadata line ingested.
  (t) => [primaryKey({ columns: [t.executionId, t.seq] })],
);
