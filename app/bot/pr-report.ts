/**
 * One round of reporting for a pull request (or a sweep outside one), written as the forge can show
 * it: each sweep's check run (queued → in_progress → completed, metrics table, log tail on failure,
 * lint annotations once, buttons) where the forge has check runs, else its commit status
 * (pending → running → success / failed / canceled, with the same title); then the one sticky
 * comment where the forge has comments. A plain Git host has neither: its results are in the CLI
 * and UI. A body that did not change is not written again. While anything is still active, the
 * next round is scheduled one interval later (coalescing); the forge failing throws, and the queue
 * retries later: executions never wait on reporting.
 */
import { createHash } from "node:crypto";
import type { BotDeps } from "./commands/types.js";
import { hasCheckRuns, hasComments, hasCommitStatuses, repoRef, type Annotation, type CheckConclusion, type CommitState, type RepoRef } from "../contracts/forge.js";
import { declaredMetrics } from "../reporting/metrics.js";
import { isTerminal } from "../executions/state.js";
import { approvalRequestsForExecution } from "../models/review.js";
import { APPROVAL_EXTERNAL_PREFIX, renderApprovalCheckRun, renderCheckRun, renderPipelineCheck, renderSticky, PIPELINE_EXTERNAL_PREFIX, STICKY_MARKER, type ApprovalRequestView, type LogTail } from "../../templates/github/render.js";
import { renderApprovalRequest } from "../../templates/model/approval-request.js";
import { scheduleReport, type ReportTarget } from "../reporting/schedule.js";
import { loadSweepViews, sweepDone, type SweepView } from "../reporting/view.js";
import { sourceOf, sweepIdsOfPullRequest } from "../../db/queries/sweeps.js";
import { loadPipelineView } from "../pipelines/present.js";
import type { SweepSource } from "../../db/schema/sweeps.js";
import type { ForgeKind } from "../contracts/forge.js";

const LOG_TAIL_LINES = 30;
const LOG_TAILS = 3;

function hash(v: unknown): string {
  return createHash("sha256").update(JSON.stringify(v)).digest("hex");
}

function repoOf(v: SweepView): RepoRef | null {
  if (v.source.kind !== "forge") return null;
  return repoRef({ forge: v.source.forge, id: v.source.repositoryId, installationId: v.source.installationId, fullName: v.source.repo });
}

/** A check run's state as a commit status. */
export function commitStateOf(status: "queued" | "in_progress" | "completed", conclusion?: CheckConclusion): CommitState {
  if (status === "queued") return "pending";
  if (status === "in_progress") return "running";
  if (conclusion === "success") return "success";
  if (conclusion === "cancelled" || conclusion === "neutral" || conclusion === "skipped") return "canceled";
  return "failed";
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
    if (v.source.kind !== "forge") continue;
    for (const e of v.executions) {
      if (!isTerminal(e.status)) continue;
      const reqs = await approvalRequestsForExecution(
        { sql: deps.sql },
        { executionId: e.id, repo: v.source.repo, prNumber: pr, headSha: v.commitSha, ...(baseUrl ? { baseUrl } : {}) },
      );
      for (const r of reqs) {
        if (seen.has(r.version)) continue;
        seen.add(r.version);
        out.push({ version: r.version, status: r.status, ...renderApprovalRequest(r, v.source.forge), sha: v.commitSha });
      }
    }
  }
  return out;
}

/**
 * The check run of each pipeline run started from the pull request (one per run, with the Mermaid
 * graph of its nodes), written when it changed; a forge without check runs shows the run in the
 * reply that started it. The pipeline driver schedules a round whenever a node moves.
 */
async function reportPipelines(deps: BotDeps, repo: Pick<RepoRef, "forge" | "id">, pr: number): Promise<number> {
  const runs = await deps.sql<{ id: string; report_check_run_id: string | null; report_hash: string | null; source: SweepSource }[]>`
    select id, report_check_run_id, report_hash, source from pipelines where source @> ${deps.sql.json(sourceOf(repo, pr) as never)}::jsonb order by counter`;
  let writes = 0;
  for (const r of runs) {
    if (r.source.kind !== "forge") continue;
    const ref = repoRef({ forge: r.source.forge, id: r.source.repositoryId, installationId: r.source.installationId, fullName: r.source.repo });
    const forge = await deps.forges.forRepo(ref);
    if (!hasCheckRuns(forge)) continue;
    const view = await loadPipelineView(deps.sql, r.id);
    if (!view.commit) continue;
    const rendered = renderPipelineCheck(view);
    const h = hash(rendered);
    if (h === r.report_hash) continue;
    const result = await forge.ensureCheckRun({
      repo: ref,
      knownId: r.report_check_run_id === null ? null : Number(r.report_check_run_id),
      spec: {
        sha: view.commit,
        name: rendered.name,
        externalId: `${PIPELINE_EXTERNAL_PREFIX}${view.id}`,
        status: rendered.status,
        ...(rendered.conclusion ? { conclusion: rendered.conclusion } : {}),
        ...(rendered.status === "completed" ? { completedAt: view.endedAt ? new Date(view.endedAt) : new Date() } : {}),
        title: rendered.title,
        summary: rendered.summary,
        actions: rendered.actions,
        ...(deps.config.http.publicUrl ? { detailsUrl: `${deps.config.http.publicUrl.replace(/\/$/, "")}/` } : {}),
      },
    });
    writes++;
    await deps.sql`update pipelines set report_check_run_id = ${String(result.id)}, report_hash = ${h} where id = ${r.id}`;
  }
  return writes;
}

