/** Listing models and versions (API and `vh model list|show`). */
import type { Sql } from "../../db/client.js";
import { modelByName } from "../../db/queries/models.js";
import { VhError } from "../errors.js";
import { currentLatest, latestAt } from "./events.js";
import { versionUri } from "./uri.js";
import type { ModelRow } from "./versions.js";

export interface VersionSummary {
  version: string;
  number: number;
  status: string;
  approvalValid: boolean;
  filesSha256: string;
  files: number;
  size: number;
  sourceExecution: { project: string; counter: number } | null;
  commitSha: string | null;
  tags: string[];
  createdAt: string;
  statusBy: string | null;
  statusAt: string | null;
}

export interface ModelSummary {
  name: string;
  description: string | null;
  approvers: string[];
  separationOfDuties: boolean;
  versions: number;
  latest: string | null;
  pending: number;
  createdAt: string;
}

export async function findModel(sql: Sql, name: string): Promise<ModelRow> {
  const row = await modelByName(sql, name);
  if (!row) throw new VhError("not_found", `Model "${name}" does not exist.`);
  return row;
}

export async function listModels(sql: Sql): Promise<ModelSummary[]> {
  const rows = await sql<(ModelRow & { latest: number | null; pending: number })[]>`
    select m.*,
      (select max(number) from model_versions v where v.model_id = m.id and v.status = 'approved' and v.approved_sha256 = v.files_sha256) as latest,
      (select count(*)::int from model_versions v where v.model_id = m.id and v.status = 'pending') as pending
    from models m order by m.name`;
  return rows.map((m) => summary(m, m.latest, m.pending));
}

function summary(m: ModelRow, latest: number | null, pending: number): ModelSummary {
  return {
    name: m.name,
    description: m.description,
    approvers: m.approvers,
    separationOfDuties: m.separation_of_duties,
    versions: m.version_counter,
    latest: latest === null ? null : versionUri(m.name, latest),
    pending,
    createdAt: m.created_at.toISOString(),
  };
}

export async function showModel(sql: Sql, name: string, opts: { status?: string } = {}): Promise<ModelSummary & { results: VersionSummary[] }> {
  const m = await findModel(sql, name);
  const rows = await sql<{
    number: number; status: string; approved_sha256: string | null; files_sha256: string; files: number; size: string | null;
    project: string | null; counter: number | null; commit_sha: string | null; tags: string[]; created_at: Date; status_by: string | null; status_at: Date | null;
  }[]>`
    select v.number, v.status, v.approved_sha256, v.files_sha256, v.commit_sha, v.tags, v.created_at, v.status_by, v.status_at,
      (select count(*)::int from model_version_files f where f.version_id = v.id) as files,
      (select sum(size) from model_version_files f where f.version_id = v.id) as size,
      p.name as project, x.counter
    from model_versions v left join executions x on x.id = v.source_execution_id left join projects p on p.id = x.project_id
    where v.model_id = ${m.id} ${opts.status ? sql`and v.status = ${opts.status}` : sql``}
    order by v.number desc`;
  const latest = await currentLatest(sql, m.id);
  const pending = rows.filter((r) => r.status === "pending").length;
  return {
    ...summary(m, latest, pending),
    results: rows.map((r) => ({
      version: versionUri(m.name, r.number),
      number: r.number,
      status: r.status,
      approvalValid: r.status === "approved" && r.approved_sha256 === r.files_sha256,
      filesSha256: r.files_sha256,
      files: r.files,
      size: Number(r.size ?? 0),
      sourceExecution: r.project && r.counter !== null ? { project: r.project, counter: r.counter } : null,
      commitSha: r.commit_sha,
      tags: r.tags,
      createdAt: r.created_at.toISOString(),
      statusBy: r.status_by,
      statusAt: r.status_at?.toISOString() ?? null,
    })),
  };
}

/** "Which version was latest at time T." */
export async function latestAtTime(sql: Sql, name: string, at: Date): Promise<{ model: string; at: string; latest: string | null }> {
  const m = await findModel(sql, name);
  const n = await latestAt(sql, m.id, at);
  return { model: m.name, at: at.toISOString(), latest: n === null ? null : versionUri(m.name, n) };
}
