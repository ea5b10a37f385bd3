/**
 * `dataset://NAME/VERSION`, `dataset://NAME/latest` and `dataset://NAME` as step inputs: resolved
 * when the execution is created to every file of the version (store sources with sha256), each
 * under its path in the version, and the exact version recorded (in `inputs`, and in
 * execution_dataset_inputs so "which executions used this version" is one query).
 */
import type { Conn } from "../../db/queries/rows.js";
import type { Project } from "../../db/schema/projects.js";
import type { RequestedInput } from "../../db/schema/executions.js";
import { isUsersMistake, VhError } from "../errors.js";
import { resolveVersion, type Tx } from "./versions.js";

/** The files of the version `uri` names, as inputs of `input`; invalid_input naming the input, the URI and what exists otherwise. */
export async function resolveDatasetInput(sql: Conn, project: Pick<Project, "id" | "name">, input: string, uri: string): Promise<RequestedInput[]> {
  let resolved;
  try {
    resolved = await resolveVersion(sql, project, uri);
  } catch (err) {
    if (isUsersMistake(err)) throw new VhError("invalid_input", `Input "${input}": ${err.message}`, { input, uri, ...(err.details as object | undefined) });
    throw err;
  }
  const files = await sql<{ path: string; datum_id: string; sha256: string; size: string; store_key: string }[]>`
    select f.path, f.datum_id, f.sha256, f.size, d.store_key
    from dataset_version_files f join datums d on d.id = f.datum_id
    where f.version_id = ${resolved.version.id} order by f.path`;
  const dataset = { name: resolved.dataset.name, version: resolved.version.name, versionId: resolved.version.id };
  return files.map((f) => ({
    name: input,
    uri,
    source: { kind: "store", key: f.store_key },
    datumId: f.datum_id,
    sha256: f.sha256,
    size: Number(f.size),
    file: f.path,
    dataset,
  }));
}

/** Records, in the creating transaction, which version each dataset:// input resolved to. */
export async function recordDatasetInputs(tx: Tx, execution: { id: string }, inputs: readonly RequestedInput[]): Promise<void> {
  const rows = new Map<string, { input: string; uri: string; versionId: string }>();
  for (const i of inputs) {
    if (i.dataset) rows.set(`${i.name}\0${i.dataset.versionId}`, { input: i.name, uri: i.uri, versionId: i.dataset.versionId });
  }
  if (rows.size === 0) return;
  const list = [...rows.values()];
  await tx`
    insert into execution_dataset_inputs (execution_id, input, uri, version_id)
    select ${execution.id}::uuid, r.input, r.uri, r.version_id
    from unnest(${list.map((r) => r.input)}::text[], ${list.map((r) => r.uri)}::text[], ${list.map((r) => r.versionId)}::uuid[]) as r(input, uri, version_id)
    on conflict do nothing`;
}

/** Executions that used version `versionId` as an input, oldest first. */
export async function executionsUsingVersion(sql: Conn, versionId: string): Promise<{ id: string; counter: number; input: string; uri: string }[]> {
  return sql<{ id: string; counter: number; input: string; uri: string }[]>`
    select e.id, e.counter, i.input, i.uri from execution_dataset_inputs i join executions e on e.id = i.execution_id
    where i.version_id = ${versionId} order by e.counter, i.input`;
}
