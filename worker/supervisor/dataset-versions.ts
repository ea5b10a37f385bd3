/**
 * After an execution's final outputs are stored: the dataset versions its sidecars name
 * (`valohai.dataset-versions`, app/datasets/outputs.ts), one transaction each, with the line
 * valohai-utils prints ("Created dataset version 'dataset://x/v' with N files") written into the
 * execution's log as a `status` line in the same transaction. Safe to run twice: a version this
 * execution made already is left as it is, and its line is not written again.
 */
import type { Sql } from "../../db/client.js";
import { lastOutputsOf } from "../../db/queries/datums.js";
import { isUsersMistake } from "../../app/errors.js";
import { createPlannedVersion, createdLine, DATASET_VERSIONS_KEY, planVersions, type OutputDatum } from "../../app/datasets/outputs.js";
import { datasetUri } from "../../app/datasets/uri.js";
import type { Tx } from "../../app/datasets/versions.js";

/** Appends one line of vh's own to the execution's log (after the job's: the log's ingestion is done). */
async function appendStatusLine(tx: Tx, executionId: string, line: string): Promise<void> {
  await tx`
    with s as (update executions set log_seq = log_seq + 1 where id = ${executionId} returning log_seq)
    insert into log_lines (execution_id, seq, time, stream, line) select ${executionId}::uuid, s.log_seq, now(), 'status', ${line} from s`;
}

export async function createOutputDatasetVersions(sql: Sql, exec: { id: string }): Promise<{ created: string[]; warnings: string[] }> {
  const rows = await lastOutputsOf(sql, exec.id, { withMetadataKey: DATASET_VERSIONS_KEY });
  if (rows.length === 0) return { created: [], warnings: [] };
  const outputs: OutputDatum[] = rows.map((r) => ({ id: r.id, name: r.name, sha256: r.sha256, size: Number(r.size), metadata: r.metadata }));
  const { versions, warnings } = planVersions(outputs);
  const [e] = await sql<{ counter: number; triggered_by: string | null; project_id: string; project: string }[]>`
    select e.counter, e.triggered_by, e.project_id, p.name as project from executions e join projects p on p.id = e.project_id where e.id = ${exec.id}`;
  if (!e) return { created: [], warnings };
  const project = { id: e.project_id, name: e.project };
  const createdBy = e.triggered_by ?? `execution #${e.counter}`;
  const created: string[] = [];
  for (const plan of versions) {
    const uri = datasetUri(plan.dataset, plan.version);
    try {
      const made = await sql.begin(async (tx) => {
        const m = await createPlannedVersion(tx, project, { id: exec.id, createdBy }, plan);
        if (m.kind === "created") await appendStatusLine(tx, exec.id, createdLine(m));
        return m;
      });
      if (made.kind === "created") created.push(made.uri);
    } catch (err) {
      if (!isUsersMistake(err)) throw err;
      warnings.push(`Dataset version ${uri} was not created from the outputs (${plan.files.map((f) => f.path).slice(0, 5).join(", ")}${plan.files.length > 5 ? ", …" : ""}): ${err.message}`);
    }
  }
  return { created, warnings };
}
