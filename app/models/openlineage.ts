/**
 * OpenLineage export (docs/lineage.md): executions as OpenLineage 2-0-2 RunEvents, built from the
 * records (executions, execution_inputs, datums, sweeps, model versions), for Marquez or any catalog
 * that ingests OpenLineage. An adapter over vh's own lineage, not a second model of it.
 *
 * Terminology, as OpenLineage uses it:
 * - run = one execution (runId = the execution's uuid); its parent run is its sweep.
 * - job = a step of a project: namespace `vh://<VH_LINEAGE_NAME>/<project>`, name = the step.
 * - dataset = a file. Datums (outputs, uploads, the files of model and dataset versions) live in the
 *   namespace `vh://<VH_LINEAGE_NAME>` and are named `<project>/<step>/<path>` (`<project>/uploads/<path>`
 *   when no execution made them), so every output of one step at one path is one dataset with one
 *   version per content (version = sha256), and a datum read as an input joins its producer's output.
 *   External files: `s3://bucket` + key, `https://host[:port]` + path (never a query string or
 *   credentials).
 *
 * Each execution gives a START (at its start) and, once it ended, one COMPLETE (completed), FAIL
 * (failed, error, lost) or ABORT (stopped). An execution that never started and has not ended gives
 * nothing yet. The environment is never exported (it holds secrets); parameters are (`vh_parameters`).
 */
import fs from "node:fs";
import type { Sql } from "../../db/client.js";
import type { ExecutionWithProject } from "../../db/queries/executions.js";
import type { ExecutionStatus, RequestedInput } from "../../db/schema/executions.js";
import type { SweepSource } from "../../db/schema/sweeps.js";
import { VhError } from "../errors.js";
import { maskUrlPasswords } from "../executions/secrets.js";
import { downstream, upstream } from "./lineage.js";
import { resolveVersion } from "./versions.js";

export const OPENLINEAGE_SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

/** vh's version, from package.json: in the producer URL and the custom facets' schema URL. */
export const VH_VERSION: string = (JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** Where the server serves the JSON Schema of vh's custom facets (also the producer URL), under its base URL. */
export const FACETS_PATH = `/openlineage/vh/${VH_VERSION}`;

/** The spec's facet schemas, by the versions of the facets' shapes emitted here. */
const FACET_SCHEMAS = {
  parent: "https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet",
  nominalTime: "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet",
  errorMessage: "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
  sourceCodeLocation: "https://openlineage.io/spec/facets/1-0-1/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet",
  jobType: "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
  dataSource: "https://openlineage.io/spec/facets/1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet",
  version: "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
  datasetType: "https://openlineage.io/spec/facets/1-0-0/DatasetTypeDatasetFacet.json#/$defs/DatasetTypeDatasetFacet",
  outputStatistics: "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet",
} as const;

/**
 * The JSON Schema (2020-12) of vh's custom facets, served at FACETS_PATH: OpenLineage asks each
 * custom facet to name its schema in `_schemaURL`. Keys: `vh_parameters`, `vh_metrics`,
 * `vh_execution` (run), `vh_input` (input), `vh_output` (output).
 */
export const VH_FACETS_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: `vh ${VH_VERSION}: custom OpenLineage facets`,
  $defs: {
    Base: {
      type: "object",
      properties: { _producer: { type: "string", format: "uri" }, _schemaURL: { type: "string", format: "uri" } },
      required: ["_producer", "_schemaURL"],
    },
    VhParametersRunFacet: {
      description: "The execution's parameters, as it ran with them (valohai.yaml step parameters).",
      type: "object",
      allOf: [{ $ref: "#/$defs/Base" }, { type: "object", properties: { parameters: { type: "object" } }, required: ["parameters"] }],
    },
    VhMetricsRunFacet: {
      description: "The latest numeric value of each metadata key the execution printed (its metrics); not per column, so not dataQualityMetrics.",
      type: "object",
      allOf: [{ $ref: "#/$defs/Base" }, { type: "object", properties: { metrics: { type: "object", additionalProperties: { type: "number" } } }, required: ["metrics"] }],
    },
    VhExecutionRunFacet: {
      description: "The execution's identity in vh.",
      type: "object",
      allOf: [
        { $ref: "#/$defs/Base" },
        {
          type: "object",
          properties: {
            project: { type: "string" },
            counter: { type: "integer" },
            status: { type: "string" },
            url: { type: "string", format: "uri" },
            image: { type: "string" },
            commit: { type: ["string", "null"] },
            codeSha256: { type: ["string", "null"] },
            tags: { type: "array", items: { type: "string" } },
          },
          required: ["project", "counter", "status", "url"],
        },
      ],
    },
    VhInputInputDatasetFacet: {
      description: "Which input of the step read the file, and what its URI resolved to.",
      type: "object",
      allOf: [
        { $ref: "#/$defs/Base" },
        {
          type: "object",
          properties: {
            input: { type: "string" },
            file: { type: "string" },
            datum: { type: "string" },
            modelVersion: { type: "string" },
            datasetVersion: { type: "string" },
            etag: { type: "string" },
            objectVersionId: { type: "string" },
          },
          required: ["input", "file"],
        },
      ],
    },
    VhOutputOutputDatasetFacet: {
      description: "The datum the output became, and the model versions it is a file of.",
      type: "object",
      allOf: [
        { $ref: "#/$defs/Base" },
        {
          type: "object",
          properties: { datum: { type: "string" }, path: { type: "string" }, modelVersions: { type: "array", items: { type: "string" } } },
          required: ["datum", "path"],
        },
      ],
    },
  },
} as const;