export async function runReport(deps: BotDeps, target: ReportTarget): Promise<{ writes: number; active: boolean }> {
  const { sql } = deps;
  let sweepIds: string[];
  let pipelineWrites = 0;
  let pr: { id: string; number: number; sticky_comment_id: number | null; sticky_body_hash: string | null } | null = null;
  if ("pr" in target) {
    const [row] = await sql<{ id: string; forge: ForgeKind; repository_id: string; number: number; sticky_comment_id: string | null; sticky_body_hash: string | null }[]>`
      select id, forge, repository_id, number, sticky_comment_id, sticky_body_hash from change_requests where id = ${target.pr}`;
    if (!row) return { writes: 0, active: false };
    pr = { id: row.id, number: row.number, sticky_comment_id: row.sticky_comment_id === null ? null : Number(row.sticky_comment_id), sticky_body_hash: row.sticky_body_hash };
    sweepIds = await sweepIdsOfPullRequest(sql, { forge: row.forge, id: Number(row.repository_id) }, row.number);
    pipelineWrites = await reportPipelines(deps, { forge: row.forge, id: Number(row.repository_id) }, row.number);
  } else {
    sweepIds = [target.sweep];
  }
  const views = await loadSweepViews(sql, sweepIds, deps.config.worker);
  if (views.length === 0) return { writes: pipelineWrites, active: false };
  const repo = repoOf(views[views.length - 1]!);
  if (!repo) return { writes: 0, active: false };
  const forge = await deps.forges.forRepo(repo);
  const checkRuns = hasCheckRuns(forge) ? forge : null;
  const statuses = !checkRuns && hasCommitStatuses(forge) ? forge : null;
  // A forge that shows nothing (a plain Git host): nothing to write, now or in a later round.
  if (!checkRuns && !statuses && !hasComments(forge)) return { writes: 0, active: false };
  const metrics = await declaredMetrics(deps, views);
  const now = new Date();
  let writes = pipelineWrites;

  const checks = await sql<{ sweep_id: string; check_run_id: string | null; body_hash: string | null; annotations: Annotation[]; annotations_sent: boolean; completed_at: Date | null }[]>`
    select sweep_id, check_run_id, body_hash, annotations, annotations_sent, completed_at from sweep_reports where sweep_id = any(${sweepIds}::uuid[])`;
  for (const v of views) {
    const cr = checks.find((c) => c.sweep_id === v.id);
    if (!cr || cr.completed_at) continue;
    if (!checkRuns && !statuses) continue;
    const rendered = renderCheckRun(v, { metric: metrics.get(v.id) ?? null, now, logTails: sweepDone(v) ? await logTails(deps, v) : [] });
    if (statuses) {
      // A commit status says less: its state and one line; written when either changes. Its name is
      // how the host tells statuses apart, so it names the sweep (by its first execution): two sweeps
      // of one step on one commit are two statuses, not one overwritten.
      const first = v.executions[0]?.counter;
      const status = {
        sha: v.commitSha,
        name: `${rendered.name}${first !== undefined ? ` · #${first}` : ""}`.slice(0, 255),
        state: commitStateOf(rendered.status, rendered.conclusion),
        description: rendered.title,
        ...(deps.config.http.publicUrl ? { targetUrl: `${deps.config.http.publicUrl.replace(/\/$/, "")}/` } : {}),
      };
      const sh = hash(status);
      if (cr.body_hash === sh) continue;
      await statuses.ensureCommitStatus({ repo, status });
      writes++;
      await sql`
        update sweep_reports set body_hash = ${sh}, annotations_sent = true, completed_at = ${rendered.status === "completed" ? now : null}
        where sweep_id = ${v.id}`;
      continue;
    }
    const h = hash(rendered);
    if (cr.check_run_id && cr.body_hash === h && cr.annotations_sent) continue;
    const started = v.executions.map((e) => e.startedAt).filter((d): d is Date => !!d).sort((a, b) => a.getTime() - b.getTime())[0];
    const ended = v.executions.map((e) => e.endedAt).filter((d): d is Date => !!d).sort((a, b) => b.getTime() - a.getTime())[0];
    const result = await checkRuns!.ensureCheckRun({
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
      update sweep_reports set check_run_id = ${result.id}, body_hash = ${h}, annotations_sent = true,
        completed_at = ${rendered.status === "completed" ? now : null}
      where sweep_id = ${v.id}`;
  }

  if (pr && hasComments(forge)) {
    const approvals = await approvalRequests(deps, views, pr.number);
    const body = renderSticky(pr.number, views, { metrics, now, approvals });
    const h = hash(body);
    if (h !== pr.sticky_body_hash || !pr.sticky_comment_id) {
      // Each version's approval check run shows the same text as its part of the sticky comment,
      // so it changes only when the comment does; written first, so a failure retries both.
      const publicUrl = deps.config.http.publicUrl;
      for (const a of checkRuns ? approvals : []) {
        const rendered = renderApprovalCheckRun(a, { hasDetailsUrl: !!publicUrl });
        await checkRuns!.ensureCheckRun({
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
      await sql`update change_requests set sticky_comment_id = ${result.id}, sticky_body_hash = ${h}, updated_at = now() where id = ${pr.id}`;
    }
  }
  const active = views.some((v) => !sweepDone(v));
  if (active) await scheduleReport(sql, target, deps.config.githubHost.reportIntervalMs);
  return { writes, active };
}
