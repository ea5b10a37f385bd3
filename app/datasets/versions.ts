/**
 * Dataset versions (db/schema/datasets.ts has the terminology): created from datums by a person
 * (REST, `vh dataset create`) or from an execution's outputs (./outputs.ts), resolved from
 * `dataset://` URIs, listed and shown.
 *
 * A version is immutable: it is written whole in one transaction (the dataset row locked, so
 * names and `latest` are serialised) and nothing here updates or deletes its files; the database
 * refuses it too (migration dataset-immutability). A name that exists is a conflict, never a merge.
 */
import type postgres from "postgres";
import type { Sql } from "../../db/client.js";
import type { Conn } from "../../db/queries/rows.js";
import type { Project } from "../../db/schema/projects.js";
import { VhError } from "../errors.js";
import { datasetUri, mustParseDatasetUri, nameProblem } from "./uri.js";

export type Tx = postgres.TransactionSql;

export interface VersionFile {
  /** Where the file is in the version (and under inputs/INPUT/). */
  path: string;
  datumId: string;
  sha256: string;
  size: number;
}

export interface DatasetRow {
  id: string;
  project_id: string;
  name: string;
  version_counter: number;
  created_at: Date;
}

export interface VersionRow {
  id: string;
  dataset_id: string;
  name: string;
  seq: number;
  execution_id: string | null;
  created_by: string;
  created_at: Date;
}

/** Longest list of version names an error message shows (the newest ones). */
const LISTED_VERSIONS = 20;

/** Why `p` cannot be a file's path in a version (a relative path of plain names), or null. */
export function pathProblem(p: string): string | null {
  if (p === "") return "the path is empty";
  if (/[\\\u0000-\u001f\u007f]/.test(p)) return `${JSON.stringify(p)} has a backslash or a control character`;
  if (p.split("/").some((s) => s === "" || s === "." || s === "..")) return `${JSON.stringify(p)} is not a relative path of plain names (no leading "/", "..", "." or empty parts)`;
  if (Buffer.byteLength(p) > 1024) return `the path is over 1024 bytes`;
  return null;
}

export async function datasetByName(sql: Conn, projectId: string, name: string): Promise<DatasetRow | null> {
  const [row] = await sql<DatasetRow[]>`select * from datasets where project_id = ${projectId} and name = ${name}`;
  return row ?? null;
}

/** Locks the dataset row for the rest of the transaction, creating it when missing. */
export async function lockDataset(tx: Tx, projectId: string, name: string): Promise<DatasetRow> {
  await tx`insert into datasets (project_id, name) values (${projectId}, ${name}) on conflict (project_id, name) do nothing`;
  const [row] = await tx<DatasetRow[]>`select * from datasets where project_id = ${projectId} and name = ${name} for update`;
  return row!;
}

export async function filesOf(sql: Conn, versionId: string): Promise<VersionFile[]> {
  const rows = await sql<{ path: string; datum_id: string; sha256: string; size: string }[]>`
    select path, datum_id, sha256, size from dataset_version_files where version_id = ${versionId} order by path`;
  return rows.map((r) => ({ path: r.path, datumId: r.datum_id, sha256: r.sha256, size: Number(r.size) }));
}

/** "v1, v2 and 3 older" style: the newest names, newest last, for messages. */
async function versionList(sql: Conn, datasetId: string): Promise<{ names: string[]; text: string }> {
  const rows = await sql<{ name: string; n: number }[]>`
    select name, count(*) over ()::int as n from dataset_versions where dataset_id = ${datasetId} order by seq desc limit ${LISTED_VERSIONS}`;
  const names = rows.map((r) => r.name).reverse();
  const more = (rows[0]?.n ?? 0) - rows.length;
  return { names, text: names.length === 0 ? "no versions" : `${more > 0 ? `${more} older and ` : ""}${names.join(", ")} (newest last)` };
}

export interface NewVersion {
  version: string;
  files: VersionFile[];
  executionId: string | null;
  createdBy: string;
  /** Aliases moved to the new version (`targeting_aliases`). */
  aliases?: string[];
}

/**
 * Writes version `v.version` of dataset `name` (made on its first version) in the caller's
 * transaction. Refuses (VhError) a bad name, no files, paths twice, and a name that exists.
 */
