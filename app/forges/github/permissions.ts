/**
 * Least privilege, written down: every REST call the GitHub forge makes and every event it
 * subscribes to, with the App permission each needs (docs.github.com, "Permissions required for
 * GitHub Apps" and "Webhook events and payloads"). app.yml asks for exactly the union of these;
 * test/github/permissions.test.ts fails when a call is added here or in index.ts without the other,
 * or when app.yml asks for more or less.
 */
export type Access = "read" | "write";
export type AppPermission = "checks" | "contents" | "issues" | "metadata" | "pull_requests";

export interface PermissionNeed {
  permission: AppPermission;
  access: Access;
  /** Why vh makes this call or wants this event. */
  why: string;
}

/**
 * `METHOD /path` as written in index.ts → what GitHub requires of an installation token. Where
 * GitHub accepts either of two permissions, the one vh holds anyway is named.
 */
export const API_CALLS: Record<string, PermissionNeed> = {
  "GET /repos/{owner}/{repo}/collaborators/{username}/permission": { permission: "metadata", access: "read", why: "who may run: the commenter's role" },
  // "Pull requests" read or "Contents" read: either is enough, and vh holds both
  "GET /repos/{owner}/{repo}/pulls/{pull_number}": { permission: "pull_requests", access: "read", why: "the head commit and whether it is a fork" },
  "GET /repos/{owner}/{repo}/contents/{path}": { permission: "contents", access: "read", why: "valohai.yaml at a commit (/vh help)" },
  "GET /repos/{owner}/{repo}/tarball/{ref}": { permission: "contents", access: "read", why: "the code at the exact commit" },
  "GET /repos/{owner}/{repo}/commits/{ref}": { permission: "contents", access: "read", why: "a branch or tag resolved to its commit (vh exec run --commit REF)" },
  "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions": { permission: "issues", access: "write", why: "the 👀 reaction on a command" },
  // a pull request's conversation is an issue's: "Issues" write or "Pull requests" write is enough
  "GET /repos/{owner}/{repo}/issues/{issue_number}/comments": { permission: "issues", access: "read", why: "finding the sticky comment by its marker" },
  "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": { permission: "issues", access: "write", why: "replies and the sticky comment" },
  "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}": { permission: "issues", access: "write", why: "editing the sticky comment in place" },
  "GET /repos/{owner}/{repo}/commits/{ref}/check-runs": { permission: "checks", access: "read", why: "finding a sweep's check run again" },
  "POST /repos/{owner}/{repo}/check-runs": { permission: "checks", access: "write", why: "one check run per sweep" },
  "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}": { permission: "checks", access: "write", why: "its progress, buttons and annotations" },
};

/** Events app.yml subscribes to → the permission GitHub requires for them. */
export const EVENTS: Record<string, PermissionNeed> = {
  push: { permission: "contents", access: "read", why: "`/vh run` in a pushed commit message" },
  issue_comment: { permission: "issues", access: "read", why: "`/vh` commands" },
  // `requested_action` (the buttons) and `rerequested` come only with write
  check_run: { permission: "checks", access: "write", why: "the Stop and Re-run buttons, GitHub's Re-run" },
  check_suite: { permission: "checks", access: "write", why: "GitHub's Re-run all" },
  pull_request: { permission: "pull_requests", access: "read", why: "when each head arrived, so a command runs the commit it was commented on" },
  pull_request_review: { permission: "pull_requests", access: "read", why: "model approvals by review" },
};

/** Delivered to every App without subscribing (and not listed in a manifest). */
export const ALWAYS_DELIVERED = ["installation", "installation_repositories"] as const;

/** The permissions app.yml must ask for: the highest access each permission is needed at. */
export function requiredPermissions(): Record<AppPermission, Access> {
  const out: Partial<Record<AppPermission, Access>> = {};
  for (const need of [...Object.values(API_CALLS), ...Object.values(EVENTS)]) {
    if (out[need.permission] !== "write") out[need.permission] = need.access;
  }
  return out as Record<AppPermission, Access>;
}
