/**
 * Reproducing an execution: a new execution with the same commit, code snapshot, image (pinned to
 * the digest the original ran, where its runtime recorded one), command, parameters, environment
 * (the sealed secret values copied sealed, `VH_SEED` with the rest) and the same input versions:
 * the files the original's inputs resolved to when it was created, each held to the sha256 the
 * original's host fetched, so `model://…/latest` stays what it was and an http(s) URL whose bytes
 * changed fails at launch (the host checks the sha256: worker/runners/shared/inputs.ts) instead of
 * running on other data. Nothing is resolved again and valohai.yaml is not read again: the row is
 * copied.
 *
 * With `verify`, the end of the reproduction (app/executions/state.ts adds the
 * `reproduction_verdict` job in the statement that ends it) compares it with the original: each
 * output's sha256, each metric's last value (within a tolerance), and how each ended.
 */
import type postgres from "postgres";
import type { Sql } from "../../db/client.js";
import type { RequestedInput } from "../../db/schema/executions.js";
import type { ReproductionVerdict } from "../../db/schema/reproductions.js";
import { lastOutputsOf } from "../../db/queries/datums.js";
import { fetchedInputs, mayBeRetried, willBeRetried } from "../../db/queries/executions.js";
import { addJob, requestSchedulerPass } from "../../db/queries/jobs.js";
import { reproductionOf, type ReproductionRow } from "../../db/queries/reproductions.js";
import type { Cols } from "../../db/queries/rows.js";
import type { executions } from "../../db/schema/executions.js";
import { VhError } from "../errors.js";
import { recordDatasetInputs } from "../datasets/inputs.js";
import { recordModelInputs } from "../models/inputs.js";
import { MASK } from "./secrets.js";
import { isTerminal } from "./state.js";
import type { ExecutionRow } from "./present.js";

export type { ReproductionVerdict };

export interface ReproduceOptions {
  /** Compare with the original when it ends, and record the verdict. */
  verify: boolean;
  /** Metrics whose absolute or relative difference is at most this are equal; 0 (the default): exactly. */
  tolerance?: number;
  /** Who asked (a forge login, or an API token's name). */
  triggeredBy: string | null;
}

/** Largest tolerance accepted: beyond it, "equal" would say little. */
export const MAX_TOLERANCE = 1;

/** The image to run: `name@sha256:…` when the original's runtime recorded the digest it ran, else its image as written. */
export function pinnedImage(image: string, runtime: Record<string, unknown> | null): string {
  const digest = runtime?.["imageDigest"];
  if (typeof digest !== "string" || digest === "") return image;
  // `docker inspect`'s RepoDigests entries are already `repository@sha256:…`.
  if (/^[^@\s]+@sha256:[0-9a-f]{64}$/.test(digest)) return digest;
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) return image;
  const at = image.indexOf("@");
  const name = at >= 0 ? image.slice(0, at) : image.replace(/:[^/:]*$/, "");
  return `${name}@${digest}`;
}

/**
 * The original's inputs as the reproduction must fetch them: the same sources, each with the sha256
 * (and size) its host fetched. An input whose bytes were never fetched (the original ended before
 * it got that far) and that names no checksum of its own cannot be held to anything: refused.
 */
async function pinnedInputs(sql: Sql, original: ExecutionRow): Promise<RequestedInput[]> {
  const fetched = await fetchedInputs(sql, original.id);
  const unknown: string[] = [];
  const inputs = original.inputs.map((i): RequestedInput => {
    const f = fetched.find((x) => x.input === i.name && x.name === i.file);
    const sha256 = f?.sha256 ?? i.sha256;
    const size = f ? Number(f.size) : i.size;
    if (!sha256) unknown.push(`${i.name} (${i.uri})`);
    return { ...i, ...(sha256 ? { sha256 } : {}), ...(size !== undefined ? { size } : {}) };
  });
  if (unknown.length) {
    throw new VhError(
      "conflict",
      `Execution #${original.counter} never fetched input ${unknown.join(", ")}, so which bytes it read is not known and a reproduction could not be held to them. Run it again instead (vh exec run).`,
      { inputs: unknown },
    );
  }
  return inputs;
}