export async function insertVersion(tx: Tx, project: Pick<Project, "id" | "name">, name: string, v: NewVersion): Promise<{ dataset: DatasetRow; version: VersionRow }> {
  const problems = [nameProblem("dataset", name), nameProblem("version", v.version), ...(v.aliases ?? []).map((a) => nameProblem("alias", a))].filter((p): p is string => p !== null);
  if (problems.length) throw new VhError("bad_request", problems.join(" "));
  if (v.files.length === 0) throw new VhError("bad_request", `${datasetUri(name, v.version)} would have no files: a version needs at least one.`);
  const seen = new Set<string>();
  for (const f of v.files) {
    const bad = pathProblem(f.path);
    if (bad) throw new VhError("bad_request", `${datasetUri(name, v.version)}: file datum://${f.datumId}: ${bad}.`);
    if (seen.has(f.path)) throw new VhError("bad_request", `${datasetUri(name, v.version)}: two files have the path "${f.path}"; paths in a version must differ.`);
    seen.add(f.path);
  }
  // `a` and `a/b` cannot both be laid out under inputs/NAME/ (a file where a folder must be).
  for (const f of v.files) {
    for (let i = f.path.indexOf("/"); i > 0; i = f.path.indexOf("/", i + 1)) {
      const dir = f.path.slice(0, i);
      if (seen.has(dir)) throw new VhError("bad_request", `${datasetUri(name, v.version)}: "${dir}" is a file and also the folder of "${f.path}"; a path cannot be both.`);
    }
  }
  const dataset = await lockDataset(tx, project.id, name);
  const [existing] = await tx<VersionRow[]>`select * from dataset_versions where dataset_id = ${dataset.id} and name = ${v.version}`;
  if (existing) {
    throw new VhError(
      "conflict",
      `${datasetUri(name, v.version)} already exists (created ${existing.created_at.toISOString()} by ${existing.created_by}); a version never changes: give the new one another name.`,
      { uri: datasetUri(name, v.version), versionId: existing.id },
    );
  }
  const [alias] = await tx<{ version: string }[]>`
    select v.name as version from dataset_aliases a join dataset_versions v on v.id = a.version_id where a.dataset_id = ${dataset.id} and a.name = ${v.version}`;
  if (alias) throw new VhError("conflict", `"${v.version}" is an alias of dataset "${name}" (pointing at ${datasetUri(name, alias.version)}): give the version another name.`);
  const clash = (v.aliases ?? []).filter((a) => a === v.version);
  if (clash.length) throw new VhError("bad_request", `${datasetUri(name, v.version)}: an alias cannot have the version's own name.`);
  const aliasedVersions = await tx<{ name: string }[]>`select name from dataset_versions where dataset_id = ${dataset.id} and name = any(${v.aliases ?? []}::text[])`;
  if (aliasedVersions.length) throw new VhError("conflict", `${aliasedVersions.map((a) => `"${a.name}"`).join(", ")} already name versions of dataset "${name}": an alias cannot have a version's name.`);

  const [counter] = await tx<{ version_counter: number }[]>`
    update datasets set version_counter = version_counter + 1 where id = ${dataset.id} returning version_counter`;
  const [version] = await tx<VersionRow[]>`
    insert into dataset_versions (dataset_id, name, seq, execution_id, created_by)
    values (${dataset.id}, ${v.version}, ${counter!.version_counter}, ${v.executionId}, ${v.createdBy})
    returning *`;
  // One statement for any number of files (a version of 100,000 images is one round trip).
  await tx`
    insert into dataset_version_files (version_id, path, datum_id, sha256, size)
    select ${version!.id}::uuid, f.path, f.datum_id, f.sha256, f.size
    from unnest(${v.files.map((f) => f.path)}::text[], ${v.files.map((f) => f.datumId)}::uuid[], ${v.files.map((f) => f.sha256)}::text[],
      ${v.files.map((f) => String(f.size))}::bigint[]) as f(path, datum_id, sha256, size)`;
  for (const a of new Set(v.aliases ?? [])) {
    await tx`
      insert into dataset_aliases (dataset_id, name, version_id) values (${dataset.id}, ${a}, ${version!.id})
      on conflict (dataset_id, name) do update set version_id = excluded.version_id, updated_at = now()`;
  }
  return { dataset: { ...dataset, version_counter: counter!.version_counter }, version: version! };
}

/** One file of a version made through the API: a datum of the project, and its path (default: the datum's name). */
export interface FileRequest {
  datum: string;
  path?: string | undefined;
}

