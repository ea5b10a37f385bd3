/**
 * A small fetch-based client of the REST API (docs/api.md). `fetch` is injected so tests can
 * point it at a stub server; errors become `ApiError`s whose text is the server's own message.
 */
import { randomUUID } from "node:crypto";
import { CliError } from "./errors.js";
import type { Server } from "./config.js";

export interface Project {
  id: string;
  name: string;
  createdAt: string;
  executionCount: number;
  /** Commands run on fork pull requests without `--allow-fork`. */
  forkCommands: boolean;
  /** A fork's own valohai.yaml is used (otherwise the base branch's). */
  forkConfigs: boolean;
}

export interface ExecutionInput {
  name: string;
  uri: string;
  file?: string | null;
  sha256?: string | null;
  size?: number | null;
}

export interface Execution {
  id: string;
  counter: number;
  project: { id: string; name: string };
  step: string;
  title: string | null;
  tags?: string[];
  status: string;
  statusDetail?: string | null;
  code?: { kind: string; sha256: string | null; commit: string | null } | null;
  image: string;
  command: string;
  parameters: Record<string, unknown>;
  inputs: ExecutionInput[];
  environmentVariables?: Record<string, string>;
  runtime?: Record<string, unknown> | null;
  environment?: string | null;
  attempt?: number;
  attempts?: { attempt: number; host: string | null; instanceId?: string | null; instanceType?: string | null; spot?: boolean | null; pricePerHour?: number | null; seconds: number | null; costUsd: number | null; outcome: string; reason: string | null }[];
  costUsd?: number | null;
  /** The attempt running now on a rented host, with its cost so far. */
  currentAttempt?: { attempt: number; host: string | null; instanceType?: string | null; spot?: boolean | null; pricePerHour?: number | null; seconds: number; costUsd: number | null } | null;
  exitCode?: number | null;
  warnings?: string[];
  metadataLatest?: Record<string, unknown>;
  createdAt: string;
  startedAt?: string | null;
  endedAt?: string | null;
  durationSeconds?: number | null;
  [key: string]: unknown;
}

export interface LogLine {
  seq: number;
  time: string;
  stream: "stdout" | "stderr" | "status";
  line: string;
}

export interface LogPage {
  lines: LogLine[];
  next: number;
  status: string;
  finished: boolean;
}

export interface Datum {
  id: string;
  uri: string;
  name: string;
  size: number;
  sha256: string;
  metadata?: Record<string, unknown>;
  executionId?: string | null;
  createdAt?: string;
}

export interface CreateExecutionBody {
  step: string;
  /** An uploaded snapshot's sha256 (--adhoc) … */
  code?: string;
  /** … or the linked repository's branch, tag or commit (`HEAD`: its default branch). */
  commit?: string;
  yamlPath: string;
  parameters: Record<string, unknown>;
  inputs: Record<string, string[]>;
  environmentVariables: Record<string, string>;
  title?: string;
  tags?: string[];
  image?: string;
  gpus?: number;
  /** The environment to run in (`vh environment list`), over the step's `environment:`. */
  environment?: string;
  /** Sets VH_SEED for the step (0 to 2^32 − 1), recorded with the execution. */
  seed?: number;
  /** Runs a failed execution again, up to this many times (0 to 10). */
  retries?: number;
}

/** What `POST …/executions/validate` takes: the creation body without the code, with the valohai.yaml text. */
export type ValidateExecutionBody = Omit<CreateExecutionBody, "code" | "commit"> & { yaml: string };

export interface ValidatedExecution {
  ok: true;
  step: string;
  image: string;
  command: string;
}

/** What `POST /projects/:p/sweeps` takes: an execution's body whose parameters may be lists (a grid). */
export type CreateSweepBody = Omit<CreateExecutionBody, "parameters" | "yamlPath" | "inputs" | "environmentVariables"> & {
  yamlPath?: string;
  /** name → one value, or a list of values: one execution per point of the grid. */
  parameters: Record<string, unknown>;
  inputs?: Record<string, string[]>;
  environmentVariables?: Record<string, string>;
};

export interface PipelineRun {
  id: string;
  counter: number;
  name: string;
  status: string;
  statusDetail: string | null;
  commit: string | null;
  createdAt: string;
  endedAt: string | null;
  nodes: { name: string; type?: string; status: string; detail?: string | null; execution?: { counter: number; status: string } | null; reusedFrom?: { counter: number } | null; sweep?: { id: string; executions: { counter: number; status: string }[] } | null }[];
  edges?: { sourceNode: string; sourceType: string; sourceKey: string; targetNode: string; targetType: string; targetKey: string }[];
  mermaid?: string;
  [key: string]: unknown;
}

