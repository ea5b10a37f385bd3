/**
 * What a version is, in one record: the audit report (`vh model report`, rendered to markdown by
 * templates/model/audit-report.ts), the approval request and the compare view are built from it.
 */
import type { Sql } from "../../db/client.js";
import { datumById } from "../../db/queries/datums.js";
import { executionWithProject, fetchedInputs } from "../../db/queries/executions.js";
import { metadataEventsOf } from "../../db/queries/metadata-events.js";
import { maskEnvironment } from "../executions/secrets.js";
import { currentLatest } from "./events.js";
import { downstream, upstream, type DownstreamEdge, type Lineage, type UpstreamEdge } from "./lineage.js";
import { resolveVersion, type ResolvedVersion } from "./versions.js";
import { versionUri } from "./uri.js";

export interface SourceExecution {
  id: string;
  counter: number;
  project: string;
  step: string;
  status: string;
  commitSha: string | null;
  codeSha256: string | null;
  yamlPath: string;
  image: string;
  command: string;
  parameters: Record<string, unknown>;
  inputs: { input: string; name: string; uri: string; sha256: string; size: number }[];
  environmentVariables: Record<string, string>;
  gpus: number;
  runtime: Record<string, unknown> | null;
  triggeredBy: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  durationSeconds: number | null;
  metrics: Record<string, unknown>;
}

export interface TrailEvent {
  id: number;
  at: string;
  kind: string;
  version: string | null;
  actor: string;
  source: string;
  sourceUrl: string | null;
  reason: string | null;
  details: Record<string, unknown>;
}

export interface VersionRecord {
  model: { name: string; description: string | null; approvers: string[]; separationOfDuties: boolean };
  version: string;
  id: string;
  number: number;
  status: string;
  /** True while an approval holds for these exact files. */
  approvalValid: boolean;
  filesSha256: string;
  approvedSha256: string | null;
  statusBy: string | null;
  statusReason: string | null;
  statusAt: string | null;
  sourceKind: string;
  createdBy: string | null;
  triggeredBy: string | null;
  commitSha: string | null;
  description: string | null;
  tags: string[];
  createdAt: string;
  files: { name: string; sha256: string; size: number; datum: string }[];
  size: number;
  /** The latest approved version of the model now (may be this one). */
  latest: string | null;
  execution: SourceExecution | null;
}

export interface AuditReport extends VersionRecord {
  generatedAt: string;
  trainingData: UpstreamEdge[];
  upstream: Lineage<UpstreamEdge>;
  downstream: Lineage<DownstreamEdge>;
  history: TrailEvent[];
}

async function sourceExecution(sql: Sql, r: ResolvedVersion): Promise<SourceExecution | null> {
  let id = r.version.source_execution_id;
  if (!id && r.files[0]) {
    id = (await datumById(sql, r.files[0].datumId))?.execution_id ?? null;
  }
  if (!id) return null;
  const e = await executionWithProject(sql, id);
  if (!e) return null;
  const inputs = await fetchedInputs(sql, id);
  return {
    id: e.id,
    counter: e.counter,
    project: e.project_name,
    step: e.step,
    status: e.status,
    commitSha: e.commit_sha,
    codeSha256: e.code_sha256,
    yamlPath: e.yaml_path,
    image: e.image,
    command: e.command,
    parameters: e.parameters,
    inputs: inputs.map((i) => ({ ...i, size: Number(i.size) })),
    environmentVariables: maskEnvironment(e.environment_variables),
    gpus: e.gpus,
    runtime: e.runtime,
    triggeredBy: e.triggered_by,
    createdAt: e.created_at.toISOString(),
    startedAt: e.started_at?.toISOString() ?? null,
    endedAt: e.ended_at?.toISOString() ?? null,
    durationSeconds: e.started_at && e.ended_at ? (e.ended_at.getTime() - e.started_at.getTime()) / 1000 : null,
    metrics: e.metadata_latest,
  };
}

export async function versionRecord(sql: Sql, r: ResolvedVersion): Promise<VersionRecord> {
  const latest = await currentLatest(sql, r.model.id);
  const v = r.version;
  return {
    model: { name: r.model.name, description: r.model.description, approvers: r.model.approvers, separationOfDuties: r.model.separation_of_duties },
    version: versionUri(r.model.name, v.number),
    id: v.id,
    number: v.number,
    status: v.status,
    approvalValid: v.status === "approved" && v.approved_sha256 === v.files_sha256,
    filesSha256: v.files_sha256,
    approvedSha256: v.approved_sha256,
    statusBy: v.status_by,
    statusReason: v.status_reason,
    statusAt: v.status_at?.toISOString() ?? null,
    sourceKind: v.source_kind,
    createdBy: v.created_by,
    triggeredBy: v.triggered_by,
    commitSha: v.commit_sha,
    description: v.description,
    tags: v.tags,
    createdAt: v.created_at.toISOString(),
    files: r.files.map((f) => ({ name: f.name, sha256: f.sha256, size: f.size, datum: `datum://${f.datumId}` })),
    size: r.files.reduce((n, f) => n + f.size, 0),
    latest: latest === null ? null : versionUri(r.model.name, latest),
    execution: await sourceExecution(sql, r),
  };
}