/** A version made by a person from datums of the project (REST, CLI); every bad file named in one error. */
export async function createVersion(
  sql: Sql,
  project: Pick<Project, "id" | "name">,
  body: { dataset: string; version: string; files: FileRequest[] },
  createdBy: string,
): Promise<{ uri: string; versionId: string }> {
  const problems = [nameProblem("dataset", body.dataset), nameProblem("version", body.version)].filter((p): p is string => p !== null);
  if (problems.length) throw new VhError("bad_request", problems.join(" "));
  if (body.files.length === 0) throw new VhError("bad_request", `${datasetUri(body.dataset, body.version)} would have no files: give at least one {"datum": "<id>"}.`);
  const errors: string[] = [];
  const ids = body.files.map((f, i) => {
    const id = f.datum.replace(/^datum:\/\//, "");
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) errors.push(`files[${i}]: ${JSON.stringify(f.datum)} is not a datum id (datum://<uuid>).`);
    return id.toLowerCase();
  });
  if (errors.length) throw new VhError("bad_request", errors.join("\n"), { errors });
  const rows = await sql<{ id: string; name: string; sha256: string; size: string }[]>`
    select id, name, sha256, size from datums where project_id = ${project.id} and id = any(${ids}::uuid[])`;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const files: VersionFile[] = [];
  const paths = new Map<string, number>();
  body.files.forEach((f, i) => {
    const row = byId.get(ids[i]!);
    if (!row) {
      errors.push(`files[${i}]: datum://${ids[i]} does not exist in project ${project.name}.`);
      return;
    }
    const p = f.path ?? row.name;
    const bad = pathProblem(p);
    if (bad) errors.push(`files[${i}] (datum://${row.id}): ${bad}.`);
    const twice = paths.get(p);
    if (twice !== undefined) errors.push(`files[${i}] (datum://${row.id}): the path "${p}" is also that of files[${twice}]; paths in a version must differ (set "path").`);
    paths.set(p, i);
    files.push({ path: p, datumId: row.id, sha256: row.sha256, size: Number(row.size) });
  });
  if (errors.length) throw new VhError("bad_request", errors.join("\n"), { errors });
  return sql.begin(async (tx) => {
    // The datums stay until this commits (an execution delete waits, then sees the version).
    const held = await tx<{ id: string }[]>`select id from datums where id = any(${ids}::uuid[]) for key share`;
    if (held.length < new Set(ids).size) {
      const gone = [...new Set(ids)].filter((d) => !held.some((h) => h.id === d)).map((d) => `datum://${d}`);
      throw new VhError("conflict", `${datasetUri(body.dataset, body.version)}: ${gone.join(", ")} ${gone.length === 1 ? "was" : "were"} deleted while the version was being made; nothing was created.`, { deleted: gone });
    }
    const { version } = await insertVersion(tx, project, body.dataset, { version: body.version, files, executionId: null, createdBy });
    return { uri: datasetUri(body.dataset, body.version), versionId: version.id };
  });
}

export interface ResolvedVersion {
  dataset: DatasetRow;
  version: VersionRow;
  /** The exact version (`dataset://images/v3`), also when `latest` or an alias was asked. */
  uri: string;
  /** Asked as `latest` (or without a version), or through an alias: its name then. */
  via: "name" | "latest" | { alias: string };
}

/** The newest version of a dataset, or null when it has none. */
export async function latestVersion(sql: Conn, datasetId: string): Promise<VersionRow | null> {
  const [row] = await sql<VersionRow[]>`select * from dataset_versions where dataset_id = ${datasetId} order by seq desc limit 1`;
  return row ?? null;
}

/**
 * `dataset://NAME/VERSION` (a version's name, else an alias), `dataset://NAME/latest` or
 * `dataset://NAME` in the project → the version; `not_found` naming what exists otherwise.
 */
export async function resolveVersion(sql: Conn, project: Pick<Project, "id" | "name">, uri: string): Promise<ResolvedVersion> {
  const ref = mustParseDatasetUri(uri);
  const dataset = await datasetByName(sql, project.id, ref.dataset);
  if (!dataset) {
    const others = await sql<{ name: string }[]>`select name from datasets where project_id = ${project.id} order by name limit ${LISTED_VERSIONS}`;
    const list = others.length ? `its datasets: ${others.map((o) => o.name).join(", ")}` : "it has no datasets yet";
    throw new VhError("not_found", `${uri}: project ${project.name} has no dataset "${ref.dataset}" (${list}).`, { datasets: others.map((o) => o.name) });
  }
  if (ref.version === null) {
    const latest = await latestVersion(sql, dataset.id);
    if (!latest) throw new VhError("not_found", `${uri}: dataset "${dataset.name}" has no versions.`, { versions: [] });
    return { dataset, version: latest, uri: datasetUri(dataset.name, latest.name), via: "latest" };
  }
  const [byName] = await sql<VersionRow[]>`select * from dataset_versions where dataset_id = ${dataset.id} and name = ${ref.version}`;
  if (byName) return { dataset, version: byName, uri: datasetUri(dataset.name, byName.name), via: "name" };
  const [byAlias] = await sql<VersionRow[]>`
    select v.* from dataset_aliases a join dataset_versions v on v.id = a.version_id where a.dataset_id = ${dataset.id} and a.name = ${ref.version}`;
  if (byAlias) return { dataset, version: byAlias, uri: datasetUri(dataset.name, byAlias.name), via: { alias: ref.version } };
  const list = await versionList(sql, dataset.id);
  throw new VhError("not_found", `${uri}: dataset "${dataset.name}" has no version or alias "${ref.version}"; its versions: ${list.text}.`, { versions: list.names });
}

