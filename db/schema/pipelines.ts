import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { executions } from "./executions.js";
import { projects } from "./projects.js";
import { sweeps, type SweepSource } from "./sweeps.js";

/** A pipeline run's state: running until every node ended (or it was stopped), then the outcome. */
export type PipelineStatus = "running" | "completed" | "failed" | "stopped";

/**
 * A node's state. `waiting` for its upstream nodes; `awaiting-approval` (require-approval) until
 * someone with write permission approves; `running` while its execution (or its task's sweep) runs;
 * then `completed`, `reused` (an equal earlier execution stands in: `reused_from`), `failed`,
 * `skipped` (an upstream node failed, or the pipeline stopped before it started), `stopped`.
 */
export type PipelineNodeStatus = "waiting" | "awaiting-approval" | "running" | "completed" | "reused" | "failed" | "skipped" | "stopped";

/** One edge as valohai.yaml gives it, resolved: `source_node.source_type.source_key → target_node.target_type.target_key`. */
export interface PipelineEdgeRecord {
  sourceNode: string;
  sourceType: string;
  sourceKey: string;
  targetNode: string;
  targetType: string;
  targetKey: string;
}

/** A pipeline run: the valohai.yaml pipeline at one commit, its nodes and edges as they were then. */
export const pipelines = pgTable(
  "pipelines",
  {
    id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** Per project, shown as `=N` (Valohai's pipeline counter). */
    counter: integer("counter").notNull(),
    name: text("name").notNull(),
    status: text("status").$type<PipelineStatus>().notNull().default("running"),
    statusDetail: text("status_detail"),
    commitSha: text("commit_sha"),
    codeSha256: text("code_sha256").notNull(),
    yamlPath: text("yaml_path").notNull().default("valohai.yaml"),
    edges: jsonb("edges").$type<PipelineEdgeRecord[]>().notNull(),
    /** Pipeline parameters as given (name → value), after defaults. */
    parameters: jsonb("parameters").$type<Record<string, unknown>>().notNull().default({}),
    /** `node.param` → value, from `--param node.param=value`. */
    nodeParameters: jsonb("node_parameters").$type<Record<string, Record<string, unknown>>>().notNull().default({}),
    reuse: text("reuse").$type<"yes" | "no">().notNull().default("yes"),
    source: jsonb("source").$type<SweepSource>().notNull(),
    triggeredBy: text("triggered_by").notNull(),
    requestKey: text("request_key"),
    /** Its check run on the pull request it was started from, and the hash of what was last written there. */
    reportCheckRunId: text("report_check_run_id"),
    reportHash: text("report_hash"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp("ended_at", { withTimezone: true }),
  },
  (t) => [uniqueIndex("pipelines_project_counter").on(t.projectId, t.counter), uniqueIndex("pipelines_request_key").on(t.requestKey)],
);

export const pipelineNodes = pgTable(
  "pipeline_nodes",
  {
    pipelineId: uuid("pipeline_id")
      .notNull()
      .references(() => pipelines.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** Order in valohai.yaml. */
    position: integer("position").notNull(),
    type: text("type").$type<"execution" | "task">().notNull(),
    status: text("status").$type<PipelineNodeStatus>().notNull().default("waiting"),
    statusDetail: text("status_detail"),
    /** valohai.yaml's on-error: stop-all (default), stop-next, continue, retry. */
    onError: text("on_error").notNull().default("stop-all"),
    edgeMergeMode: text("edge_merge_mode").notNull().default("replace"),
    /** The node's actions as valohai.yaml gives them (`when`, `if`, `then`). */
    actions: jsonb("actions").$type<{ when: string[]; if: string[]; then: string[] }[]>().notNull().default([]),
    executionId: uuid("execution_id").references(() => executions.id, { onDelete: "set null" }),
    sweepId: uuid("sweep_id").references(() => sweeps.id, { onDelete: "set null" }),
    /** The earlier execution that stood in for this node (reuse). */
    reusedFrom: uuid("reused_from").references(() => executions.id, { onDelete: "set null" }),
    approvedBy: text("approved_by"),
    startedAt: timestamp("started_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.pipelineId, t.name] }), index("pipeline_nodes_execution").on(t.executionId), index("pipeline_nodes_sweep").on(t.sweepId)],
);

export type Pipeline = typeof pipelines.$inferSelect;
export type PipelineNodeRow = typeof pipelineNodes.$inferSelect;