export interface Facet {
  _producer: string;
  _schemaURL: string;
  [key: string]: unknown;
}

export interface InputDataset {
  namespace: string;
  name: string;
  facets: Record<string, Facet>;
  inputFacets: Record<string, Facet>;
}

export interface OutputDataset {
  namespace: string;
  name: string;
  facets: Record<string, Facet>;
  outputFacets: Record<string, Facet>;
}

export type RunEventType = "START" | "COMPLETE" | "FAIL" | "ABORT";

export interface RunEvent {
  eventType: RunEventType;
  eventTime: string;
  producer: string;
  schemaURL: string;
  run: { runId: string; facets: Record<string, Facet> };
  job: { namespace: string; name: string; facets: Record<string, Facet> };
  inputs: InputDataset[];
  outputs: OutputDataset[];
}

export interface ExportOptions {
  /** The server's base URL (VH_PUBLIC_URL, else the request's origin): producer, custom facet schemas, links. */
  baseUrl: string;
  /** The server's name in namespaces (VH_LINEAGE_NAME). */
  name: string;
  /** Web roots for repository URLs: GitHub's (GHE or github.com) and GitLab's (null: not configured). */
  web: { github: string; gitlab: string | null };
}

/** The final event type by status; null while it runs (or waits, or was lost and may be retried: see below). */
const TERMINAL_EVENT: Partial<Record<ExecutionStatus, RunEventType>> = {
  completed: "COMPLETE",
  failed: "FAIL",
  error: "FAIL",
  lost: "FAIL",
  stopped: "ABORT",
};

interface InputFile {
  input: string;
  file: string;
  uri: string;
  source: RequestedInput["source"] | null;
  datumId: string | null;
  sha256: string | null;
  size: number | null;
  model: string | null;
  dataset: string | null;
  etag: string | null;
  versionId: string | null;
}

interface DatumOrigin {
  id: string;
  name: string;
  project: string;
  step: string | null;
}

interface OutputRow {
  id: string;
  execution_id: string;
  name: string;
  size: string;
  sha256: string;
}

interface Records {
  rows: ExecutionWithProject[];
  inputs: Map<string, InputFile[]>;
  origins: Map<string, DatumOrigin>;
  outputs: Map<string, OutputRow[]>;
  /** datum id → the model versions it is a file of. */
  versionsOfDatum: Map<string, string[]>;
  sweeps: Map<string, { id: string; step: string }>;
  repoUrls: Map<string, string | null>;
  lastAt: Map<string, Date>;
}

function group<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = out.get(k);
    if (list) list.push(it);
    else out.set(k, [it]);
  }
  return out;
}

