/**
 * Phase 3 and 4 of loading (valohai-spec §2): turns the validated document into typed objects and
 * runs the semantic lint rules on the way (duplicate names, parameter defaults, stop conditions,
 * runtime-config presets). Pipelines are parsed in `pipelines.ts`.
 */
import { parseDuration } from "./duration.js";
import { checkExpression } from "./expression.js";
import { type Deployment, type Endpoint, type MinMax, type ParamValue, type Step, type StepResources, type TaskBlueprint, type ValohaiConfig, type VariantParameter } from "./objects.js";
import { parsePipeline } from "./pipelines.js";
import type { PathSeg, Reporter } from "./problems.js";
import { normaliseOnChildError, normaliseTaskType, topLevelKind } from "./schema.js";
import { isPlainObject } from "./yaml11.js";
import { listify, num, parseEnvironmentVariable, parseInput, parseMount, parseParameter, str, strList, withPos, type Raw } from "./elements.js";

function parseMinMax(v: unknown): MinMax | undefined {
  if (!isPlainObject(v)) return undefined;
  const out: MinMax = {};
  const min = num(v["min"]);
  const max = num(v["max"]);
  if (min !== undefined) out.min = min;
  if (max !== undefined) out.max = max;
  return out;
}

function parseResources(v: unknown): StepResources | undefined {
  if (!isPlainObject(v)) return undefined;
  const out: StepResources = {};
  const cpu = parseMinMax(v["cpu"]);
  const memory = parseMinMax(v["memory"]);
  if (cpu) out.cpu = cpu;
  if (memory) out.memory = memory;
  if (isPlainObject(v["devices"])) {
    out.devices = Object.fromEntries(Object.entries(v["devices"]).map(([k, n]) => [k, num(n) ?? 0]));
  }
  return out;
}

function byName<T extends { name: string }>(
  items: unknown,
  path: PathSeg[],
  r: Reporter,
  what: string,
  owner: string,
  parse: (raw: Raw, p: PathSeg[]) => T,
): Map<string, T> {
  const out = new Map<string, T>();
  listify(items).forEach((raw, i) => {
    if (!isPlainObject(raw)) return;
    const item = parse(raw, [...path, i]);
    if (out.has(item.name)) {
      r.warn(`duplicate-${what.replace(/ /g, "-")}`, `${owner} declares the ${what} "${item.name}" more than once; the last one wins. Rename or remove one.`, [...path, i]);
    }
    out.set(item.name, item);
  });
  return out;
}

function commandList(v: unknown): string[] {
  return listify(v).map((c) => (typeof c === "string" ? c : String(c)));
}

export function parseStep(raw: Raw, r: Reporter, path: PathSeg[]): Step {
  const name = str(raw["name"]) ?? "";
  const owner = `Step "${name}"`;
  const step: Step = {
    name,
    image: str(raw["image"]) ?? "",
    command: commandList(raw["command"]),
    parameters: byName(raw["parameters"], [...path, "parameters"], r, "parameter", owner, (p, pp) => parseParameter(p, r, pp, owner)),
    inputs: byName(raw["inputs"], [...path, "inputs"], r, "input", owner, (p, pp) => parseInput(p, r, pp)),
    environmentVariables: byName(raw["environment-variables"], [...path, "environment-variables"], r, "environment variable", owner, (p) => parseEnvironmentVariable(p)),
    environmentVariableGroups: strList(raw["environment-variable-groups"]),
    mounts: listify(raw["mounts"]).map(parseMount),
    cacheVolumes: strList(raw["cache-volumes"]),
    outputs: listify(raw["outputs"])
      .filter(isPlainObject)
      .map((o) => {
        const out: { name: string; description?: string } = { name: str(o["name"]) ?? "" };
        const d = str(o["description"]);
        if (d !== undefined) out.description = d;
        return out;
      }),
  };
  const timeLimit = parseDuration(raw["time-limit"]);
  const noOutput = parseDuration(raw["no-output-timeout"]);
  if (timeLimit !== undefined) step.timeLimitSeconds = timeLimit;
  if (noOutput !== undefined) step.noOutputTimeoutSeconds = noOutput;
  const resources = parseResources(raw["resources"]);
  if (resources) step.resources = resources;
  const optionalStrings = [
    ["description", "description"],
    ["upload-store", "uploadStore"],
    ["source-path", "sourcePath"],
    ["stop-condition", "stopCondition"],
    ["environment", "environment"],
    ["runtime-config-preset", "runtimeConfigPreset"],
    ["icon", "icon"],
    ["category", "category"],
  ] as const;
  for (const [key, field] of optionalStrings) {
    const v = str(raw[key]);
    if (v !== undefined) step[field] = v;
  }
  withPos(step, r, path);

  if (step.runtimeConfigPreset !== undefined && step.environment === undefined) {
    r.error(
      "preset-without-environment",
      `Step "${name}": missing "environment". When specifying a runtime config preset (runtime-config-preset: ${step.runtimeConfigPreset}), you must also specify an environment.`,
      [...path, "runtime-config-preset"],
    );
  }
  if (step.stopCondition !== undefined) lintStopCondition(step.stopCondition, `Step "${name}"`, r, [...path, "stop-condition"]);
  return step;
}

