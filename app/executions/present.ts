/**
 * Executions as the API shows them (docs/api.md): secrets masked, times as ISO strings, each input
 * with what it resolved to, the model versions it produced, and, once deleted, who deleted it.
 */
import type { Sql } from "../../db/client.js";
import {
  executionOfProjectByCounter,
  executionWithProject,
  executionsOfProject,
  fetchedInputs,
  latestExecutionOfProject,
  modelVersionsOfExecution,
  type ExecutionWithProject,
  type VersionOfExecution,
} from "../../db/queries/executions.js";
import { reproductionOf } from "../../db/queries/reproductions.js";
import type { Cols } from "../../db/queries/rows.js";
import type { ReproductionVerdict } from "../../db/schema/reproductions.js";
import type { executionStatusHistory } from "../../db/schema/executions.js";
import { VhError } from "../errors.js";
import { versionUri } from "../models/uri.js";
import { maskEnvironment } from "./secrets.js";

/** An execution row with its project's name (`select e.*, p.name as project_name`). */
export type ExecutionRow = ExecutionWithProject;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * What an execution records for reproducing it, in short (`vh exec show`): the fingerprint's state,
 * OS, interpreters with their versions, how many pip / npm packages, the seed, the image digest.
 * The whole record is `runtime` (its `fingerprint`, `seed`, `imageDigest`: worker/launch-spec.ts).
 */
export function reproducibilitySummary(runtime: Record<string, unknown> | null, env: Record<string, string>, parameters: Record<string, unknown>) {
  const obj = (v: unknown): Record<string, unknown> | null => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null);
  const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
  const fp = obj(runtime?.["fingerprint"]);
  const recorded = fp?.["status"] === "recorded";
  const interpreters = recorded && Array.isArray(fp["interpreters"]) ? fp["interpreters"].map(obj).filter((i) => i !== null) : [];
  const pip = recorded ? obj(fp["pip"]) : null;
  const npm = recorded ? obj(fp["npm"]) : null;
  const seedParam = Object.hasOwn(parameters, "seed") ? parameters["seed"] : undefined;
  return {
    fingerprint: str(fp?.["status"]),
    ...(fp?.["status"] === "missing" ? { fingerprintMissing: str(fp["reason"]) } : {}),
    os: recorded ? str(obj(fp["os"])?.["name"]) : null,
    interpreters: interpreters.map((i) => ({ program: str(i["program"]), version: str(i["version"]), path: str(i["path"]) })),
    pipPackages: pip && Array.isArray(pip["packages"]) ? pip["packages"].length : null,
    npmPackages: npm && obj(npm["packages"]) ? Object.keys(obj(npm["packages"])!).length : null,
    truncated: pip?.["truncated"] === true || npm?.["truncated"] === true,
    seed: env["VH_SEED"] ?? (seedParam === undefined || seedParam === null ? null : String(seedParam)),
    imageDigest: str(runtime?.["imageDigest"]),
  };
}

const RUNNING: readonly string[] = ["starting", "running", "stopping"];

/** What an attempt on a rented host cost: its price per hour for the seconds it ran, to a millionth of a dollar (null without a price). */
export function attemptCostUsd(pricePerHour: number | null, seconds: number | null): number | null {
  return pricePerHour !== null && seconds !== null ? Math.round(((pricePerHour * seconds) / 3600) * 1e6) / 1e6 : null;
}

function currentAttempt(row: ExecutionRow, rented: { instanceId: string | null; instanceType: string | null; spot: boolean | null; pricePerHour: number | null } | null) {
  if (!rented || !RUNNING.includes(row.status) || !row.started_at) return null;
  const seconds = Math.max(0, (Date.now() - row.started_at.getTime()) / 1000);
  return {
    attempt: row.attempt,
    host: row.host,
    ...rented,
    seconds: Math.round(seconds * 1000) / 1000,
    costUsd: attemptCostUsd(rented.pricePerHour, seconds),
  };
}

