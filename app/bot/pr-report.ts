/**
 * One round of reporting for a pull request (or a sweep outside one): each sweep's check run
 * (queued → in_progress → completed, metrics table, log tail on failure, lint annotations once,
 * buttons), then the one sticky comment. A body that did not change is not written again. While
 * anything is still active, the next round is scheduled one interval later (coalescing); GitHub
 * failing throws, and the queue retries later: executions never wait on reporting.
 */
import { createHash } from "node:crypto";
import type { BotDeps } from "./commands/types.js";
import type { Annotation, RepoRef } from "../contracts/forge.js";
import { declaredMetrics } from "../reporting/metrics.js";
import { isTerminal } from "../executions/state.js";
import { approvalRequestsForExecution } from "../models/review.js";
import { APPROVAL_EXTERNAL_PREFIX, renderApprovalCheckRun, renderCheckRun, renderSticky, STICKY_MARKER, type ApprovalRequestView, type LogTail } from "../../templates/github/render.js";
import { renderApprovalRequest } from "../../templates/model/approval-request.js";
import { scheduleReport, type ReportTarget } from "../reporting/schedule.js";
import { loadSweepViews, sweepDone, type SweepView } from "../reporting/view.js";
import { sweepIdsOfPullRequest } from "../../db/queries/sweeps.js";

const LOG_TAIL_LINES = 30;
const LOG_TAILS = 3;

function hash(v: unknown): string {
  return createHash("sha256").update(JSON.stringify(v)).digest("hex");
}

function repoOf(v: SweepView): RepoRef {
  if (v.source.kind !== "github") throw new Error("not a GitHub sweep");
  const [owner, name] = v.source.repo.split("/") as [string, string];
  return { id: v.source.repositoryId, fullName: v.source.repo, owner, name, installationId: v.source.installationId };
}

async function logTails(deps: BotDeps, v: SweepView): Promise<LogTail[]> {
  const failed = v.executions.filter((e) => ["failed", "error", "lost"].includes(e.status)).slice(0, LOG_TAILS);
  const out: LogTail[] = [];
  for (const e of failed) {
    const rows = await deps.sql<{ line: string }[]>`
      select line from (select seq, line from log_lines where execution_id = ${e.id} order by seq desc limit ${LOG_TAIL_LINES}) t order by seq`;
    out.push({ counter: e.counter, status: e.status, detail: e.statusDetail, lines: rows.map((r) => r.line) });
  }
  return out;
}

/**
 * The approval requests of the model versions that this pull request's ended executions produced
 * (recorded by the model hub as put up for approval at the sweep's commit; safe to repeat),
 * rendered, each with its version's status as stored.
 */
async function approvalRequests(deps: BotDeps, views: SweepView[], pr: number): Promise<(ApprovalRequestView & { sha: string })[]> {
  const out: (ApprovalRequestView & { sha: string })[] = [];
  const seen = new Set<string>();
  const baseUrl = deps.config.http.publicUrl;
  for (const v of views) {
    if (v.source.kind !== "github") continue;
    for (const e of v.executions) {
      if (!isTerminal(e.status)) continue;
      const reqs = await approvalRequestsForExecution(
        { sql: deps.sql },
        { executionId: e.id, repo: v.source.repo, prNumber: pr, headSha: v.commitSha, ...(baseUrl ? { baseUrl } : {}) },
      );
      for (const r of reqs) {
        if (seen.has(r.version)) continue;
        seen.add(r.version);
        out.push({ version: r.version, status: r.status, ...renderApprovalRequest(r), sha: v.commitSha });
      }
    }
  }
  return out;
}

