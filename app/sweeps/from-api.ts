/**
 * A sweep asked for through the REST API (`POST /projects/:p/sweeps`, the GitHub Action): the
 * grid expanded here, its size checked against the cap before anything else, the code either an
 * uploaded snapshot (`code`) or the project's linked repository at a ref (`commit`, resolved as a
 * single execution's is: app/executions/at-commit.ts), and every execution created all or none
 * by the one creation service (app/executions/create.ts), in one transaction with the sweep's own
 * rows (`source: { kind: "api" }`). No forge is written to: an API sweep has no report job.
 */
import { z } from "zod";
import type { AlsoInTransaction, Sql } from "../../db/client.js";
import type { Project } from "../../db/schema/projects.js";
import type { Forges } from "../contracts/forge.js";
import type { SweepSource } from "../../db/schema/sweeps.js";
import { VhError } from "../errors.js";
import { createExecutions, type CreateDeps } from "../executions/create.js";
import { snapshotAtCommit } from "../executions/at-commit.js";
import { stringifyJson } from "../valohai/index.js";
import { PyFloat } from "../valohai/objects.js";
import { expandSweep, sweepSize, type SweepSpec } from "./index.js";
import type { ParameterRule, SweepDefinition, SweepKind } from "../contracts/sweeps.js";
import type { TaskBlueprint } from "../valohai/index.js";
import { planSweep, type SweepPlan } from "./plan.js";
import { blueprintPlace, definitionOfBlueprint } from "./blueprint.js";
import { insertSweep, insertSweepExecutions } from "../../db/queries/sweeps.js";
import { loadSnapshotConfig, YAML_PATH } from "../snapshots/config.js";

/** One value as JSON gives it: a string, a number (a `PyFloat` or `bigint` from `parseJsonExact`), or a boolean. */
const Scalar = z.union([z.string(), z.number(), z.boolean(), z.bigint(), z.instanceof(PyFloat)], {
  error: "each parameter value must be a string, a number or a boolean",
});

/** A number as the exact JSON reader gives it (a float under `parameters` is a PyFloat, a big integer a bigint). */
const num = z.preprocess((v) => (v instanceof PyFloat ? v.value : typeof v === "bigint" ? Number(v) : v), z.number({ error: "must be a number" }));
/** A rule written out (the CLI sends `logspace(-5,-1,5)` this way, parsed by app/sweeps/expressions.ts). */
const RuleBody = z.union([
  z.object({ style: z.literal("linear"), start: num, end: num, step: num }),
  z.object({ style: z.literal("logspace"), start: num, end: num, count: num, base: num.default(10) }),
  z.object({ style: z.literal("random"), distribution: z.enum(["uniform", "loguniform", "integer"]), min: num, max: num, count: num.optional(), seed: num.optional() }),
  z.object({ style: z.literal("random"), distribution: z.literal("normal"), mean: num, sd: num, count: num.optional(), seed: num.optional() }),
]);

const TYPE_ALIASES: Record<string, SweepKind> = {
  grid: "grid", grid_search: "grid", random: "random", random_search: "random", manual: "manual", manual_search: "manual", bayesian: "bayesian_tpe", bayesian_tpe: "bayesian_tpe", tpe: "bayesian_tpe",
};

const TaskBody = z
  .object({
    type: z.string().transform((t, ctx) => {
      const k = TYPE_ALIASES[t.toLowerCase().replace(/-/g, "_")];
      if (!k) ctx.addIssue({ code: "custom", message: `unknown task type "${t}"; types are grid, random, manual and bayesian_tpe` });
      return k ?? "grid";
    }).optional(),
    count: num.optional(),
    maxParallel: num.optional(),
    seed: num.optional(),
    initialRandom: num.optional(),
    target: z.object({ metric: z.string().min(1), direction: z.enum(["max", "min"]).default("max"), value: num.optional() }).optional(),
    earlyStopping: z.object({ rule: z.enum(["median", "asha"]), gracePeriod: num.optional(), reductionFactor: num.optional(), stepKey: z.string().optional() }).optional(),
    stopCondition: z.string().optional(),
    parameterSets: z.array(z.record(z.string(), Scalar)).optional(),
  })
  .strict();