function checkTolerance(t: number | undefined): number {
  const tolerance = t ?? 0;
  if (!Number.isFinite(tolerance) || tolerance < 0 || tolerance > MAX_TOLERANCE) {
    throw new VhError("bad_request", `tolerance must be a number from 0 (exactly equal) to ${MAX_TOLERANCE}, e.g. 1e-9; not ${String(t)}.`);
  }
  return tolerance;
}

/**
 * Checks that `original` can be reproduced now (and verified, when asked); throws a VhError a user
 * can act on. Nothing is written.
 */
async function prepare(sql: Sql, original: ExecutionRow, opts: ReproduceOptions) {
  const tolerance = checkTolerance(opts.tolerance);
  if (opts.verify) {
    if (original.deleted_at) {
      throw new VhError("conflict", `Execution #${original.counter} was deleted: its outputs and metrics are gone, so a reproduction cannot be compared with it. Reproduce it without verify.`);
    }
    if (!isTerminal(original.status)) {
      throw new VhError("conflict", `Execution #${original.counter} is ${original.status}: a reproduction is compared with what it wrote, so wait until it has ended (vh exec watch ${original.counter}).`);
    }
  }
  if (original.deleted_at) refuseLostSecrets(original);
  if (!original.code_sha256) throw new VhError("conflict", `Execution #${original.counter} has no code snapshot recorded, so its code cannot be run again.`);
  return { tolerance, inputs: await pinnedInputs(sql, original), image: pinnedImage(original.image, original.runtime) };
}

/**
 * Deleting an execution drops its sealed secret values (app/executions/delete.ts); its recorded
 * environment holds them masked. A reproduction would run with `***` for each, which is not the
 * same run, so it is refused rather than started.
 */
function refuseLostSecrets(o: Pick<ExecutionRow, "counter" | "environment_variables">): void {
  const masked = Object.entries(o.environment_variables).filter(([, v]) => v.includes(MASK)).map(([k]) => k);
  if (masked.length) {
    throw new VhError(
      "conflict",
      `Execution #${o.counter} was deleted, and with it the secret values of ${masked.join(", ")}: a reproduction would run with *** in their place. Nothing was created; run the step again with its secrets instead.`,
      { secrets: masked },
    );
  }
}

export interface Reproduction {
  id: string;
  counter: number;
}

/**
 * Writes the reproduction of `original` (its row copied with the pinned image and inputs, its status
 * history, the link, a scheduler pass) in one transaction, with `alsoInTransaction` (a pull
 * request's sweep rows) in the same one.
 */
export async function reproduceExecution<T = undefined>(
  sql: Sql,
  original: ExecutionRow,
  opts: ReproduceOptions,
  alsoInTransaction?: (tx: postgres.TransactionSql, created: Reproduction) => Promise<T>,
): Promise<Reproduction & { extra: T | undefined }> {
  const { tolerance, inputs, image } = await prepare(sql, original, opts);
  const title = `Reproduction of #${original.counter}${original.title ? `: ${original.title}` : ""}`.slice(0, 500);
  return sql.begin(async (tx) => {
    // Deleted since it was read: its secrets may be gone (checked again on the row as it is now, held until commit).
    const [now] = await tx<Pick<ExecutionRow, "counter" | "environment_variables" | "deleted_at">[]>`
      select counter, environment_variables, deleted_at from executions where id = ${original.id} for share`;
    if (!now) throw new VhError("not_found", `Execution #${original.counter} does not exist any more.`);
    if (now.deleted_at) refuseLostSecrets(now);
    // The datums it reads must still exist, and stay until this commits (as app/executions/create.ts insertExecution holds them).
    const datumIds = [...new Set(inputs.flatMap((i) => (i.datumId ? [i.datumId] : [])))];
    if (datumIds.length) {
      const held = await tx<{ id: string }[]>`select id from datums where id = any(${datumIds}::uuid[]) for key share`;
      if (held.length < datumIds.length) {
        const gone = datumIds.filter((d) => !held.some((h) => h.id === d)).map((d) => `datum://${d}`);
        throw new VhError("conflict", `Execution #${original.counter} read ${gone.join(", ")}, which was deleted since: it cannot be reproduced with the same inputs. Nothing was created.`, { deleted: gone });
      }
    }
    const [p] = await tx<{ execution_counter: number }[]>`
      update projects set execution_counter = execution_counter + 1 where id = ${original.project_id} returning execution_counter`;
    const counter = p!.execution_counter;
    const [row] = await tx<{ id: string }[]>`
      insert into executions (project_id, counter, step, title, status, code_sha256, commit_sha, triggered_by, yaml_path, image, command, command_list,
        parameters, inputs, environment_variables, environment_secrets, gpus, time_limit_s, no_output_timeout_s, queued_at, environment)
      select o.project_id, ${counter}, o.step, ${title}, 'queued', o.code_sha256, o.commit_sha, ${opts.triggeredBy}, o.yaml_path, ${image}, o.command, o.command_list,
        o.parameters, ${tx.json(inputs as never)}, o.environment_variables, o.environment_secrets, o.gpus, o.time_limit_s, o.no_output_timeout_s, now(), o.environment
      from executions o where o.id = ${original.id}
      returning id`;
    const id = row!.id;
    await tx`insert into execution_status_history (execution_id, status, reason) values
      (${id}, 'created', ${`A reproduction of #${original.counter}${opts.verify ? ", to be compared with it" : ""}.`}), (${id}, 'queued', null)`;
    await tx`insert into execution_reproductions (execution_id, original_id, verify, tolerance) values (${id}, ${original.id}, ${opts.verify}, ${tolerance})`;
    await recordModelInputs(tx, { id, counter, triggeredBy: opts.triggeredBy }, inputs);
    // So the dataset versions list it among their users, as they do the original.
    await recordDatasetInputs(tx, { id }, inputs);
    await requestSchedulerPass(tx);
    const created = { id, counter };
    const extra = alsoInTransaction ? await alsoInTransaction(tx, created) : undefined;
    return { ...created, extra };
  });
}

