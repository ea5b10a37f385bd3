/**
 * Approval through the pull request, forge-agnostic: the forge normalises a review and the bot
 * (app/bot/review.ts) calls `applyPullRequestReview`; when an execution started from a PR
 * produced versions, it calls `approvalRequestsForExecution` and gets each version's approval
 * request as data (its status straight from the database), which templates/model/approval-request.ts
 * renders for the check run and the sticky comment.
 *
 * A review approves the pending versions produced by executions at exactly the reviewed commit,
 * when the reviewer may approve (write permission, or the model's approvers) and the model's
 * separation-of-duties rule allows it. Versions that were put up for approval on this PR at
 * another head SHA are refused ("a review of an older commit does not approve it"), and the
 * refusal is recorded in the audit trail, as is every other refusal.
 */
import type { ForgeKind } from "../contracts/forge.js";
import type { Sql } from "../../db/client.js";
import type { ModelVersionStatus } from "../../db/schema/models.js";
import { isUsersMistake, VhError } from "../errors.js";
import { APPROVING_PERMISSIONS, approveVersion } from "./approval.js";
import { recordEvent, type Actor, type Permission } from "./events.js";
import { lineageOf, type FullLineage } from "./lineage.js";
import { versionRecord } from "./audit.js";
import { resolveVersion } from "./versions.js";
import { versionUri } from "./uri.js";
import { approvalRequestOf } from "../../db/queries/models.js";

export interface PullRequestReview {
  state: "approved" | "changes_requested" | "commented" | "dismissed";
  /** The commit the review was made on (GitHub: review.commit_id). */
  commitSha: string;
  reviewer: { login: string; permission: Permission };
  /** Link to the review: recorded as the approval's source. */
  url: string;
  /** owner/name */
  repo: string;
  /** The forge the pull request is on, when known. */
  forge?: ForgeKind;
  prNumber: number;
}

/** What a version's approval request shows: facts only; templates/model/approval-request.ts renders it. */
export interface ApprovalRequest {
  version: string;
  /** The version's approval status, as stored (model_versions.status). */
  status: ModelVersionStatus;
  statusBy: string | null;
  statusReason: string | null;
  filesSha256: string;
  files: { name: string; sha256: string; size: number }[];
  execution: { project: string; counter: number; step: string; commitSha: string | null; triggeredBy: string | null } | null;
  metrics: Record<string, unknown>;
  /** The current latest approved version, to compare with (null: none yet, or this one). */
  latest: { version: string; metrics: Record<string, unknown> } | null;
  separationOfDuties: boolean;
  lineageUrl: string | null;
  /** The version's lineage, to draw as a graph (null: left out). */
  lineage: FullLineage | null;
}

export interface ReviewOutcome {
  approved: string[];
  refused: { version: string; reason: string }[];
}

interface Candidate {
  id: string;
  model_id: string;
  name: string;
  approvers: string[];
  number: number;
  status: string;
  commit: string | null;
}

function mayApprove(approvers: string[], actor: Actor): boolean {
  return APPROVING_PERMISSIONS.includes(actor.permission ?? "none") || approvers.some((a) => a.toLowerCase() === actor.login.toLowerCase());
}

function permissionRefusal(review: PullRequestReview, version: string): string {
  return `${review.reviewer.login} has ${review.reviewer.permission} permission on ${review.repo}; approving ${version} needs write permission (or being one of the model's approvers).`;
}

export async function applyPullRequestReview(deps: { sql: Sql }, review: PullRequestReview): Promise<ReviewOutcome> {
  const { sql } = deps;
  const atCommit = await sql<Candidate[]>`
    select v.id, v.model_id, m.name, m.approvers, v.number, v.status, coalesce(v.commit_sha, x.commit_sha) as commit
    from model_versions v
    join models m on m.id = v.model_id
    left join executions x on x.id = v.source_execution_id
    where v.status = 'pending' and (v.commit_sha = ${review.commitSha} or x.commit_sha = ${review.commitSha})
    order by m.name, v.number`;
  // Put up for approval on this PR, but produced at another commit than the one reviewed.
  const elsewhere = await sql<(Candidate & { head_sha: string })[]>`
    select v.id, v.model_id, m.name, m.approvers, v.number, v.status, r.head_sha as commit, r.head_sha
    from model_approval_requests r
    join model_versions v on v.id = r.version_id
    join models m on m.id = v.model_id
    where r.repo = ${review.repo} and r.pr_number = ${review.prNumber} and r.head_sha <> ${review.commitSha} and v.status = 'pending'
    order by m.name, v.number`;
  const actor: Actor = { login: review.reviewer.login, source: "pr_review", url: review.url, permission: review.reviewer.permission };
  const outcome: ReviewOutcome = { approved: [], refused: [] };
  const taken = new Set(atCommit.map((c) => c.id));

  if (review.state !== "approved") {
    for (const c of atCommit) {
      await recordEvent(sql, { modelId: c.model_id, versionId: c.id, kind: "review", actor, details: { state: review.state, commit: review.commitSha, repo: review.repo, pr: review.prNumber } });
    }
    return outcome;
  }
  const refuse = async (c: Candidate, why: string) => {
    // A reviewer who may not approve at all is told that first.
    const reason = mayApprove(c.approvers, actor) ? why : permissionRefusal(review, versionUri(c.name, c.number));
    await recordEvent(sql, { modelId: c.model_id, versionId: c.id, kind: "refused", actor, reason, details: { action: "approve", commit: review.commitSha, repo: review.repo, pr: review.prNumber } });
    outcome.refused.push({ version: versionUri(c.name, c.number), reason });
  };
  // The PR's head as far as models go: the commit of its most recent approval request.
  const [head] = await sql<{ head_sha: string }[]>`
    select head_sha from model_approval_requests where repo = ${review.repo} and pr_number = ${review.prNumber}
    order by requested_at desc limit 1`;
  if (head && head.head_sha !== review.commitSha) {
    const reason = `The approving review by ${review.reviewer.login} is of commit ${review.commitSha.slice(0, 7)}, but the pull request's head is now ${head.head_sha.slice(0, 7)}; a review of an older commit approves nothing. Review the latest commit.`;
    for (const c of [...atCommit, ...elsewhere.filter((e) => !taken.has(e.id))]) await refuse(c, reason);
    return outcome;
  }
  for (const c of elsewhere) {
    if (taken.has(c.id)) continue;
    await refuse(
      c,
      `The approving review by ${review.reviewer.login} is of commit ${review.commitSha.slice(0, 7)}, but ${versionUri(c.name, c.number)} was produced by commit ${c.head_sha.slice(0, 7)}; only a review of the commit that produced a version approves it.`,
    );
  }
  for (const c of atCommit) {
    const version = versionUri(c.name, c.number);
    const req = await approvalRequestOf(sql, c.id, review.repo, review.prNumber);
    try {
      // A fork shares its parent's commit SHAs: only versions trained from the reviewed repository
      // are approved by a review there.
      await approveVersion(deps, version, actor, {
        filesSha256: req?.files_sha256 ?? null,
        repo: review.repo,
        fromRepo: { fullName: review.repo, ...(review.forge ? { forge: review.forge } : {}) },
        details: { commit: review.commitSha, repo: review.repo, pr: review.prNumber },
      });
      outcome.approved.push(version);
    } catch (err) {
      // A refusal is recorded; vh failing (the store, the database) is retried by the queue.
      if (!isUsersMistake(err)) throw err;
      outcome.refused.push({ version, reason: err.message });
    }
  }
  return outcome;
}

