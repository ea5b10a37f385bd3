/**
 * What a version is, in one record: the audit report (`vh model report`, rendered to Markdown and
 * HTML by templates/model/audit-report.ts, laid out by EU AI Act Annex IV and SR 11-7), the
 * approval request and the compare view are built from it. Every record in the report carries its
 * API path (`api`), so each claim can link to where it is kept.
 */
import type { Sql } from "../../db/client.js";
import { datumById } from "../../db/queries/datums.js";
import { executionWithProject, fetchedInputs } from "../../db/queries/executions.js";
import { metadataEventsOf } from "../../db/queries/metadata-events.js";
import type { RequestedInput } from "../../db/schema/executions.js";
import { verifyAuditChains, type AuditVerification } from "../audit/verify.js";
import { reproducibilitySummary } from "../executions/present.js";
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
  /** The inputs as requested, with what each resolved to at creation (model/dataset version, ETag, version id). */
  requestedInputs: RequestedInput[];
  gpus: number;
  runtime: Record<string, unknown> | null;
  /** The runtime record in short: fingerprint, OS, interpreters, package counts, seed, image digest. */
  reproducibility: ReturnType<typeof reproducibilitySummary>;
  triggeredBy: string | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  durationSeconds: number | null;
  metrics: Record<string, unknown>;
  /** `/api/v1/executions/ID`. */
  api: string;
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
  /** Its hash in the audit chain (app/audit/). */
  hash: string;
  /** `/api/v1/audit/model-events/ID`. */
  api: string;
}

export interface VersionRecord {
  model: { id: string; name: string; description: string | null; approvers: string[]; separationOfDuties: boolean };
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
  files: { name: string; sha256: string; size: number; datum: string; api: string }[];
  size: number;
  /** The latest approved version of the model now (may be this one). */
  latest: string | null;
  execution: SourceExecution | null;
}

/** An execution a claim rests on. */
export interface ExecutionRef {
  id: string;
  counter: number;
  project: string;
  step: string;
  api: string;
}

/** One file that went into the training, directly or through an upstream execution. */
export interface ProvenanceEntry {
  consumer: ExecutionRef | null;
  input: string | null;
  file: string;
  sha256: string;
  size: number;
  /** As requested (`model://base/latest`, `dataset://images/latest`, an URL, `datum://…`). */
  uri: string;
  /** What it resolved to when the consumer was created: an exact version, a datum, or external data. */
  resolved: { kind: "model" | "dataset" | "datum" | "external"; ref: string; api: string | null };
  producer: ExecutionRef | null;
  etag: string | null;
  objectVersionId: string | null;
}

export interface VersionHistoryEntry {
  version: string;
  id: string;
  status: string;
  createdAt: string;
  createdBy: string | null;
  filesSha256: string;
  statusBy: string | null;
  statusAt: string | null;
  description: string | null;
  sourceExecution: ExecutionRef | null;
  api: string;
}

export interface ApprovalRequestRef {
  repo: string;
  prNumber: number;
  headSha: string;
  filesSha256: string;
  requestedAt: string;
}

/** The SR 11-7 model inventory fields (null: vh does not record it). */
export interface InventoryEntry {
  modelId: string;
  model: string;
  version: string;
  owner: string | null;
  purpose: string | null;
  status: string;
  approvalDate: string | null;
  approver: string | null;
  /** The approval event the two fields above come from. */
  approvalEvent: { id: number; api: string } | null;
  validationEvidence: { execution: ExecutionRef; metrics: string[] } | null;
  limitations: null;
}

/** The human oversight record: decisions on the version and the events that carry them. */
const OVERSIGHT_KINDS = new Set(["approved", "rejected", "pending", "refused", "approval_invalidated", "approval_requested", "review", "files_changed"]);

export interface AuditReport extends VersionRecord {
  generatedAt: string;
  /** Where the API is (links in the Markdown and HTML reports); null: links are API paths. */
  baseUrl: string | null;
  api: { model: string; version: string; events: string; lineage: string; report: string; auditVerify: string };
  trainingData: UpstreamEdge[];
  upstream: Lineage<UpstreamEdge>;
  downstream: Lineage<DownstreamEdge>;
  history: TrailEvent[];
  provenance: ProvenanceEntry[];
  versions: VersionHistoryEntry[];
  approvals: TrailEvent[];
  approvalRequests: ApprovalRequestRef[];
  inventory: InventoryEntry;
  /** The audit chains verified when the report was made (app/audit/). */
  auditChain: AuditVerification;
}