export async function trailOf(sql: Sql, modelId: string, versionId?: string): Promise<TrailEvent[]> {
  const rows = await sql<{ id: string; at: Date; kind: string; number: number | null; name: string; actor: string; source: string; source_url: string | null; reason: string | null; details: Record<string, unknown> }[]>`
    select e.id, e.at, e.kind, v.number, m.name, e.actor, e.source, e.source_url, e.reason, e.details
    from model_events e join models m on m.id = e.model_id left join model_versions v on v.id = e.version_id
    where e.model_id = ${modelId} ${versionId ? sql`and (e.version_id = ${versionId} or (e.version_id is null and e.kind = 'alias_changed'))` : sql``}
    order by e.at, e.id`;
  return rows.map((r) => ({
    id: Number(r.id),
    at: r.at.toISOString(),
    kind: r.kind,
    version: r.number === null ? null : versionUri(r.name, r.number),
    actor: r.actor,
    source: r.source,
    sourceUrl: r.source_url,
    reason: r.reason,
    details: r.details,
  }));
}

export async function auditReport(deps: { sql: Sql }, uri: string, now = new Date()): Promise<AuditReport> {
  const r = await resolveVersion(deps.sql, uri);
  const [record, up, down, history] = await Promise.all([
    versionRecord(deps.sql, r),
    upstream(deps.sql, r),
    downstream(deps.sql, r),
    trailOf(deps.sql, r.model.id, r.version.id),
  ]);
  return { ...record, generatedAt: now.toISOString(), trainingData: up.edges.filter((e) => e.consumer !== null), upstream: up, downstream: down, history };
}

/** The metric series of an execution: key → values in event order (valohai-spec §3.4). */
export async function metricSeries(sql: Sql, executionId: string): Promise<Record<string, unknown[]>> {
  const rows = await metadataEventsOf(sql, executionId);
  const out: Record<string, unknown[]> = {};
  for (const r of rows) for (const [k, v] of Object.entries(r.data)) (out[k] ??= []).push(v);
  return out;
}

export interface CompareEntry {
  version: string;
  status: string;
  filesSha256: string;
  size: number;
  durationSeconds: number | null;
  execution: string | null;
  commit: string | null;
  metrics: Record<string, unknown>;
  series: Record<string, unknown[]>;
  parameters: Record<string, unknown>;
  inputs: { input: string; name: string; uri: string; sha256: string }[];
}

export interface Comparison {
  versions: CompareEntry[];
  /** Keys whose values differ between the versions. */
  differs: { metrics: string[]; parameters: string[]; inputs: string[] };
}

export async function compareVersions(deps: { sql: Sql }, uris: string[]): Promise<Comparison> {
  const entries: CompareEntry[] = [];
  for (const uri of uris) {
    const r = await resolveVersion(deps.sql, uri);
    const rec = await versionRecord(deps.sql, r);
    const e = rec.execution;
    entries.push({
      version: rec.version,
      status: rec.status,
      filesSha256: rec.filesSha256,
      size: rec.size,
      durationSeconds: e?.durationSeconds ?? null,
      execution: e ? `${e.project} #${e.counter} (${e.step})` : null,
      commit: e?.commitSha ?? (e?.codeSha256 ? `~${e.codeSha256.slice(0, 12)}` : null),
      metrics: e?.metrics ?? {},
      series: e ? await metricSeries(deps.sql, e.id) : {},
      parameters: e?.parameters ?? {},
      inputs: (e?.inputs ?? []).map((i) => ({ input: i.input, name: i.name, uri: i.uri, sha256: i.sha256 })),
    });
  }
  const differing = (pick: (c: CompareEntry) => Record<string, unknown>) => {
    const keys = [...new Set(entries.flatMap((c) => Object.keys(pick(c))))].sort();
    return keys.filter((k) => new Set(entries.map((c) => JSON.stringify(pick(c)[k] ?? null))).size > 1);
  };
  return {
    versions: entries,
    differs: {
      metrics: differing((c) => c.metrics),
      parameters: differing((c) => c.parameters),
      inputs: differing((c) => Object.fromEntries(c.inputs.map((i) => [`${i.input}/${i.name}`, i.sha256]))),
    },
  };
}
