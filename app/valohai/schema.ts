/**
 * Structural validation of valohai.yaml (the reference's JSON-schema phase, valohai-spec §2 step 2),
 * written as a small declarative schema so every message can name the step/parameter it is about
 * and say what to write instead. Problems found here stop loading before objects are built.
 */
import { PyDate, PyFloat } from "./objects.js";
import { parseDurationDetailed } from "./duration.js";
import { suggest } from "./names.js";
import { describeValue, Reporter, subject, type PathSeg } from "./problems.js";
import { isPlainObject } from "./yaml11.js";

type Check = (value: unknown, v: Validator, path: PathSeg[]) => void;

export type Schema =
  | { t: "string"; maxLength?: number; pattern?: RegExp; patternHelp?: string; oneOf?: readonly string[] }
  | { t: "number"; integer?: boolean; min?: number; max?: number }
  | { t: "boolean" }
  | { t: "any" }
  | { t: "array"; items: Schema }
  | { t: "dict"; values: Schema }
  | { t: "object"; props: Record<string, Schema>; required?: readonly string[]; extra?: "error" | "allow" | "warn"; check?: Check }
  | { t: "union"; options: Schema[]; what: string }
  | { t: "nullable"; inner: Schema }
  | { t: "custom"; check: Check };

const str: Schema = { t: "string" };
const num: Schema = { t: "number" };
const int: Schema = { t: "number", integer: true };
const bool: Schema = { t: "boolean" };
const any: Schema = { t: "any" };
function oneOf(values: readonly string[]): Schema {
  return { t: "string", oneOf: values };
}
function arr(items: Schema): Schema {
  return { t: "array", items };
}
function obj(props: Record<string, Schema>, required: readonly string[] = [], extra: "error" | "allow" | "warn" = "error", check?: Check): Schema {
  return check ? { t: "object", props, required, extra, check } : { t: "object", props, required, extra };
}
const strOrList: Schema = { t: "union", options: [str, arr(str)], what: "a string or a list of strings" };

/** The JS type name a user would recognise. */
function typeWord(v: unknown): string {
  if (v === null || v === undefined) return "empty";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "boolean";
  if (v instanceof PyFloat || typeof v === "number" || typeof v === "bigint") return "number";
  if (v instanceof PyDate) return "date";
  if (Array.isArray(v)) return "list";
  return "mapping";
}

function numberValue(v: unknown): number | undefined {
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}

export class Validator {
  constructor(
    readonly root: unknown,
    readonly reporter: Reporter,
  ) {}

  got(value: unknown, path: PathSeg[]): string {
    return describeValue(value, this.reporter.source(path));
  }

  fail(path: PathSeg[], text: string, opts?: { atKey?: boolean; severity?: "error" | "warning"; code?: string }): void {
    const message = `${subject(this.root, path)} ${text}${/[.?!]$/.test(text) ? "" : "."}`;
    if (opts?.severity === "warning") this.reporter.warn(opts.code ?? "schema", message, path, opts);
    else this.reporter.error(opts?.code ?? "schema", message, path, opts);
  }

  check(schema: Schema, value: unknown, path: PathSeg[]): void {
    switch (schema.t) {
      case "any":
        return;
      case "nullable":
        if (value === null) return;
        this.check(schema.inner, value, path);
        return;
      case "custom":
        schema.check(value, this, path);
        return;
      case "string":
        return this.checkString(schema, value, path);
      case "number": {
        const n = numberValue(value);
        if (n === undefined) {
          this.fail(path, `must be ${schema.integer ? "a whole number" : "a number"} (got ${this.got(value, path)})`);
          return;
        }
        if (schema.integer && (value instanceof PyFloat || !Number.isInteger(n))) {
          this.fail(path, `must be a whole number (got ${this.got(value, path)})`);
          return;
        }
        if (schema.min !== undefined && n < schema.min) this.fail(path, `must be at least ${schema.min} (got ${this.got(value, path)})`);
        if (schema.max !== undefined && n > schema.max) this.fail(path, `must be at most ${schema.max} (got ${this.got(value, path)})`);
        return;
      }
      case "boolean":
        if (typeof value !== "boolean") this.fail(path, `must be true or false (got ${this.got(value, path)})`);
        return;
      case "array":
        if (!Array.isArray(value)) {
          this.fail(path, `must be a list (got ${this.got(value, path)})`);
          return;
        }
        value.forEach((item, i) => this.check(schema.items, item, [...path, i]));
        return;
      case "dict":
        if (!isPlainObject(value)) {
          this.fail(path, `must be a mapping of names to values (got ${this.got(value, path)})`);
          return;
        }
        for (const [k, item] of Object.entries(value)) this.check(schema.values, item, [...path, k]);
        return;
      case "object":
        return this.checkObject(schema, value, path);
      case "union":
        return this.checkUnion(schema, value, path);
    }
  }

