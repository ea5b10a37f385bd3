/**
 * The audit trail: one append-only row per thing that happened to a model or a version (created,
 * files_changed, approved, rejected, pending, approval_invalidated, refused, used, alias_changed,
 * approval_requested, review). No code path updates or deletes a row.
 *
 * `latest` is an alias that moves when approvals change; each move is an `alias_changed` event
 * ({alias: "latest", from, to}), so "which version was latest at time T" is the last such event at
 * or before T.
 */
import type postgres from "postgres";
import type { Sql } from "../../db/client.js";
import { scheduleReport } from "../reporting/schedule.js";

export type Tx = postgres.TransactionSql;

export type EventSource = "execution" | "cli" | "api" | "pr_review" | "comment" | "check_run" | "system";

export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

/** Who did it, through what. `permission` is the forge's answer for the repository, when known. */
export interface Actor {
  login: string;
  source: EventSource;
  url?: string | null;
  permission?: Permission;
}

export interface EventInput {
  modelId: string;
  versionId?: string | null;
  kind: string;
  actor: Actor;
  reason?: string | null;
  details?: Record<string, unknown>;
}

/** Events that change what a version's approval request shows (its status, or the files it binds). */
const SHOWN_ON_PULL_REQUESTS = new Set(["approved", "rejected", "pending", "approval_invalidated", "files_changed"]);

export async function recordEvent(tx: Tx | Sql, e: EventInput): Promise<void> {
  await (tx as Sql)`
    insert into model_events (model_id, version_id, kind, actor, source, source_url, reason, details, at)
    values (${e.modelId}, ${e.versionId ?? null}, ${e.kind}, ${e.actor.login}, ${e.actor.source}, ${e.actor.url ?? null},
      ${e.reason ?? null}, ${(tx as Sql).json((e.details ?? {}) as never)}, clock_timestamp())`;
  // Every state change, whoever made it (review, comment, button, CLI, API, the files changing),
  // rewrites the pull requests that show the version's approval request — in the same transaction.
  if (e.versionId && SHOWN_ON_PULL_REQUESTS.has(e.kind)) await reportVersionChange(tx, e.versionId);
}

/** Schedules the report of every pull request the version was put up for approval on. */
async function reportVersionChange(tx: Tx | Sql, versionId: string): Promise<void> {
  const prs = await (tx as Sql)<{ id: string }[]>`
    select distinct pr.id from model_approval_requests r
    join change_requests pr on lower(pr.repo) = lower(r.repo) and pr.number = r.pr_number
    where r.version_id = ${versionId}`;
  for (const pr of prs) await scheduleReport(tx, { pr: pr.id }, 0);
}

/** The number of the current `latest` (highest approved whose approval still matches its files). */
export async function currentLatest(tx: Tx | Sql, modelId: string): Promise<number | null> {
  const [row] = await (tx as Sql)<{ number: number }[]>`
    select number from model_versions
    where model_id = ${modelId} and status = 'approved' and approved_sha256 = files_sha256
    order by number desc limit 1`;
  return row?.number ?? null;
}

/** Runs `change` and records an alias_changed event when it moved `latest`. Call with the model row locked. */
export async function trackingLatest<T>(tx: Tx, modelId: string, actor: Actor, change: () => Promise<T>): Promise<T> {
  const before = await currentLatest(tx, modelId);
  const result = await change();
  const after = await currentLatest(tx, modelId);
  if (before !== after) {
    await recordEvent(tx, {
      modelId,
      kind: "alias_changed",
      actor,
      details: { alias: "latest", from: before === null ? null : `v${before}`, to: after === null ? null : `v${after}` },
    });
  }
  return result;
}

/** Which version was `latest` at time `at` (null: none was approved then). */
export async function latestAt(sql: Sql, modelId: string, at: Date): Promise<number | null> {
  const [row] = await sql<{ to: string | null }[]>`
    select details->>'to' as to from model_events
    where model_id = ${modelId} and kind = 'alias_changed' and details->>'alias' = 'latest' and at <= ${at}
    order by at desc, id desc limit 1`;
  return row?.to ? Number(row.to.slice(1)) : null;
}
