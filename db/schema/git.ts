/**
 * Repositories on plain Git hosts, linked by URL (`vh repo add`) and polled: how to reach them,
 * which branches to watch, and what the poller saw last. Each also has a forge_repositories row
 * (forge `git`, the same id) like any forge's repository.
 */
import { bigint, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { projects } from "./projects.js";

export const gitRepositories = pgTable("git_repositories", {
  id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
  /** https://, ssh://, scp-style user@host:path, git:// or file:// (never with a password: tokens come from `tokenEnv`). */
  url: text("url").notNull(),
  /** The name shown and used as the forge repository's full name (e.g. `host/path/r`). */
  name: text("name").notNull(),
  projectId: uuid("project_id")
    .notNull()
    .references(() => projects.id, { onDelete: "cascade" }),
  /** Branches whose new commits are handled; empty: the default branch. */
  branches: jsonb("branches").$type<string[]>().notNull().default([]),
  pollSeconds: integer("poll_seconds").notNull().default(60),
  /** ssh: the deploy key's file on the control plane (vh's data dir, mode 0600). */
  keyFile: text("key_file"),
  /** https: the name of the environment variable holding the token (the token itself is never stored). */
  tokenEnv: text("token_env"),
  /** ssh: the host key pinned on first use (known_hosts lines). */
  knownHosts: text("known_hosts"),
  /** sha256 secret for `POST /api/git/webhooks/:repo` (HMAC-SHA256 of the body), when set. */
  webhookSecret: text("webhook_secret"),
  defaultBranch: text("default_branch"),
  /** ref → sha as last seen by `git ls-remote`. */
  refs: jsonb("refs").$type<Record<string, string>>().notNull().default({}),
  lastPollAt: timestamp("last_poll_at", { withTimezone: true }),
  lastError: text("last_error"),
  lastCommitSha: text("last_commit_sha"),
  /** valohai.yaml problems at the last commit handled (file:line:column lines), or null when it linted clean. */
  lastLint: text("last_lint"),
  /** Consecutive failed polls (the backoff grows with them). */
  failures: integer("failures").notNull().default(0),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export type GitRepository = typeof gitRepositories.$inferSelect;