  private checkString(schema: Extract<Schema, { t: "string" }>, value: unknown, path: PathSeg[]): void {
    if (typeof value !== "string") {
      const quoteHint = value !== null && value !== undefined && typeof value !== "object" ? `; put the value in quotes` : "";
      const pyFloatHint = value instanceof PyFloat || value instanceof PyDate ? "; put the value in quotes" : "";
      this.fail(path, `must be a string (got ${this.got(value, path)})${quoteHint || pyFloatHint}`);
      return;
    }
    if (schema.oneOf && !schema.oneOf.includes(value)) {
      const hint = suggest(value, [...schema.oneOf]);
      this.fail(path, `must be one of ${schema.oneOf.join(", ")} (got "${value}")${hint ? `; did you mean "${hint}"?` : ""}`);
      return;
    }
    if (schema.maxLength !== undefined && [...value].length > schema.maxLength) {
      this.fail(path, `is ${[...value].length} characters long; it may be at most ${schema.maxLength} characters`);
    }
    if (schema.pattern && !schema.pattern.test(value)) {
      this.fail(path, `"${value}" ${schema.patternHelp ?? `does not match the pattern ${schema.pattern.source}`}`);
    }
  }

  private checkObject(schema: Extract<Schema, { t: "object" }>, value: unknown, path: PathSeg[]): void {
    if (!isPlainObject(value)) {
      this.fail(path, `must be a mapping (got ${this.got(value, path)})`);
      return;
    }
    for (const key of schema.required ?? []) {
      if (!(key in value)) this.fail(path, `is missing the required key "${key}"; add \`${key}: ...\``);
    }
    const known = Object.keys(schema.props);
    for (const key of Object.keys(value)) {
      const propSchema = schema.props[key];
      if (propSchema) {
        this.check(propSchema, value[key], [...path, key]);
        continue;
      }
      if (schema.extra === "allow") continue;
      const hint = suggest(key, known);
      const text = `has an unknown key "${key}"${hint ? `; did you mean "${hint}"?` : ""} (allowed keys: ${known.join(", ")})`;
      this.fail(path.concat(key), text.replace(/^/, ""), { atKey: true, severity: schema.extra === "warn" ? "warning" : "error", code: "unknown-key" });
    }
    schema.check?.(value, this, path);
  }

  private checkUnion(schema: Extract<Schema, { t: "union" }>, value: unknown, path: PathSeg[]): void {
    for (const option of schema.options) {
      if (this.fits(option, value)) {
        this.check(option, value, path);
        return;
      }
    }
    // Report the errors of the option whose basic type matches, or a summary.
    const sameType = schema.options.filter((o) => basicType(o) === typeWord(value));
    const only = sameType.length === 1 ? sameType[0] : undefined;
    if (only) {
      this.check(only, value, path);
      return;
    }
    this.fail(path, `must be ${schema.what} (got ${this.got(value, path)})`);
  }

  /** Whether `value` passes `schema` with no errors. */
  fits(schema: Schema, value: unknown): boolean {
    const scratch = new Validator(this.root, new Reporter());
    scratch.check(schema, value, []);
    return !scratch.reporter.problems.some((p) => p.severity === "error");
  }
}

function basicType(s: Schema): string {
  switch (s.t) {
    case "string":
      return "string";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return "list";
    case "object":
    case "dict":
      return "mapping";
    default:
      return "other";
  }
}

