/**
 * Creating an execution: every check runs before anything is written, and the row, its status
 * history and its queue job are written in one transaction, so a refused request leaves nothing
 * behind and an accepted one is never lost between "created" and "queued".
 */
import path from "node:path";
import { z } from "zod";
import type { Sql } from "../../db/client.js";
import type { Project } from "../../db/schema/projects.js";
import type { RequestedInput } from "../../db/schema/executions.js";
import type { Store } from "../../worker/stores/types.js";
import { VhError } from "../errors.js";
import type { Config } from "../config.js";
import { buildCommandList, joinCommand, loadValohaiYaml, suggest, validateParameterValues, type Step } from "../valohai/index.js";
import { readSnapshotFile } from "./code.js";
import { START_EXECUTION } from "../../worker/tasks/start-execution.js";

export const CreateExecutionBody = z.object({
  step: z.string().min(1),
  code: z.string().regex(/^[0-9a-f]{64}$/, "code must be the sha256 (64 hex digits) of an uploaded snapshot"),
  yamlPath: z.string().min(1).default("valohai.yaml"),
  parameters: z.record(z.string(), z.unknown()).default({}),
  inputs: z.record(z.string(), z.union([z.string(), z.array(z.string())])).default({}),
  environmentVariables: z.record(z.string(), z.string()).default({}),
  title: z.string().max(500).optional(),
  image: z.string().min(1).optional(),
  gpus: z.number().int().min(0).max(1024).optional(),
});
export type CreateExecutionRequest = z.input<typeof CreateExecutionBody>;

export interface CreateDeps {
  sql: Sql;
  store: Store;
  config: Config;
  /** Injected so tests fake the network at the fetch layer. */
  fetch?: typeof fetch;
}

const SECRET_NAME = /(secret|token|passw(or)?d|passwd|private|credential|api[_-]?key|access[_-]?key|(^|_)key$)/i;

export function maskEnvironment(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, SECRET_NAME.test(k) ? "***" : v]));
}

function listify(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function basenameOfUrl(url: string): string {
  try {
    const u = new URL(url);
    const base = decodeURIComponent(u.pathname.split("/").filter(Boolean).pop() ?? "");
    return base && base !== "." && base !== ".." ? base : u.hostname;
  } catch {
    return "input";
  }
}

/** Replaces `{parameter:NAME}` in an input URI with the raw parameter value (valohai-spec §1.6). */
function interpolateUri(uri: string, values: Record<string, unknown>): string {
  return uri.replace(/\{parameter:([^}]+)\}/g, (m, name: string) => (name in values && values[name] != null ? String(values[name]) : m));
}

async function checkReachable(f: typeof fetch, input: string, url: string): Promise<void> {
  const fail = (why: string) => {
    throw new VhError("invalid_input", `Input "${input}": ${url} ${why}. Fix the URL or make it reachable from the vh server.`, { input, url });
  };
  let res: Response;
  try {
    res = await f(url, { method: "HEAD", redirect: "follow", signal: AbortSignal.timeout(15_000) });
    if ([403, 405, 501].includes(res.status)) {
      res = await f(url, { method: "GET", headers: { range: "bytes=0-0" }, redirect: "follow", signal: AbortSignal.timeout(15_000) });
      await res.body?.cancel();
    }
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    fail(`could not be reached (${cause?.code ?? cause?.message ?? (err as Error).message})`);
    return;
  }
  if (res.status >= 400) fail(`answered HTTP ${res.status}${res.statusText ? " " + res.statusText : ""}`);
}

async function resolveInputs(
  deps: CreateDeps,
  project: Project,
  step: Step,
  supplied: Record<string, string | string[]>,
  values: Record<string, unknown>,
): Promise<RequestedInput[]> {
  const errors: string[] = [];
  for (const name of Object.keys(supplied)) {
    if (!step.inputs.has(name)) {
      const names = [...step.inputs.keys()];
      const hint = suggest(name, names);
      errors.push(
        `Step "${step.name}" has no input "${name}".${hint ? ` Did you mean "${hint}"?` : ""} Inputs: ${names.length ? names.join(", ") : "(none)"}.`,
      );
    }
  }
  if (errors.length) throw new VhError("invalid_input", errors.join("\n"), { errors });
  const out: RequestedInput[] = [];
  const f = deps.fetch ?? fetch;
  for (const input of step.inputs.values()) {
    const uris = (input.name in supplied ? listify(supplied[input.name]) : input.default).map((u) => interpolateUri(u, values)).filter((u) => u !== "");
    if (uris.length === 0) {
      if (!input.optional) errors.push(`Input "${input.name}" is required: give it a value (--${input.name}=URI) or mark it optional in valohai.yaml.`);
      continue;
    }
    for (const uri of uris) {
      if (/^https?:\/\//i.test(uri)) {
        await checkReachable(f, input.name, uri);
        out.push({ name: input.name, uri, source: { kind: "http", url: uri }, file: basenameOfUrl(uri) });
        continue;
      }
      const datum = /^datum:\/\/([0-9a-f-]{36})$/i.exec(uri);
      if (datum) {
        const [row] = await deps.sql<{ id: string; name: string; sha256: string; size: number; store_key: string }[]>`
          select id, name, sha256, size, store_key from datums where id = ${datum[1]!} and project_id = ${project.id}`;
        if (!row) {
          errors.push(`Input "${input.name}": ${uri} does not exist in project ${project.name}.`);
          continue;
        }
        out.push({
          name: input.name,
          uri,
          source: { kind: "store", key: row.store_key },
          datumId: row.id,
          sha256: row.sha256,
          size: Number(row.size),
          file: path.posix.basename(row.name),
        });
        continue;
      }
      const scheme = /^([a-z0-9+.-]+):\/\//i.exec(uri)?.[1];
      errors.push(
        scheme
          ? `Input "${input.name}": ${scheme}:// URIs are not supported yet (${uri}); use http(s):// or datum://.`
          : `Input "${input.name}": "${uri}" is not a URI; use http(s)://… or datum://<id>.`,
      );
    }
  }
  if (errors.length) throw new VhError("invalid_input", errors.join("\n"), { errors });
  // `filename` renames a single file (valohai-spec §1.6).
  for (const input of step.inputs.values()) {
    const mine = out.filter((o) => o.name === input.name);
    if (input.filename && mine.length === 1) mine[0]!.file = input.filename;
    const seen = new Set<string>();
    for (const m of mine) {
      let file = m.file;
      for (let i = 2; seen.has(file); i++) file = `${i}-${m.file}`;
      m.file = file;
      seen.add(file);
    }
  }
  return out;
}

