/**
 * Deleting an execution: its log lines, metadata events and outputs (the datum rows and their
 * stored objects) go; the execution's row stays, as the record of what ran (code, command,
 * parameters, inputs with checksums) with its status history, and a `deleted` history entry says
 * who deleted it and what was removed. Nothing is deleted while the execution is active, or while
 * a model version or an active execution depends on its outputs: those are refused (`conflict`,
 * HTTP 409) naming what stands in the way. A dry run makes every check and counts, and writes
 * nothing.
 *
 * The rows go in one transaction that holds the execution's row lock (the lock every status
 * change takes, app/executions/state.ts); the stored objects are removed after it commits, since
 * a store cannot join a transaction: a failure there leaves objects no row points to, never a row
 * whose bytes are gone.
 */
import type postgres from "postgres";
import type { Sql } from "../../db/client.js";
import { mayBeRetried, willBeRetried } from "../../db/queries/executions.js";
import type { Cols } from "../../db/queries/rows.js";
import type { executions } from "../../db/schema/executions.js";
import type { Store } from "../contracts/store.js";
import { StoreError, VhError } from "../errors.js";
import { versionUri } from "../models/uri.js";
import { ACTIVE } from "./state.js";

export interface DeleteDeps {
  sql: Sql;
  store: Store;
  /** VH_LOST_RETRIES: a `lost` execution with retries left is queued again, so it is still active. */
  lostRetries: number;
  maxAttempts?: number;
}

export interface DeleteOptions {
  /** Who asks (an API token's name): recorded in the execution's row and its status history. */
  by: string;
  /** Check and count only. */
  dryRun?: boolean;
}

/** What a deletion removed (or, in a dry run, would remove). */
export interface DeletionSummary {
  counter: number;
  dryRun: boolean;
  outputs: number;
  /** The outputs' bytes. */
  bytes: number;
  logLines: number;
  metadataEvents: number;
}

type Target = Cols<typeof executions, "id" | "counter" | "status" | "stop_cause" | "deleted_at" | "deleted_by">;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** The reason in the `deleted` history entry: who, and what went. */
export function deletionReason(by: string, s: Pick<DeletionSummary, "outputs" | "bytes" | "logLines" | "metadataEvents">): string {
  return `Deleted by ${by}: ${plural(s.outputs, "output")} (${plural(s.bytes, "byte")}), ${plural(s.logLines, "log line")} and ${plural(s.metadataEvents, "metadata event")} removed.`;
}

/** Throws `conflict` when something still needs the execution's outputs or it has not ended for good. */
async function refuseWhileNeeded(tx: postgres.TransactionSql, deps: DeleteDeps, e: Target): Promise<void> {
  const name = `Execution #${e.counter}`;
  if (e.deleted_at) throw new VhError("conflict", `${name} was already deleted (${e.deleted_at.toISOString()}, by ${e.deleted_by ?? "?"}).`);
  if (ACTIVE.includes(e.status)) {
    throw new VhError(
      "conflict",
      `${name} is ${e.status}: it can be deleted once it has ended. Stop it first (vh exec stop ${e.counter}, or POST …/executions/${e.counter}/stop).`,
      { status: e.status },
    );
  }
  // The same rule as the retry itself (worker/scheduler/settle.ts): lost or failed, not stopped, retries left.
  if (mayBeRetried(e.status) && (await willBeRetried(tx, e.id, { lostRetries: deps.lostRetries, ...(deps.maxAttempts !== undefined ? { maxAttempts: deps.maxAttempts } : {}) }))) {
    const how = e.status === "failed" ? "failed" : e.stop_cause === "spot-interruption" ? "was interrupted on spot" : "was lost";
    const rule = e.status === "failed" ? "the retries it asked for" : e.stop_cause === "spot-interruption" ? "VH_MAX_ATTEMPTS" : "VH_LOST_RETRIES";
    throw new VhError("conflict", `${name} ${how} and will be queued again (${rule}): delete it once that run has ended.`, { status: e.status });
  }
  // A version made from its outputs (by its sidecar, or registered from its datums) holds them: its audit trail and lineage need them.
  const versions = await tx<{ model: string; number: number; status: string }[]>`
    select m.name as model, v.number, v.status from model_versions v join models m on m.id = v.model_id
    where v.source_execution_id = ${e.id}
       or exists (select 1 from model_version_files f join datums d on d.id = f.datum_id where f.version_id = v.id and d.execution_id = ${e.id})
    order by m.name, v.number`;
  if (versions.length) {
    const list = versions.map((v) => `${versionUri(v.model, v.number)} (${v.status})`);
    throw new VhError(
      "conflict",
      `${name} cannot be deleted: ${list.length === 1 ? "the model version" : "the model versions"} ${list.join(", ")} ${list.length === 1 ? "was" : "were"} made from its outputs, and a model version keeps the execution that produced it (its files, audit trail and lineage).`,
      { modelVersions: versions.map((v) => ({ version: versionUri(v.model, v.number), status: v.status })) },
    );
  }
  // A dataset version holding one of its outputs: versions are immutable, so the files stay.
  const datasets = await tx<{ dataset: string; version: string }[]>`
    select distinct ds.name as dataset, v.name as version from dataset_version_files f
    join datums d on d.id = f.datum_id join dataset_versions v on v.id = f.version_id join datasets ds on ds.id = v.dataset_id
    where d.execution_id = ${e.id} order by ds.name, v.name`;
  if (datasets.length) {
    const list = datasets.map((d) => `dataset://${d.dataset}/${d.version}`);
    throw new VhError(
      "conflict",
      `${name} cannot be deleted: ${list.length === 1 ? "the dataset version" : "the dataset versions"} ${list.join(", ")} ${list.length === 1 ? "holds" : "hold"} files it wrote, and a dataset version never changes.`,
      { datasetVersions: list },
    );
  }
  // An execution that has not ended may still download one of its outputs as an input.
  const readers = await tx<{ counter: number; status: string }[]>`
    select r.counter, r.status from executions r
    where r.status = any(${ACTIVE as string[]}::text[]) and r.id <> ${e.id}
      and exists (select 1 from jsonb_array_elements(r.inputs) i join datums d on d.id = (i->>'datumId')::uuid where d.execution_id = ${e.id})
    order by r.counter`;
  if (readers.length) {
    const list = readers.map((r) => `#${r.counter} (${r.status})`).join(", ");
    const one = readers.length === 1;
    throw new VhError("conflict", `${name} cannot be deleted yet: ${one ? "execution" : "executions"} ${list} ${one ? "reads" : "read"} its outputs as inputs; delete it once ${one ? "that one has" : "they have"} ended.`, {
      readers: readers.map((r) => r.counter),
    });
  }
}

