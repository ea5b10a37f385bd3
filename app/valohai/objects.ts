/**
 * Typed objects of a parsed valohai.yaml (valohai-spec §1).
 *
 * Terminology:
 * - config: everything one valohai.yaml declares (steps, pipelines, task blueprints, endpoints,
 *   deployments), each kind in its own name-keyed map in declaration order.
 * - step: one runnable command template with its parameters and inputs.
 * - node / edge: the vertices and the data-flow arrows of a pipeline. Every edge is resolved once,
 *   at load time, into source/target node, socket type and key.
 * - task blueprint: a top-level `task:` item describing a parameter sweep over one step.
 *
 * ## How parameter values are represented (`ParamValue`)
 *
 * Commands must be byte-identical to the Python reference, and Python prints the float `1.0` as
 * `1.0` and the int `1` as `1`. JavaScript has one number type, so:
 * - a Python **int** is a plain JS `number` that is an integer when it is a safe integer
 *   (|n| ≤ 2^53 − 1), and a `bigint` beyond that, so `12345678901234567` stays exact (a JS number
 *   would round it to `12345678901234568`). `pyInt()` picks the representation; every module here
 *   accepts both. JSON cannot carry a `bigint`: `toJsonValue()` turns it into its decimal string
 *   (an integer parameter accepts a decimal string, as Python's `int(str(v))` does),
 *   `stringifyJson()` writes it as exact digits, and `parseJsonExact()` reads such digits back as
 *   a `bigint` (see json.ts);
 * - a Python **float** is a `PyFloat` (a tiny wrapper around the number). YAML `1.0`, `1e+16`
 *   (YAML 1.1 needs the dot or a signed exponent) and any value given to a `float` parameter
 *   become `PyFloat`s. `PyFloat#toString()` is Python's `repr` (`1.0`, `1e-07`, `1e+16`), and
 *   `toJSON()` is the bare number (`-0.0`, `inf`, `-inf`, `nan` as those strings), so
 *   `JSON.stringify` of values keeps working;
 * - a plain JS number that is not an integer (e.g. `0.5` from a JSON request body) is read as a
 *   Python float too; for an integral JS number the parameter's declared type decides
 *   (`float` → `1.0`, anything else → `1`);
 * - YAML 1.1 dates and timestamps (unquoted `2020-09-02`) become `PyDate` values, printed the way
 *   Python prints `datetime.date` / `datetime.datetime`;
 * - booleans are Python bools (`True`/`False` in commands), `null` is `None`, arrays are lists.
 *   Mappings only appear when a YAML default is a mapping; they are kept as plain objects.
 */

/** A Python float. Keeps the int/float distinction that JS numbers lose. */
export class PyFloat {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
  /** Python `repr(float)`. */
  toString(): string {
    return floatRepr(this.value);
  }
  /**
   * The number; `-0.0`, `inf`, `-inf` and `nan` as those strings (JSON.stringify would write
   * `-0.0` as `0`, and JSON has no infinities), which a float parameter reads back exactly.
   */
  toJSON(): number | string {
    return Number.isFinite(this.value) && !Object.is(this.value, -0) ? this.value : floatRepr(this.value);
  }
  valueOf(): number {
    return this.value;
  }
}

