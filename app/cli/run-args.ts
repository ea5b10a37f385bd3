/**
 * The command line of `vh exec run`, parsed in two stages because its options depend on the step:
 *   1. `splitRunArgs` takes the fixed options (`--adhoc`, `--title`, …) and the STEP name, and
 *      keeps every other `--name[=value]` as a raw step option, in order;
 *   2. `applyStepOptions` maps those to the step's parameters and inputs (valohai-cli's dynamic
 *      options: `--<sanitized name>` and its lowercase twin), reading `--parameter-file` first.
 * Both are pure: they return errors as text and never touch the network.
 *
 * A step parameter is never swallowed by a fixed option of the same name. valohai-cli lets its
 * own options win wherever they stand (a parameter called `title` can only be reached after
 * `--`); vh instead reads the options after STEP as the step's: after STEP, `--title` is the
 * step's parameter or input `title` when the step has one, and vh's `--title` otherwise (put vh's
 * own options before STEP to be sure). The caller learns which names were taken that way
 * (`overridden`) and says so on stderr. After `--`, every option is a step option.
 *
 * Values follow valohai-cli's typing (click's INT/FLOAT/BOOL/STRING conversions, see
 * `clickConvert`): the last of a repeated single-value option wins, `t`/`f`/empty are flag
 * spellings, Python's `int()`/`float()` accept Unicode digits, and a YAML default that click
 * would coerce (`0.5` or `yes` for an integer) is coerced the same way, with a warning.
 */
import { PyFloat, pyInt, pythonFloat, pythonInt, pythonRepr, pythonStr, sanitizeOptionName, suggest } from "../valohai/index.js";
import type { Parameter, ParamValue, Step } from "../valohai/index.js";
import { MAX_RETRIES } from "../contracts/compute.js";

export type Joiner = "newline" | "and";

/** The largest `--seed` (what numpy.random.seed takes; the server checks the same). */
export const MAX_SEED = 4294967295;

export interface RunFixed {
  adhoc: boolean;
  /** Without --adhoc: the linked repository's branch, tag or commit to run (default: the default branch's tip). */
  commit?: string;
  dryRun: boolean;
  json: boolean;
  watch: boolean;
  help: boolean;
  joiner: Joiner;
  yaml?: string;
  title?: string;
  tags: string[];
  image?: string;
  gpus?: number;
  /** `--environment NAME`: the environment to run in (VH_ENVIRONMENTS_FILE on the server). */
  environment?: string;
  /** `--seed N` sets VH_SEED; `random`: vh picks one (and prints it). */
  seed?: number | "random";
  /** `--retries N`: a failed execution runs again, up to N times. */
  retries?: number;
  project?: string;
  parameterFile?: string;
  vars: string[];
  /** A sweep (app/cli/commands/exec-run.ts): Valohai's task type, its size, max parallel, the metric to rank and optimise, early stopping. */
  taskType?: string;
  executionCount?: number;
  maxParallel?: number;
  optimize?: string;
  earlyStop?: string;
}

interface FixedSpec {
  long: string;
  short?: string;
  key: keyof RunFixed;
  value?: string;
  help: string;
}

/**
 * The fixed options of `vh exec run`. Before STEP they are always vh's; after STEP a step
 * parameter or input with the same option name takes precedence (see the module comment).
 */