/** What was asked (executions.inputs) joined with what was fetched (execution_inputs: the checksums a host saw). */
function inputFiles(row: ExecutionWithProject, fetched: { input: string; name: string; uri: string; datum_id: string | null; sha256: string; size: string }[]): InputFile[] {
  const out: InputFile[] = [];
  const seen = new Set<string>();
  for (const i of row.inputs) {
    const f = fetched.find((x) => x.input === i.name && x.name === i.file);
    seen.add(`${i.name}\0${i.file}`);
    out.push({
      input: i.name,
      file: i.file,
      uri: i.uri,
      source: i.source ?? null,
      datumId: i.datumId ?? f?.datum_id ?? null,
      sha256: f?.sha256 ?? i.sha256 ?? null,
      size: f ? Number(f.size) : (i.size ?? null),
      model: i.model?.version ?? null,
      dataset: i.dataset ? `dataset://${i.dataset.name}/${i.dataset.version}` : null,
      etag: i.etag ?? null,
      versionId: i.versionId ?? null,
    });
  }
  for (const f of fetched) {
    if (seen.has(`${f.input}\0${f.name}`)) continue;
    out.push({ input: f.input, file: f.name, uri: f.uri, source: null, datumId: f.datum_id, sha256: f.sha256, size: Number(f.size), model: null, dataset: null, etag: null, versionId: null });
  }
  return out.sort((a, b) => a.input.localeCompare(b.input) || a.file.localeCompare(b.file));
}

/** A repository's web URL from a forge's kind and name (GitHub, GitLab); null where it is not known. */
function repositoryUrl(opts: ExportOptions, forge: string, fullName: string): string | null {
  if (forge === "github") return `${opts.web.github}/${fullName}`;
  if (forge === "gitlab") return opts.web.gitlab ? `${opts.web.gitlab}/${fullName}` : null;
  return null;
}

async function loadRecords(sql: Sql, ids: string[], opts: ExportOptions): Promise<Records> {
  const rows = await sql<ExecutionWithProject[]>`
    select e.*, p.name as project_name from executions e join projects p on p.id = e.project_id where e.id = any(${ids}::uuid[])`;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const ordered = ids.map((id) => byId.get(id)).filter((r): r is ExecutionWithProject => r !== undefined);
  const [fetched, outputs, versions, sweeps, history] = await Promise.all([
    sql<{ execution_id: string; input: string; name: string; uri: string; datum_id: string | null; sha256: string; size: string }[]>`
      select execution_id, input, name, uri, datum_id, sha256, size from execution_inputs where execution_id = any(${ids}::uuid[])`,
    sql<OutputRow[]>`select id, execution_id, name, size, sha256 from datums where execution_id = any(${ids}::uuid[]) order by name, created_at`,
    sql<{ datum_id: string; model: string; number: number }[]>`
      select f.datum_id, m.name as model, v.number from model_versions v
      join models m on m.id = v.model_id join model_version_files f on f.version_id = v.id
      where v.source_execution_id = any(${ids}::uuid[]) order by m.name, v.number`,
    sql<{ execution_id: string; id: string; step: string; source: SweepSource }[]>`
      select se.execution_id, s.id, s.step, s.source from sweep_executions se join sweeps s on s.id = se.sweep_id
      where se.execution_id = any(${ids}::uuid[])`,
    sql<{ execution_id: string; at: Date }[]>`
      select execution_id, max(at) as at from execution_status_history where execution_id = any(${ids}::uuid[]) group by execution_id`,
  ]);
  const fetchedBy = group(fetched, (f) => f.execution_id);
  const inputs = new Map(ordered.map((r) => [r.id, inputFiles(r, fetchedBy.get(r.id) ?? [])]));
  const inputDatums = [...new Set([...inputs.values()].flat().flatMap((i) => (i.datumId ? [i.datumId] : [])))];
  const origins = new Map<string, DatumOrigin>();
  if (inputDatums.length) {
    const found = await sql<DatumOrigin[]>`
      select d.id, d.name, p.name as project, x.step from datums d join projects p on p.id = d.project_id left join executions x on x.id = d.execution_id
      where d.id = any(${inputDatums}::uuid[])`;
    for (const o of found) origins.set(o.id, o);
  }
  const versionsOfDatum = new Map<string, string[]>();
  for (const v of versions) versionsOfDatum.set(v.datum_id, [...(versionsOfDatum.get(v.datum_id) ?? []), `model://${v.model}/v${v.number}`]);

  // The repository: the one the execution's sweep came from, else the project's only linked one.
  const projectIds = [...new Set(ordered.map((r) => r.project_id))];
  // Forge-neutral (test/house): a plain Git host's clone URL is not read here, so its repository gets no URL.
  const repos = await sql<{ project_id: string | null; forge: string; id: number; full_name: string; removed_at: Date | null }[]>`
    select fr.project_id, fr.forge, fr.id, fr.full_name, fr.removed_at from forge_repositories fr
    where fr.project_id = any(${projectIds}::uuid[])`;
  const sweepOf = new Map(sweeps.map((s) => [s.execution_id, s]));
  const repoUrls = new Map<string, string | null>();
  for (const r of ordered) {
    const source = sweepOf.get(r.id)?.source;
    let url: string | null = null;
    if (source?.kind === "forge") {
      const known = repos.find((x) => x.forge === source.forge && Number(x.id) === source.repositoryId);
      url = repositoryUrl(opts, source.forge, known?.full_name ?? source.repo);
    } else {
      const linked = repos.filter((x) => x.project_id === r.project_id && x.removed_at === null);
      if (linked.length === 1) url = repositoryUrl(opts, linked[0]!.forge, linked[0]!.full_name);
    }
    repoUrls.set(r.id, url);
  }
  return {
    rows: ordered,
    inputs,
    origins,
    outputs: group(outputs, (o) => o.execution_id),
    versionsOfDatum,
    sweeps: new Map(sweeps.map((s) => [s.execution_id, { id: s.id, step: s.step }])),
    repoUrls,
    lastAt: new Map(history.map((h) => [h.execution_id, h.at])),
  };
}

