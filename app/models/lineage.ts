/**
 * Lineage, one SQL query each way (recursive CTEs on indexed edges):
 *
 * - upstream ("which data trained model://x/v3"): the version's files → the executions that
 *   produced them → their inputs (execution_inputs: name, uri, datum, sha256) → the executions that
 *   produced those datums → … Each hop is a primary-key probe (execution_inputs by execution_id,
 *   datums by id).
 * - downstream ("who used this version"): executions whose inputs are the version's files (by
 *   datum, execution_inputs_datum) or that resolved a model:// input to it (execution_model_inputs)
 *   → the executions that consumed their outputs (datums_execution, execution_inputs_datum) → …
 *
 * UNION (not UNION ALL) over whole edges makes both terminate on any graph and collapse diamonds.
 */
import type { Sql } from "../../db/client.js";
import { resolveVersion, type ResolvedVersion } from "./versions.js";
import { versionUri } from "./uri.js";

export interface LineageExecution {
  id: string;
  counter: number;
  project: string;
  step: string;
  status: string;
  commitSha: string | null;
  codeSha256: string | null;
  createdAt: string;
  /** Versions of models this execution's outputs became. */
  produced: string[];
}

export interface UpstreamEdge {
  /** The consuming execution; null for the version itself (its files). */
  consumer: string | null;
  input: string | null;
  name: string;
  uri: string;
  datumId: string | null;
  sha256: string;
  size: number;
  /** The execution that produced the datum; null for external data (http, s3 …). */
  producer: string | null;
  /** When the input was a model:// URI: the exact version it resolved to. */
  modelVersion: string | null;
}

export interface DownstreamEdge {
  consumer: string;
  input: string;
  uri: string;
  datumId: string | null;
  /** The upstream execution whose output was consumed; null: consumed the version itself. */
  producer: string | null;
  modelVersion: string | null;
}

export interface Lineage<E> {
  version: string;
  executions: Record<string, LineageExecution>;
  edges: E[];
}

interface ExecCols {
  e_counter: number | null;
  e_project: string | null;
  e_step: string | null;
  e_status: string | null;
  e_commit: string | null;
  e_code: string | null;
  e_created: Date | null;
  e_produced: string[] | null;
}

function addExecution(into: Record<string, LineageExecution>, id: string | null, r: ExecCols): void {
  if (!id || into[id] || r.e_counter === null) return;
  into[id] = {
    id,
    counter: r.e_counter,
    project: r.e_project ?? "",
    step: r.e_step ?? "",
    status: r.e_status ?? "",
    commitSha: r.e_commit,
    codeSha256: r.e_code,
    createdAt: r.e_created?.toISOString() ?? "",
    produced: r.e_produced ?? [],
  };
}

/** The upstream query for a version id: one statement. Exported for the bench. */
export function upstreamQuery(sql: Sql, versionId: string) {
  return sql<(ExecCols & { consumer: string | null; input: string | null; name: string; uri: string; datum_id: string | null; sha256: string; size: string; producer: string | null; model_version: string | null })[]>`
    with recursive edges (consumer, input, name, uri, datum_id, sha256, size, producer) as (
        select null::uuid, null::text, f.name, 'datum://' || f.datum_id, f.datum_id, f.sha256, f.size, d.execution_id
        from model_version_files f join datums d on d.id = f.datum_id
        where f.version_id = ${versionId}
      union
        select ei.execution_id, ei.input, ei.name, ei.uri, ei.datum_id, ei.sha256, ei.size, d.execution_id
        from edges e
        join execution_inputs ei on ei.execution_id = e.producer
        left join datums d on d.id = ei.datum_id
    )
    select e.consumer, e.input, e.name, e.uri, e.datum_id, e.sha256, e.size, e.producer,
      (select 'model://' || m.name || '/v' || v.number
         from execution_model_inputs emi
         join model_versions v on v.id = emi.version_id
         join models m on m.id = v.model_id
         join model_version_files f on f.version_id = v.id and f.datum_id = e.datum_id
         where emi.execution_id = e.consumer and emi.input = e.input limit 1) as model_version,
      x.counter as e_counter, p.name as e_project, x.step as e_step, x.status as e_status, x.commit_sha as e_commit,
      x.code_sha256 as e_code, x.created_at as e_created,
      (select array_agg('model://' || m.name || '/v' || v.number order by m.name, v.number)
         from model_versions v join models m on m.id = v.model_id where v.source_execution_id = e.producer) as e_produced
    from edges e
    left join executions x on x.id = e.producer
    left join projects p on p.id = x.project_id`;
}