export const FIXED_OPTIONS: FixedSpec[] = [
  { long: "adhoc", short: "a", key: "adhoc", help: "package this directory and run that snapshot (instead of a commit of the linked repository)" },
  { long: "commit", short: "c", key: "commit", value: "ref", help: "without --adhoc: the linked repository's branch, tag or commit to run (default: its default branch)" },
  { long: "dry-run", key: "dryRun", help: "print the step's command script and start nothing (offline)" },
  { long: "json", key: "json", help: "print JSON: the plan with --dry-run, else the execution record" },
  { long: "joiner", key: "joiner", value: "newline|and", help: "how --dry-run joins the command list (default: newline)" },
  { long: "watch", short: "w", key: "watch", help: "stream the logs until the execution ends; exit 0 only if it completed" },
  { long: "yaml", key: "yaml", value: "path", help: "the valohai.yaml to read, relative to the project root (default: valohai.yaml)" },
  { long: "title", short: "t", key: "title", value: "title", help: "a title for the execution" },
  { long: "tag", key: "tags", value: "tag", help: "a tag for the execution (repeatable; 1-64 letters, digits, . _ - :)" },
  { long: "var", short: "v", key: "vars", value: "NAME=VALUE", help: "an environment variable for the execution (repeatable)" },
  { long: "image", short: "i", key: "image", value: "image", help: "run in this image instead of the step's" },
  { long: "gpus", key: "gpus", value: "n", help: "GPUs to reserve (default: the step's VH_GPUS, else 0)" },
  { long: "environment", key: "environment", value: "name", help: "run in this environment (vh environment list), over the step's environment:" },
  { long: "seed", key: "seed", value: "n|random", help: `set VH_SEED for the step (0-${MAX_SEED}), recorded with the execution; random: pick one and print it` },
  { long: "retries", key: "retries", value: "n", help: `run a failed execution again, up to n times (0-${MAX_RETRIES}; each attempt is kept in its record)` },
  { long: "parameter-file", key: "parameterFile", value: "file", help: "JSON or YAML dict of parameter values (command-line options win)" },
  { long: "project", key: "project", value: "name", help: "the project (default: the one linked to this directory)" },
  { long: "task-type", key: "taskType", value: "grid|random|manual|bayesian_tpe", help: "run a sweep (a Valohai task) of this type; a parameter takes a list [a,b], linear(s,e,step), logspace(s,e,n) or a distribution uniform(a,b) / loguniform / normal(mean,sd) / randint" },
  { long: "execution-count", key: "executionCount", value: "n", help: "how many executions a random or Bayesian sweep makes" },
  { long: "max-parallel", key: "maxParallel", value: "n", help: "at most this many of the sweep queued or running at once" },
  { long: "optimize", key: "optimize", value: "metric[:max|min]", help: "the metadata key a sweep is ranked by (and Bayesian search optimises)" },
  { long: "early-stop", key: "earlyStop", value: "asha|median", help: "stop sweep executions whose --optimize metric falls behind the others'" },
  { long: "help", short: "h", key: "help", help: "show this help; after STEP, also the step's parameter and input options" },
];

const FIXED_NAMES = new Set(FIXED_OPTIONS.map((o) => o.long));

/** What a step option is: a flag parameter (its value is optional) or a parameter or input that takes a value. */
export type StepOptionKind = "flag" | "value";

/** One step option as typed: `--name=value` (value), `--name value` (attached), or bare `--name`. */
export interface StepToken {
  name: string;
  value?: string;
  /** The next word on the command line, when the option had no `=`; a flag may not want it. */
  attached?: string;
}

export interface SplitRunArgs {
  fixed: RunFixed;
  step?: string;
  tokens: StepToken[];
  /** Fixed option names (`title`) that were read as step options because the step has one. */
  overridden: string[];
  errors: string[];
}

// click's BOOL: these words in any case, surrounding whitespace ignored; empty is false.
const TRUE_WORDS = new Set(["true", "yes", "1", "on", "y", "t"]);
const FALSE_WORDS = new Set(["false", "no", "0", "off", "n", "f", ""]);

/** click's boolean words (`1/0`, `true/false`, `t/f`, `yes/no`, `y/n`, `on/off`, and empty for false). */
export function parseBool(v: string): boolean | undefined {
  const s = v.trim().toLowerCase();
  if (TRUE_WORDS.has(s)) return true;
  if (FALSE_WORDS.has(s)) return false;
  return undefined;
}