/** `<project>/<step>/<path>`: one dataset per step output path, one version per content. */
function datumName(project: string, step: string | null, path: string): string {
  return `${project}/${step ?? "uploads"}/${path}`;
}

const GLOB = /[*?[]/;

/** An external file's namespace and name by its URI's scheme (OpenLineage's naming for object stores; the origin for HTTP). */
export function externalDataset(uri: string, file: string): { namespace: string; name: string } {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return { namespace: "file", name: file };
  }
  const scheme = u.protocol.replace(/:$/, "").toLowerCase();
  const path = (() => {
    try {
      return decodeURIComponent(u.pathname);
    } catch {
      return u.pathname;
    }
  })();
  if (scheme === "s3" || scheme === "gs" || scheme === "az" || scheme === "abfss") {
    const key = path.replace(/^\/+/, "");
    // A glob names many files: each is the folder of the pattern plus the file's name.
    const name = GLOB.test(key) ? `${key.slice(0, key.lastIndexOf("/") + 1)}${file}` : key || file;
    return { namespace: `${scheme}://${u.host}`, name };
  }
  if (scheme === "http" || scheme === "https") return { namespace: `${scheme}://${u.host}`, name: path || "/" };
  return { namespace: u.host ? `${scheme}://${u.host}` : scheme, name: path.replace(/^\/+/, "") || file };
}

function facet(producer: string, schemaURL: string, body: Record<string, unknown>): Facet {
  return { _producer: producer, _schemaURL: schemaURL, ...body };
}

function iso(d: Date): string {
  return d.toISOString();
}