const SweepBody = z
  .object({
    step: z.string().min(1, "step is required: the valohai.yaml step to run").optional(),
    /** A valohai.yaml task blueprint (top-level `task:`) to run instead of a step. */
    blueprint: z.string().min(1).optional(),
    code: z.unknown().optional(),
    commit: z.unknown().optional(),
    parameters: z
      .record(
        z.string(),
        z.union([Scalar, z.array(Scalar), RuleBody], {
          error: "a parameter is a value, a list of values, or a rule such as {\"style\": \"logspace\", \"start\": -5, \"end\": -1, \"count\": 5} (styles linear, logspace, random: docs/api.md)",
        }),
      )
      .default({}),
    task: TaskBody.optional(),
  })
  .loose();

export interface ApiSweepDeps extends CreateDeps {
  /** Where `commit` sweeps find the project's linked repository; absent: commit sweeps are refused. */
  forges?: Forges;
}

export interface CreatedApiSweep {
  id: string;
  /** The executions' ids, in the grid's order. */
  executionIds: string[];
}

/** The value as the sweep's `spec` records it (text, as a comment would have written it). */
function rawText(v: z.output<typeof Scalar>): string {
  return typeof v === "string" ? v : stringifyJson(v);
}

function parseBody(body: unknown): z.output<typeof SweepBody> {
  const parsed = SweepBody.safeParse(body);
  if (!parsed.success) {
    throw new VhError("bad_request", parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("\n"));
  }
  if (!parsed.data.step && !parsed.data.blueprint) throw new VhError("bad_request", "step is required: the valohai.yaml step to run (or blueprint: a task blueprint of valohai.yaml).");
  if (parsed.data.step && parsed.data.blueprint) throw new VhError("bad_request", "Give either step or blueprint (a task blueprint names its own step), not both.");
  return parsed.data;
}

/** The body's parameters and task as a definition (values as text, as a comment would have written them). */
function definitionOfBody(req: z.output<typeof SweepBody>, base: SweepDefinition | null): SweepDefinition {
  const parameters: Record<string, ParameterRule> = { ...(base?.parameters ?? {}) };
  for (const [name, v] of Object.entries(req.parameters)) {
    if (Array.isArray(v)) parameters[name] = v.length === 1 ? { style: "single", value: rawText(v[0]!) } : { style: "multiple", items: v.map(rawText) };
    else if (v !== null && typeof v === "object" && "style" in v) parameters[name] = v as ParameterRule;
    else parameters[name] = { style: "single", value: rawText(v as z.output<typeof Scalar>) };
  }
  const t = req.task ?? {};
  const def: SweepDefinition = { ...(base ?? { kind: "grid" }), kind: t.type ?? base?.kind ?? "grid", parameters };
  if (t.count !== undefined) def.count = t.count;
  if (t.maxParallel !== undefined) def.maxParallel = t.maxParallel;
  if (t.seed !== undefined) def.seed = t.seed;
  if (t.initialRandom !== undefined) def.initialRandom = t.initialRandom;
  if (t.target) def.target = { metric: t.target.metric, direction: t.target.direction, ...(t.target.value !== undefined ? { value: t.target.value } : {}) };
  if (t.earlyStopping) {
    const es = t.earlyStopping;
    def.earlyStopping = { rule: es.rule, gracePeriod: es.gracePeriod ?? (es.rule === "asha" ? 1 : 3), ...(es.reductionFactor !== undefined ? { reductionFactor: es.reductionFactor } : {}), ...(es.stepKey ? { stepKey: es.stepKey } : {}) };
  }
  if (t.stopCondition !== undefined) def.stopCondition = t.stopCondition;
  if (t.parameterSets) def.parameterSets = t.parameterSets.map((set) => Object.fromEntries(Object.entries(set).map(([k, v]) => [k, rawText(v)])));
  return def;
}

/** Whether the body asks for more than a grid of typed values (which keeps its exact-typed path). */
function needsDefinition(req: z.output<typeof SweepBody>): boolean {
  return req.task !== undefined || req.blueprint !== undefined || Object.values(req.parameters).some((v) => v !== null && typeof v === "object" && !Array.isArray(v) && "style" in v);
}

/**
 * Creates the sweep: every point of the grid one execution, each with the values exactly as sent
 * (typed JSON, as a single execution's are). A list of one is one value; no list at all is a
 * sweep of one. Refused, with nothing written, when the grid is over `config.sweepCap`, when a
 * list is empty, or when any point would be refused as an execution (all points' parameter
 * refusals said at once).
 */
