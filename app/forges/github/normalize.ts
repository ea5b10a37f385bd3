/** GitHub webhook payloads → ForgeEvent. Pure: no I/O, unknown shapes become `ignore`. */
import { z } from "zod";
import type { Actor, RepoRef } from "../../contracts/forge.js";
import type { ForgeEvent } from "../../contracts/forge-events.js";

const User = z.object({ login: z.string(), id: z.number(), type: z.string().optional() });
const Repository = z.object({ id: z.number(), name: z.string(), full_name: z.string(), owner: z.object({ login: z.string() }) });
const Installation = z.object({ id: z.number() });

const IssueComment = z.object({
  action: z.string(),
  issue: z.object({ number: z.number(), pull_request: z.unknown().optional() }),
  comment: z.object({ id: z.number(), body: z.string().nullable(), html_url: z.string(), user: User.nullable(), created_at: z.string().optional() }),
  repository: Repository,
  installation: Installation,
});

const PullRequestEvent = z.object({
  action: z.string(),
  number: z.number(),
  pull_request: z.object({ head: z.object({ sha: z.string() }), updated_at: z.string() }),
  repository: Repository,
  installation: Installation,
});

/** The `pull_request` actions after which the head is (or may be) a new commit. */
const HEAD_ACTIONS = new Set(["opened", "synchronize", "reopened"]);

/** An ISO time from a payload, or null when it is missing or not a time. */
export function timeOf(text: string | undefined | null): Date | null {
  if (!text) return null;
  const t = new Date(text);
  return Number.isNaN(t.getTime()) ? null : t;
}

const Push = z.object({
  ref: z.string(),
  deleted: z.boolean().optional(),
  head_commit: z.object({ id: z.string(), message: z.string() }).nullable(),
  sender: User,
  repository: Repository,
  installation: Installation,
});

const CheckRun = z.object({
  action: z.string(),
  check_run: z.object({ id: z.number(), external_id: z.string().nullable().optional(), head_sha: z.string() }),
  requested_action: z.object({ identifier: z.string() }).nullable().optional(),
  sender: User,
  repository: Repository,
  installation: Installation,
});

const CheckSuite = z.object({
  action: z.string(),
  check_suite: z.object({ head_sha: z.string() }),
  sender: User,
  repository: Repository,
  installation: Installation,
});

const Review = z.object({
  action: z.string(),
  review: z.object({ state: z.string(), commit_id: z.string(), html_url: z.string(), user: User.nullable() }),
  pull_request: z.object({ number: z.number() }),
  repository: Repository,
  installation: Installation,
});

const InstallationEvent = z.object({
  action: z.string(),
  installation: z.object({ id: z.number(), account: z.object({ login: z.string(), type: z.string().optional() }).nullable() }),
  repositories: z.array(z.object({ id: z.number(), full_name: z.string() })).optional(),
  repositories_added: z.array(z.object({ id: z.number(), full_name: z.string() })).optional(),
  repositories_removed: z.array(z.object({ id: z.number(), full_name: z.string() })).optional(),
});

export function actorOf(u: z.infer<typeof User>): Actor {
  return { login: u.login, id: u.id, isBot: u.type === "Bot" || u.login.endsWith("[bot]") };
}

function repoOf(r: z.infer<typeof Repository>, installationId: number): RepoRef {
  return { forge: "github", id: r.id, fullName: r.full_name, owner: r.owner.login, name: r.name, installationId };
}

/** The App installed, removed, suspended, or its repositories changed: GitHub's own housekeeping (deliveries.ts handles it). */
export interface InstallationChange {
  kind: "installation";
  action: string;
  installation: { id: number; account: string; accountType: string };
  added: { id: number; fullName: string }[];
  removed: { id: number; fullName: string }[];
}

const REVIEW_STATES = { approved: "approved", changes_requested: "changes_requested", commented: "commented", dismissed: "dismissed" } as const;

