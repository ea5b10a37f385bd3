/**
 * GitLab webhook payloads → ForgeEvent. Pure: no I/O, never throws; a payload that lacks what vh
 * reads becomes `ignore` with the reason. `event` is the `X-Gitlab-Event` header (`Note Hook`, …).
 */
import type { z } from "zod";
import { repoRef, type Actor, type RepoRef } from "../../contracts/forge.js";
import type { ForgeEvent } from "../../contracts/forge-events.js";
import { MergeRequestHook, NoteHook, PushHook, type HookProject } from "./schema.js";

export interface NormalizeOptions {
  /** The bot's own username (`GET /user` with GITLAB_TOKEN): its notes never run anything. */
  botUsername?: string | null;
}

/**
 * The users GitLab makes for project and group access tokens (`project_<id>_bot_<hex>`, older
 * `project_<id>_bot<n>`), and its service accounts: never a person.
 */
const BOT_USERNAME = /^(?:(?:project|group)_\d+_bot|service_account_)/i;

export function isBotUsername(username: string, botUsername?: string | null): boolean {
  return BOT_USERNAME.test(username) || (!!botUsername && username.toLowerCase() === botUsername.toLowerCase());
}

function actorOf(username: string, id: number, opts: NormalizeOptions): Actor {
  return { login: username, id, isBot: isBotUsername(username, opts.botUsername) };
}

/** The repository of a payload's project: `owner` is the namespace's full path, `name` the project's path. */
export function repoOf(p: z.infer<typeof HookProject>): RepoRef {
  return repoRef({ forge: "gitlab", id: p.id, installationId: 0, fullName: p.path_with_namespace });
}

const NULL_SHA = /^0{40}$/;

/** Merge request hook actions that are a reviewer's approval or its withdrawal. */
const REVIEW_ACTIONS: Record<string, { action: string; state: "approved" | "dismissed" }> = {
  // `approval`/`unapproval`: one user's; `approved`/`unapproved`: the approval rules as a whole (sent with the last one's)
  approval: { action: "submitted", state: "approved" },
  approved: { action: "submitted", state: "approved" },
  unapproval: { action: "dismissed", state: "dismissed" },
  unapproved: { action: "dismissed", state: "dismissed" },
};

export function normalizeGitLab(event: string, payload: unknown, opts: NormalizeOptions = {}): ForgeEvent {
  const bad = (what: string): ForgeEvent => ({ kind: "ignore", reason: `${event}: ${what}` });
  switch (event) {
    case "Note Hook": {
      const p = NoteHook.safeParse(payload);
      if (!p.success) return bad(`unexpected payload (${where(p.error)})`);
      const d = p.data;
      const note = d.object_attributes;
      if (note.noteable_type !== "MergeRequest") return bad(`a note on a ${note.noteable_type}, not a merge request`);
      if (note.system) return bad("a system note");
      if (!d.merge_request) return bad("a merge request note without its merge request");
      const authorId = d.user.id ?? note.author_id;
      if (authorId === undefined) return bad("a note without its author's id");
      const action = note.action === undefined || note.action === "create" ? "created" : note.action === "update" ? "edited" : note.action;
      return {
        kind: "comment",
        action,
        repo: repoOf(d.project),
        pr: d.merge_request.iid,
        issue: d.merge_request.iid,
        comment: { id: note.id, body: note.note ?? "", url: note.url, author: actorOf(d.user.username, authorId, opts) },
        commentedAt: gitlabTime(note.created_at),
        // The merge request as it was when the note was made: its head then.
        headSha: d.merge_request.last_commit?.id ?? null,
      };
    }
    case "Push Hook": {
      const p = PushHook.safeParse(payload);
      if (!p.success) return bad(`unexpected payload (${where(p.error)})`);
      const d = p.data;
      const deleted = NULL_SHA.test(d.after) || d.checkout_sha === null;
      const head = deleted ? undefined : (d.commits.find((c) => c.id === d.checkout_sha) ?? d.commits.at(-1));
      return {
        kind: "push",
        repo: repoOf(d.project),
        ref: d.ref,
        headSha: deleted ? null : d.checkout_sha,
        message: head?.message ?? "",
        pusher: actorOf(d.user_username, d.user_id, opts),
      };
    }
    case "Merge Request Hook": {
      const p = MergeRequestHook.safeParse(payload);
      if (!p.success) return bad(`unexpected payload (${where(p.error)})`);
      const d = p.data;
      const review = REVIEW_ACTIONS[d.object_attributes.action ?? ""];
      if (!review) return bad(`action ${d.object_attributes.action ?? "(none)"} is not used`);
      const sha = d.object_attributes.last_commit?.id;
      if (!sha) return bad("an approval without the merge request's last commit");
      return {
        kind: "review",
        action: review.action,
        repo: repoOf(d.project),
        pr: d.object_attributes.iid,
        state: review.state,
        commitSha: sha,
        reviewer: actorOf(d.user.username, d.user.id, opts),
        url: d.object_attributes.url,
      };
    }
    default:
      return { kind: "ignore", reason: `event ${event} is not used` };
  }
}

/** GitLab's times: ISO 8601, or `2026-12-03 17:15:43 UTC` in older hooks; null when neither. */
export function gitlabTime(text: string | undefined): Date | null {
  if (!text) return null;
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC$/.exec(text);
  const t = new Date(m ? `${m[1]}T${m[2]}Z` : text);
  return Number.isNaN(t.getTime()) ? null : t;
}

function where(err: z.ZodError): string {
  const i = err.issues[0];
  return i ? `${i.path.join(".") || "payload"}: ${i.message}` : "?";
}