type Ended = Cols<typeof executions, "id" | "counter" | "status" | "metadata_latest">;

/** Each output's sha256 by name (a file uploaded live and again at the end: its last upload). */
async function outputsOf(sql: Sql, executionId: string): Promise<Map<string, string>> {
  return new Map((await lastOutputsOf(sql, executionId)).map((r) => [r.name, r.sha256]));
}

/** A JSON value as one canonical string (keys sorted), to tell equal values apart from different ones. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/** How far apart two metric values are: both differences for two numbers, nulls otherwise. */
export function metricDelta(a: unknown, b: unknown): { absolute: number | null; relative: number | null } {
  if (typeof a !== "number" || typeof b !== "number") return { absolute: null, relative: null };
  const absolute = Math.abs(b - a);
  const scale = Math.max(Math.abs(a), Math.abs(b));
  return { absolute, relative: scale === 0 ? 0 : absolute / scale };
}

/** Whether two last values of a metric are the same within `tolerance` (absolute or relative difference). */
export function metricEqual(a: unknown, b: unknown, tolerance: number): boolean {
  if (typeof a === "number" && typeof b === "number") {
    if (a === b) return true;
    const d = metricDelta(a, b);
    return d.absolute! <= tolerance || d.relative! <= tolerance;
  }
  return canonical(a) === canonical(b);
}

