/**
 * Phase 3 and 4 of loading (valohai-spec §2): turns the validated document into typed objects and
 * runs the semantic lint rules on the way (duplicate names, parameter defaults, stop conditions,
 * runtime-config presets). Pipelines are parsed in `pipelines.ts`.
 */
import { parseDuration } from "./duration.js";
import { checkExpression } from "./expression.js";
import {
  PyFloat,
  type Deployment,
  type Endpoint,
  type EnvironmentVariable,
  type Input,
  type KeepDirectories,
  type Mount,
  type MinMax,
  type Parameter,
  type ParameterType,
  type ParamValue,
  type PyNumber,
  type Step,
  type StepResources,
  type TaskBlueprint,
  type ValohaiConfig,
  type VariantParameter,
} from "./objects.js";
import { validateParameterValue } from "./parameters.js";
import { parsePipeline } from "./pipelines.js";
import type { PathSeg, Reporter } from "./problems.js";
import { formatMap, PythonFormatError, pythonRepr, pythonStr } from "./python-format.js";
import { normaliseOnChildError, normaliseTaskType, topLevelKind } from "./schema.js";
import { isPlainObject } from "./yaml11.js";

type Raw = Record<string, unknown>;

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function num(v: unknown): number | undefined {
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "bigint") return Number(v);
  return typeof v === "number" ? v : undefined;
}

function pyNum(v: unknown): PyNumber | undefined {
  if (v instanceof PyFloat) return v;
  return typeof v === "number" || typeof v === "bigint" ? v : undefined;
}

