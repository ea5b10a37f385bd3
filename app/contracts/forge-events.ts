/**
 * Forge events in vh's own terms: what the normalisers (normalize-github.ts, later GitLab's)
 * produce from webhook payloads, and all that commands and tasks see.
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
      action: string;
      repo: RepoRef;
      pr: number;
      state: "approved" | "changes_requested" | "commented" | "dismissed";
      commitSha: string;
      reviewer: Actor;
      url: string;
    }
  | {
      kind: "installation";
      action: string;
      installation: { id: number; account: string; accountType: string };
      added: { id: number; fullName: string }[];
      removed: { id: number; fullName: string }[];
    }
  | { kind: "ignore"; reason: string };