const executionApi = (id: string) => `/api/v1/executions/${id}`;
const versionApi = (model: string, number: number) => `/api/v1/models/${encodeURIComponent(model)}/versions/v${number}`;
const eventApi = (id: number | string) => `/api/v1/audit/model-events/${id}`;
const datumApi = (id: string) => `/api/v1/data/${id}`;

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
    requestedInputs: e.inputs,
    gpus: e.gpus,
    runtime: e.runtime,
    reproducibility: reproducibilitySummary(e.runtime, e.environment_variables, e.parameters),
    triggeredBy: e.triggered_by,
    createdAt: e.created_at.toISOString(),
    startedAt: e.started_at?.toISOString() ?? null,
    endedAt: e.ended_at?.toISOString() ?? null,
    durationSeconds: e.started_at && e.ended_at ? (e.ended_at.getTime() - e.started_at.getTime()) / 1000 : null,
    metrics: e.metadata_latest,
    api: executionApi(e.id),
  };
}

export async function versionRecord(sql: Sql, r: ResolvedVersion): Promise<VersionRecord> {
  const latest = await currentLatest(sql, r.model.id);
  const v = r.version;
  return {
    model: { id: r.model.id, name: r.model.name, description: r.model.description, approvers: r.model.approvers, separationOfDuties: r.model.separation_of_duties },
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
    files: r.files.map((f) => ({ name: f.name, sha256: f.sha256, size: f.size, datum: `datum://${f.datumId}`, api: datumApi(f.datumId) })),
    size: r.files.reduce((n, f) => n + f.size, 0),
    latest: latest === null ? null : versionUri(r.model.name, latest),
    execution: await sourceExecution(sql, r),
  };
}

export async function trailOf(sql: Sql, modelId: string, versionId?: string): Promise<TrailEvent[]> {
  const rows = await sql<{ id: string; at: Date; kind: string; number: number | null; name: string; actor: string; source: string; source_url: string | null; reason: string | null; details: Record<string, unknown>; hash: string }[]>`
    select e.id, e.at, e.kind, v.number, m.name, e.actor, e.source, e.source_url, e.reason, e.details, e.hash
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
    hash: r.hash,
    api: eventApi(r.id),
  }));
}

export async function auditReport(deps: { sql: Sql }, uri: string, now = new Date(), opts: { baseUrl?: string | null } = {}): Promise<AuditReport> {
  const r = await resolveVersion(deps.sql, uri);
  const [record, up, down, history, versions, approvalRequests, auditChain] = await Promise.all([
    versionRecord(deps.sql, r),
    upstream(deps.sql, r),
    downstream(deps.sql, r),
    trailOf(deps.sql, r.model.id, r.version.id),
    versionHistory(deps.sql, r.model.id, r.model.name),
    approvalRequestsOf(deps.sql, r.version.id),
    verifyAuditChains(deps.sql, () => now),
  ]);
  const trainingData = up.edges.filter((e) => e.consumer !== null);
  const name = r.model.name;
  const versionPath = versionApi(name, r.version.number);
  const approvals = history.filter((h) => OVERSIGHT_KINDS.has(h.kind));
  return {
    ...record,
    generatedAt: now.toISOString(),
    baseUrl: opts.baseUrl ?? null,
    api: {
      model: `/api/v1/models/${encodeURIComponent(name)}`,
      version: versionPath,
      events: `${versionPath}/events`,
      lineage: `${versionPath}/lineage`,
      report: `${versionPath}/report`,
      auditVerify: "/api/v1/audit/verify",
    },
    trainingData,
    upstream: up,
    downstream: down,
    history,
    provenance: await provenanceOf(deps.sql, trainingData, up),
    versions,
    approvals,
    approvalRequests,
    inventory: inventoryOf(record, history),
    auditChain,
  };
}

function refOf(l: Lineage<UpstreamEdge>, id: string | null): ExecutionRef | null {
  const x = id ? l.executions[id] : undefined;
  return x ? { id: x.id, counter: x.counter, project: x.project, step: x.step, api: executionApi(x.id) } : null;
}

/** The training data with what each input resolved to, from the consuming executions' own records. */
async function provenanceOf(sql: Sql, edges: UpstreamEdge[], up: Lineage<UpstreamEdge>): Promise<ProvenanceEntry[]> {
  const ids = [...new Set(edges.map((e) => e.consumer).filter((c): c is string => c !== null))];
  const rows = ids.length ? await sql<{ id: string; counter: number; step: string; project: string; inputs: RequestedInput[] }[]>`
    select e.id, e.counter, e.step, p.name as project, e.inputs from executions e join projects p on p.id = e.project_id where e.id = any(${ids}::uuid[])` : [];
  const byId = new Map(rows.map((x) => [x.id, x]));
  return edges.map((e) => {
    const c = e.consumer ? byId.get(e.consumer) : undefined;
    const consumer = c ? { id: c.id, counter: c.counter, project: c.project, step: c.step, api: executionApi(c.id) } : refOf(up, e.consumer);
    const asked = c?.inputs.filter((i) => i.name === e.input) ?? [];
    const req = asked.find((i) => i.file === e.name || i.datumId === e.datumId) ?? (asked.length === 1 ? asked[0] : undefined);
    let resolved: ProvenanceEntry["resolved"];
    if (e.modelVersion) {
      const m = /^model:\/\/([^/]+)\/v(\d+)$/.exec(e.modelVersion);
      resolved = { kind: "model", ref: e.modelVersion, api: m ? versionApi(m[1]!, Number(m[2])) : null };
    } else if (req?.dataset) {
      const d = req.dataset;
      resolved = { kind: "dataset", ref: `dataset://${d.name}/${d.version}`, api: c ? `/api/v1/projects/${encodeURIComponent(c.project)}/datasets/${encodeURIComponent(d.name)}/versions/${encodeURIComponent(d.version)}` : null };
    } else if (e.datumId) {
      resolved = { kind: "datum", ref: `datum://${e.datumId}`, api: datumApi(e.datumId) };
    } else {
      resolved = { kind: "external", ref: e.uri, api: null };
    }
    return {
      consumer,
      input: e.input,
      file: e.name,
      sha256: e.sha256,
      size: e.size,
      uri: req?.uri ?? e.uri,
      resolved,
      producer: refOf(up, e.producer),
      etag: req?.etag ?? null,
      objectVersionId: req?.versionId ?? null,
    };
  });
}