export async function runReport(deps: BotDeps, target: ReportTarget): Promise<{ writes: number; active: boolean }> {
  const { sql } = deps;
  let sweepIds: string[];
  let pr: { id: string; number: number; sticky_comment_id: number | null; sticky_body_hash: string | null } | null = null;
  if ("pr" in target) {
    const [row] = await sql<{ id: string; repository_id: number; number: number; sticky_comment_id: string | null; sticky_body_hash: string | null }[]>`
      select id, repository_id, number, sticky_comment_id, sticky_body_hash from github_pull_requests where id = ${target.pr}`;
    if (!row) return { writes: 0, active: false };
    pr = { id: row.id, number: row.number, sticky_comment_id: row.sticky_comment_id === null ? null : Number(row.sticky_comment_id), sticky_body_hash: row.sticky_body_hash };
    sweepIds = await sweepIdsOfPullRequest(sql, row.repository_id, row.number);
  } else {
    sweepIds = [target.sweep];
  }
  const views = await loadSweepViews(sql, sweepIds);
  if (views.length === 0) return { writes: 0, active: false };
  const repo = repoOf(views[views.length - 1]!);
  const forge = await deps.forges.forInstallation(repo.installationId);
  const metrics = await declaredMetrics(deps, views);
  const now = new Date();
  let writes = 0;

  const checks = await sql<{ sweep_id: string; check_run_id: string | null; body_hash: string | null; annotations: Annotation[]; annotations_sent: boolean; completed_at: Date | null }[]>`
    select sweep_id, check_run_id, body_hash, annotations, annotations_sent, completed_at from github_check_runs where sweep_id = any(${sweepIds}::uuid[])`;
  for (const v of views) {
    const cr = checks.find((c) => c.sweep_id === v.id);
    if (!cr || cr.completed_at) continue;
    const rendered = renderCheckRun(v, { metric: metrics.get(v.id) ?? null, now, logTails: sweepDone(v) ? await logTails(deps, v) : [] });
    const h = hash(rendered);
    if (cr.check_run_id && cr.body_hash === h && cr.annotations_sent) continue;
    const started = v.executions.map((e) => e.startedAt).filter((d): d is Date => !!d).sort((a, b) => a.getTime() - b.getTime())[0];
    const ended = v.executions.map((e) => e.endedAt).filter((d): d is Date => !!d).sort((a, b) => b.getTime() - a.getTime())[0];
    const result = await forge.ensureCheckRun({
      repo,
      knownId: cr.check_run_id === null ? null : Number(cr.check_run_id),
      ...(cr.annotations_sent ? {} : { annotations: cr.annotations }),
      spec: {
        sha: v.commitSha,
        name: rendered.name,
        externalId: v.id,
        status: rendered.status,
        ...(rendered.conclusion ? { conclusion: rendered.conclusion } : {}),
        ...(started && rendered.status !== "queued" ? { startedAt: started } : {}),
        ...(rendered.status === "completed" ? { completedAt: ended ?? now } : {}),
        title: rendered.title,
        summary: rendered.summary,
        ...(rendered.text ? { text: rendered.text } : {}),
        actions: rendered.actions,
        ...(deps.config.http.publicUrl ? { detailsUrl: `${deps.config.http.publicUrl.replace(/\/$/, "")}/` } : {}),
      },
    });
    writes++;
    await sql`
      update github_check_runs set check_run_id = ${result.id}, body_hash = ${h}, annotations_sent = true,
        completed_at = ${rendered.status === "completed" ? now : null}
      where sweep_id = ${v.id}`;
  }

  if (pr) {
    const approvals = await approvalRequests(deps, views, pr.number);
    const body = renderSticky(pr.number, views, { metrics, now, approvals });
    const h = hash(body);
    if (h !== pr.sticky_body_hash || !pr.sticky_comment_id) {
      // Each version's approval check run shows the same text as its part of the sticky comment,
      // so it changes only when the comment does; written first, so a failure retries both.
      const publicUrl = deps.config.http.publicUrl;
      for (const a of approvals) {
        const rendered = renderApprovalCheckRun(a, { hasDetailsUrl: !!publicUrl });
        await forge.ensureCheckRun({
          repo,
          knownId: null,
          spec: {
            sha: a.sha,
            name: rendered.name,
            externalId: APPROVAL_EXTERNAL_PREFIX + a.version,
            status: rendered.status,
            ...(rendered.conclusion ? { conclusion: rendered.conclusion } : {}),
            completedAt: now,
            title: rendered.title,
            summary: rendered.summary,
            actions: rendered.actions,
            ...(publicUrl ? { detailsUrl: `${publicUrl.replace(/\/$/, "")}/` } : {}),
          },
        });
        writes++;
      }
      const result = await forge.ensureComment({ repo, pr: pr.number, marker: STICKY_MARKER, body, knownId: pr.sticky_comment_id });
      writes++;
      await sql`update github_pull_requests set sticky_comment_id = ${result.id}, sticky_body_hash = ${h}, updated_at = now() where id = ${pr.id}`;
    }
  }
  const active = views.some((v) => !sweepDone(v));
  if (active) await scheduleReport(sql, target, deps.config.github?.reportIntervalMs ?? 3000);
  return { writes, active };
}
