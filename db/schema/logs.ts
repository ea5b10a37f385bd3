import { index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { executions } from "./executions.js";

export const logLines = pgTable(
  "log_lines",
  {
    executionId: uuid("execution_id")
      .notNull()
      .references(() => executions.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    time: timestamp("time", { withTimezone: true }).notNull(),
    stream: text("stream").$type<"stdout" | "stderr">().notNull(),
    line: text("line").notNull(),
  },
  (t) => [primaryKey({ columns: [t.executionId, t.seq] })],
);

/** One row per JSON-object stdout line (valohai-spec §3.4). A key's series = rows whose data has the key. */
export const metadataEvents = pgTable(
  "metadata_events",
  {
    executionId: uuid("execution_id")
      .notNull()
      .references(() => executions.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    time: timestamp("time", { withTimezone: true }).notNull(),
    data: jsonb("data").$type<Record<string, unknown>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.executionId, t.seq] }), index("metadata_events_data").using("gin", t.data)],
);
