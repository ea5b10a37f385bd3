/**
 * Creating an execution, for every caller (the HTTP API, and every forge trigger through
 * app/sweeps/start.ts): the one place valohai.yaml is checked, read from the code snapshot itself
 * (app/snapshots/config.ts, parsed once per snapshot). Every check runs before anything is written,
 * and the row, its status history and its queue job are written in one transaction, so a refused
 * request leaves nothing behind and an accepted one is never lost between "created" and "queued".
 */
import path from "node:path";
import { z } from "zod";
import type postgres from "postgres";
import type { AlsoInTransaction, Sql } from "../../db/client.js";
import type { Project } from "../../db/schema/projects.js";
import type { RequestedInput } from "../../db/schema/executions.js";
import type { Store } from "../contracts/store.js";
import { isUsersMistake, VhError } from "../errors.js";
import { secretsKeyOf, type Config } from "../config.js";
import { buildCommandList, CommandBuildError, joinCommand, nodeStep, suggest, toJsonValue, validateParameterValues, type ParamValue, type Problem, type Step } from "../valohai/index.js";
import { invalidParameters, loadConfigText, loadSnapshotConfig, problemLine, stepOf, type ConfigPlace, type SnapshotConfig } from "../snapshots/config.js";
import { requestSchedulerPass } from "../../db/queries/jobs.js";
import { largestHost } from "../hosts/records.js";
import { recordModelInputs } from "../models/inputs.js";
import { recordDatasetInputs } from "../datasets/inputs.js";
import { readEnvironmentsFile } from "../environments/file.js";
import { chooseEnvironment } from "../environments/resolve.js";
import { MAX_RETRIES } from "../contracts/compute.js";

/** The largest `seed` (numpy.random.seed takes 0 … 2^32−1). */
export const MAX_SEED = 4294967295;


export const CreateExecutionBody = z.object({
  step: z.string().min(1),
  code: z.string().regex(/^[0-9a-f]{64}$/, "code must be the sha256 (64 hex digits) of an uploaded snapshot"),
  yamlPath: z.string().min(1).default("valohai.yaml"),
  parameters: z.record(z.string(), z.unknown()).default({}),
  inputs: z.record(z.string(), z.union([z.string(), z.array(z.string())])).default({}),
  environmentVariables: z.record(z.string(), z.string()).default({}),
  title: z.string().max(500).optional(),
  tags: z
    .array(z.string({ error: "each tag must be a string" }), { error: "tags must be a list of strings" })
    .superRefine((tags, ctx) => {
      for (const message of tagProblems(tags)) ctx.addIssue({ code: "custom", message });
    })
    .transform((tags) => [...new Set(tags)])
    .default([]),
  image: z.string().min(1).optional(),
  gpus: z.number().int().min(0).max(1024).optional(),
  /** The environment to run in (VH_ENVIRONMENTS_FILE), over the step's valohai.yaml `environment:`. */
  environment: z.string().min(1).max(100).optional(),
  /** Sets VH_SEED in the step's environment (recorded in `runtime.seed`); 0 … 2^32−1, what numpy's seed takes. */
  /** Attempts after a failed one (exit code not 0): 0 … 10, none by default. */
  retries: z.number({ error: "retries must be a whole number" }).int("retries must be a whole number").min(0, "retries must be 0 or more").max(MAX_RETRIES, `retries must be at most ${MAX_RETRIES}`).default(0),
  seed: z.number({ error: "seed must be a whole number" }).int("seed must be a whole number").min(0, "seed must be 0 or more").max(MAX_SEED, `seed must be at most ${MAX_SEED} (2^32-1)`).optional(),
});
export type CreateExecutionRequest = z.input<typeof CreateExecutionBody>;

/** Most tags one execution may have; each is 1–64 of `TAG_CHARACTERS`. */
export const MAX_TAGS = 20;
export const MAX_TAG_LENGTH = 64;
const TAG = /^[A-Za-z0-9._:-]{1,64}$/;
const TAG_CHARACTERS = 'letters, digits, ".", "_", "-" and ":"';

/** What is wrong with these tags (an execution's, or a list filter's), one sentence each naming the tag; empty when nothing is. */
export function tagProblems(tags: readonly string[]): string[] {
  const problems: string[] = [];
  const distinct = new Set(tags);
  if (distinct.size > MAX_TAGS) problems.push(`At most ${MAX_TAGS} tags per execution, not ${distinct.size}.`);
  for (const tag of distinct) {
    if (TAG.test(tag)) continue;
    const shown = JSON.stringify(tag.length > 80 ? `${tag.slice(0, 80)}…` : tag);
    if (tag === "") problems.push(`A tag cannot be empty: a tag is 1–${MAX_TAG_LENGTH} ${TAG_CHARACTERS}.`);
    else if (tag.length > MAX_TAG_LENGTH) problems.push(`Tag ${shown} is ${tag.length} characters long: a tag is at most ${MAX_TAG_LENGTH}.`);
    else problems.push(`Tag ${shown} has a character a tag cannot have: a tag is 1–${MAX_TAG_LENGTH} ${TAG_CHARACTERS}.`);
  }
  return problems;
}

