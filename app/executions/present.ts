/** Executions as the API shows them (docs/api.md): secrets masked, times as ISO strings. */
import type { Sql } from "../../db/client.js";
import { VhError } from "../errors.js";
import { maskEnvironment } from "./secrets.js";

export interface ExecutionRow {
  id: string;
  project_id: string;
  project_name: string;
  counter: number;
  step: string;
  title: string | null;
  status: string;
  status_detail: string | null;
  code_sha256: string | null;
  commit_sha: string | null;
  yaml_path: string;
  image: string;
  command: string;
  command_list: string[];
  parameters: Record<string, unknown>;
  inputs: { name: string; uri: string; file: string; datumId?: string; sha256?: string; size?: number }[];
  environment_variables: Record<string, string>;
  gpus: number;
  time_limit_s: number | null;
  no_output_timeout_s: number | null;
  runner: string;
  host: string | null;
  runtime: Record<string, unknown> | null;
  exit_code: number | null;
  warnings: string[];
  invalid_json_lines: number;
  metadata_latest: Record<string, unknown>;
  created_at: Date;
  queued_at: Date | null;
  started_at: Date | null;
  ended_at: Date | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function presentExecution(
  row: ExecutionRow,
  extra: { history?: { status: string; at: Date; reason: string | null }[]; fetched?: { input: string; name: string; uri: string; sha256: string; size: number }[] } = {},
) {
  const duration = row.started_at ? ((row.ended_at ?? new Date()).getTime() - row.started_at.getTime()) / 1000 : null;
  const inputs = row.inputs.map((i) => {
    const f = extra.fetched?.find((x) => x.input === i.name && x.name === i.file);
    return { name: i.name, uri: i.uri, file: i.file, sha256: f?.sha256 ?? i.sha256 ?? null, size: f?.size ?? i.size ?? null };
  });
  return {
    id: row.id,
    counter: row.counter,
    project: { id: row.project_id, name: row.project_name },
    step: row.step,
    title: row.title,
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
    timeLimitSeconds: row.time_limit_s,
    noOutputTimeoutSeconds: row.no_output_timeout_s,
    runtime: row.runtime ? { ...row.runtime, runner: row.runner, hostName: row.host } : null,
    exitCode: row.exit_code,
    warnings: row.warnings,
    invalidJsonLines: row.invalid_json_lines,
    metadataLatest: row.metadata_latest,
    createdAt: iso(row.created_at),
    queuedAt: iso(row.queued_at),
    startedAt: iso(row.started_at),
    endedAt: iso(row.ended_at),
    durationSeconds: duration,
    ...(extra.history
      ? { statusHistory: extra.history.map((h) => ({ status: h.status, at: h.at.toISOString(), reason: h.reason })) }
      : {}),
  };
}

export type PresentedExecution = ReturnType<typeof presentExecution>;

const SELECT = (sql: Sql) => sql`
  select e.*, p.name as project_name from executions e join projects p on p.id = e.project_id`;

/** `ref`: a counter (`3`, `#3`), `latest`, or an execution id. */
export async function findExecutionRow(sql: Sql, projectId: string | null, ref: string): Promise<ExecutionRow> {
  const r = ref.replace(/^#/, "");
  let rows: ExecutionRow[];
  if (/^[0-9a-f-]{36}$/i.test(r)) {
    rows = await sql<ExecutionRow[]>`${SELECT(sql)} where e.id = ${r} ${projectId ? sql`and e.project_id = ${projectId}` : sql``}`;
  } else if (projectId && r === "latest") {
    rows = await sql<ExecutionRow[]>`${SELECT(sql)} where e.project_id = ${projectId} order by e.counter desc limit 1`;
  } else if (projectId && /^\d+$/.test(r)) {
    rows = await sql<ExecutionRow[]>`${SELECT(sql)} where e.project_id = ${projectId} and e.counter = ${Number(r)}`;
  } else {
    throw new VhError("bad_request", `"${ref}" is not an execution: use its number (#3), "latest", or its id.`);
  }
  const row = rows[0];
  if (!row) throw new VhError("not_found", `Execution ${ref} does not exist.`);
  return row;
}

export async function loadPresented(sql: Sql, row: ExecutionRow) {
  const history = await sql<{ status: string; at: Date; reason: string | null }[]>`
    select status, at, reason from execution_status_history where execution_id = ${row.id} order by id`;
  const fetched = await sql<{ input: string; name: string; uri: string; sha256: string; size: number }[]>`
    select input, name, uri, sha256, size::float8 as size from execution_inputs where execution_id = ${row.id}`;
  return presentExecution(row, { history, fetched });
}

export async function listExecutionRows(sql: Sql, projectId: string, opts: { status?: string; limit: number }): Promise<ExecutionRow[]> {
  return sql<ExecutionRow[]>`${SELECT(sql)} where e.project_id = ${projectId}
    ${opts.status ? sql`and e.status = ${opts.status}` : sql``} order by e.counter desc limit ${opts.limit}`;
}