// ---------------------------------------------------------------------------------------------
// The valohai.yaml schema.

export const PARAMETER_TYPES = ["string", "integer", "float", "flag"] as const;
export const MULTIPLE_MODES = ["none", "repeat", "separate"] as const;
export const ON_ERROR = ["stop-all", "stop-next", "continue", "retry"] as const;
export const EDGE_MERGE_MODES = ["replace", "append"] as const;
export const TASK_TYPES = ["grid_search", "random_search", "manual_search", "bayesian_tpe", "distributed"] as const;
export const ON_CHILD_ERROR = ["continue-and-complete", "continue-and-error", "stop-all-and-error"] as const;
export const VARIANT_STYLES = ["single", "multiple", "linear", "logspace", "random"] as const;

export const parameterItem: Schema = obj(
  {
    name: str,
    type: oneOf(PARAMETER_TYPES),
    default: any,
    optional: bool,
    description: str,
    category: str,
    min: num,
    max: num,
    choices: arr(any),
    "pass-as": str,
    "pass-true-as": str,
    "pass-false-as": str,
    multiple: oneOf(MULTIPLE_MODES),
    "multiple-separator": str,
    widget: { t: "union", options: [str, obj({ type: str, settings: { t: "dict", values: any } }, ["type"])], what: "a widget name or `{type, settings}`" },
  },
  ["name"],
  "error",
  (value, v, path) => {
    if (!isPlainObject(value)) return;
    if (value["type"] === "flag" && value["multiple"] !== undefined && value["multiple"] !== "none" && value["multiple"] !== null) {
      v.fail([...path, "multiple"], `cannot be used on a flag parameter (a flag is either passed or not); remove \`multiple\` or change \`type\``);
    }
  },
);

export const inputItem: Schema = obj(
  {
    name: { t: "string", maxLength: 64 },
    default: { t: "nullable", inner: strOrList },
    optional: bool,
    description: str,
    filename: str,
    "keep-directories": { t: "union", options: [oneOf(["none", "suffix", "full"]), bool], what: "one of none, suffix, full (or true/false)" },
    download: oneOf(["always", "on-demand"]),
  },
  ["name"],
);

const environmentVariableItem: Schema = obj({ name: str, default: str, optional: bool, description: str }, ["name"]);

const mountItem: Schema = {
  t: "union",
  options: [
    { t: "string", pattern: /^\/.+:\/.+$/, patternHelp: "must look like /source/path:/destination/path (both absolute)" },
    obj(
      {
        source: str,
        destination: { t: "string", pattern: /^\/.+$/, patternHelp: "must be an absolute path (start with /)" },
        readonly: bool,
        type: str,
        options: { t: "dict", values: any },
      },
      ["source", "destination"],
    ),
  ],
  what: 'a "/source:/destination" string or a mapping with source and destination',
};

const minMax: Schema = obj({ min: num, max: num });
const devices: Schema = { t: "dict", values: { t: "number", integer: true, min: 1 } };
const stepResources: Schema = obj({ cpu: minMax, memory: minMax, devices });

function durationCheck(value: unknown, v: Validator, path: PathSeg[]): void {
  if (typeof value !== "string" && !(typeof value === "number" && Number.isInteger(value))) {
    v.fail(path, `must be a whole number of seconds or a duration such as "1h 30m" (got ${v.got(value, path)})`);
    return;
  }
  const r = parseDurationDetailed(value);
  if (!r.ok) v.fail(path, r.message);
}

export const stepSchema: Schema = obj(
  {
    name: str,
    image: str,
    command: strOrList,
    parameters: arr(parameterItem),
    inputs: arr(inputItem),
    outputs: arr(obj({ name: str, description: str }, ["name"], "allow")),
    environment: str,
    "runtime-config-preset": str,
    "environment-variables": arr(environmentVariableItem),
    "environment-variable-groups": arr(str),
    mounts: arr(mountItem),
    "cache-volumes": arr(str),
    "time-limit": { t: "custom", check: durationCheck },
    "no-output-timeout": { t: "custom", check: durationCheck },
    resources: stepResources,
    "upload-store": { t: "string", maxLength: 64 },
    description: str,
    icon: str,
    category: str,
    "source-path": str,
    "stop-condition": str,
  },
  ["name", "image", "command"],
);