/** Every version of the model, in order: the "versions and changes" of the documentation. */
async function versionHistory(sql: Sql, modelId: string, name: string): Promise<VersionHistoryEntry[]> {
  const rows = await sql<{ id: string; number: number; status: string; created_at: Date; created_by: string | null; files_sha256: string; status_by: string | null; status_at: Date | null; description: string | null; e_id: string | null; e_counter: number | null; e_step: string | null; e_project: string | null }[]>`
    select v.id, v.number, v.status, v.created_at, v.created_by, v.files_sha256, v.status_by, v.status_at, v.description,
      e.id as e_id, e.counter as e_counter, e.step as e_step, p.name as e_project
    from model_versions v left join executions e on e.id = v.source_execution_id left join projects p on p.id = e.project_id
    where v.model_id = ${modelId} order by v.number`;
  return rows.map((v) => ({
    version: versionUri(name, v.number),
    id: v.id,
    status: v.status,
    createdAt: v.created_at.toISOString(),
    createdBy: v.created_by,
    filesSha256: v.files_sha256,
    statusBy: v.status_by,
    statusAt: v.status_at?.toISOString() ?? null,
    description: v.description,
    sourceExecution: v.e_id && v.e_counter !== null ? { id: v.e_id, counter: v.e_counter, project: v.e_project ?? "", step: v.e_step ?? "", api: executionApi(v.e_id) } : null,
    api: versionApi(name, v.number),
  }));
}

async function approvalRequestsOf(sql: Sql, versionId: string): Promise<ApprovalRequestRef[]> {
  const rows = await sql<{ repo: string; pr_number: number; head_sha: string; files_sha256: string; requested_at: Date }[]>`
    select repo, pr_number, head_sha, files_sha256, requested_at from model_approval_requests where version_id = ${versionId} order by requested_at, repo, pr_number`;
  return rows.map((x) => ({ repo: x.repo, prNumber: x.pr_number, headSha: x.head_sha, filesSha256: x.files_sha256, requestedAt: x.requested_at.toISOString() }));
}

function inventoryOf(r: VersionRecord, history: TrailEvent[]): InventoryEntry {
  // The approval that holds now: the last `approved` event, while the version is approved for these files.
  const approval = r.approvalValid ? [...history].reverse().find((h) => h.kind === "approved" && h.version === r.version) ?? null : null;
  const e = r.execution;
  return {
    modelId: r.model.id,
    model: r.model.name,
    version: r.version,
    owner: r.triggeredBy ?? r.createdBy,
    purpose: r.model.description,
    status: r.status + (r.status === "approved" && !r.approvalValid ? " (approval no longer matches the files)" : ""),
    approvalDate: approval?.at ?? null,
    approver: approval?.actor ?? null,
    approvalEvent: approval ? { id: approval.id, api: approval.api } : null,
    validationEvidence: e ? { execution: { id: e.id, counter: e.counter, project: e.project, step: e.step, api: e.api }, metrics: Object.keys(e.metrics).sort() } : null,
    limitations: null,
  };
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