/** The approval request of one version (no side effects). `baseUrl`: the vh server, for the lineage link. */
export async function buildApprovalRequest(deps: { sql: Sql }, uri: string, opts: { baseUrl?: string; graph?: boolean } = {}): Promise<ApprovalRequest> {
  const r = await resolveVersion(deps.sql, uri);
  const rec = await versionRecord(deps.sql, r);
  let latest: { version: string; metrics: Record<string, unknown> } | null = null;
  if (rec.latest && rec.latest !== rec.version) {
    const l = await versionRecord(deps.sql, await resolveVersion(deps.sql, rec.latest));
    latest = { version: l.version, metrics: l.execution?.metrics ?? {} };
  }
  const e = rec.execution;
  return {
    version: rec.version,
    status: r.version.status,
    statusBy: rec.statusBy,
    statusReason: rec.statusReason,
    filesSha256: rec.filesSha256,
    files: rec.files,
    execution: e ? { project: e.project, counter: e.counter, step: e.step, commitSha: e.commitSha, triggeredBy: e.triggeredBy } : null,
    metrics: e?.metrics ?? {},
    latest,
    separationOfDuties: rec.model.separationOfDuties,
    lineageUrl: opts.baseUrl ? `${opts.baseUrl.replace(/\/$/, "")}/api/v1/models/${encodeURIComponent(r.model.name)}/versions/${r.version.number}/lineage` : null,
    lineage: opts.graph === false ? null : await lineageOf(deps, rec.version),
  };
}

/**
 * For the versions an execution produced: records that they were put up for approval on this PR at
 * `headSha` with their current files digest (an approving review binds to both), and returns their
 * approval requests. Call when an execution started from a PR has ended; safe to call again.
 */
export async function approvalRequestsForExecution(
  deps: { sql: Sql },
  req: { executionId: string; repo: string; prNumber: number; headSha: string; baseUrl?: string },
): Promise<ApprovalRequest[]> {
  const versions = await deps.sql<{ id: string; model_id: string; name: string; number: number; files_sha256: string }[]>`
    select v.id, v.model_id, m.name, v.number, v.files_sha256 from model_versions v join models m on m.id = v.model_id
    where v.source_execution_id = ${req.executionId} order by m.name, v.number`;
  const out: ApprovalRequest[] = [];
  for (const v of versions) {
    const version = versionUri(v.name, v.number);
    const prev = await approvalRequestOf(deps.sql, v.id, req.repo, req.prNumber);
    if (!prev || prev.head_sha !== req.headSha || prev.files_sha256 !== v.files_sha256) {
      await deps.sql`
        insert into model_approval_requests (version_id, repo, pr_number, head_sha, files_sha256) values (${v.id}, ${req.repo}, ${req.prNumber}, ${req.headSha}, ${v.files_sha256})
        on conflict (version_id, repo, pr_number) do update set head_sha = excluded.head_sha, files_sha256 = excluded.files_sha256, requested_at = now()`;
      await recordEvent(deps.sql, {
        modelId: v.model_id,
        versionId: v.id,
        kind: "approval_requested",
        actor: { login: "vh", source: "system" },
        details: { repo: req.repo, pr: req.prNumber, headSha: req.headSha, filesSha256: v.files_sha256 },
      });
    }
    out.push(await buildApprovalRequest(deps, version, req.baseUrl ? { baseUrl: req.baseUrl } : {}));
  }
  return out;
}