function lintStopCondition(expr: string, owner: string, r: Reporter, path: PathSeg[]): void {
  const check = checkExpression(expr);
  if (check.ok) return;
  r.error(
    "stop-condition",
    `${owner}, \`stop-condition\` is not a valid expression: ${check.message} (at character ${check.column} of "${expr}"). Write a Python-style condition such as \`metadata.loss < 0.1\`.`,
    path,
  );
}

export function parseTask(raw: Raw, r: Reporter, path: PathSeg[]): TaskBlueprint {
  const name = str(raw["name"]) ?? "";
  const type = normaliseTaskType(str(raw["type"]) ?? "grid_search") as TaskBlueprint["type"];
  const task: TaskBlueprint = {
    name,
    step: str(raw["step"]) ?? "",
    type,
    parameters: listify(raw["parameters"])
      .filter(isPlainObject)
      .map(
        (p): VariantParameter => ({
          name: str(p["name"]) ?? "",
          style: (str(p["style"]) ?? "single") as VariantParameter["style"],
          rules: (isPlainObject(p["rules"]) ? p["rules"] : {}) as Record<string, ParamValue>,
        }),
      ),
    parameterSets: listify(raw["parameter-sets"]).filter(isPlainObject) as Record<string, ParamValue>[],
    reuseChildren: raw["reuse-children"] === true,
  };
  const ints = [
    ["execution-count", "executionCount"],
    ["execution-batch-size", "executionBatchSize"],
    ["maximum-queued-executions", "maximumQueuedExecutions"],
  ] as const;
  for (const [key, field] of ints) {
    const v = num(raw[key]);
    if (v !== undefined) task[field] = v;
  }
  const metric = str(raw["optimization-target-metric"]);
  const target = num(raw["optimization-target-value"]);
  const engine = str(raw["engine"]);
  const oce = str(raw["on-child-error"]);
  const stop = str(raw["stop-condition"]);
  const description = str(raw["description"]);
  if (metric !== undefined) task.optimizationTargetMetric = metric;
  if (target !== undefined) task.optimizationTargetValue = target;
  if (engine !== undefined) task.engine = engine;
  if (oce !== undefined) task.onChildError = normaliseOnChildError(oce) as TaskBlueprint["onChildError"] & string;
  if (stop !== undefined) task.stopCondition = stop;
  if (description !== undefined) task.description = description;
  withPos(task, r, path);

  const owner = `Task "${name}"`;
  if (task.parameterSets.length && type !== "manual_search") {
    r.warn("task-parameter-sets", `${owner}: parameter-sets only make sense for manual_search tasks (this one is ${type}); change \`type\` or use \`parameters\`.`, [...path, "parameter-sets"], { atKey: true });
  }
  if (type !== "bayesian_tpe") {
    for (const key of ["engine", "optimization-target-metric", "optimization-target-value"]) {
      if (raw[key] !== undefined) {
        r.warn("task-bayesian-only", `${owner}: \`${key}\` (${key.replace(/-/g, "_")}) only applies to bayesian_tpe tasks and is ignored on a ${type} task; remove it or set \`type: bayesian_tpe\`.`, [...path, key], { atKey: true });
      }
    }
  }
  if (stop !== undefined) lintStopCondition(stop, owner, r, [...path, "stop-condition"]);
  return task;
}

