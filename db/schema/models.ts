/**
 * The Model Hub (docs/model-hub.md).
 *
 * Terminology:
 * - model: a name (`churn`) with its approval policy; addressed as `model://churn/…`.
 * - version: `model://churn/v3`, numbered 1, 2, … per model; holds files (datums with sha256), its
 *   source execution, tags, a description and a status (pending | approved | rejected).
 * - files digest: sha256 over the sorted "name sha256" lines of a version's files. An approval is
 *   bound to it: when the files change, the approval does not carry over.
 * - latest: the highest-numbered approved version (an alias that moves with approvals).
 * - event: one append-only row of the audit trail (created, approved, rejected, pending, used,
 *   alias_changed, refused, …), with actor, time and source.
 */
import { sql } from "drizzle-orm";
import { bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid, bigint } from "drizzle-orm/pg-core";
import { executions } from "./executions.js";
import { datums } from "./datums.js";

export type ModelVersionStatus = "pending" | "approved" | "rejected";

export const models = pgTable("models", {
  id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
  name: text("name").notNull().unique(),
  description: text("description"),
  /** Logins allowed to approve besides users with write permission on the repository (a team). */
  approvers: jsonb("approvers").$type<string[]>().notNull().default([]),
  /** Separation of duties: the approver may not be the person who triggered the training. */
  separationOfDuties: boolean("separation_of_duties").notNull().default(false),
  /** Last version number handed out. */
  versionCounter: integer("version_counter").notNull().default(0),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const modelVersions = pgTable(
  "model_versions",
  {
    id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
    modelId: uuid("model_id")
      .notNull()
      .references(() => models.id),
    number: integer("number").notNull(),
    status: text("status").$type<ModelVersionStatus>().notNull().default("pending"),
    /** `execution` (from an output's sidecar) or `manual` (CLI/API). */
    sourceKind: text("source_kind").$type<"execution" | "manual">().notNull(),
    sourceExecutionId: uuid("source_execution_id").references(() => executions.id, { onDelete: "set null" }),
    /** Copied from the source execution: the code commit and who triggered the training. */
    commitSha: text("commit_sha"),
    triggeredBy: text("triggered_by"),
    createdBy: text("created_by"),
    description: text("description"),
    tags: jsonb("tags").$type<string[]>().notNull().default([]),
    filesSha256: text("files_sha256").notNull(),
    /** The files digest the approval was given for; approval counts only while it equals filesSha256. */
    approvedSha256: text("approved_sha256"),
    statusBy: text("status_by"),
    statusReason: text("status_reason"),
    statusAt: timestamp("status_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("model_versions_model_number").on(t.modelId, t.number),
    /** An output re-uploaded after a crash does not create a second version. */
    uniqueIndex("model_versions_model_execution").on(t.modelId, t.sourceExecutionId),
    index("model_versions_execution").on(t.sourceExecutionId),
    index("model_versions_commit").on(t.commitSha),
    /** `model://NAME/latest`: the highest approved number, one index probe. */
    index("model_versions_approved").on(t.modelId, t.number.desc()).where(sql`status = 'approved'`),
  ],
);

export const modelVersionFiles = pgTable(
  "model_version_files",
  {
    versionId: uuid("version_id")
      .notNull()
      .references(() => modelVersions.id, { onDelete: "cascade" }),
    /** Path relative to the producing execution's outputs/. */
    name: text("name").notNull(),
    datumId: uuid("datum_id")
      .notNull()
      .references(() => datums.id),
    sha256: text("sha256").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.versionId, t.name] }), index("model_version_files_datum").on(t.datumId)],
);

/** Which version an execution's `model://` input resolved to, when it was created. */
export const executionModelInputs = pgTable(
  "execution_model_inputs",
  {
    executionId: uuid("execution_id")
      .notNull()
      .references(() => executions.id, { onDelete: "cascade" }),
    input: text("input").notNull(),
    /** As requested (`model://churn/latest`). */
    uri: text("uri").notNull(),
    versionId: uuid("version_id")
      .notNull()
      .references(() => modelVersions.id),
    resolvedAt: timestamp("resolved_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.executionId, t.input, t.versionId] }), index("execution_model_inputs_version").on(t.versionId)],
);

/** The audit trail: append-only, refused UPDATE, DELETE and TRUNCATE by Postgres, and hash-chained (db/schema/audit.ts). */
export const modelEvents = pgTable(
  "model_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    modelId: uuid("model_id")
      .notNull()
      .references(() => models.id),
    versionId: uuid("version_id").references(() => modelVersions.id),
    kind: text("kind").notNull(),
    actor: text("actor").notNull(),
    /** execution | cli | api | pr_review | comment | check_run | system */
    source: text("source").notNull(),
    sourceUrl: text("source_url"),
    reason: text("reason"),
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default({}),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
    /** The audit chain (db/schema/audit.ts): set by the insert trigger, never by the caller. */
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [index("model_events_model_at").on(t.modelId, t.at), index("model_events_version").on(t.versionId)],
);

/** An approval request shown on a pull request: binds the PR's head SHA and the files digest shown. */
export const modelApprovalRequests = pgTable(
  "model_approval_requests",
  {
    versionId: uuid("version_id")
      .notNull()
      .references(() => modelVersions.id, { onDelete: "cascade" }),
    repo: text("repo").notNull(),
    prNumber: integer("pr_number").notNull(),
    headSha: text("head_sha").notNull(),
    filesSha256: text("files_sha256").notNull(),
    requestedAt: timestamp("requested_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.versionId, t.repo, t.prNumber] }), index("model_approval_requests_pr").on(t.repo, t.prNumber)],
);

export type Model = typeof models.$inferSelect;
export type ModelVersion = typeof modelVersions.$inferSelect;
export type ModelEvent = typeof modelEvents.$inferSelect;