/** `-x`, `--x` are options; `-1`, `-0.5`, `-` are values. */
function isOptionLike(t: string): boolean {
  return t.length > 1 && t.startsWith("-") && !/^-\.?\d/.test(t);
}

function setFixed(fixed: RunFixed, spec: FixedSpec, value: string | undefined, errors: string[]): void {
  const flag = `--${spec.long}`;
  if (spec.value === undefined) {
    if (value === undefined) {
      (fixed[spec.key] as boolean) = true;
      return;
    }
    const b = parseBool(value);
    if (b === undefined) errors.push(`${flag} takes no value (or true/false), not "${value}".`);
    else (fixed[spec.key] as boolean) = b;
    return;
  }
  if (value === undefined) {
    errors.push(`${flag} needs a value: ${flag} <${spec.value}>.`);
    return;
  }
  switch (spec.key) {
    case "vars":
      fixed.vars.push(value);
      return;
    case "tags":
      fixed.tags.push(value);
      return;
    case "gpus":
    case "executionCount":
    case "maxParallel": {
      const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
      if (!Number.isSafeInteger(n) || (spec.key !== "gpus" && n < 1)) errors.push(`${flag} needs a whole number${spec.key !== "gpus" ? " of 1 or more" : ""}, not "${value}".`);
      else fixed[spec.key] = n;
      return;
    }
    case "retries": {
      const v = value.trim();
      if (/^\d{1,2}$/.test(v) && Number(v) <= MAX_RETRIES) fixed.retries = Number(v);
      else errors.push(`--retries takes a whole number from 0 to ${MAX_RETRIES}, not "${value}".`);
      return;
    }
    case "seed": {
      const v = value.trim();
      if (v === "random") fixed.seed = "random";
      else if (/^\d{1,10}$/.test(v) && Number(v) <= MAX_SEED) fixed.seed = Number(v);
      else errors.push(`--seed takes a whole number from 0 to ${MAX_SEED}, or "random", not "${value}".`);
      return;
    }
    case "joiner":
      if (value === "newline" || value === "and") fixed.joiner = value;
      else errors.push(`--joiner is "newline" or "and", not "${value}".`);
      return;
    default:
      (fixed[spec.key] as string) = value;
  }
}

/**
 * Stage 1: fixed options and STEP; step options must come after STEP (as in valohai-cli).
 * `stepOption(name)` says whether the step has a parameter or input with option name `name`, and
 * whether it is a flag: after STEP such a name is a step option even where vh has a fixed option
 * of that name. Without it (the step is not known yet) every fixed name is vh's. As in click, an
 * option that takes a value takes the next word, whatever it looks like (`--args --fast`); a flag
 * takes it unless it is an option (a bare flag means true, a vh extension).
 */
