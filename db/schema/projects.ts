import { sql } from "drizzle-orm";
import { boolean, index, integer, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const projects = pgTable("projects", {
  id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
  name: text("name").notNull().unique(),
  /** Last execution counter handed out; executions are numbered #1, #2, … per project. */
  executionCounter: integer("execution_counter").notNull().default(0),
  /** The last pipeline run's counter (`=N`). */
  pipelineCounter: integer("pipeline_counter").notNull().default(0),
  /**
   * Whether `/vh run` and the other commands that run code work on pull requests from forks without
   * `--allow-fork` (app/bot/fork-policy.ts). Off by default: a fork's code runs only when a
   * maintainer asks for it in the command itself.
   */
  forkCommands: boolean("fork_commands").notNull().default(false),
  /**
   * Whether a fork's own valohai.yaml is used. Off by default: a fork's code runs with the
   * valohai.yaml of the base repository's branch (its steps, images, environments, inputs).
   */
  forkConfigs: boolean("fork_configs").notNull().default(false),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const apiTokens = pgTable("api_tokens", {
  id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
  name: text("name").notNull(),
  /** sha256 (hex) of the token; the token itself is never stored. */
  tokenHash: text("token_hash").notNull().unique(),
  /** The server's admin: every route (app/auth/access.ts); then the role is admin and there is no project. */
  admin: boolean("admin").notNull().default(false),
  role: text("role").$type<"viewer" | "member" | "admin">().notNull().default("member"),
  /** The one project it may use; null: every project (within its role). */
  projectId: uuid("project_id").references(() => projects.id, { onDelete: "cascade" }),
  expiresAt: timestamp("expires_at", { withTimezone: true }),
  revokedAt: timestamp("revoked_at", { withTimezone: true }),
  /** The name of the token that made it (null: the server's first start). */
  createdBy: text("created_by"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
}, (t) => [index("api_tokens_project").on(t.projectId)]);

export type Project = typeof projects.$inferSelect;
export type ApiToken = typeof apiTokens.$inferSelect;
