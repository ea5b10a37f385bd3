import { sql } from "drizzle-orm";
import { boolean, integer, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const projects = pgTable("projects", {
  id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
  name: text("name").notNull().unique(),
  /** Last execution counter handed out; executions are numbered #1, #2, … per project. */
  executionCounter: integer("execution_counter").notNull().default(0),
  /** The last pipeline run's counter (`=N`). */
  pipelineCounter: integer("pipeline_counter").notNull().default(0),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const apiTokens = pgTable("api_tokens", {
  id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
  name: text("name").notNull(),
  /** sha256 (hex) of the token; the token itself is never stored. */
  tokenHash: text("token_hash").notNull().unique(),
  admin: boolean("admin").notNull().default(false),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
});

export type Project = typeof projects.$inferSelect;
export type ApiToken = typeof apiTokens.$inferSelect;