export function splitRunArgs(args: string[], stepOption?: (name: string) => StepOptionKind | undefined): SplitRunArgs {
  const fixed: RunFixed = { adhoc: false, dryRun: false, json: false, watch: false, help: false, joiner: "newline", vars: [], tags: [] };
  const tokens: StepToken[] = [];
  const overridden: string[] = [];
  const errors: string[] = [];
  let step: string | undefined;
  let escaped = false;
  const positional = (t: string) => {
    if (step === undefined) step = t;
    else errors.push(`Unexpected argument "${t}": vh exec run takes one STEP; step options look like --name=value.`);
  };
  for (let i = 0; i < args.length; i++) {
    const tok = args[i]!;
    if (tok === "--" && !escaped) {
      // As in valohai-cli: what follows is the step's, never vh's own options.
      escaped = true;
      continue;
    }
    if (escaped && !tok.startsWith("--")) {
      positional(tok);
      continue;
    }
    if (tok.startsWith("--")) {
      const eq = tok.indexOf("=");
      const name = eq === -1 ? tok.slice(2) : tok.slice(2, eq);
      const inline = eq === -1 ? undefined : tok.slice(eq + 1);
      const found = escaped ? undefined : FIXED_OPTIONS.find((o) => o.long === name);
      const kind = step !== undefined ? stepOption?.(name) : undefined;
      const stepWins = found !== undefined && kind !== undefined;
      const spec = stepWins ? undefined : found;
      if (stepWins) overridden.push(name);
      if (spec) {
        let value = inline;
        if (value === undefined && spec.value !== undefined && i + 1 < args.length) value = args[++i];
        setFixed(fixed, spec, value, errors);
        continue;
      }
      if (step === undefined) {
        errors.push(`Unknown option ${tok.split("=")[0]}: step options (parameters and inputs) go after the step name.`);
        continue;
      }
      const t: StepToken = { name };
      if (inline !== undefined) t.value = inline;
      else if (i + 1 < args.length) {
        const next = args[i + 1]!;
        const takes = kind === "value" ? true : kind === "flag" ? parseBool(next) !== undefined || !isOptionLike(next) : !isOptionLike(next);
        if (takes) t.attached = args[++i]!;
      }
      tokens.push(t);
      continue;
    }
    if (escaped) {
      positional(tok);
      continue;
    }
    if (isOptionLike(tok)) {
      // Short options: single letters, combinable for the boolean ones (-aw).
      for (let j = 1; j < tok.length; j++) {
        const spec = FIXED_OPTIONS.find((o) => o.short === tok[j]);
        if (!spec) {
          errors.push(`Unknown option -${tok[j]}${tok.length > 2 ? ` (in ${tok})` : ""}.`);
          break;
        }
        if (spec.value === undefined) {
          setFixed(fixed, spec, undefined, errors);
          continue;
        }
        const rest = tok.slice(j + 1);
        setFixed(fixed, spec, rest !== "" ? rest.replace(/^=/, "") : i + 1 < args.length ? args[++i] : undefined, errors);
        break;
      }
      continue;
    }
    positional(tok);
  }
  return { fixed, ...(step !== undefined ? { step } : {}), tokens, overridden, errors };
}

export type StepOption = { kind: "parameter"; target: Parameter } | { kind: "input"; target: { name: string; optional: boolean; default: string[] } };

/**
 * `--<sanitized>` and its lowercase twin for every parameter, then every input (first wins).
 * `shadowing` lists the step options that share a name with one of vh's fixed options: after
 * STEP they are the step's (see the module comment), so vh's option must go before STEP.
 */
export function stepOptionTable(step: Step): { options: Map<string, StepOption>; shadowing: string[] } {
  const options = new Map<string, StepOption>();
  const shadowing: string[] = [];
  const add = (name: string, opt: StepOption) => {
    const s = sanitizeOptionName(name);
    for (const n of new Set([s, s.toLowerCase()])) {
      if (!n || options.has(n)) continue;
      options.set(n, opt);
      if (FIXED_NAMES.has(n)) {
        shadowing.push(`After the step name, --${n} is ${opt.kind === "parameter" ? "parameter" : "input"} "${name}" of step "${step.name}"; vh's own --${n} goes before the step name (vh exec run --${n} … ${step.name}).`);
      }
    }
  };
  for (const p of step.parameters.values()) add(p.name, { kind: "parameter", target: p });
  for (const i of step.inputs.values()) add(i.name, { kind: "input", target: i });
  return { options, shadowing };
}

/** `stepOption` for `splitRunArgs`, from a step's option table. */
export function stepOptionKinds(step: Step): (name: string) => StepOptionKind | undefined {
  const { options } = stepOptionTable(step);
  return (name) => {
    const opt = options.get(name);
    if (!opt) return undefined;
    return opt.kind === "parameter" && opt.target.type === "flag" ? "flag" : "value";
  };
}