export function normalizeGitHub(event: string, payload: unknown): ForgeEvent | InstallationChange {
  const bad = (what: string): ForgeEvent => ({ kind: "ignore", reason: `${event}: ${what}` });
  switch (event) {
    case "issue_comment": {
      const p = IssueComment.safeParse(payload);
      if (!p.success) return bad("unexpected payload (no installation?)");
      const d = p.data;
      if (!d.comment.user) return bad("comment without a user");
      return {
        kind: "comment",
        action: d.action,
        repo: repoOf(d.repository, d.installation.id),
        pr: d.issue.pull_request ? d.issue.number : null,
        issue: d.issue.number,
        comment: { id: d.comment.id, body: d.comment.body ?? "", url: d.comment.html_url, author: actorOf(d.comment.user) },
        commentedAt: timeOf(d.comment.created_at),
        headSha: null,
      };
    }
    case "pull_request": {
      const p = PullRequestEvent.safeParse(payload);
      if (!p.success) return bad("unexpected payload (no installation?)");
      const d = p.data;
      if (!HEAD_ACTIONS.has(d.action)) return bad(`action ${d.action} does not move the head`);
      const at = timeOf(d.pull_request.updated_at);
      if (!at) return bad("a pull request without its updated_at");
      return { kind: "pr_head", repo: repoOf(d.repository, d.installation.id), pr: d.number, sha: d.pull_request.head.sha, at };
    }
    case "push": {
      const p = Push.safeParse(payload);
      if (!p.success) return bad("unexpected payload (no installation?)");
      const d = p.data;
      return {
        kind: "push",
        repo: repoOf(d.repository, d.installation.id),
        ref: d.ref,
        headSha: d.deleted || !d.head_commit ? null : d.head_commit.id,
        message: d.head_commit?.message ?? "",
        pusher: actorOf(d.sender),
      };
    }
    case "check_run": {
      const p = CheckRun.safeParse(payload);
      if (!p.success) return bad("unexpected payload (no installation?)");
      const d = p.data;
      return {
        kind: "check_run",
        action: d.action,
        repo: repoOf(d.repository, d.installation.id),
        checkRunId: d.check_run.id,
        externalId: d.check_run.external_id ?? null,
        headSha: d.check_run.head_sha,
        identifier: d.requested_action?.identifier ?? null,
        actor: actorOf(d.sender),
      };
    }
    case "check_suite": {
      const p = CheckSuite.safeParse(payload);
      if (!p.success) return bad("unexpected payload (no installation?)");
      const d = p.data;
      return { kind: "check_suite", action: d.action, repo: repoOf(d.repository, d.installation.id), headSha: d.check_suite.head_sha, actor: actorOf(d.sender) };
    }
    case "pull_request_review": {
      const p = Review.safeParse(payload);
      if (!p.success) return bad("unexpected payload (no installation?)");
      const d = p.data;
      const state = REVIEW_STATES[d.review.state.toLowerCase() as keyof typeof REVIEW_STATES];
      if (!state || !d.review.user) return bad(`review state ${d.review.state}`);
      return {
        kind: "review",
        action: d.action,
        repo: repoOf(d.repository, d.installation.id),
        pr: d.pull_request.number,
        state,
        commitSha: d.review.commit_id,
        reviewer: actorOf(d.review.user),
        url: d.review.html_url,
      };
    }
    case "installation":
    case "installation_repositories": {
      const p = InstallationEvent.safeParse(payload);
      if (!p.success) return bad("unexpected payload");
      const d = p.data;
      const added = event === "installation" ? (d.action === "created" ? (d.repositories ?? []) : []) : (d.repositories_added ?? []);
      return {
        kind: "installation",
        action: event === "installation" ? d.action : `repositories_${d.action}`,
        installation: { id: d.installation.id, account: d.installation.account?.login ?? "?", accountType: d.installation.account?.type ?? "User" },
        added: added.map((r) => ({ id: r.id, fullName: r.full_name })),
        removed: (d.repositories_removed ?? []).map((r) => ({ id: r.id, fullName: r.full_name })),
      };
    }
    default:
      return { kind: "ignore", reason: `event ${event} is not used` };
  }
}