/** The events of one execution (START, then its final event once it ended). */
function eventsOfExecution(r: Records, row: ExecutionWithProject, opts: ExportOptions): RunEvent[] {
  const terminal = TERMINAL_EVENT[row.status] ?? null;
  const startedAt = row.started_at ?? (terminal ? (row.ended_at ?? r.lastAt.get(row.id) ?? row.created_at) : null);
  if (!startedAt) return [];
  const producer = opts.baseUrl + FACETS_PATH;
  const custom = (def: keyof typeof VH_FACETS_SCHEMA.$defs, body: Record<string, unknown>) => facet(producer, `${producer}#/$defs/${def}`, body);
  const std = (key: keyof typeof FACET_SCHEMAS, body: Record<string, unknown>) => facet(producer, FACET_SCHEMAS[key], body);
  const vhNamespace = `vh://${opts.name}`;
  const jobNamespace = `${vhNamespace}/${row.project_name}`;

  const runFacets: Record<string, Facet> = {};
  const sweep = r.sweeps.get(row.id);
  if (sweep) runFacets.parent = std("parent", { run: { runId: sweep.id }, job: { namespace: jobNamespace, name: `sweep/${sweep.step}` } });
  runFacets.nominalTime = std("nominalTime", { nominalStartTime: iso(row.queued_at ?? row.created_at) });
  runFacets.vh_parameters = custom("VhParametersRunFacet", { parameters: row.parameters });
  runFacets.vh_execution = custom("VhExecutionRunFacet", {
    project: row.project_name,
    counter: row.counter,
    status: row.status,
    url: `${opts.baseUrl}/api/v1/projects/${encodeURIComponent(row.project_name)}/executions/${row.counter}`,
    image: row.image,
    commit: row.commit_sha,
    codeSha256: row.code_sha256,
    tags: row.tags,
  });

  const jobFacets: Record<string, Facet> = {
    jobType: std("jobType", { processingType: "BATCH", integration: "VH", jobType: "STEP" }),
  };
  const repoUrl = r.repoUrls.get(row.id) ?? null;
  if (repoUrl && row.commit_sha) {
    const web = /^https?:\/\//.test(repoUrl);
    const tree = web ? (repoUrl.startsWith(`${opts.web.gitlab ?? "\0"}/`) ? `${repoUrl}/-/tree/${row.commit_sha}` : `${repoUrl}/tree/${row.commit_sha}`) : repoUrl;
    jobFacets.sourceCodeLocation = std("sourceCodeLocation", { type: "git", url: tree, repoUrl, version: row.commit_sha, path: row.yaml_path });
  }

  const inputs: InputDataset[] = (r.inputs.get(row.id) ?? []).map((i) => {
    const origin = i.datumId ? r.origins.get(i.datumId) : undefined;
    // Read structurally: the input sources grow (s3 beside http and store) without this file changing.
    const source = i.source as { kind: string; url?: unknown; bucket?: unknown; key?: unknown } | null;
    const where = origin
      ? { namespace: vhNamespace, name: datumName(origin.project, origin.step, origin.name) }
      : source?.kind === "s3" && typeof source.bucket === "string" && typeof source.key === "string"
        ? { namespace: `s3://${source.bucket}`, name: source.key }
        : externalDataset(source?.kind === "http" && typeof source.url === "string" ? source.url : i.uri, i.file);
    const facets: Record<string, Facet> = {
      dataSource: std("dataSource", { name: where.namespace, uri: where.namespace === vhNamespace ? opts.baseUrl : where.namespace }),
    };
    if (i.sha256) facets.version = std("version", { datasetVersion: i.sha256 });
    if (i.model) facets.datasetType = std("datasetType", { datasetType: "MODEL" });
    const vhInput: Record<string, unknown> = { input: i.input, file: i.file };
    if (i.datumId) vhInput.datum = `datum://${i.datumId}`;
    if (i.model) vhInput.modelVersion = i.model;
    if (i.dataset) vhInput.datasetVersion = i.dataset;
    if (i.etag) vhInput.etag = i.etag;
    if (i.versionId) vhInput.objectVersionId = i.versionId;
    return { namespace: where.namespace, name: where.name, facets, inputFacets: { vh_input: custom("VhInputInputDatasetFacet", vhInput) } };
  });

  const start: RunEvent = {
    eventType: "START",
    eventTime: iso(startedAt),
    producer,
    schemaURL: OPENLINEAGE_SCHEMA_URL,
    run: { runId: row.id, facets: runFacets },
    job: { namespace: jobNamespace, name: row.step, facets: jobFacets },
    inputs,
    outputs: [],
  };
  if (!terminal) return [start];

  const outputs: OutputDataset[] = (r.outputs.get(row.id) ?? []).map((d) => {
    const versions = r.versionsOfDatum.get(d.id) ?? [];
    const facets: Record<string, Facet> = {
      dataSource: std("dataSource", { name: vhNamespace, uri: opts.baseUrl }),
      version: std("version", { datasetVersion: d.sha256 }),
    };
    if (versions.length) facets.datasetType = std("datasetType", { datasetType: "MODEL" });
    const vhOutput: Record<string, unknown> = { datum: `datum://${d.id}`, path: d.name };
    if (versions.length) vhOutput.modelVersions = versions;
    return {
      namespace: vhNamespace,
      name: datumName(row.project_name, row.step, d.name),
      facets,
      outputFacets: {
        outputStatistics: std("outputStatistics", { size: Number(d.size), fileCount: 1 }),
        vh_output: custom("VhOutputOutputDatasetFacet", vhOutput),
      },
    };
  });

  const endFacets: Record<string, Facet> = { ...runFacets };
  const metrics = Object.fromEntries(Object.entries(row.metadata_latest ?? {}).filter((e): e is [string, number] => typeof e[1] === "number" && Number.isFinite(e[1])));
  if (Object.keys(metrics).length) endFacets.vh_metrics = custom("VhMetricsRunFacet", { metrics });
  if (terminal === "FAIL") {
    const why = row.status_detail ? maskUrlPasswords(row.status_detail) : `the execution ended with status ${row.status}`;
    // The step is a shell script run by /bin/sh (app/contracts/runner.ts): that is the failing program's language.
    endFacets.errorMessage = std("errorMessage", { message: row.exit_code !== null ? `${why} (exit code ${row.exit_code})` : why, programmingLanguage: "shell" });
  }
  let endedAt = row.ended_at ?? r.lastAt.get(row.id) ?? startedAt;
  if (endedAt < startedAt) endedAt = startedAt;
  return [start, { ...start, eventType: terminal, eventTime: iso(endedAt), run: { runId: row.id, facets: endFacets }, outputs }];
}