export function presentExecution(
  row: ExecutionRow,
  extra: {
    history?: { status: string; at: Date; reason: string | null }[];
    fetched?: { input: string; name: string; uri: string; sha256: string; size: number }[];
    modelVersions?: VersionOfExecution[];
    reproduction?: ReproductionSummary | null;
    reproducedBy?: ReproducedBy[];
    /** The rented host the current attempt runs on, with its price (none: not rented, or not started). */
    rented?: { instanceId: string | null; instanceType: string | null; spot: boolean | null; pricePerHour: number | null } | null;
  } = {},
) {
  const duration = row.started_at ? ((row.ended_at ?? new Date()).getTime() - row.started_at.getTime()) / 1000 : null;
  // As asked (`uri`: model://churn/latest) and, for a stored file, what it resolved to when the
  // execution was created: the datum, and for a model:// input the exact version.
  const inputs = row.inputs.map((i) => {
    const f = extra.fetched?.find((x) => x.input === i.name && x.name === i.file);
    return {
      name: i.name,
      uri: i.uri,
      file: i.file,
      sha256: f?.sha256 ?? i.sha256 ?? null,
      size: f?.size ?? i.size ?? null,
      ...(i.datumId ? { datum: `datum://${i.datumId}` } : {}),
      ...(i.model ? { model: i.model.version } : {}),
      ...(i.dataset ? { dataset: `dataset://${i.dataset.name}/${i.dataset.version}` } : {}),
      // An s3:// input's object, and what it was pinned to at creation (the fetch gets these bytes or fails).
      ...(i.source.kind === "s3" ? { object: `s3://${i.source.bucket}/${i.source.key}` } : {}),
      ...(i.etag ? { etag: i.etag } : {}),
      ...(i.versionId ? { versionId: i.versionId } : {}),
    };
  });
  return {
    id: row.id,
    counter: row.counter,
    project: { id: row.project_id, name: row.project_name },
    step: row.step,
    title: row.title,
    tags: row.tags,
    status: row.status,
    statusDetail: row.status_detail,
    code: { kind: row.commit_sha ? "git" : "adhoc", sha256: row.code_sha256, commit: row.commit_sha, yamlPath: row.yaml_path },
    image: row.image,
    command: row.command,
    commandList: row.command_list,
    parameters: row.parameters,
    inputs,
    environmentVariables: maskEnvironment(row.environment_variables),
    gpus: row.gpus,
    // Where it runs (app/environments/), which attempt this is, and every ended attempt with its host, instance, price and cost.
    environment: row.environment,
    host: row.host,
    attempt: row.attempt,
    /** Retries on failure it asked for (`--retries N`); a failed attempt with retries left is queued again. */
    retries: row.retries,
    attempts: row.attempts,
    costUsd: row.cost_usd,
    // The attempt that runs now, on a rented host: its cost so far (ended attempts are in `attempts`).
    currentAttempt: currentAttempt(row, extra.rented ?? null),
    timeLimitSeconds: row.time_limit_s,
    noOutputTimeoutSeconds: row.no_output_timeout_s,
    runtime: row.runtime ? { ...row.runtime, runner: row.runner, hostName: row.host } : null,
    reproducibility: reproducibilitySummary(row.runtime, row.environment_variables, row.parameters),
    exitCode: row.exit_code,
    warnings: row.warnings,
    invalidJsonLines: row.invalid_json_lines,
    metadataLatest: row.metadata_latest,
    createdAt: iso(row.created_at),
    queuedAt: iso(row.queued_at),
    startedAt: iso(row.started_at),
    endedAt: iso(row.ended_at),
    durationSeconds: duration,
    deleted: row.deleted_at ? { at: row.deleted_at.toISOString(), by: row.deleted_by } : null,
    ...(extra.modelVersions
      ? { modelVersions: extra.modelVersions.map((v) => ({ version: versionUri(v.model, v.number), status: v.status })) }
      : {}),
    // What it reproduces and the verdict (null: not a reproduction), and its reproductions.
    ...(extra.reproduction !== undefined ? { reproduction: extra.reproduction } : {}),
    ...(extra.reproducedBy ? { reproducedBy: extra.reproducedBy } : {}),
    ...(extra.history
      ? { statusHistory: extra.history.map((h) => ({ status: h.status, at: h.at.toISOString(), reason: h.reason })) }
      : {}),
  };
}

