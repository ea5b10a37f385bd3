import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { executions } from "./executions.js";
import { projects } from "./projects.js";
import type { ForgeKind } from "../../app/contracts/forge.js";
import type { SweepDefinition, SweepKind } from "../../app/contracts/sweeps.js";

/**
 * Where a sweep came from. `forge`: a `/vh run` comment on a pull or merge request, a commit
 * message (pushed, or seen by a poller), or a check run button, on the forge it names; `api` is
 * reserved for sweeps started through the REST API.
 */
export type SweepSource =
  | {
      kind: "forge";
      forge: ForgeKind;
      /** The forge's numeric repository id and `owner/name` (GitLab: the full path). */
      repositoryId: number;
      repo: string;
      installationId: number;
      /** Pull request number, when the command came from one. */
      pr: number | null;
      trigger: "comment" | "push" | "rerun" | "button" | "reproduce";
      /** The comment that asked (for the 👀 reaction and the reply), when there was one. */
      commentId: number | null;
    }
  | { kind: "api" }
  /** A pipeline's task node (app/pipelines/). */
  | { kind: "pipeline"; pipelineId: string; node: string };

/**
 * A sweep: N executions of one step at one commit, created together (all or none) from value lists.
 * A single execution started from a pull request is a sweep of one, so reporting has one shape.
 */
export const sweeps = pgTable(
  "sweeps",
  {
    id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    step: text("step").notNull(),
    /** Valohai's task type: grid, random, manual, bayesian_tpe. */
    kind: text("kind").$type<SweepKind>().notNull().default("grid"),
    /** The parameters as asked: name → list of raw values for a grid (one value = a list of one); for other kinds each rule as written. */
    spec: jsonb("spec").$type<Record<string, string[]>>().notNull(),
    /** Everything asked (app/contracts/sweeps.ts); null on sweeps made before 0019: a grid of `spec`. */
    definition: jsonb("definition").$type<SweepDefinition>(),
    /** Why the sweep made no more executions before its plan was done (target reached, stop-condition held, stopped). */
    stoppedReason: text("stopped_reason"),
    commitSha: text("commit_sha").notNull(),
    codeSha256: text("code_sha256").notNull(),
    source: jsonb("source").$type<SweepSource>().notNull(),
    triggeredBy: text("triggered_by").notNull(),
    /** The webhook delivery (and command within it) that created it: a replay finds it and creates nothing. */
    requestKey: text("request_key"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("sweeps_request_key").on(t.requestKey), index("sweeps_commit").on(t.commitSha)],
);

export const sweepExecutions = pgTable(
  "sweep_executions",
  {
    sweepId: uuid("sweep_id")
      .notNull()
      .references(() => sweeps.id, { onDelete: "cascade" }),
    /** Position in the expansion (0-based), so the table keeps the order the user wrote. */
    position: integer("position").notNull(),
    executionId: uuid("execution_id")
      .notNull()
      .references(() => executions.id, { onDelete: "cascade" }),
    /** The point it runs (parameter → value as written); null on rows made before 0019 (a grid position of `spec`). */
    point: jsonb("point").$type<Record<string, string>>(),
  },
  (t) => [primaryKey({ columns: [t.sweepId, t.position] }), uniqueIndex("sweep_executions_execution").on(t.executionId)],
);

export type Sweep = typeof sweeps.$inferSelect;