export interface Sweep {
  id: string;
  project: { id: string; name: string };
  step: string;
  kind: string;
  /** name → the values as text, in the order given. */
  spec: Record<string, string[]>;
  /** The commit it ran at; null for an uploaded snapshot. */
  commit: string | null;
  code: string;
  createdAt: string;
  /** In the grid's order (first parameter varying slowest). */
  executions: Execution[];
  [key: string]: unknown;
}

export class ApiError extends CliError {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Detail lines that the message does not already say (lint problems, parameter errors, …). */
export function detailLines(message: string, details: unknown): string[] {
  const out: string[] = [];
  const add = (line: string) => {
    if (line && !message.includes(line) && !out.includes(line)) out.push(line);
  };
  const visit = (d: unknown): void => {
    if (d === null || d === undefined) return;
    if (typeof d === "string") return add(d);
    if (Array.isArray(d)) return d.forEach(visit);
    if (typeof d !== "object") return add(String(d));
    const o = d as Record<string, unknown>;
    if (typeof o["message"] === "string") {
      const msg = o["message"];
      if (typeof o["parameter"] === "string") return add(`Parameter "${o["parameter"]}": ${msg}`);
      if (o["line"] !== undefined || o["file"] !== undefined) {
        const sev = o["severity"] === "warning" ? "warning: " : "";
        return add(`${String(o["file"] ?? "valohai.yaml")}:${String(o["line"] ?? "?")}:${String(o["column"] ?? "?")}: ${sev}${msg}`);
      }
      return add(msg);
    }
    for (const key of ["problems", "errors"]) if (key in o) visit(o[key]);
  };
  visit(details);
  return out;
}

interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  body?: Uint8Array | NodeJS.ReadableStream | ReadableStream;
  headers?: Record<string, string>;
  /** Statuses answered without throwing (e.g. 404 for HEAD /code). */
  accept?: number[];
}

/** How many times a creating request is sent again (ApiClient.create). */
export const CREATE_RETRIES = 4;

export class ApiClient {
  readonly server: Server;
  private readonly fetchImpl: typeof fetch;

  constructor(server: Server, fetchImpl: typeof fetch = globalThis.fetch) {
    this.server = server;
    this.fetchImpl = fetchImpl;
  }

  apiUrl(p: string): string {
    return `${this.server.url}/api/v1${p}`;
  }