export async function createApiSweep(
  deps: ApiSweepDeps,
  project: Project,
  body: unknown,
  triggeredBy: string,
  alsoInTransaction?: AlsoInTransaction,
): Promise<CreatedApiSweep> {
  const req = parseBody(body);
  if (needsDefinition(req)) return createDefinedSweep(deps, project, req, triggeredBy, alsoInTransaction);
  const { parameters, commit: _commit, code: _code, task: _task, blueprint: _blueprint, ...rest } = req;
  checkCodeChoice(req);
  const lists: Record<string, z.output<typeof Scalar>[]> = {};
  const empty: string[] = [];
  for (const [name, v] of Object.entries(parameters)) {
    // needsDefinition took every body with a rule object
    const values = (Array.isArray(v) ? v : [v]) as z.output<typeof Scalar>[];
    lists[name] = values;
    if (values.length === 0) empty.push(name);
  }
  if (empty.length) {
    throw new VhError("bad_request", `parameters: ${empty.map((n) => `"${n}"`).join(", ")} ${empty.length === 1 ? "is an empty list" : "are empty lists"}, which makes no executions; give at least one value.`, { errors: empty });
  }
  // The grid is expanded over positions, so each point takes the values exactly as they were sent.
  const positions: SweepSpec = Object.fromEntries(Object.entries(lists).map(([name, vs]) => [name, vs.map((_v, i) => String(i))]));
  const size = sweepSize("grid", positions);
  if (size > deps.config.sweepCap) {
    throw new VhError(
      "too_large",
      `That sweep would make ${size.toLocaleString("en-US")} executions; the limit is ${deps.config.sweepCap} (VH_SWEEP_CAP). Use fewer values, or split it into several sweeps.`,
      { size, cap: deps.config.sweepCap },
    );
  }
  const { code, commitSha } = await codeOf(deps, project, req);
  const points = expandSweep("grid", positions);
  const executionPoints = points.map((p) => Object.fromEntries(Object.entries(p).map(([name, i]) => [name, rawText(lists[name]![Number(i)]!)])));
  const bodies = points.map((p) => ({
    ...rest,
    code,
    parameters: Object.fromEntries(Object.entries(p).map(([name, i]) => [name, lists[name]![Number(i)]])),
  }));
  const spec: SweepSpec = Object.fromEntries(Object.entries(lists).map(([name, vs]) => [name, vs.map(rawText)]));
  const source: SweepSource = { kind: "api" };
  const origin = { ...(commitSha ? { commitSha } : {}), triggeredBy };
  const { created, extra: id } = await createExecutions(deps, project, bodies, origin, async (tx, { created, prepared }) => {
    const sweepId = await insertSweep(tx, {
      projectId: project.id, step: prepared[0]!.step.name, kind: "grid", spec, definition: null,
      commitSha: commitSha ?? "", codeSha256: prepared[0]!.req.code, source, triggeredBy,
    });
    await insertSweepExecutions(tx, sweepId, 0, created, executionPoints);
    await alsoInTransaction?.(tx, sweepId);
    return sweepId;
  });
  return { id, executionIds: created.map((c) => c.id) };
}

/** Exactly one of `code` and `commit`, checked before anything is looked at. */
function checkCodeChoice(req: z.output<typeof SweepBody>): void {
  if (req.commit !== undefined && req.code !== undefined) {
    throw new VhError("bad_request", "Give either code (an uploaded snapshot) or commit (the linked repository at a ref), not both.");
  }
  if (req.commit === undefined && req.code === undefined) {
    throw new VhError("bad_request", "Give code (the sha256 of an uploaded snapshot) or commit (a branch, tag or sha of the linked repository).");
  }
}

/** The code the sweep runs (after `checkCodeChoice`): the uploaded snapshot, or the linked repository's archive at `commit` (fetched here). */
async function codeOf(deps: ApiSweepDeps, project: Project, req: z.output<typeof SweepBody>): Promise<{ code: unknown; commitSha: string | null }> {
  if (req.commit === undefined) return { code: req.code, commitSha: null };
  if (!deps.forges) throw new VhError("internal", "This server was started without forges: commit runs are not served.");
  return snapshotAtCommit({ ...deps, forges: deps.forges }, project, req.commit);
}

/**
 * A sweep of any kind (random, Bayesian, manual, a task blueprint, rules like logspace): the
 * definition checked and sized first (nothing written on a refusal), then the points made now
 * created all or none, those beyond max parallel waiting.
 */