const actionItem: Schema = obj({ when: strOrList, if: strOrList, then: strOrList }, ["when", "then"]);

const overrideProps: Record<string, Schema> = {
    image: str,
    command: strOrList,
    parameters: arr(parameterItem),
    inputs: arr(inputItem),
    mounts: arr(mountItem),
    environment: str,
    "runtime-config-preset": str,
    "environment-variables": arr(environmentVariableItem),
};
const overrideSchema: Schema = obj(overrideProps);

const nodeCommon = {
  name: str,
  type: str,
  actions: arr(actionItem),
};

const executionNode: Schema = obj(
  { ...nodeCommon, step: str, commit: str, override: overrideSchema, "on-error": oneOf(ON_ERROR), "edge-merge-mode": oneOf(EDGE_MERGE_MODES) },
  ["name", "type", "step"],
);

const taskNode: Schema = obj(
  { ...nodeCommon, step: str, task: str, commit: str, override: overrideSchema, "on-error": oneOf(ON_ERROR), "edge-merge-mode": oneOf(EDGE_MERGE_MODES) },
  ["name", "type"],
  "error",
  (value, v, path) => {
    if (!isPlainObject(value)) return;
    const hasStep = value["step"] !== undefined;
    const hasTask = value["task"] !== undefined;
    if (hasStep === hasTask) {
      v.fail(path, hasStep ? "has both `step` and `task`; a task node runs either a step or a task blueprint, keep one" : "needs either `step` (a step name) or `task` (a task blueprint name)");
    }
  },
);

const deploymentNode: Schema = obj(
  { ...nodeCommon, deployment: str, endpoints: arr(str), aliases: arr(str), "on-error": oneOf(["stop-all", "stop-next", "continue"]) },
  ["name", "type", "deployment"],
);

const NODE_SCHEMAS: Record<string, Schema> = { execution: executionNode, task: taskNode, deployment: deploymentNode };
/** Node schemas that accept any `override` (its keys are checked separately). */
const NODE_SCHEMAS_ANY_OVERRIDE: Record<string, Schema> = Object.fromEntries(
  Object.entries(NODE_SCHEMAS).map(([k, v]) => [k, v.t === "object" ? { ...v, props: { ...v.props, override: any } } : v]),
);