  /** Sends a request; non-2xx answers (outside `accept`) become ApiErrors. */
  async raw(method: string, p: string, opts: RequestOptions = {}): Promise<Response> {
    const url = new URL(this.apiUrl(p));
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `Bearer ${this.server.token}`, accept: "application/json", ...opts.headers };
    let body: RequestInit["body"];
    if (opts.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.json);
    } else if (opts.body !== undefined) {
      body = opts.body as RequestInit["body"];
    }
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method,
        headers,
        body,
        ...(body && typeof (body as { getReader?: unknown }).getReader === "function" ? { duplex: "half" } : {}),
      } as RequestInit);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `Cannot reach the vh server at ${this.server.url} (${cause?.code ?? cause?.message ?? (err as Error).message}): is it running?`,
      );
    }
    if (res.ok || opts.accept?.includes(res.status)) return res;
    throw await toApiError(res, method, p);
  }

  async json<T>(method: string, p: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, p, opts);
    try {
      return (await res.json()) as T;
    } catch {
      throw new CliError(`The server answered ${method} ${p} with something that is not JSON.`);
    }
  }

  /**
   * A request that makes something (an execution, a sweep, a pipeline), sent with an
   * `Idempotency-Key` of its own: when the server cannot be reached or answers 502/503/504 (it is
   * restarting, a proxy in front of it is), it is sent again with the same key, so a request whose
   * answer was lost is never made twice (docs/api.md). Waits 0.5, 1, 2 and 4 s between tries.
   */
  async create<T>(p: string, json: unknown): Promise<T> {
    const key = randomUUID();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.json<T>("POST", p, { json, headers: { "idempotency-key": key } });
      } catch (err) {
        const transient = err instanceof ApiError ? [502, 503, 504].includes(err.status) : err instanceof CliError && /^Cannot reach the vh server/.test(err.message);
        if (!transient || attempt >= CREATE_RETRIES) throw err;
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      }
    }
  }

  me() {
    return this.json<{ token: { id: string; name: string; admin: boolean; role?: string; project?: { id: string; name: string } | null } }>("GET", "/me");
  }
  listProjects() {
    return this.json<{ results: Project[] }>("GET", "/projects");
  }
  getProject(name: string) {
    return this.json<Project>("GET", `/projects/${encodeURIComponent(name)}`);
  }
  updateProject(name: string, settings: { forkCommands?: boolean; forkConfigs?: boolean }) {
    return this.json<Project>("PATCH", `/projects/${encodeURIComponent(name)}`, { json: settings });
  }
  createProject(name: string) {
    return this.json<Project>("POST", "/projects", { json: { name } });
  }
  async hasCode(sha256: string): Promise<boolean> {
    const res = await this.raw("HEAD", `/code/${sha256}`, { accept: [404] });
    return res.status !== 404;
  }
  putCode(sha256: string, body: Uint8Array | ReadableStream) {
    return this.json<{ sha256: string; size: number; created: boolean }>("PUT", `/code/${sha256}`, {
      body,
      headers: { "content-type": "application/gzip" },
    });
  }
  private exec(project: string, ref?: string | number): string {
    const base = `/projects/${encodeURIComponent(project)}/executions`;
    return ref === undefined ? base : `${base}/${encodeURIComponent(String(ref))}`;
  }
  createExecution(project: string, body: CreateExecutionBody) {
    return this.create<Execution>(this.exec(project), body);
  }
  /** Would the server create this execution? The same refusal as `createExecution`, before any code is uploaded. */
  validateExecution(project: string, body: ValidateExecutionBody) {
    return this.json<ValidatedExecution>("POST", `${this.exec(project)}/validate`, { json: body });
  }
  listExecutions(project: string, opts: { status?: string | undefined; limit?: number | undefined }) {
    return this.json<{ results: Execution[] }>("GET", this.exec(project), { query: { status: opts.status, limit: opts.limit } });
  }
  getExecution(project: string, ref: string | number) {
    return this.json<Execution>("GET", this.exec(project, ref));
  }
  stopExecution(project: string, ref: string | number) {
    return this.json<Execution>("POST", `${this.exec(project, ref)}/stop`);
  }
  logs(project: string, ref: string | number, after: number, limit?: number) {
    return this.json<LogPage>("GET", `${this.exec(project, ref)}/logs`, { query: { after, limit } });
  }
  outputs(project: string, ref: string | number) {
    return this.json<{ results: Datum[] }>("GET", `${this.exec(project, ref)}/outputs`);
  }
  download(id: string) {
    return this.raw("GET", `/data/${encodeURIComponent(id)}/download`, { headers: { accept: "*/*" } });
  }
  /** A sweep of any kind (docs/api.md, "Sweeps"): the executions made now created all or none. */
  createSweep(project: string, body: CreateSweepBody & { task?: Record<string, unknown>; blueprint?: string }) {
    return this.create<Sweep>(`/projects/${encodeURIComponent(project)}/sweeps`, body);
  }
  getSweep(project: string, id: string) {
    return this.json<Sweep>("GET", `/projects/${encodeURIComponent(project)}/sweeps/${encodeURIComponent(id)}`);
  }
  /** Starts a valohai.yaml pipeline (docs/api.md, "Pipelines"). */
  createPipeline(project: string, body: Record<string, unknown>) {
    return this.create<PipelineRun>(`/projects/${encodeURIComponent(project)}/pipelines`, body);
  }
  getPipeline(project: string, ref: string) {
    return this.json<PipelineRun>("GET", `/projects/${encodeURIComponent(project)}/pipelines/${encodeURIComponent(ref)}`);
  }
  listPipelines(project: string) {
    return this.json<{ pipelines: PipelineRun[] }>("GET", `/projects/${encodeURIComponent(project)}/pipelines`);
  }
  stopPipeline(project: string, ref: string) {
    return this.json<{ stopped: boolean; pipeline: PipelineRun }>("POST", `/projects/${encodeURIComponent(project)}/pipelines/${encodeURIComponent(ref)}/stop`, { json: {} });
  }
  approvePipelineNode(project: string, ref: string, node: string) {
    return this.json<PipelineRun>("POST", `/projects/${encodeURIComponent(project)}/pipelines/${encodeURIComponent(ref)}/nodes/${encodeURIComponent(node)}/approve`, { json: {} });
  }
  /** Where a person can look at the execution (the API record, until the UI has a page for it). */
  executionUrl(project: string, counter: number): string {
    return this.apiUrl(this.exec(project, counter));
  }
}

async function toApiError(res: Response, method: string, p: string): Promise<ApiError> {
  let code = "http_error";
  let message = `${method} ${p} failed: HTTP ${res.status} ${res.statusText}`.trim();
  let details: unknown;
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
    if (body.error?.message) {
      message = body.error.message;
      code = body.error.code ?? code;
      details = body.error.details;
    }
  } catch {
    // not JSON: keep the generic message
  }
  if (res.status === 401 && code === "http_error") message = "The vh server refused the token (HTTP 401).";
  const extra = detailLines(message, details);
  return new ApiError(res.status, code, extra.length ? `${message}\n${extra.map((l) => `  ${l}`).join("\n")}` : message, details);
}
