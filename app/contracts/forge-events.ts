/**
 * Forge events in vh's own terms: what each forge's normaliser produces from its webhook payloads
 * (GitHub's, GitLab's) or from what its poller saw (a plain Git host's new commits), and all that
 * commands and tasks see. A forge's own housekeeping events (GitHub's installations) stay in its
 * folder.
 */
import type { Actor, Comment, RepoRef } from "./forge.js";

export type ForgeEvent =
  | {
      kind: "comment";
      /** created | edited | deleted: only created comments are commands. */
      action: string;
      repo: RepoRef;
      /** The pull request number, or null for a comment on a plain issue. */
      pr: number | null;
      /** The issue or pull request number (what a reply goes to). */
      issue: number;
      comment: Comment;
      /** When the comment was made, by the forge's clock (null when the payload does not say). */
      commentedAt: Date | null;
      /** The pull request's head commit as the payload names it (GitLab's note hooks do; GitHub's do not). */
      headSha: string | null;
    }
  | {
      /** A pull request's head moved (opened, pushed to, reopened): kept so commands pin the head they were commented on. */
      kind: "pr_head";
      repo: RepoRef;
      pr: number;
      sha: string;
      /** When it became the head, by the forge's clock. */
      at: Date;
    }
  | {
      kind: "push";
      repo: RepoRef;
      ref: string;
      /** The head commit of the push (null for a branch deletion). */
      headSha: string | null;
      message: string;
      pusher: Actor;
    }
  | {
      kind: "check_run";
      /** rerequested | requested_action | created | completed … */
      action: string;
      repo: RepoRef;
      checkRunId: number;
      externalId: string | null;
      headSha: string;
      /** The button's identifier for requested_action. */
      identifier: string | null;
      actor: Actor;
    }
  | { kind: "check_suite"; action: string; repo: RepoRef; headSha: string; actor: Actor }
  | {
      kind: "review";
      /** submitted | dismissed (GitLab: an approval is a submitted `approved` review, a revoked one a dismissal). */
      action: string;
      repo: RepoRef;
      pr: number;
      state: "approved" | "changes_requested" | "commented" | "dismissed";
      commitSha: string;
      reviewer: Actor;
      url: string;
    }
  | { kind: "ignore"; reason: string };