export interface CreateDeps {
  sql: Sql;
  store: Store;
  config: Config;
  /** Injected so tests fake the network at the fetch layer. */
  fetch?: typeof fetch;
}

/** Masking lives in one place (by name, in URLs, and by value in logs). */
export { maskEnvironment } from "./secrets.js";
import { sealSecrets, splitSecrets } from "./secrets.js";
import { resolveInputUri } from "../inputs/resolve.js";

function listify(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** Replaces `{parameter:NAME}` in an input URI with the raw parameter value (valohai-spec §1.6). */
function interpolateUri(uri: string, values: Record<string, unknown>): string {
  return uri.replace(/\{parameter:([^}]+)\}/g, (m, name: string) => (name in values && values[name] != null ? String(values[name]) : m));
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
  const ctx = { sql: deps.sql, store: deps.store, config: deps.config, project, fetch: deps.fetch ?? fetch };
  for (const input of step.inputs.values()) {
    const uris = (input.name in supplied ? listify(supplied[input.name]) : input.default).map((u) => interpolateUri(u, values)).filter((u) => u !== "");
    if (uris.length === 0) {
      if (!input.optional) errors.push(`Input "${input.name}" is required: give it a value (--${input.name}=URI) or mark it optional in valohai.yaml.`);
      continue;
    }
    for (const uri of uris) {
      try {
        out.push(...(await resolveInputUri(ctx, input.name, uri, { keepDirectories: input.keepDirectories })));
      } catch (err) {
        if (!isUsersMistake(err)) throw err;
        errors.push(err.message);
      }
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
  // The runner lays inputs out as inputs/NAME/FILE: refuse here what it would refuse at launch.
  for (const o of out) {
    const why = unsafePathName(o.name, false) ?? unsafePathName(o.file, true);
    if (why) errors.push(`Input "${o.name}": ${why}`);
  }
  if (errors.length) throw new VhError("invalid_input", errors.join("\n"), { errors });
  return out;
}

/** Why `name` cannot be a folder (`nested: false`) or a relative file path under inputs/, or null. */
function unsafePathName(name: string, nested: boolean): string | null {
  if (name === "") return "an empty name cannot be a file name.";
  if (/[\\\u0000-\u001f\u007f]/.test(name)) return `"${JSON.stringify(name).slice(1, -1)}" has a backslash or a control character, which a file name cannot have here.`;
  if (!nested && name.includes("/")) return `"${name}" cannot contain "/".`;
  if (name.split("/").some((s) => s === "" || s === "." || s === "..")) return `"${name}" is not a relative path of plain names (no "..", ".", or empty parts).`;
  return null;
}

/** Who and what started an execution, when it was not a plain API call. Not part of the request body: set by the server. */
export interface ExecutionOrigin {
  /** The git commit the code snapshot was made from (the forge's archive of it). */
  commitSha?: string;
  /** The forge login (or token name) that asked. */
  triggeredBy?: string;
  /** A pipeline node's execution: the node's step is its step with the node's `override` (valohai.yaml). */
  pipelineNode?: { pipeline: string; node: string };
  /**
   * valohai.yaml as read from another commit than the code's, and that commit: a fork's code runs
   * with its base branch's valohai.yaml (app/bot/fork-policy.ts). Absent: the snapshot's own.
   */
  config?: { loaded: SnapshotConfig; commitSha: string };
}

/** An execution that passed every check and can be written. */
export interface PreparedExecution {
  req: z.output<typeof CreateExecutionBody>;
  step: Step;
  /** The lint problems (warnings) of the snapshot's valohai.yaml: shared, read-only. */
  problems: readonly Problem[];
  inputs: RequestedInput[];
  /** The environment as shown (secret values masked), and the hidden values sealed (app/executions/secrets.ts). */
  env: Record<string, string>;
  envSealed: string | null;
  gpus: number;
  /** The environment it runs in (app/environments/resolve.ts); null: the registered hosts. */
  environment: string | null;
  /** Said on the execution (e.g. the step's environment is not one of ours). */
  warnings: string[];
  commandList: string[];
  command: string;
  parameters: Record<string, unknown>;
}

/** A request whose body, step and parameter values passed: what is left to check needs no valohai.yaml. */
interface CheckedRequest {
  req: z.output<typeof CreateExecutionBody>;
  loaded: SnapshotConfig;
  step: Step;
  values: Record<string, ParamValue>;
}

/**
 * The checks against the snapshot's valohai.yaml (app/snapshots/config.ts: read and parsed once per
 * snapshot, one set of messages): the body's shape, the file, the step, every parameter value.
 */
async function checkRequest(deps: CreateDeps, body: unknown, origin: ExecutionOrigin): Promise<CheckedRequest> {
  const req = parseBody(CreateExecutionBody, body);
  if (origin.config) {
    const place = { code: req.code, yamlPath: req.yamlPath, commitSha: origin.config.commitSha };
    return checkAgainst(req, origin.config.loaded, place, origin.pipelineNode);
  }
  const place = { code: req.code, yamlPath: req.yamlPath, commitSha: origin.commitSha ?? null };
  return checkAgainst(req, await loadSnapshotConfig(deps.store, place), place, origin.pipelineNode);
}

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new VhError("bad_request", parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("\n"));
  }
  return parsed.data;
}