// ---- presenting ---------------------------------------------------------------------------------

export interface VersionSummary {
  uri: string;
  version: string;
  id: string;
  fileCount: number;
  size: number;
  aliases: string[];
  /** The execution whose outputs made it; null when a person made it. */
  execution: { id: string; counter: number } | null;
  createdBy: string;
  createdAt: string;
}

export interface DatasetSummary {
  name: string;
  versions: number;
  /** The newest version's URI. */
  latest: string | null;
  createdAt: string;
}

export interface DatasetRecord extends DatasetSummary {
  /** Newest first. */
  results: VersionSummary[];
}

export interface VersionRecord extends VersionSummary {
  dataset: string;
  latest: boolean;
  files: { path: string; datum: string; datumId: string; sha256: string; size: number }[];
  /** Executions whose inputs resolved to this version (execution_dataset_inputs), oldest first. */
  usedBy: { counter: number; input: string; uri: string; status: string }[];
}

type SummaryRow = VersionRow & { file_count: number; size: string; aliases: string[]; counter: number | null };

function presentSummary(dataset: string, r: SummaryRow): VersionSummary {
  return {
    uri: datasetUri(dataset, r.name),
    version: r.name,
    id: r.id,
    fileCount: r.file_count,
    size: Number(r.size),
    aliases: r.aliases,
    execution: r.execution_id && r.counter !== null ? { id: r.execution_id, counter: r.counter } : null,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
  };
}

async function summaries(sql: Conn, datasetId: string, versionId: string | null): Promise<SummaryRow[]> {
  return sql<SummaryRow[]>`
    select v.*, e.counter,
      (select count(*)::int from dataset_version_files f where f.version_id = v.id) as file_count,
      (select coalesce(sum(f.size), 0)::text from dataset_version_files f where f.version_id = v.id) as size,
      coalesce((select array_agg(a.name order by a.name) from dataset_aliases a where a.version_id = v.id), '{}') as aliases
    from dataset_versions v left join executions e on e.id = v.execution_id
    where v.dataset_id = ${datasetId} ${versionId ? sql`and v.id = ${versionId}` : sql``}
    order by v.seq desc`;
}

export async function listDatasets(sql: Sql, projectId: string): Promise<DatasetSummary[]> {
  const rows = await sql<(DatasetRow & { versions: number; latest: string | null })[]>`
    select d.*, (select count(*)::int from dataset_versions v where v.dataset_id = d.id) as versions,
      (select v.name from dataset_versions v where v.dataset_id = d.id order by v.seq desc limit 1) as latest
    from datasets d where d.project_id = ${projectId} order by d.name`;
  return rows.map((d) => ({ name: d.name, versions: d.versions, latest: d.latest ? datasetUri(d.name, d.latest) : null, createdAt: d.created_at.toISOString() }));
}

export async function showDataset(sql: Sql, project: Pick<Project, "id" | "name">, name: string): Promise<DatasetRecord> {
  const d = await datasetByName(sql, project.id, name);
  if (!d) {
    const others = await listDatasets(sql, project.id);
    throw new VhError("not_found", `Project ${project.name} has no dataset "${name}" (${others.length ? `its datasets: ${others.map((o) => o.name).join(", ")}` : "it has no datasets yet"}).`);
  }
  const results = (await summaries(sql, d.id, null)).map((r) => presentSummary(d.name, r));
  return { name: d.name, versions: results.length, latest: results[0]?.uri ?? null, createdAt: d.created_at.toISOString(), results };
}

export async function versionRecord(sql: Sql, r: ResolvedVersion): Promise<VersionRecord> {
  const [summary] = await summaries(sql, r.dataset.id, r.version.id);
  const latest = await latestVersion(sql, r.dataset.id);
  const usedBy = await sql<{ counter: number; input: string; uri: string; status: string }[]>`
    select e.counter, i.input, i.uri, e.status from execution_dataset_inputs i join executions e on e.id = i.execution_id
    where i.version_id = ${r.version.id} order by i.resolved_at, e.counter, i.input`;
  return {
    ...presentSummary(r.dataset.name, summary!),
    dataset: r.dataset.name,
    latest: latest?.id === r.version.id,
    files: (await filesOf(sql, r.version.id)).map((f) => ({ path: f.path, datum: `datum://${f.datumId}`, datumId: f.datumId, sha256: f.sha256, size: f.size })),
    usedBy: usedBy.map((u) => ({ counter: u.counter, input: u.input, uri: u.uri, status: u.status })),
  };
}