/** What the reproduction's end shows against its original: pure, from both records and their outputs. */
export function verdictOf(
  original: { status: string; metrics: Record<string, unknown>; outputs: Map<string, string> },
  reproduction: { status: string; metrics: Record<string, unknown>; outputs: Map<string, string> },
  tolerance: number,
  now = new Date(),
): ReproductionVerdict {
  const files: ReproductionVerdict["files"] = { missing: [], extra: [], changed: [], same: 0 };
  for (const [name, sha256] of [...original.outputs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const got = reproduction.outputs.get(name);
    if (got === undefined) files.missing.push({ name, sha256 });
    else if (got !== sha256) files.changed.push({ name, original: sha256, reproduction: got });
    else files.same++;
  }
  for (const [name, sha256] of [...reproduction.outputs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!original.outputs.has(name)) files.extra.push({ name, sha256 });
  }
  const metrics: ReproductionVerdict["metrics"] = { changed: [], missing: [], extra: [], same: 0 };
  for (const key of Object.keys(original.metrics).sort()) {
    const a = original.metrics[key];
    if (!(key in reproduction.metrics)) {
      metrics.missing.push({ key, original: a });
      continue;
    }
    const b = reproduction.metrics[key];
    if (metricEqual(a, b, tolerance)) metrics.same++;
    else metrics.changed.push({ key, original: a, reproduction: b, ...metricDelta(a, b) });
  }
  for (const key of Object.keys(reproduction.metrics).sort()) {
    if (!(key in original.metrics)) metrics.extra.push({ key, reproduction: reproduction.metrics[key] });
  }
  const differs =
    original.status !== reproduction.status ||
    files.missing.length + files.extra.length + files.changed.length > 0 ||
    metrics.changed.length + metrics.missing.length + metrics.extra.length > 0;
  return {
    result: differs ? "different" : "equal",
    comparedAt: now.toISOString(),
    tolerance,
    status: { original: original.status, reproduction: reproduction.status },
    files,
    metrics,
  };
}

/** The reproduction's verdict against its original, from what both recorded. */
export async function compareWithOriginal(sql: Sql, reproductionId: string, originalId: string, tolerance: number): Promise<ReproductionVerdict> {
  const rows = await sql<Ended[]>`select id, counter, status, metadata_latest from executions where id in (${reproductionId}, ${originalId})`;
  const rep = rows.find((r) => r.id === reproductionId);
  const orig = rows.find((r) => r.id === originalId);
  if (!rep || !orig) throw new VhError("not_found", `Execution ${!rep ? reproductionId : originalId} does not exist.`);
  return verdictOf(
    { status: orig.status, metrics: orig.metadata_latest, outputs: await outputsOf(sql, originalId) },
    { status: rep.status, metrics: rep.metadata_latest, outputs: await outputsOf(sql, reproductionId) },
    tolerance,
  );
}

/**
 * The `reproduction_verdict` task: once a reproduction asked to verify has ended for good, compares
 * it with its original and records the verdict (once: a second run finds it recorded); when a pull
 * request asked for it, its reply is queued in the same transaction. Returns the verdict recorded,
 * or null when there is nothing to do (not a verifying reproduction, or not ended for good: a lost
 * one that will be retried is compared at its next end, which adds the job again).
 */
export async function settleReproduction(sql: Sql, executionId: string, opts: { lostRetries: number; maxAttempts?: number }): Promise<ReproductionVerdict | null> {
  const rep = await reproductionOf(sql, executionId);
  if (!rep || !rep.verify) return null;
  if (rep.verdict) return rep.verdict;
  const [e] = await sql<Cols<typeof executions, "status" | "stop_cause">[]>`select status, stop_cause from executions where id = ${executionId}`;
  if (!e || !isTerminal(e.status)) return null;
  if (mayBeRetried(e.status) && (await willBeRetried(sql, executionId, opts))) return null;
  const verdict = await compareWithOriginal(sql, executionId, rep.original_id, rep.tolerance);
  return sql.begin(async (tx) => {
    const written = await tx`update execution_reproductions set verdict = ${tx.json(verdict as never)} where execution_id = ${executionId} and verdict is null returning execution_id`;
    if (written.length === 0) return (await reproductionOf(tx, executionId))?.verdict ?? verdict;
    const [pr] = await tx<{ n: number }[]>`
      select 1 as n from sweep_executions se join sweeps s on s.id = se.sweep_id
      where se.execution_id = ${executionId} and s.source ->> 'kind' = 'forge' and s.source -> 'pr' <> 'null'::jsonb`;
    if (pr) await addJob(tx, "reproduction_reply", { executionId }, { jobKey: `reproduction_reply:${executionId}` });
    return verdict;
  });
}

/** A reproduction as the API shows it: its original, whether it is verified, and the verdict once known. */
export interface ReproductionView {
  execution: { id: string; counter: number; status: string };
  original: { id: string; counter: number; status: string };
  verify: boolean;
  tolerance: number;
  verdict: ReproductionVerdict | null;
}

export async function reproductionView(sql: Sql | postgres.TransactionSql, executionId: string): Promise<ReproductionView | null> {
  const rep: ReproductionRow | null = await reproductionOf(sql, executionId);
  if (!rep) return null;
  const rows = await sql<Cols<typeof executions, "id" | "counter" | "status">[]>`
    select id, counter, status from executions where id in (${rep.execution_id}, ${rep.original_id})`;
  const of = (id: string) => {
    const r = rows.find((x) => x.id === id);
    if (!r) throw new VhError("not_found", `Execution ${id} does not exist.`);
    return { id: r.id, counter: r.counter, status: r.status };
  };
  return { execution: of(rep.execution_id), original: of(rep.original_id), verify: rep.verify, tolerance: rep.tolerance, verdict: rep.verdict };
}