/** The stderr note for a fixed option name that was read as a step option. */
export function overriddenNote(step: Step, name: string): string {
  const opt = stepOptionTable(step).options.get(name);
  const what = opt ? `${opt.kind} "${opt.target.name}" of step "${step.name}"` : `a step option of "${step.name}"`;
  return `--${name} after the step name is ${what}, not vh's own --${name}; to use vh's, put it before the step name (vh exec run --${name} … ${step.name}).`;
}

export interface StepValues {
  /** Values given on the command line or in the parameter file, keyed by parameter name. */
  parameters: Record<string, unknown>;
  /** URIs given on the command line, keyed by input name. */
  inputs: Record<string, string[]>;
  errors: string[];
  warnings: string[];
}

/** Stage 2: step options → parameter values and input URIs (values stay strings; flags become booleans). */
export function applyStepOptions(step: Step, tokens: StepToken[], fileValues?: Record<string, unknown>): StepValues {
  const { options } = stepOptionTable(step);
  const parameters: Record<string, unknown> = {};
  const inputs: Record<string, string[]> = {};
  const errors: string[] = [];
  const warnings: string[] = [];

  if (fileValues) {
    for (const [key, value] of Object.entries(fileValues)) {
      const p = step.parameters.get(key) ?? [...step.parameters.values()].find((q) => sanitizeOptionName(q.name) === key);
      if (!p) {
        warnings.push(`Ignoring "${key}" from the parameter file: step "${step.name}" has no such parameter.`);
        continue;
      }
      // valohai-cli converts parameter-file values with the option's click type.
      const c = clickConvert(p, value, "the parameter file's value");
      if (!c.ok) errors.push(`Parameter "${p.name}": ${c.message}`);
      else {
        parameters[p.name] = c.value;
        if (c.warning) warnings.push(c.warning);
      }
    }
  }

  // As with click: of a repeated single-value option only the last counts (the others are not even read).
  const last = new Map<Parameter, StepToken>();
  for (const t of tokens) {
    const opt = options.get(t.name);
    if (opt?.kind === "parameter" && opt.target.multiple === "none") last.set(opt.target, t);
  }
  const fromCli = new Set<string>();
  for (const t of tokens) {
    const opt = options.get(t.name);
    if (opt?.kind === "parameter" && opt.target.multiple === "none" && last.get(opt.target) !== t) continue;
    if (!opt) {
      const hint = suggest(t.name, [...options.keys()]) ?? suggest(t.name, [...FIXED_NAMES]);
      errors.push(`Unknown option --${t.name} for step "${step.name}".${hint ? ` Did you mean --${hint}?` : ""} (\`vh exec run ${step.name} --help\` lists them.)`);
      continue;
    }
    const flag = `--${t.name}`;
    if (opt.kind === "input") {
      const uri = t.value ?? t.attached;
      if (uri === undefined || uri === "") {
        errors.push(`Input "${opt.target.name}": ${flag} needs a URI (${flag}=URI).`);
        continue;
      }
      (inputs[opt.target.name] ??= []).push(uri);
      continue;
    }
    const p = opt.target;
    let value: unknown;
    if (p.type === "flag") {
      let text = t.value;
      if (text === undefined && t.attached !== undefined) {
        if (parseBool(t.attached) !== undefined) text = t.attached;
        else errors.push(`Unexpected argument "${t.attached}" after the flag ${flag}: write ${flag}=true or ${flag}=false.`);
      }
      if (text === undefined) value = true;
      else {
        value = parseBool(text);
        if (value === undefined) {
          errors.push(`Parameter "${p.name}": ${flag} takes true/false/yes/no/1/0, not "${text}".`);
          continue;
        }
      }
    } else {
      value = t.value ?? t.attached;
      if (value === undefined) {
        errors.push(`Parameter "${p.name}": ${flag} needs a value (${flag}=VALUE).`);
        continue;
      }
    }
    if (p.multiple !== "none") {
      const prev = fromCli.has(p.name) ? parameters[p.name] : undefined;
      parameters[p.name] = [...(Array.isArray(prev) ? prev : []), value];
    } else {
      parameters[p.name] = value;
    }
    fromCli.add(p.name);
  }
  return { parameters, inputs, errors, warnings };
}