export function parseEndpoint(raw: Raw, r: Reporter, path: PathSeg[]): Endpoint {
  const ep: Endpoint = {
    name: str(raw["name"]) ?? "",
    image: str(raw["image"]) ?? "",
    port: num(raw["port"]) ?? 8000,
    files: listify(raw["files"])
      .filter(isPlainObject)
      .map((f) => {
        const file: Endpoint["files"][number] = { name: str(f["name"]) ?? "", path: str(f["path"]) ?? "" };
        const d = str(f["description"]);
        if (d !== undefined) file.description = d;
        return file;
      }),
    tolerations: listify(raw["tolerations"]).filter(isPlainObject).map((t) => ({ ...t }) as Endpoint["tolerations"][number]),
  };
  if (raw["server-command"] !== undefined) ep.serverCommand = commandList(raw["server-command"]);
  const wsgi = str(raw["wsgi"]);
  const description = str(raw["description"]);
  const nodeSelector = str(raw["node-selector"]);
  if (wsgi !== undefined) ep.wsgi = wsgi;
  if (description !== undefined) ep.description = description;
  if (nodeSelector !== undefined) ep.nodeSelector = nodeSelector;
  const res = raw["resources"];
  const resources = parseResources(res);
  if (resources) {
    const eph = isPlainObject(res) ? parseMinMax(res["ephemeral-storage"]) : undefined;
    ep.resources = eph ? { ...resources, ephemeralStorage: eph } : resources;
  }
  return withPos(ep, r, path);
}

export function parseDeployment(raw: Raw, r: Reporter, path: PathSeg[]): Deployment {
  const defaults = isPlainObject(raw["defaults"]) ? raw["defaults"] : {};
  const d = withPos<Deployment>({ name: str(raw["name"]) ?? "", defaults }, r, path);
  if (typeof defaults["target"] !== "string" || defaults["target"] === "") {
    r.warn(
      "deployment-target",
      `Deployment "${d.name}" has no \`defaults.target\`; a pipeline cannot create it automatically. Add \`defaults: {target: <deployment target>}\`.`,
      [...path, raw["defaults"] !== undefined ? "defaults" : "name"],
    );
  }
  return d;
}

const KIND_LABEL = { step: "step", task: "task", endpoint: "endpoint", pipeline: "pipeline", deployment: "deployment" } as const;

/** Builds the config from a document that passed `validateDocument`. */
export function buildConfig(root: unknown, r: Reporter): ValohaiConfig {
  const config: ValohaiConfig = { steps: new Map(), pipelines: new Map(), tasks: new Map(), endpoints: new Map(), deployments: new Map() };
  const items = Array.isArray(root) ? root : [];
  const pipelines: { raw: Raw; path: PathSeg[] }[] = [];

  function put<T extends { name: string }>(map: Map<string, T>, kind: keyof typeof KIND_LABEL, value: T, path: PathSeg[]): void {
    if (map.has(value.name)) {
      const label = KIND_LABEL[kind];
      r.warn(`duplicate-${label}`, `Duplicate ${label} name: ${value.name}. A later ${label} with the same name replaces the earlier one; rename one of them.`, [...path, "name"]);
    }
    map.set(value.name, value);
  }

  items.forEach((item, i) => {
    const kind = topLevelKind(item);
    if (!kind || !isPlainObject(item)) return;
    const raw = item[kind];
    if (!isPlainObject(raw)) return;
    const path: PathSeg[] = [i, kind];
    switch (kind) {
      case "step":
        put(config.steps, "step", parseStep(raw, r, path), path);
        return;
      case "task":
        put(config.tasks, "task", parseTask(raw, r, path), path);
        return;
      case "endpoint":
        put(config.endpoints, "endpoint", parseEndpoint(raw, r, path), path);
        return;
      case "deployment":
        put(config.deployments, "deployment", parseDeployment(raw, r, path), path);
        return;
      case "pipeline":
      case "blueprint":
        pipelines.push({ raw, path });
        return;
    }
  });
  for (const { raw, path } of pipelines) {
    const pipeline = parsePipeline(raw, r, path, config);
    put(config.pipelines, "pipeline", pipeline, path);
  }
  return config;
}