export async function createExecution(deps: CreateDeps, project: Project, body: unknown): Promise<{ id: string; counter: number }> {
  const parsed = CreateExecutionBody.safeParse(body);
  if (!parsed.success) {
    throw new VhError("bad_request", parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("\n"));
  }
  const req = parsed.data;
  const yamlText = await readSnapshotFile(deps.store, req.code, req.yamlPath);
  if (yamlText === null) {
    throw new VhError("invalid_config", `The code snapshot has no ${req.yamlPath}; vh reads the steps from it.`);
  }
  const loaded = loadValohaiYaml(yamlText, { filename: req.yamlPath });
  if (!loaded.config) {
    const errs = loaded.problems.filter((p) => p.severity === "error");
    const lines = errs.map((p) => `${p.file ?? req.yamlPath}:${p.line ?? "?"}:${p.column ?? "?"}: ${p.message}`);
    throw new VhError("invalid_config", `${req.yamlPath} is invalid:\n${lines.join("\n")}`, { problems: loaded.problems });
  }
  const step = loaded.config.steps.get(req.step);
  if (!step) {
    const names = [...loaded.config.steps.keys()];
    const hint = suggest(req.step, names);
    throw new VhError(
      "unknown_step",
      `${req.yamlPath} has no step "${req.step}".${hint ? ` Did you mean "${hint}"?` : ""} Steps: ${names.length ? names.join(", ") : "(none)"}.`,
      { steps: names },
    );
  }
  const validated = validateParameterValues(step, req.parameters);
  if (validated.errors.length) {
    throw new VhError(
      "invalid_parameter",
      validated.errors.map((e) => `Parameter "${e.parameter}": ${e.message}`).join("\n"),
      { errors: validated.errors },
    );
  }
  const inputs = await resolveInputs(deps, project, step, req.inputs, validated.values);
  const env: Record<string, string> = {};
  for (const v of step.environmentVariables.values()) if (v.default !== undefined) env[v.name] = v.default;
  Object.assign(env, req.environmentVariables);
  const gpus = req.gpus ?? (env["VH_GPUS"] !== undefined ? Number.parseInt(env["VH_GPUS"], 10) || 0 : 0);
  const commandList = buildCommandList(step, validated.values);
  const command = joinCommand(commandList, deps.config.commandJoiner);
  const parameters = JSON.parse(JSON.stringify(validated.values)) as Record<string, unknown>;

  return deps.sql.begin(async (tx) => {
    const [p] = await tx<{ execution_counter: number }[]>`
      update projects set execution_counter = execution_counter + 1 where id = ${project.id} returning execution_counter`;
    const counter = p!.execution_counter;
    const [row] = await tx<{ id: string }[]>`
      insert into executions (project_id, counter, step, title, status, code_sha256, yaml_path, image, command, command_list,
        parameters, inputs, environment_variables, gpus, time_limit_s, no_output_timeout_s, queued_at)
      values (${project.id}, ${counter}, ${step.name}, ${req.title ?? null}, 'queued', ${req.code}, ${req.yamlPath},
        ${req.image ?? step.image}, ${command}, ${tx.json(commandList)}, ${tx.json(parameters as never)}, ${tx.json(inputs as never)},
        ${tx.json(env)}, ${gpus}, ${step.timeLimitSeconds ?? null}, ${step.noOutputTimeoutSeconds ?? null}, now())
      returning id`;
    const id = row!.id;
    await tx`insert into execution_status_history (execution_id, status) values (${id}, 'created'), (${id}, 'queued')`;
    await tx`select graphile_worker.add_job(${START_EXECUTION}, json_build_object('executionId', ${id}::text), job_key => ${id}::text, max_attempts => 5)`;
    return { id, counter };
  });
}