function checkAgainst(req: z.output<typeof CreateExecutionBody>, loaded: SnapshotConfig, place: ConfigPlace, node?: ExecutionOrigin["pipelineNode"]): CheckedRequest {
  const step = node ? pipelineNodeStep(loaded, node, req.step) : stepOf(loaded, req.step, place);
  const validated = validateParameterValues(step, req.parameters);
  if (validated.errors.length) throw invalidParameters(validated.errors);
  return { req, loaded, step, values: validated.values };
}

/** A pipeline node's step with its override; the node must run `stepName` (app/pipelines/ checked it at the pipeline's creation). */
function pipelineNodeStep(loaded: SnapshotConfig, ref: NonNullable<ExecutionOrigin["pipelineNode"]>, stepName: string): Step {
  const node = loaded.config.pipelines.get(ref.pipeline)?.nodes.find((n) => n.name === ref.node);
  const step = node ? nodeStep(loaded.config, node) : undefined;
  if (!step || step.name !== stepName) throw new VhError("invalid_config", `Pipeline "${ref.pipeline}" has no node "${ref.node}" running step "${stepName}" in this snapshot.`);
  return step;
}

/**
 * What a creation would answer for `body` (the creation body without `code`) if the uploaded
 * snapshot held `yamlText` at `body.yamlPath` (null: no such file): every check, nothing written.
 * `POST …/executions/validate` asks it before a client uploads its code.
 */
export async function prepareExecutionFromYaml(deps: CreateDeps, project: Project, body: unknown, yamlText: string | null): Promise<PreparedExecution> {
  const req = { ...parseBody(CreateExecutionBody.omit({ code: true }), body), code: "" };
  const place = { code: "", yamlPath: req.yamlPath, commitSha: null };
  return completeExecution(deps, project, checkAgainst(req, loadConfigText(yamlText, place), place));
}

/** Every check of a creation, and nothing written: throws a VhError a user can act on. */
export async function prepareExecution(deps: CreateDeps, project: Project, body: unknown, origin: ExecutionOrigin = {}): Promise<PreparedExecution> {
  return completeExecution(deps, project, await checkRequest(deps, body, origin));
}