export type Converted = { ok: true; value: ParamValue; warning?: string } | { ok: false; message: string };

const CLICK_TYPE = { integer: "integer", float: "float", flag: "boolean", string: "text" } as const;

/**
 * valohai-cli's typing of one value for a parameter: click converts every option value, the YAML
 * default included, with `int(v)` (integer), `float(v)` (float), its boolean words (flag) or
 * `str(v)` (anything else). A `multiple` parameter converts each item. Where that changes a
 * number (the integer default `0.5` becomes `0`, `yes` becomes `1`) the value is used as
 * valohai-cli uses it and `warning` says so; where click fails the value is refused.
 * `what` names the value in messages ("the default", "the parameter file's value").
 */
export function clickConvert(p: Parameter, v: unknown, what = "the default"): Converted {
  if (p.multiple !== "none") {
    const list = v === null || v === undefined ? [] : Array.isArray(v) ? v : [v];
    const out: ParamValue[] = [];
    const warnings: string[] = [];
    for (const atom of list) {
      const c = convertAtom(p, atom, what);
      if (!c.ok) return c;
      out.push(c.value);
      if (c.warning) warnings.push(c.warning);
    }
    return { ok: true, value: out, ...(warnings.length ? { warning: warnings.join(" ") } : {}) };
  }
  return convertAtom(p, v, what);
}

function convertAtom(p: Parameter, v: unknown, what: string): Converted {
  const bad = (why: string): Converted => ({
    ok: false,
    message: `${what} ${pythonRepr(v)} is not a valid ${CLICK_TYPE[p.type]} (${why}).`,
  });
  const lossy = (value: ParamValue, as: string): Converted => ({
    ok: true,
    value,
    warning: `Parameter "${p.name}" (${p.type}): ${what} ${pythonRepr(v)} is not ${as}; valohai-cli reads it as ${pythonStr(value)}, and so does this run. Write it as ${pythonStr(value)} to say so.`,
  });
  if (v === null || v === undefined) return { ok: true, value: null };
  switch (p.type) {
    case "integer": {
      if (typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v))) return { ok: true, value: Object.is(v, -0) ? 0 : v };
      if (typeof v === "boolean") return lossy(v ? 1 : 0, "an integer");
      if (v instanceof PyFloat || typeof v === "number") {
        const x = typeof v === "number" ? v : v.value;
        if (!Number.isFinite(x)) return bad(`int() cannot convert float ${Number.isNaN(x) ? "NaN" : "infinity"} to integer`);
        return lossy(pyInt(BigInt(Math.trunc(x))), "an integer");
      }
      if (typeof v === "string") {
        const n = pythonInt(v);
        return n === undefined ? bad("int() takes digits, an optional sign and `_` between digits") : { ok: true, value: n };
      }
      return bad(`int() takes no ${pyTypeName(v)}`);
    }
    case "float": {
      if (v instanceof PyFloat) return { ok: true, value: v };
      if (typeof v === "number") return { ok: true, value: new PyFloat(v) };
      if (typeof v === "bigint") {
        const x = Number(v);
        return Number.isFinite(x) ? { ok: true, value: new PyFloat(x) } : bad("int too large to convert to float");
      }
      if (typeof v === "boolean") return lossy(new PyFloat(v ? 1 : 0), "a number");
      if (typeof v === "string") {
        const x = pythonFloat(v);
        return x === undefined ? bad("float() takes a decimal number, inf or nan") : { ok: true, value: new PyFloat(x) };
      }
      return bad(`float() takes no ${pyTypeName(v)}`);
    }
    case "flag": {
      if (typeof v === "boolean") return { ok: true, value: v };
      if (typeof v === "string") {
        const b = parseBool(v);
        return b === undefined ? bad("one of 1/0, true/false, t/f, yes/no, y/n, on/off") : { ok: true, value: b };
      }
      // click itself fails on a number (it strips a string); 1 and 0 mean what they say.
      if ((typeof v === "number" || typeof v === "bigint" || v instanceof PyFloat) && (Number(v) === 0 || Number(v) === 1)) return lossy(Number(v) === 1, "true or false");
      return bad("a flag is true or false");
    }
    default:
      return { ok: true, value: typeof v === "string" ? v : pythonStr(v) };
  }
}