/** Deletes the execution `id` (see the module comment); returns what was removed. */
export async function deleteExecution(deps: DeleteDeps, id: string, opts: DeleteOptions): Promise<DeletionSummary> {
  const { summary, keys } = await deps.sql.begin(async (tx) => {
    const [e] = await tx<Target[]>`
      select id, counter, status, stop_cause, deleted_at, deleted_by from executions where id = ${id} for update`;
    if (!e) throw new VhError("not_found", `Execution ${id} does not exist.`);
    // Its outputs locked before the checks: a creation reading one waits for this, then finds it gone
    // (app/executions/create.ts insertExecution); one that committed first is seen as a reader below.
    await tx`select id from datums where execution_id = ${id} for update`;
    await refuseWhileNeeded(tx, deps, e);
    const [counts] = await tx<{ log_lines: number; metadata_events: number; outputs: number; bytes: string }[]>`
      select (select count(*)::int from log_lines where execution_id = ${id}) as log_lines,
        (select count(*)::int from metadata_events where execution_id = ${id}) as metadata_events,
        (select count(*)::int from datums where execution_id = ${id}) as outputs,
        (select coalesce(sum(size), 0)::text from datums where execution_id = ${id}) as bytes`;
    const summary: DeletionSummary = {
      counter: e.counter,
      dryRun: opts.dryRun ?? false,
      outputs: counts!.outputs,
      bytes: Number(counts!.bytes),
      logLines: counts!.log_lines,
      metadataEvents: counts!.metadata_events,
    };
    if (opts.dryRun) return { summary, keys: [] as string[] };
    await tx`delete from log_lines where execution_id = ${id}`;
    await tx`delete from metadata_events where execution_id = ${id}`;
    const gone = await tx<{ store_key: string }[]>`delete from datums where execution_id = ${id} returning store_key`;
    // The sealed secrets were kept to launch the job and redact its log: neither will happen again.
    await tx`
      update executions set deleted_at = now(), deleted_by = ${opts.by}, metadata_latest = '{}'::jsonb, environment_secrets = null
      where id = ${id}`;
    await tx`insert into execution_status_history (execution_id, status, reason) values (${id}, 'deleted', ${deletionReason(opts.by, summary)})`;
    return { summary, keys: gone.map((g) => g.store_key) };
  });
  const failed: string[] = [];
  let firstError: unknown;
  for (const key of keys) {
    try {
      await deps.store.delete(key);
    } catch (err) {
      failed.push(key);
      firstError ??= err;
    }
  }
  if (failed.length) {
    throw new StoreError(
      `Execution #${summary.counter} was deleted, but ${plural(failed.length, "stored output")} of its ${keys.length} could not be removed from the artifact store (${String(firstError)}); nothing points to them any more: remove ${failed.length === 1 ? "it" : "them"} from the store by hand (${failed.slice(0, 5).join(", ")}${failed.length > 5 ? ", …" : ""}).`,
      { keys: failed },
    );
  }
  return summary;
}
