import { sql } from "drizzle-orm";
import { bigint, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { executions } from "./executions.js";
import { projects } from "./projects.js";

/** An output file: immutable, content-checksummed, addressable as datum://<id>. */
export const datums = pgTable(
  "datums",
  {
    id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    executionId: uuid("execution_id").references(() => executions.id, { onDelete: "set null" }),
    /** Path relative to outputs/. */
    name: text("name").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    sha256: text("sha256").notNull(),
    storeKey: text("store_key").notNull(),
    /** Sidecar metadata (<file>.metadata.json and valohai.metadata.jsonl), verbatim. */
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("datums_execution").on(t.executionId),
    index("datums_sha256").on(t.sha256),
    /** `vh data list` (GET /data): a project's datums newest first, keyset-paged on (created_at, id). */
    index("datums_project_created").on(t.projectId, t.createdAt.desc(), t.id.desc()),
    /** An output re-uploaded after a crash mid-upload does not become a second datum. */
    uniqueIndex("datums_execution_name_sha256").on(t.executionId, t.name, t.sha256),
  ],
);

export type Datum = typeof datums.$inferSelect;