function nodeCheck(value: unknown, v: Validator, path: PathSeg[]): void {
  if (!isPlainObject(value)) {
    v.fail(path, `must be a mapping with name, type and step (got ${v.got(value, path)})`);
    return;
  }
  const type = value["type"];
  if (type === undefined) {
    v.fail(path, "is missing `type`; add `type: execution` (or task, deployment)");
    return;
  }
  const schema = typeof type === "string" ? NODE_SCHEMAS[type] : undefined;
  if (!schema) {
    const hint = typeof type === "string" ? suggest(type, Object.keys(NODE_SCHEMAS)) : undefined;
    v.fail([...path, "type"], `must be one of execution, task, deployment (got ${v.got(type, [...path, "type"])})${hint ? `; did you mean "${hint}"?` : ""}`);
    return;
  }
  // Unknown keys in `override` only warn when everything else is fine (the reference's
  // non-schema mode says: should it be nested under `parameters` or `inputs`?).
  const override = value["override"];
  if (isPlainObject(override)) {
    const props = Object.keys(overrideProps);
    for (const key of Object.keys(override)) {
      if (key in overrideProps) continue;
      const hint = suggest(key, props);
      v.fail(
        [...path, "override", key],
        `is not something an override can set, so it is ignored${hint ? `; did you mean "${hint}"?` : `; should it be nested under \`parameters\` or \`inputs\`?`} (an override may set ${props.join(", ")})`,
        { atKey: true, severity: "warning", code: "unknown-override-key" },
      );
    }
    const known = Object.fromEntries(Object.entries(override).filter(([k]) => k in overrideProps));
    v.check(NODE_SCHEMAS_ANY_OVERRIDE[String(type)] ?? schema, value, path);
    v.check(overrideSchema, known, [...path, "override"]);
    return;
  }
  v.check(schema, value, path);
}

const edgeSchema: Schema = {
  t: "custom",
  check(value, v, path) {
    if (Array.isArray(value)) {
      // Shape errors of the shorthand are reported when the edge is parsed.
      value.forEach((s, i) => {
        if (typeof s !== "string") v.fail([...path, i], `must be a string such as "node.output.*" (got ${v.got(s, [...path, i])})`);
      });
      return;
    }
    v.check(obj({ source: str, target: str, configuration: { t: "dict", values: any } }, ["source", "target"]), value, path);
  },
};

const pipelineParameter: Schema = obj(
  { name: str, default: any, target: str, targets: strOrList, description: str, category: str },
  ["name"],
  "error",
  (value, v, path) => {
    if (isPlainObject(value) && value["target"] !== undefined && value["targets"] !== undefined) {
      v.fail(path, "has both `target` and `targets`; keep one (`targets` may be a list)");
    }
  },
);

export const pipelineSchema: Schema = obj(
  {
    name: str,
    nodes: arr({ t: "custom", check: nodeCheck }),
    edges: arr(edgeSchema),
    parameters: arr(pipelineParameter),
    "reuse-executions": bool,
  },
  ["name", "nodes", "edges"],
);

const ruleScalar: Schema = { t: "union", options: [num, str, bool], what: "a number, string or boolean" };
const variantRules: Schema = obj(
  {
    value: any,
    items: arr(ruleScalar),
    start: num,
    end: num,
    step: num,
    count: int,
    base: num,
    min: num,
    max: num,
    distribution: str,
    seed: int,
    integerify: bool,
    numberify: bool,
  },
  [],
  "allow",
);

const variantParameter: Schema = obj({ name: str, style: oneOf(VARIANT_STYLES), rules: variantRules }, ["name", "style", "rules"]);

export function normaliseTaskType(v: string): string {
  return v.toLowerCase().replace(/-/g, "_");
}
export function normaliseOnChildError(v: string): string {
  return v.toLowerCase().replace(/_/g, "-");
}

export const taskSchema: Schema = obj(
  {
    name: str,
    step: str,
    type: str,
    description: str,
    parameters: arr(variantParameter),
    "parameter-sets": arr({ t: "dict", values: any }),
    "execution-count": int,
    "execution-batch-size": int,
    "maximum-queued-executions": int,
    "optimization-target-metric": str,
    "optimization-target-value": num,
    engine: str,
    "on-child-error": str,
    "stop-condition": str,
    "reuse-children": bool,
  },
  ["name", "step"],
  "error",
  (value, v, path) => {
    if (!isPlainObject(value)) return;
    if (value["parameters"] === undefined && value["parameter-sets"] === undefined) {
      v.fail(path, "needs `parameters` (variant parameters) or `parameter-sets`");
    }
    const type = value["type"];
    if (typeof type === "string" && !(TASK_TYPES as readonly string[]).includes(normaliseTaskType(type))) {
      const hint = suggest(normaliseTaskType(type), [...TASK_TYPES]);
      v.fail([...path, "type"], `must be one of ${TASK_TYPES.join(", ")} (got "${type}")${hint ? `; did you mean "${hint}"?` : ""}`);
    }
    const oce = value["on-child-error"];
    if (typeof oce === "string" && !(ON_CHILD_ERROR as readonly string[]).includes(normaliseOnChildError(oce))) {
      v.fail([...path, "on-child-error"], `must be one of ${ON_CHILD_ERROR.join(", ")} (got "${oce}")`);
    }
  },
);

const endpointResources: Schema = obj({ cpu: minMax, memory: minMax, devices, "ephemeral-storage": obj({ min: int, max: int }) });

export const endpointSchema: Schema = obj(
  {
    name: { t: "string", pattern: /^[a-z][a-z0-9-]+$/, patternHelp: "is not a valid endpoint name: use at least two characters, lowercase letters, digits and dashes, starting with a letter (pattern ^[a-z][a-z0-9-]+$)" },
    image: str,
    "server-command": strOrList,
    wsgi: str,
    port: { t: "number", integer: true, min: 1025, max: 65535 },
    description: str,
    files: arr(obj({ name: str, path: str, description: str }, ["name", "path"])),
    "node-selector": { t: "string", pattern: /=/, patternHelp: "must look like label=value" },
    resources: endpointResources,
    tolerations: arr(
      obj(
        { key: str, operator: oneOf(["Exists", "Equal"]), value: str, effect: oneOf(["PreferNoSchedule", "NoSchedule", "NoExecute"]) },
        [],
        "error",
        (value, v, path) => {
          if (isPlainObject(value) && value["key"] === undefined && value["operator"] !== "Exists") {
            v.fail(path, "needs a `key` (only `operator: Exists` may leave it out)");
          }
        },
      ),
    ),
  },
  ["name", "image"],
  "error",
  (value, v, path) => {
    if (!isPlainObject(value)) return;
    const hasServer = value["server-command"] !== undefined;
    const hasWsgi = value["wsgi"] !== undefined;
    if (hasServer === hasWsgi) {
      v.fail(path, hasServer ? "has both `server-command` and `wsgi`; keep one" : "needs either `server-command` or `wsgi`");
    }
  },
);

export const deploymentSchema: Schema = obj({ name: str, defaults: { t: "dict", values: any } }, ["name"]);

/** Top-level kinds in the reference's priority order (valohai-spec §1.1). */
export const TOP_LEVEL_KINDS = ["step", "task", "endpoint", "pipeline", "blueprint", "deployment"] as const;
export type TopLevelKind = (typeof TOP_LEVEL_KINDS)[number];

const KIND_SCHEMAS: Record<TopLevelKind, Schema> = {
  step: stepSchema,
  task: taskSchema,
  endpoint: endpointSchema,
  pipeline: pipelineSchema,
  blueprint: pipelineSchema,
  deployment: deploymentSchema,
};

export function topLevelKind(item: unknown): TopLevelKind | undefined {
  if (!isPlainObject(item)) return undefined;
  return TOP_LEVEL_KINDS.find((k) => k in item);
}

function isFalsy(v: unknown): boolean {
  return v === null || v === undefined || v === false || v === 0 || v === "" || (Array.isArray(v) && v.length === 0) || (isPlainObject(v) && Object.keys(v).length === 0);
}

/** Phase 2: checks the shape of the whole document. */
export function validateDocument(root: unknown, reporter: Reporter): void {
  const v = new Validator(root, reporter);
  if (root === null || root === undefined) return;
  if (!Array.isArray(root)) {
    reporter.error("schema", `The top level of valohai.yaml must be a list of items such as \`- step: ...\` (got ${describeValue(root)}).`, []);
    return;
  }
  root.forEach((item, i) => {
    if (!isPlainObject(item)) {
      reporter.error("schema", `Top-level item ${i + 1} must be a mapping such as \`- step: {...}\` (got ${describeValue(item, reporter.source([i]))}).`, [i]);
      return;
    }
    const kind = topLevelKind(item);
    if (!kind) {
      const keys = Object.keys(item);
      const hint = keys.length === 1 && keys[0] !== undefined ? suggest(keys[0], [...TOP_LEVEL_KINDS]) : undefined;
      reporter.warn(
        "unknown-item",
        `Top-level item ${i + 1} is ignored: it has none of the keys step, pipeline, task, endpoint, deployment (found ${keys.map((k) => `"${k}"`).join(", ") || "no keys"})${hint ? `; did you mean "${hint}"?` : ""}.`,
        [i],
      );
      return;
    }
    const value = item[kind];
    const before = reporter.problems.length;
    v.check(KIND_SCHEMAS[kind], value, [i, kind]);
    if (isFalsy(value) && reporter.problems.length > before) {
      const p = reporter.problems[before];
      if (p) {
        p.message += ` The file is valid YAML, but there might be an indentation error in the following configuration: ${i}.${kind} (the keys of \`${kind}:\` must be indented further than \`${kind}\` itself).`;
      }
    }
  });
}