/** The events of executions, in the order given, each execution's START before its end. */
export async function eventsOfExecutions(sql: Sql, ids: string[], opts: ExportOptions): Promise<RunEvent[]> {
  if (!ids.length) return [];
  const r = await loadRecords(sql, ids, opts);
  return r.rows.flatMap((row) => eventsOfExecution(r, row, opts));
}

/** Orders events by time, keeping each run's START before its end when the two share a time. */
export function byEventTime(events: RunEvent[]): RunEvent[] {
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.eventTime.localeCompare(b.e.eventTime) || a.i - b.i)
    .map((x) => x.e);
}

/**
 * An execution by `PROJECT/N` (also `PROJECT/#N`) or its uuid. Throws a VhError naming the
 * reference when it is malformed or there is no such execution.
 */
export async function findExecutionId(sql: Sql, ref: string): Promise<string> {
  const r = ref.trim();
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(r)) {
    const [row] = await sql<{ id: string }[]>`select id from executions where id = ${r}`;
    if (!row) throw new VhError("not_found", `execution=${ref}: no execution has this id.`);
    return row.id;
  }
  const m = /^(.+)\/#?(\d{1,9})$/.exec(r);
  if (!m) throw new VhError("bad_request", `execution=${ref}: write PROJECT/N (churn/3) or the execution's id.`);
  const [row] = await sql<{ id: string }[]>`
    select e.id from executions e join projects p on p.id = e.project_id where p.name = ${m[1]!} and e.counter = ${Number(m[2])}`;
  if (!row) throw new VhError("not_found", `execution=${ref}: project "${m[1]}" has no execution #${m[2]}.`);
  return row.id;
}

export type LineageDirection = "upstream" | "downstream" | "both";

/**
 * A model version's lineage as events: upstream, the executions that made its files and those that
 * made their inputs, all the way up; downstream, those that used it and what used their outputs.
 */
export async function modelVersionEvents(sql: Sql, uri: string, direction: LineageDirection, opts: ExportOptions): Promise<{ version: string; events: RunEvent[] }> {
  const resolved = await resolveVersion(sql, uri);
  const ids = new Map<string, { createdAt: string; counter: number }>();
  if (direction !== "downstream") {
    const up = await upstream(sql, resolved);
    for (const [id, x] of Object.entries(up.executions)) ids.set(id, x);
  }
  if (direction !== "upstream") {
    const down = await downstream(sql, resolved);
    for (const [id, x] of Object.entries(down.executions)) ids.set(id, x);
  }
  const order = [...ids.entries()].sort((a, b) => a[1].createdAt.localeCompare(b[1].createdAt) || a[1].counter - b[1].counter).map(([id]) => id);
  return { version: resolved.uri, events: byEventTime(await eventsOfExecutions(sql, order, opts)) };
}

/**
 * A project's events at or after `since`, a page of executions at a time (by counter, after
 * `after`): the executions that started or ended at or after `since`, and of their events those
 * at or after it, so polling with the last poll's time sends each event once. `next`: the `after`
 * of the next page, null on the last.
 */
export async function projectEventsSince(
  sql: Sql,
  q: { project: string; since: Date; after: number; limit: number },
  opts: ExportOptions,
): Promise<{ events: RunEvent[]; next: number | null }> {
  const [project] = await sql<{ id: string }[]>`select id from projects where name = ${q.project}`;
  if (!project) throw new VhError("not_found", `project=${q.project}: no such project.`);
  const rows = await sql<{ id: string; counter: number }[]>`
    select id, counter from executions
    where project_id = ${project.id} and counter > ${q.after}
      and coalesce(greatest(started_at, ended_at), created_at) >= ${q.since}
    order by counter limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit);
  const since = q.since.toISOString();
  const events = (await eventsOfExecutions(sql, page.map((x) => x.id), opts)).filter((e) => e.eventTime >= since);
  return { events: byEventTime(events), next: rows.length > q.limit ? page[page.length - 1]!.counter : null };
}