/** The checks that need more than valohai.yaml (inputs, environment, GPUs) and the command. */
async function completeExecution(deps: CreateDeps, project: Project, checked: CheckedRequest): Promise<PreparedExecution> {
  const { req, loaded, step, values } = checked;
  const inputs = await resolveInputs(deps, project, step, req.inputs, values);
  const env: Record<string, string> = {};
  for (const v of step.environmentVariables.values()) if (v.default !== undefined) env[v.name] = v.default;
  Object.assign(env, req.environmentVariables);
  if (req.seed !== undefined) {
    const given = req.environmentVariables["VH_SEED"];
    if (given !== undefined && given.trim() !== String(req.seed)) {
      throw new VhError("bad_request", `seed ${req.seed} and environment variable VH_SEED=${given} disagree: give the seed once (seed sets VH_SEED).`);
    }
    // Over the step's own VH_SEED default: the request asked for this one.
    env["VH_SEED"] = String(req.seed);
  }
  const envErrors: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) envErrors.push(`Environment variable name "${name}" is not allowed: use letters, digits and "_", not starting with a digit.`);
    // A newline, carriage return or NUL could not travel in Docker's --env-file, and must never
    // reach the host-side wrapper's environment instead (it runs outside the container).
    else if (/[\n\r\u0000]/.test(value)) envErrors.push(`Environment variable ${name} contains a line break or NUL; pass multi-line values as an input file instead.`);
  }
  if (envErrors.length) throw new VhError("bad_request", envErrors.join("\n"), { errors: envErrors });
  let gpus = req.gpus ?? 0;
  if (req.gpus === undefined && env["VH_GPUS"] !== undefined) {
    const v = env["VH_GPUS"].trim();
    if (!/^\d{1,4}$/.test(v)) throw new VhError("bad_request", `VH_GPUS must be a whole number of GPUs (0 for CPU only), not "${env["VH_GPUS"]}".`);
    gpus = Number(v);
  }
  // Its environment, and whether the environment's hosts can ever run it (refused now, with the reason).
  const envs = readEnvironmentsFile(deps.config.compute.environmentsFile);
  const chosen = chooseEnvironment(envs, { explicit: req.environment, step: step.environment, defaultName: deps.config.compute.defaultEnvironment, gpus });
  if (gpus > 0 && !chosen.environment) {
    // A request no single host can ever satisfy is refused now, not queued forever.
    const largest = await largestHost(deps.sql);
    if (!largest || gpus > largest.gpus) {
      throw new VhError(
        "bad_request",
        largest
          ? `VH_GPUS=${gpus}: no host has that many GPUs (the largest, ${largest.name}, has ${largest.gpus}). Ask for at most ${largest.gpus}, or add a larger host (vh host add).`
          : `VH_GPUS=${gpus}: no GPU host is registered. Add one with vh host add, or run with VH_GPUS=0.`,
        { gpus, largestHost: largest },
      );
    }
  }
  let commandList: string[];
  try {
    commandList = buildCommandList(step, values);
  } catch (err) {
    // A pass-as template that cannot take this value (e.g. {v[3]} on a short string): the user's to fix, with its place.
    if (!(err instanceof CommandBuildError)) throw err;
    const p = err.problem;
    throw new VhError("invalid_parameter", p.line !== undefined ? problemLine({ ...p, message: err.message }, req.yamlPath) : err.message, { problems: [p] });
  }
  const command = joinCommand(commandList, deps.config.commandJoiner);
  // An integer beyond 2^53 is kept as its exact decimal string (JSON readers would round it).
  const parameters = toJsonValue(values) as Record<string, unknown>;
  const { shown, hidden } = splitSecrets(env);
  return {
    req,
    step,
    problems: loaded.problems,
    inputs,
    env: shown,
    envSealed: sealSecrets(hidden, secretsKeyOf(deps.config)),
    gpus,
    environment: chosen.environment?.name ?? null,
    warnings: chosen.warning ? [chosen.warning] : [],
    commandList,
    command,
    parameters,
  };
}

/**
 * Writes one prepared execution inside the caller's transaction: counter, row, history, queue job.
 * `held`: it stays `created` with that reason, not queued (a sweep's beyond its max parallel:
 * app/sweeps/advance.ts queues it when a slot frees).
 */
export async function insertExecution(
  tx: postgres.TransactionSql,
  project: Project,
  prepared: PreparedExecution,
  origin: ExecutionOrigin = {},
  opts: { held?: string } = {},
): Promise<{ id: string; counter: number }> {
  const { req, step, inputs, env, envSealed, gpus, commandList, command, parameters, environment, warnings } = prepared;
  const held = opts.held;
  // The datums it reads must still exist when it is written (an `exec delete` of the execution that
  // made them may have committed meanwhile), and stay until this commits: a delete then sees a reader.
  const datumIds = [...new Set(inputs.flatMap((i) => (i.datumId ? [i.datumId] : [])))];
  if (datumIds.length) {
    const held = await tx<{ id: string }[]>`select id from datums where id = any(${datumIds}::uuid[]) for key share`;
    if (held.length < datumIds.length) {
      const gone = datumIds.filter((d) => !held.some((h) => h.id === d)).map((d) => `datum://${d}`);
      throw new VhError("conflict", `Input ${gone.join(", ")} was deleted while this execution was being created: nothing was created.`, { deleted: gone });
    }
  }
  const [p] = await tx<{ execution_counter: number }[]>`
    update projects set execution_counter = execution_counter + 1 where id = ${project.id} returning execution_counter`;
  const counter = p!.execution_counter;
  const [row] = await tx<{ id: string }[]>`
    insert into executions (project_id, counter, step, title, tags, status, code_sha256, commit_sha, triggered_by, yaml_path, image, command, command_list,
      parameters, inputs, environment_variables, environment_secrets, gpus, time_limit_s, no_output_timeout_s, stop_condition, queued_at, status_detail,
      environment, warnings, retries)
    values (${project.id}, ${counter}, ${step.name}, ${req.title ?? null}, ${tx.json(req.tags)}, ${held ? "created" : "queued"}, ${req.code}, ${origin.commitSha ?? null}, ${origin.triggeredBy ?? null},
      ${req.yamlPath}, ${req.image ?? step.image}, ${command}, ${tx.json(commandList)}, ${tx.json(parameters as never)}, ${tx.json(inputs as never)},
      ${tx.json(env)}, ${envSealed}, ${gpus}, ${step.timeLimitSeconds ?? null}, ${step.noOutputTimeoutSeconds ?? null}, ${step.stopCondition ?? null},
      ${held ? tx`null` : tx`now()`}, ${held ?? null}, ${environment}, ${tx.json(warnings)}, ${req.retries})
    returning id`;
  const id = row!.id;
  if (held) await tx`insert into execution_status_history (execution_id, status, reason) values (${id}, 'created', ${held})`;
  else await tx`insert into execution_status_history (execution_id, status) values (${id}, 'created'), (${id}, 'queued')`;
  await recordModelInputs(tx, { id, counter, triggeredBy: origin.triggeredBy ?? null }, inputs);
  await recordDatasetInputs(tx, { id }, inputs);
  // The scheduler places it (worker/scheduler/): one coalesced pass for a burst of creations.
  if (!held) await requestSchedulerPass(tx);
  return { id, counter };
}

