/**
 * The GitHub App's own records: deliveries (each handled once), installations and repositories
 * (repository → project), pull requests (the sticky comment), check runs (one per sweep), and the
 * code snapshot made from each commit. Sweeps themselves are in sweeps.ts.
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { projects } from "./projects.js";
import { sweeps } from "./sweeps.js";

/** One row per `X-GitHub-Delivery`: inserted before the work is queued, so a redelivery or replay does nothing. */
export const githubDeliveries = pgTable(
  "github_deliveries",
  {
    id: text("id").primaryKey(),
    event: text("event").notNull(),
    action: text("action"),
    installationId: bigint("installation_id", { mode: "number" }),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
    processedAt: timestamp("processed_at", { withTimezone: true }),
    /** What handling it did, in a few words (ignored, replied, created sweep …, failed: …). */
    outcome: text("outcome"),
  },
  (t) => [index("github_deliveries_received").on(t.receivedAt)],
);

export const githubInstallations = pgTable("github_installations", {
  id: bigint("id", { mode: "number" }).primaryKey(),
  accountLogin: text("account_login").notNull(),
  accountType: text("account_type").notNull(),
  suspended: boolean("suspended").notNull().default(false),
  removedAt: timestamp("removed_at", { withTimezone: true }),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/** A repository the App is installed on, and the vh project its executions belong to. */
export const githubRepositories = pgTable("github_repositories", {
  id: bigint("id", { mode: "number" }).primaryKey(),
  installationId: bigint("installation_id", { mode: "number" }).notNull(),
  fullName: text("full_name").notNull(),
  projectId: uuid("project_id").references(() => projects.id, { onDelete: "set null" }),
  removedAt: timestamp("removed_at", { withTimezone: true }),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

/** A pull request vh has run something for: where its one sticky comment is. */
export const githubPullRequests = pgTable(
  "github_pull_requests",
  {
    id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
    repositoryId: bigint("repository_id", { mode: "number" }).notNull(),
    number: integer("number").notNull(),
    installationId: bigint("installation_id", { mode: "number" }).notNull(),
    repo: text("repo").notNull(),
    stickyCommentId: bigint("sticky_comment_id", { mode: "number" }),
    /** sha256 of the body last written, so an unchanged body is not written again. */
    stickyBodyHash: text("sticky_body_hash"),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("github_pull_requests_repo_number").on(t.repositoryId, t.number)],
);

/** The one check run of a sweep. */
export const githubCheckRuns = pgTable("github_check_runs", {
  sweepId: uuid("sweep_id")
    .primaryKey()
    .references(() => sweeps.id, { onDelete: "cascade" }),
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
export const githubCommitSnapshots = pgTable(
  "github_commit_snapshots",
  {
    repositoryId: bigint("repository_id", { mode: "number" }).notNull(),
    commitSha: text("commit_sha").notNull(),
    codeSha256: text("code_sha256").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.repositoryId, t.commitSha] })],
);

export type GitHubDelivery = typeof githubDeliveries.$inferSelect;