function pyTypeName(v: unknown): string {
  if (Array.isArray(v)) return "list";
  if (v instanceof PyFloat) return "float";
  if (typeof v === "object" && v !== null && "year" in v) return "date";
  return typeof v === "object" ? "dict" : typeof v;
}

/**
 * The value each parameter gets when the command line does not give one: its YAML default,
 * typed the way valohai-cli's click options type it (see `clickConvert`). As in valohai-cli's
 * request, a parameter with neither gets `null` (so `{parameter-value:NAME}` prints `None`), a flag
 * nothing; a `multiple` parameter is optional and, with no values, is left out (the command
 * builder gives it `[]` as valohai-yaml does).
 */
export function withDefaults(step: Step, given: Record<string, unknown>): { values: Record<string, unknown>; warnings: string[]; errors: string[] } {
  const values: Record<string, unknown> = {};
  const warnings: string[] = [];
  const errors: string[] = [];
  for (const p of step.parameters.values()) {
    if (Object.hasOwn(given, p.name)) {
      values[p.name] = given[p.name];
      continue;
    }
    if (p.default === undefined || p.default === null) {
      if (p.multiple === "none" && p.type !== "flag") values[p.name] = null;
      continue;
    }
    const c = clickConvert(p, p.default);
    if (!c.ok) {
      errors.push(`Parameter "${p.name}": ${c.message} Pass a value with --${sanitizeOptionName(p.name)}=VALUE or fix the default.`);
      continue;
    }
    if (c.warning) warnings.push(c.warning);
    if (Array.isArray(c.value) && c.value.length === 0) continue;
    values[p.name] = c.value;
  }
  return { values, warnings, errors };
}

/** Parameters that need a value and have none (no default, not optional, not `multiple`). */
export function missingParameters(step: Step, values: Record<string, unknown>): string[] {
  const errors: string[] = [];
  for (const p of step.parameters.values()) {
    const v = values[p.name];
    if (!p.optional && p.multiple === "none" && (v === undefined || v === null)) {
      errors.push(`Parameter "${p.name}" is required: pass --${sanitizeOptionName(p.name)}=VALUE.`);
    }
  }
  return errors;
}

/** Input URIs: the command line's, else the YAML defaults; required inputs without any are errors. */
export function resolveInputs(step: Step, given: Record<string, string[]>): { inputs: Record<string, string[]>; errors: string[] } {
  const inputs: Record<string, string[]> = {};
  const errors: string[] = [];
  for (const i of step.inputs.values()) {
    const uris = given[i.name] ?? i.default;
    if (uris.length) inputs[i.name] = [...uris];
    else if (!i.optional) errors.push(`Input "${i.name}" is required: pass --${sanitizeOptionName(i.name)}=URI.`);
  }
  return { inputs, errors };
}

/** `--var NAME=VALUE` list → record; bad entries are errors. */
export function parseVars(vars: string[]): { env: Record<string, string>; errors: string[] } {
  const env: Record<string, string> = {};
  const errors: string[] = [];
  for (const v of vars) {
    const eq = v.indexOf("=");
    const name = eq === -1 ? "" : v.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) errors.push(`--var needs NAME=VALUE with a shell variable name, not "${v}".`);
    else env[name] = v.slice(eq + 1);
  }
  return { env, errors };
}

export function describeParameterOption(p: Parameter): string {
  return p.type === "flag" ? "[=true|false]" : ` <${p.type}>`;
}