async function createDefinedSweep(
  deps: ApiSweepDeps,
  project: Project,
  req: z.output<typeof SweepBody>,
  triggeredBy: string,
  alsoInTransaction: AlsoInTransaction | undefined,
): Promise<CreatedApiSweep> {
  const { parameters: _p, commit: _c, code: _code, task: _t, blueprint, step: givenStep, ...rest } = req;
  let base: SweepDefinition | null = null;
  let task: TaskBlueprint | undefined;
  let step = givenStep;
  // The definition is checked before the code is fetched, except a blueprint's, which is in it.
  if (!blueprint) planSweep(definitionOfBody(req, null), deps.config.sweepCap, "Use fewer values, or split it into several sweeps.");
  checkCodeChoice(req);
  const { code, commitSha } = await codeOf(deps, project, req);
  const yamlPath = typeof rest["yamlPath"] === "string" ? (rest["yamlPath"] as string) : YAML_PATH;
  if (blueprint) {
    if (typeof code !== "string") throw new VhError("bad_request", "code must be the sha256 of an uploaded snapshot.");
    const loaded = await loadSnapshotConfig(deps.store, { code, yamlPath, commitSha });
    const t = loaded.config.tasks.get(blueprint);
    if (!t) {
      const names = [...loaded.config.tasks.keys()];
      throw new VhError("not_found", `${yamlPath} has no task blueprint "${blueprint}". Task blueprints: ${names.length ? names.join(", ") : "(none)"}.`);
    }
    base = definitionOfBlueprint(t, yamlPath);
    task = t;
    step = t.step;
    if (!loaded.config.steps.has(t.step)) {
      throw new VhError("bad_request", `${blueprintPlace(t, yamlPath)}: its step "${t.step}" does not exist. Steps: ${[...loaded.config.steps.keys()].join(", ") || "(none)"}.`);
    }
  }
  let plan: SweepPlan;
  try {
    plan = planSweep(definitionOfBody(req, base), deps.config.sweepCap, "Use fewer values, or split it into several sweeps.");
  } catch (err) {
    // A blueprint's problems are said at its place in valohai.yaml.
    if (task && err instanceof VhError) throw new VhError(err.code, `${blueprintPlace(task, yamlPath)}: ${err.message}`, err.details);
    throw err;
  }
  const bodies = plan.points.map((p) => ({ ...rest, step, code, parameters: p }));
  const source: SweepSource = { kind: "api" };
  const origin = { ...(commitSha ? { commitSha } : {}), triggeredBy };
  const { created, extra: id } = await createExecutions(deps, project, bodies, origin, async (tx, { created, prepared }) => {
    const sweepId = await insertSweep(tx, {
      projectId: project.id, step: prepared[0]!.step.name, kind: plan.definition.kind, spec: plan.spec, definition: plan.definition,
      commitSha: commitSha ?? "", codeSha256: prepared[0]!.req.code, source, triggeredBy,
    });
    await insertSweepExecutions(tx, sweepId, 0, created, plan.points);
    await alsoInTransaction?.(tx, sweepId);
    return sweepId;
  }, { held: plan.held });
  return { id, executionIds: created.map((c) => c.id) };
}

export interface ApiSweepRecord {
  id: string;
  step: string;
  kind: SweepKind;
  spec: Record<string, string[]>;
  definition: SweepDefinition | null;
  stoppedReason: string | null;
  /** The commit it ran at; null for an uploaded snapshot. */
  commit: string | null;
  code: string;
  source: SweepSource;
  triggeredBy: string;
  createdAt: Date;
  /** In the grid's order. */
  executionIds: string[];
}

/** A sweep of the project (any source), or a not_found naming it. */
export async function findSweep(sql: Sql, project: Project, ref: string): Promise<ApiSweepRecord> {
  const missing = () => new VhError("not_found", `Sweep ${ref} does not exist in project ${project.name}.`);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ref)) throw missing();
  const [s] = await sql<{ id: string; step: string; kind: SweepKind; spec: Record<string, string[]>; definition: SweepDefinition | null; stopped_reason: string | null; commit_sha: string; code_sha256: string; source: SweepSource; triggered_by: string; created_at: Date }[]>`
    select id, step, kind, spec, definition, stopped_reason, commit_sha, code_sha256, source, triggered_by, created_at from sweeps where id = ${ref} and project_id = ${project.id}`;
  if (!s) throw missing();
  const rows = await sql<{ execution_id: string }[]>`select execution_id from sweep_executions where sweep_id = ${s.id} order by position`;
  return {
    id: s.id,
    step: s.step,
    kind: s.kind,
    spec: s.spec,
    definition: s.definition,
    stoppedReason: s.stopped_reason,
    commit: s.commit_sha || null,
    code: s.code_sha256,
    source: s.source,
    triggeredBy: s.triggered_by,
    createdAt: s.created_at,
    executionIds: rows.map((r) => r.execution_id),
  };
}