export function listify<T>(v: T | T[] | null | undefined): T[] {
  if (v === null || v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function strList(v: unknown): string[] {
  return listify(v).filter((x): x is string => typeof x === "string");
}

/** Sets `line`/`column`; for a top-level item (`[i, kind]`) the position of its `kind:` key. */
export function withPos<T extends object>(obj: T, r: Reporter, path: PathSeg[]): T {
  const p = r.locate(path, path.length === 2 && typeof path[0] === "number");
  if (p) Object.assign(obj, { line: p.line, column: p.column });
  return obj;
}

/** Python truthiness, used by the default lint (falsy defaults are never checked). */
function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === "" || v === 0 || v === 0n) return false;
  if (v instanceof PyFloat) return v.value !== 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

function pyTypeName(v: unknown): string {
  if (v === null) return "NoneType";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number" || typeof v === "bigint") return "int";
  if (v instanceof PyFloat) return "float";
  if (Array.isArray(v)) return "list";
  if (isPlainObject(v)) return "dict";
  if (typeof v === "object" && v && "time" in v) return (v as { time?: unknown }).time ? "datetime" : "date";
  return typeof v;
}

export function parseParameter(raw: Raw, r: Reporter, path: PathSeg[], owner: string | undefined): Parameter {
  const name = str(raw["name"]) ?? "";
  const type = (str(raw["type"]) ?? "string") as ParameterType;
  const isFlag = type === "flag";
  const multiple = isFlag ? "none" : ((str(raw["multiple"]) ?? "none") as Parameter["multiple"]);
  const p: Parameter = {
    name,
    type,
    typeDeclared: raw["type"] !== undefined,
    optional: isFlag ? true : raw["optional"] === true,
    multiple,
    // valohai-yaml: `str(multiple_separator or ",")`, so an empty separator is a comma.
    multipleSeparator: pyTruthy(raw["multiple-separator"]) ? pythonStr(raw["multiple-separator"]) : ",",
  };
  if ("default" in raw) {
    const d = raw["default"] as ParamValue;
    p.default = multiple !== "none" ? (listify(d) as ParamValue[]) : d;
  }
  const passAs = str(raw["pass-as"]);
  if (passAs !== undefined) p.passAs = passAs;
  if (isFlag) {
    const t = str(raw["pass-true-as"]);
    const f = str(raw["pass-false-as"]);
    if (t !== undefined) p.passTrueAs = t;
    if (f !== undefined) p.passFalseAs = f;
    p.choices = [true, false];
  } else if (Array.isArray(raw["choices"])) {
    p.choices = raw["choices"] as ParamValue[];
  }
  const min = pyNum(raw["min"]);
  const max = pyNum(raw["max"]);
  if (min !== undefined) p.min = min;
  if (max !== undefined) p.max = max;
  const description = str(raw["description"]);
  const category = str(raw["category"]);
  if (description !== undefined) p.description = description;
  if (category !== undefined) p.category = category;
  const widget = raw["widget"];
  if (typeof widget === "string") p.widget = widget.toLowerCase();
  else if (isPlainObject(widget)) {
    p.widget = { type: (str(widget["type"]) ?? "").toLowerCase(), settings: isPlainObject(widget["settings"]) ? widget["settings"] : {} };
  }
  withPos(p, r, path);
  if (owner !== undefined) lintParameter(p, raw, r, path, owner);
  return p;
}

function lintParameter(p: Parameter, raw: Raw, r: Reporter, path: PathSeg[], owner: string): void {
  const prefix = `${owner}, parameter "${p.name}":`;
  if (p.type === "flag" && "optional" in raw) {
    r.warn("flag-optional", `${prefix} \`optional\` has no effect on a flag (a flag is always optional: absent means false); remove it.`, [...path, "optional"], { atKey: true });
  }
  if (p.type === "flag" && raw["pass-as"] !== undefined && (raw["pass-true-as"] !== undefined || raw["pass-false-as"] !== undefined)) {
    r.warn("flag-pass-as-ignored", `${prefix} \`pass-as\` is ignored because \`pass-true-as\`/\`pass-false-as\` is set; remove one of them.`, [...path, "pass-as"], { atKey: true });
  }
  if (p.type !== "flag") {
    for (const key of ["pass-true-as", "pass-false-as"] as const) {
      if (raw[key] !== undefined) {
        r.warn("pass-true-false-on-non-flag", `${prefix} \`${key}\` only works on flag parameters and is ignored on a ${p.type} parameter; use \`pass-as\` or set \`type: flag\`.`, [...path, key], { atKey: true });
      }
    }
  }
  // Templates that Python could not fill in, tried with the default (what the command gets unless
  // a value is given), else a value of the parameter's own type; a `separate` parameter's
  // template gets the joined string. Python raising (an unknown field,
  // `{v.real}` on a string, `{v[0]}` on a number) is an error; a ValueError (a format spec the
  // type has not, `{0}`, a stray brace) makes valohai-yaml leave the whole command line as
  // written, with only a warning: that is our warning too.
  const keys = p.type !== "flag" ? (["pass-as"] as const) : raw["pass-true-as"] !== undefined || raw["pass-false-as"] !== undefined ? (["pass-true-as", "pass-false-as"] as const) : (["pass-as"] as const);
  for (const key of keys) {
    const template = str(raw[key]);
    if (template === undefined) continue;
    const sample: unknown = templateSample(p, key);
    const kind = typeof sample === "boolean" ? "flag" : typeof sample === "string" ? (p.multiple === "separate" ? "joined (string)" : "string") : p.type;
    const aKind = `${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind}`;
    for (const token of template.split(/\s+/).filter((t) => t !== "")) {
      try {
        formatMap(token, { name: p.name, value: sample, v: sample });
      } catch (err) {
        if (!(err instanceof PythonFormatError)) throw err;
        if (err.pyType === "KeyError") {
          r.error("pass-as-template", `${prefix} \`${key}\` uses the unknown placeholder {${err.message.replace(/'/g, "")}}; a template may use {name}, {value} and {v}.`, [...path, key]);
        } else if (err.pyType === "ValueError" || err.pyType === "IndexError") {
          r.warn(
            "pass-as-template",
            `${prefix} \`${key}\` "${template}" cannot format ${aKind} value (${err.message}), so the command is left as written, placeholders and all, as valohai-yaml leaves it; use {v} (or {v:SPEC} with a spec for ${kind} values), and write a literal brace as {{ or }}.`,
            [...path, key],
          );
        } else {
          r.error(
            "pass-as-template",
            `${prefix} \`${key}\` "${template}" cannot be filled in with ${aKind} value: ${err.message} (Python raises ${err.pyType}); use {name}, {value} or {v}, with a format spec such as {v:.3f} if needed.`,
            [...path, key],
          );
        }
        break;
      }
    }
  }
  const d = raw["default"];
  if (!pyTruthy(d)) return;
  const atoms = p.multiple !== "none" ? listify(d) : [d];
  if (p.type === "string") {
    const bad = atoms.find((a) => typeof a !== "string");
    if (bad !== undefined && p.multiple === "none") {
      r.warn(
        "default-type",
        `${prefix} the default ${pythonRepr(d)} is not a string (YAML read it as ${pyTypeName(d)}); put it in quotes${p.typeDeclared ? "" : " or declare the parameter's `type`"}.`,
        [...path, "default"],
      );
      return;
    }
    if (bad !== undefined) {
      r.warn("default-type", `${prefix} the default ${pythonRepr(d)} contains ${pythonRepr(bad)}, which is not a string (YAML read it as ${pyTypeName(bad)}); put it in quotes.`, [...path, "default"]);
      return;
    }
  }
  const result = validateParameterValue(p, p.multiple !== "none" ? atoms : d);
  if (!result.ok) r.warn("default-invalid", `${prefix} default ${result.message}; fix the default or the parameter's constraints.`, [...path, "default"]);
}

/** The value a template is linted with: see `lintParameter`. */
function templateSample(p: Parameter, key: "pass-as" | "pass-true-as" | "pass-false-as"): unknown {
  if (p.type === "flag") return key !== "pass-false-as";
  const d = p.default;
  const atoms = d === undefined || d === null ? [] : Array.isArray(d) ? d : [d];
  if (p.multiple === "separate") return atoms.length ? atoms.map((a) => pythonStr(a)).join(p.multipleSeparator) : "x";
  const first = p.multiple === "repeat" ? atoms[0] : d;
  if (first !== undefined && first !== null && !Array.isArray(first)) return first;
  return p.type === "integer" ? 1 : p.type === "float" ? new PyFloat(1.5) : "x";
}

export function parseInput(raw: Raw, r: Reporter, path: PathSeg[]): Input {
  const kd = raw["keep-directories"];
  const keep: KeepDirectories = kd === true ? "full" : kd === false || kd === undefined || kd === null ? "none" : (kd as KeepDirectories);
  const input: Input = {
    name: str(raw["name"]) ?? "",
    default: strList(raw["default"]),
    optional: raw["optional"] === true,
    keepDirectories: keep,
    download: raw["download"] === "on-demand" ? "on-demand" : "always",
  };
  const filename = str(raw["filename"]);
  const description = str(raw["description"]);
  if (filename !== undefined) input.filename = filename;
  if (description !== undefined) input.description = description;
  return withPos(input, r, path);
}

export function parseEnvironmentVariable(raw: Raw): EnvironmentVariable {
  const v: EnvironmentVariable = { name: str(raw["name"]) ?? "", optional: raw["optional"] !== false };
  const d = str(raw["default"]);
  const description = str(raw["description"]);
  if (d !== undefined) v.default = d;
  if (description !== undefined) v.description = description;
  return v;
}

export function parseMount(raw: unknown): Mount {
  if (typeof raw === "string") {
    const i = raw.indexOf(":");
    return { source: raw.slice(0, i), destination: raw.slice(i + 1), readonly: false, options: {} };
  }
  const o = isPlainObject(raw) ? raw : {};
  const m: Mount = {
    source: str(o["source"]) ?? "",
    destination: str(o["destination"]) ?? "",
    readonly: o["readonly"] === true,
    options: isPlainObject(o["options"]) ? o["options"] : {},
  };
  const type = str(o["type"]);
  if (type !== undefined) m.type = type.toLowerCase();
  return m;
}

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