export async function createExecution(
  deps: CreateDeps,
  project: Project,
  body: unknown,
  origin: ExecutionOrigin = {},
  alsoInTransaction?: AlsoInTransaction,
): Promise<{ id: string; counter: number }> {
  const prepared = await prepareExecution(deps, project, body, origin);
  return deps.sql.begin(async (tx) => {
    const made = await insertExecution(tx, project, prepared, origin);
    await alsoInTransaction?.(tx, made.id);
    return made;
  });
}

/** What `createExecutions` wrote, for the caller's own rows in the same transaction. */
export interface WrittenExecutions {
  project: Project;
  /** In the order of the bodies. */
  created: { id: string; counter: number }[];
  prepared: PreparedExecution[];
}

/** How many distinct parameter refusals a sweep collects before it stops looking at more points. */
const MAX_PARAMETER_REFUSALS = 10;

/**
 * Creates several executions (a sweep) all or none: every one is checked first, then all are
 * written in one transaction, with `alsoInTransaction` (e.g. the sweep's own rows) in the same
 * transaction. A refusal of any one refuses them all and writes nothing. Every point's parameter
 * values are checked against valohai.yaml before anything else (inputs, hosts) is looked at, and
 * the refusals of all the points are said in one error. `project` may be a function: it is called
 * (a repository's project made, say) only once those checks passed.
 */
export async function createExecutions<T>(
  deps: CreateDeps,
  project: Project | (() => Promise<Project>),
  bodies: unknown[],
  origin: ExecutionOrigin,
  alsoInTransaction: (tx: postgres.TransactionSql, written: WrittenExecutions) => Promise<T>,
  opts: { held?: (index: number) => string | undefined } = {},
): Promise<{ created: { id: string; counter: number }[]; extra: T }> {
  const checked: CheckedRequest[] = [];
  const refusals: { parameter: string; message: string }[] = [];
  const seen = new Set<string>();
  for (const body of bodies) {
    try {
      checked.push(await checkRequest(deps, body, origin));
    } catch (err) {
      const errors = err instanceof VhError && err.code === "invalid_parameter" ? (err.details as { errors?: typeof refusals } | undefined)?.errors : undefined;
      if (!errors) throw err;
      for (const e of errors) {
        const key = `${e.parameter}\u0000${e.message}`;
        if (!seen.has(key)) refusals.push(e);
        seen.add(key);
      }
      if (seen.size >= MAX_PARAMETER_REFUSALS) break;
    }
  }
  if (refusals.length) throw invalidParameters(refusals);
  const proj = typeof project === "function" ? await project() : project;
  const prepared: PreparedExecution[] = [];
  for (const c of checked) prepared.push(await completeExecution(deps, proj, c));
  return deps.sql.begin(async (tx) => {
    const created: { id: string; counter: number }[] = [];
    for (const [i, p] of prepared.entries()) {
      const held = opts.held?.(i);
      created.push(await insertExecution(tx, proj, p, origin, held ? { held } : {}));
    }
    const extra = await alsoInTransaction(tx, { project: proj, created, prepared });
    return { created, extra };
  });
}