/** A YAML 1.1 timestamp (`2020-09-02`, `2020-09-02T10:00:00Z`) as PyYAML builds it. */
export class PyDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  /** Absent for a bare date (`datetime.date`). */
  readonly time?: { hour: number; minute: number; second: number; microsecond: number; tzOffsetMinutes?: number };
  constructor(year: number, month: number, day: number, time?: PyDate["time"]) {
    this.year = year;
    this.month = month;
    this.day = day;
    if (time) this.time = time;
  }
  /** Python `str()` of the date or datetime. */
  toString(): string {
    const date = `${pad(this.year, 4)}-${pad(this.month, 2)}-${pad(this.day, 2)}`;
    if (!this.time) return date;
    const t = this.time;
    let s = `${date} ${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}`;
    if (t.microsecond) s += `.${pad(t.microsecond, 6)}`;
    if (t.tzOffsetMinutes !== undefined) {
      const sign = t.tzOffsetMinutes < 0 ? "-" : "+";
      const abs = Math.abs(t.tzOffsetMinutes);
      s += `${sign}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`;
    }
    return s;
  }
  /** Python `repr()`, e.g. `datetime.date(2020, 9, 2)`. */
  repr(): string {
    if (!this.time) return `datetime.date(${this.year}, ${this.month}, ${this.day})`;
    const t = this.time;
    const parts = [this.year, this.month, this.day, t.hour, t.minute];
    if (t.second || t.microsecond) parts.push(t.second);
    if (t.microsecond) parts.push(t.microsecond);
    let tz = "";
    if (t.tzOffsetMinutes === 0) tz = ", tzinfo=datetime.timezone.utc";
    else if (t.tzOffsetMinutes !== undefined) tz = `, tzinfo=datetime.timezone(datetime.timedelta(seconds=${t.tzOffsetMinutes * 60}))`;
    return `datetime.${"datetime"}(${parts.join(", ")}${tz})`;
  }
  toJSON(): string {
    return this.toString();
  }
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** Python `repr(float)`: shortest round-trip digits; exponent form below 1e-4 and from 1e16 up. */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mant = "", expStr = "0"] = Math.abs(x).toExponential().split("e");
  const digits = mant.replace(".", "");
  const exp = Number(expStr);
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
    if (digits.length <= exp + 1) return `${sign}${digits}${"0".repeat(exp + 1 - digits.length)}.0`;
    return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
  return `${sign}${m}e${exp < 0 ? "-" : "+"}${e}`;
}

export type ParamScalar = string | number | bigint | boolean | null | PyFloat | PyDate;
export type ParamValue = ParamScalar | ParamValue[] | { [key: string]: ParamValue };
/** A number as written in YAML: a JS integer or `bigint` (Python int) or a `PyFloat`. */
export type PyNumber = number | bigint | PyFloat;

