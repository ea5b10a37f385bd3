/**
 * What vh keeps per forge, in forge-neutral tables keyed by the forge's kind: deliveries (each
 * handled once), repositories (repository → project), pull/merge requests (the sticky comment),
 * each sweep's report (its check run or commit status), and the code snapshot made from each
 * commit. A forge's own records live beside them: GitHub's installations here, the linked
 * repositories of plain Git hosts in git.ts. Sweeps themselves are in sweeps.ts.
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import type { ForgeKind } from "../../app/contracts/forge.js";
import { projects } from "./projects.js";
import { sweeps } from "./sweeps.js";

/**
 * One row per delivery (GitHub's `X-GitHub-Delivery`, GitLab's event UUID or idempotency key, a
 * poller's repository + commit): inserted before the work is queued, so a redelivery or replay does nothing.
 */
export const forgeDeliveries = pgTable(
  "forge_deliveries",
  {
    forge: text("forge").$type<ForgeKind>().notNull(),
    id: text("id").notNull(),
    event: text("event").notNull(),
    action: text("action"),
    installationId: bigint("installation_id", { mode: "number" }),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
    processedAt: timestamp("processed_at", { withTimezone: true }),
    /** What handling it did, in a few words (ignored, replied, created sweep …, failed: …). */
    outcome: text("outcome"),
  },
  (t) => [primaryKey({ columns: [t.forge, t.id] }), index("forge_deliveries_received").on(t.receivedAt)],
);

/** GitHub's App installations (an installation scopes the App's credentials). */
export const githubInstallations = pgTable("github_installations", {
  id: bigint("id", { mode: "number" }).primaryKey(),
  accountLogin: text("account_login").notNull(),
  accountType: text("account_type").notNull(),
  suspended: boolean("suspended").notNull().default(false),
  removedAt: timestamp("removed_at", { withTimezone: true }),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/** A repository vh serves on a forge, and the vh project its executions belong to. */
export const forgeRepositories = pgTable(
  "forge_repositories",
  {
    forge: text("forge").$type<ForgeKind>().notNull(),
    /** The forge's numeric id (plain Git: git_repositories.id). */
    id: bigint("id", { mode: "number" }).notNull(),
    installationId: bigint("installation_id", { mode: "number" }).notNull(),
    fullName: text("full_name").notNull(),
    projectId: uuid("project_id").references(() => projects.id, { onDelete: "set null" }),
    removedAt: timestamp("removed_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.forge, t.id] })],
);

/** A pull request (GitLab: merge request) vh has run something for: where its one sticky comment is. */
export const changeRequests = pgTable(
  "change_requests",
  {
    id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
    forge: text("forge").$type<ForgeKind>().notNull(),
    repositoryId: bigint("repository_id", { mode: "number" }).notNull(),
    number: integer("number").notNull(),
    installationId: bigint("installation_id", { mode: "number" }).notNull(),
    repo: text("repo").notNull(),
    stickyCommentId: bigint("sticky_comment_id", { mode: "number" }),
    /** sha256 of the body last written, so an unchanged body is not written again. */
    stickyBodyHash: text("sticky_body_hash"),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("change_requests_repo_number").on(t.forge, t.repositoryId, t.number)],
);

/**
 * The head commits a pull request has had, with when the forge says it took each (GitHub's
 * `pull_request` opened/synchronize/reopened deliveries): a command is pinned to the head it was
 * commented on, not to whatever the head is when its delivery is handled (app/bot/pin-head.ts).
 */
export const changeRequestHeads = pgTable(
  "change_request_heads",
  {
    forge: text("forge").$type<ForgeKind>().notNull(),
    repositoryId: bigint("repository_id", { mode: "number" }).notNull(),
    number: integer("number").notNull(),
    sha: text("sha").notNull(),
    /** The pull request's `updated_at` in that delivery: when the head moved, by the forge's clock. */
    at: timestamp("at", { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.forge, t.repositoryId, t.number, t.at, t.sha] })],
);

/** The one report of a sweep on its commit: a check run (GitHub) or a commit status (GitLab). */
export const sweepReports = pgTable("sweep_reports", {
  sweepId: uuid("sweep_id")
    .primaryKey()
    .references(() => sweeps.id, { onDelete: "cascade" }),
  /** The check run's id, once created (commit statuses have no id vh needs). */
  checkRunId: bigint("check_run_id", { mode: "number" }),
  bodyHash: text("body_hash"),
  /** valohai.yaml lint problems at the commit, sent as annotations (≤50 per request) once. */
  annotations: jsonb("annotations").$type<{ path: string; line: number; column?: number; level: "failure" | "warning" | "notice"; message: string }[]>()
    .notNull()
    .default([]),
  annotationsSent: boolean("annotations_sent").notNull().default(false),
  /** Set once the completed state was written: nothing more to report. */
  completedAt: timestamp("completed_at", { withTimezone: true }),
});

/** The code snapshot (content-addressed tarball) made from a commit's archive, so it is fetched once. */
export const forgeCommitSnapshots = pgTable(
  "forge_commit_snapshots",
  {
    forge: text("forge").$type<ForgeKind>().notNull(),
    repositoryId: bigint("repository_id", { mode: "number" }).notNull(),
    commitSha: text("commit_sha").notNull(),
    codeSha256: text("code_sha256").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.forge, t.repositoryId, t.commitSha] })],
);

export type ForgeDelivery = typeof forgeDeliveries.$inferSelect;