export type PresentedExecution = ReturnType<typeof presentExecution>;

/** `ref`: a counter (`3`, `#3`), `latest`, or an execution id. */
export async function findExecutionRow(sql: Sql, projectId: string | null, ref: string): Promise<ExecutionRow> {
  const r = ref.replace(/^#/, "");
  let row: ExecutionRow | null;
  if (/^[0-9a-f-]{36}$/i.test(r)) {
    row = await executionWithProject(sql, r, projectId);
  } else if (projectId && r === "latest") {
    row = await latestExecutionOfProject(sql, projectId);
  } else if (projectId && /^\d+$/.test(r)) {
    row = await executionOfProjectByCounter(sql, projectId, Number(r));
  } else {
    throw new VhError("bad_request", `"${ref}" is not an execution: use its number (#3), "latest", or its id.`);
  }
  if (!row) throw new VhError("not_found", `Execution ${ref} does not exist.`);
  return row;
}

export async function loadPresented(sql: Sql, row: ExecutionRow) {
  const history = await sql<Cols<typeof executionStatusHistory, "status" | "at" | "reason">[]>`
    select status, at, reason from execution_status_history where execution_id = ${row.id} order by id`;
  const fetched = (await fetchedInputs(sql, row.id)).map((i) => ({ ...i, size: Number(i.size) }));
  const modelVersions = await modelVersionsOfExecution(sql, row.id);
  const rep = await reproductionOf(sql, row.id);
  let reproduction: ReproductionSummary | null = null;
  if (rep) {
    const [o] = await sql<{ counter: number; status: string }[]>`select counter, status from executions where id = ${rep.original_id}`;
    reproduction = { original: { id: rep.original_id, counter: o?.counter ?? null, status: o?.status ?? null }, verify: rep.verify, tolerance: rep.tolerance, verdict: rep.verdict };
  }
  const reproducedBy = (
    await sql<{ id: string; counter: number; status: string; verify: boolean; verdict: ReproductionVerdict | null }[]>`
      select e.id, e.counter, e.status, r.verify, r.verdict from execution_reproductions r join executions e on e.id = r.execution_id
      where r.original_id = ${row.id} order by e.counter`
  ).map((x) => ({ id: x.id, counter: x.counter, status: x.status, verify: x.verify, result: x.verdict?.result ?? null }));
  const [rented] = row.host && RUNNING.includes(row.status)
    ? await sql<{ instanceId: string | null; instanceType: string | null; spot: boolean | null; pricePerHour: number | null }[]>`
        select instance_id as "instanceId", instance_type as "instanceType", spot, price_per_hour as "pricePerHour" from hosts where name = ${row.host} and provider is not null`
    : [];
  return presentExecution(row, { history, fetched, modelVersions, reproduction, reproducedBy, rented: rented ?? null });
}

/** The reproduction an execution is (`vh exec reproduce`): its original, and the verdict once compared. */
export interface ReproductionSummary {
  original: { id: string; counter: number | null; status: string | null };
  verify: boolean;
  tolerance: number;
  verdict: ReproductionVerdict | null;
}

/** A reproduction of this execution, with its verdict's result (null: not verified, or not yet). */
export interface ReproducedBy {
  id: string;
  counter: number;
  status: string;
  verify: boolean;
  result: "equal" | "different" | null;
}

/** Not deleted ones, newest first; `tags`: only those that have every one of them. */
export async function listExecutionRows(
  sql: Sql,
  projectId: string,
  opts: { status?: string | undefined; tags?: readonly string[] | undefined; limit: number },
): Promise<ExecutionRow[]> {
  return executionsOfProject(sql, projectId, opts);
}