/** The downstream query for a version id: one statement. Exported for the bench. */
export function downstreamQuery(sql: Sql, versionId: string) {
  return sql<(ExecCols & { consumer: string; input: string; uri: string; datum_id: string | null; producer: string | null; model_version: string | null })[]>`
    with recursive uses (consumer, input, uri, datum_id, producer) as (
        select ei.execution_id, ei.input, ei.uri, ei.datum_id, null::uuid
        from model_version_files f join execution_inputs ei on ei.datum_id = f.datum_id
        where f.version_id = ${versionId}
      union
        select emi.execution_id, emi.input, emi.uri, null::uuid, null::uuid
        from execution_model_inputs emi where emi.version_id = ${versionId}
      union
        select ei.execution_id, ei.input, ei.uri, ei.datum_id, u.consumer
        from uses u
        join datums d on d.execution_id = u.consumer
        join execution_inputs ei on ei.datum_id = d.id
    )
    select u.consumer, u.input, u.uri, u.datum_id, u.producer,
      (select 'model://' || m.name || '/v' || v.number
         from execution_model_inputs emi join model_versions v on v.id = emi.version_id join models m on m.id = v.model_id
         where emi.execution_id = u.consumer and emi.input = u.input limit 1) as model_version,
      x.counter as e_counter, p.name as e_project, x.step as e_step, x.status as e_status, x.commit_sha as e_commit,
      x.code_sha256 as e_code, x.created_at as e_created,
      (select array_agg('model://' || m.name || '/v' || v.number order by m.name, v.number)
         from model_versions v join models m on m.id = v.model_id where v.source_execution_id = u.consumer) as e_produced
    from uses u
    join executions x on x.id = u.consumer
    left join projects p on p.id = x.project_id`;
}

export async function upstream(sql: Sql, resolved: ResolvedVersion): Promise<Lineage<UpstreamEdge>> {
  const rows = await upstreamQuery(sql, resolved.version.id);
  const executions: Record<string, LineageExecution> = {};
  const edges: UpstreamEdge[] = [];
  for (const r of rows) {
    addExecution(executions, r.producer, r);
    edges.push({
      consumer: r.consumer,
      input: r.input,
      name: r.name,
      uri: r.uri,
      datumId: r.datum_id,
      sha256: r.sha256,
      size: Number(r.size),
      producer: r.producer,
      modelVersion: r.model_version,
    });
  }
  edges.sort((a, b) => (a.consumer ?? "").localeCompare(b.consumer ?? "") || (a.input ?? "").localeCompare(b.input ?? "") || a.name.localeCompare(b.name));
  return { version: resolved.uri, executions, edges };
}

export async function downstream(sql: Sql, resolved: ResolvedVersion): Promise<Lineage<DownstreamEdge>> {
  const rows = await downstreamQuery(sql, resolved.version.id);
  const executions: Record<string, LineageExecution> = {};
  const byKey = new Map<string, DownstreamEdge>();
  for (const r of rows) {
    addExecution(executions, r.consumer, r);
    // The same use may arrive by datum and by the model link: keep one, with the most detail.
    const key = `${r.consumer}\0${r.input}\0${r.producer ?? ""}`;
    const prev = byKey.get(key);
    if (prev) {
      prev.datumId ??= r.datum_id;
      prev.modelVersion ??= r.model_version;
      continue;
    }
    byKey.set(key, { consumer: r.consumer, input: r.input, uri: r.uri, datumId: r.datum_id, producer: r.producer, modelVersion: r.model_version });
  }
  const edges = [...byKey.values()].sort((a, b) => (executions[a.consumer]?.counter ?? 0) - (executions[b.consumer]?.counter ?? 0) || a.input.localeCompare(b.input));
  return { version: resolved.uri, executions, edges };
}

export interface FullLineage {
  version: string;
  status: string;
  filesSha256: string;
  upstream: Lineage<UpstreamEdge>;
  downstream: Lineage<DownstreamEdge>;
}

export async function lineageOf(deps: { sql: Sql }, uri: string): Promise<FullLineage> {
  const resolved = await resolveVersion(deps.sql, uri);
  const [up, down] = await Promise.all([upstream(deps.sql, resolved), downstream(deps.sql, resolved)]);
  return { version: versionUri(resolved.model.name, resolved.version.number), status: resolved.version.status, filesSha256: resolved.version.files_sha256, upstream: up, downstream: down };
}

/** The external data and datums at the leaves and along the way: "which data trained it". */
export function trainingData(up: Lineage<UpstreamEdge>): UpstreamEdge[] {
  return up.edges.filter((e) => e.consumer !== null);
}