/** A Python int in its representation here: a JS number while safe, else a `bigint`. */
export function pyInt(n: bigint): number | bigint {
  return n >= -MAX_SAFE && n <= MAX_SAFE ? Number(n) : n;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export type ParameterType = "string" | "integer" | "float" | "flag";
export type MultipleMode = "none" | "repeat" | "separate";

export interface Parameter {
  name: string;
  type: ParameterType;
  /** Whether `type` was written in the YAML (an untyped parameter is a string). */
  typeDeclared: boolean;
  /** For `multiple` parameters always a list. */
  default?: ParamValue;
  optional: boolean;
  passAs?: string;
  passTrueAs?: string;
  passFalseAs?: string;
  multiple: MultipleMode;
  multipleSeparator: string;
  min?: PyNumber;
  max?: PyNumber;
  choices?: ParamValue[];
  description?: string;
  category?: string;
  widget?: string | { type: string; settings: Record<string, unknown> };
  line?: number;
  column?: number;
}

export type KeepDirectories = "none" | "suffix" | "full";

export interface Input {
  name: string;
  default: string[];
  optional: boolean;
  filename?: string;
  keepDirectories: KeepDirectories;
  download: "always" | "on-demand";
  description?: string;
  line?: number;
  column?: number;
}

export interface EnvironmentVariable {
  name: string;
  default?: string;
  optional: boolean;
  description?: string;
}

export interface Mount {
  source: string;
  destination: string;
  readonly: boolean;
  type?: string;
  options: Record<string, unknown>;
}

export interface MinMax {
  min?: number;
  max?: number;
}

export interface StepResources {
  cpu?: MinMax;
  /** Megabytes. */
  memory?: MinMax;
  devices?: Record<string, number>;
}

export interface Step {
  name: string;
  image: string;
  command: string[];
  description?: string;
  parameters: Map<string, Parameter>;
  inputs: Map<string, Input>;
  environmentVariables: Map<string, EnvironmentVariable>;
  environmentVariableGroups: string[];
  mounts: Mount[];
  cacheVolumes: string[];
  timeLimitSeconds?: number;
  noOutputTimeoutSeconds?: number;
  resources?: StepResources;
  uploadStore?: string;
  sourcePath?: string;
  stopCondition?: string;
  environment?: string;
  runtimeConfigPreset?: string;
  icon?: string;
  category?: string;
  outputs: { name: string; description?: string }[];
  line?: number;
  column?: number;
}

export type OnError = "stop-all" | "stop-next" | "continue" | "retry";
export type EdgeMergeMode = "replace" | "append";

export interface NodeAction {
  when: string[];
  if: string[];
  then: string[];
}

/** The keys a pipeline node may override (valohai-spec §1.8); entries replace the step's by name. */
export interface StepOverride {
  image?: string;
  command?: string[];
  parameters?: Parameter[];
  inputs?: Input[];
  mounts?: Mount[];
  environment?: string;
  runtimeConfigPreset?: string;
  environmentVariables?: EnvironmentVariable[];
}

interface NodeBase {
  name: string;
  onError: OnError;
  actions: NodeAction[];
  line?: number;
  column?: number;
}

export interface ExecutionNode extends NodeBase {
  type: "execution";
  step: string;
  commit?: string;
  override?: StepOverride;
  edgeMergeMode: EdgeMergeMode;
}

/** A task node runs either a step (with `override`) or a task blueprint by name. */
export interface TaskNode extends NodeBase {
  type: "task";
  step?: string;
  task?: string;
  commit?: string;
  override?: StepOverride;
  edgeMergeMode: EdgeMergeMode;
}

export interface DeploymentNode extends NodeBase {
  type: "deployment";
  deployment: string;
  endpoints: string[];
  aliases: string[];
}

export type PipelineNode = ExecutionNode | TaskNode | DeploymentNode;

export type SocketType =
  | "dependency"
  | "deployment"
  | "environment-variable"
  | "file"
  | "input"
  | "metadata"
  | "output"
  | "parameter";

export interface Edge {
  sourceNode: string;
  /** Usually one of `SocketType`; kept as written so lint can name a wrong one. */
  sourceType: string;
  sourceKey: string;
  targetNode: string;
  targetType: string;
  targetKey: string;
  configuration: Record<string, unknown>;
  line?: number;
  column?: number;
}

export interface PipelineParameter {
  name: string;
  default?: ParamValue;
  /** `node.parameter.NAME` strings, from `target` or `targets`. */
  targets: string[];
  description?: string;
  category?: string;
  line?: number;
  column?: number;
}

export interface Pipeline {
  name: string;
  nodes: PipelineNode[];
  edges: Edge[];
  parameters: Map<string, PipelineParameter>;
  reuseExecutions: boolean;
  line?: number;
  column?: number;
}

export type TaskType = "grid_search" | "random_search" | "manual_search" | "bayesian_tpe" | "distributed";
export type VariantStyle = "single" | "multiple" | "linear" | "logspace" | "random";
export type OnChildError = "continue-and-complete" | "continue-and-error" | "stop-all-and-error";

export interface VariantParameter {
  name: string;
  style: VariantStyle;
  rules: Record<string, ParamValue>;
}

export interface TaskBlueprint {
  name: string;
  step: string;
  type: TaskType;
  parameters: VariantParameter[];
  parameterSets: Record<string, ParamValue>[];
  executionCount?: number;
  executionBatchSize?: number;
  maximumQueuedExecutions?: number;
  optimizationTargetMetric?: string;
  optimizationTargetValue?: number;
  engine?: string;
  onChildError?: OnChildError;
  stopCondition?: string;
  reuseChildren: boolean;
  description?: string;
  line?: number;
  column?: number;
}

export interface EndpointFile {
  name: string;
  path: string;
  description?: string;
}

export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: "PreferNoSchedule" | "NoSchedule" | "NoExecute";
}

export interface Endpoint {
  name: string;
  image: string;
  serverCommand?: string[];
  wsgi?: string;
  port: number;
  description?: string;
  files: EndpointFile[];
  nodeSelector?: string;
  resources?: StepResources & { ephemeralStorage?: MinMax };
  tolerations: Toleration[];
  line?: number;
  column?: number;
}

export interface Deployment {
  name: string;
  /** Free-form; `target` is the one documented key. */
  defaults: Record<string, unknown>;
  line?: number;
  column?: number;
}

export interface ValohaiConfig {
  steps: Map<string, Step>;
  pipelines: Map<string, Pipeline>;
  tasks: Map<string, TaskBlueprint>;
  endpoints: Map<string, Endpoint>;
  deployments: Map<string, Deployment>;
}

export interface Problem {
  severity: "error" | "warning";
  /** Stable machine code, e.g. `yaml-syntax`, `schema`, `duplicate-step`. */
  code: string;
  /** A sentence that says what is wrong and what to change. */
  message: string;
  file?: string;
  /** 1-based. */
  line?: number;
  /** 1-based. */
  column?: number;
  /** Dotted instance path, e.g. `0.step.parameters.2.default`. */
  path?: string;
}

export interface LoadResult {
  /** `null` iff at least one problem is an error. */
  config: ValohaiConfig | null;
  problems: Problem[];
}
