/**
 * The command line of `vh exec run`, parsed in two stages because its options depend on the step:
 *   1. `splitRunArgs` takes the fixed options (`--adhoc`, `--title`, …) and the STEP name, and
 *      keeps every other `--name[=value]` as a raw step option, in order;
 *   2. `applyStepOptions` maps those to the step's parameters and inputs (valohai-cli's dynamic
 *      options: `--<sanitized name>` and its lowercase twin), reading `--parameter-file` first.
 * Both are pure: they return errors as text and never touch the network.
 */
import type { Parameter, Step } from "../valohai/index.js";
import { sanitizeOptionName, suggest } from "../valohai/index.js";

export type Joiner = "newline" | "and";

export interface RunFixed {
  adhoc: boolean;
  dryRun: boolean;
  json: boolean;
  watch: boolean;
  help: boolean;
  joiner: Joiner;
  yaml?: string;
  title?: string;
  image?: string;
  gpus?: number;
  project?: string;
  parameterFile?: string;
  vars: string[];
}

interface FixedSpec {
  long: string;
  short?: string;
  key: keyof RunFixed;
  value?: string;
  help: string;
}

/** The fixed options of `vh exec run`; a step parameter with one of these names loses to it. */
export const FIXED_OPTIONS: FixedSpec[] = [
  { long: "adhoc", short: "a", key: "adhoc", help: "package this directory and run that snapshot (the only mode for now)" },
  { long: "dry-run", key: "dryRun", help: "print the step's command script and start nothing (offline)" },
  { long: "json", key: "json", help: "print JSON: the plan with --dry-run, else the execution record" },
  { long: "joiner", key: "joiner", value: "newline|and", help: "how --dry-run joins the command list (default: newline)" },
  { long: "watch", short: "w", key: "watch", help: "stream the logs until the execution ends; exit 0 only if it completed" },
  { long: "yaml", key: "yaml", value: "path", help: "the valohai.yaml to read, relative to the project root (default: valohai.yaml)" },
  { long: "title", short: "t", key: "title", value: "title", help: "a title for the execution" },
  { long: "var", short: "v", key: "vars", value: "NAME=VALUE", help: "an environment variable for the execution (repeatable)" },
  { long: "image", short: "i", key: "image", value: "image", help: "run in this image instead of the step's" },
  { long: "gpus", key: "gpus", value: "n", help: "GPUs to reserve (default: the step's VH_GPUS, else 0)" },
  { long: "parameter-file", key: "parameterFile", value: "file", help: "JSON or YAML dict of parameter values (command-line options win)" },
  { long: "project", key: "project", value: "name", help: "the project (default: the one linked to this directory)" },
  { long: "help", short: "h", key: "help", help: "show this help; after STEP, also the step's parameter and input options" },
];

const FIXED_NAMES = new Set(FIXED_OPTIONS.map((o) => o.long));

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
  errors: string[];
}

const TRUE_WORDS = new Set(["true", "yes", "1", "on", "y"]);
const FALSE_WORDS = new Set(["false", "no", "0", "off", "n"]);

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
    case "gpus": {
      const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
      if (!Number.isSafeInteger(n)) errors.push(`--gpus needs a whole number, not "${value}".`);
      else fixed.gpus = n;
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

/** Stage 1: fixed options and STEP; step options must come after STEP (as in valohai-cli). */
export function splitRunArgs(args: string[]): SplitRunArgs {
  const fixed: RunFixed = { adhoc: false, dryRun: false, json: false, watch: false, help: false, joiner: "newline", vars: [] };
  const tokens: StepToken[] = [];
  const errors: string[] = [];
  let step: string | undefined;
  const positional = (t: string) => {
    if (step === undefined) step = t;
    else errors.push(`Unexpected argument "${t}": vh exec run takes one STEP; step options look like --name=value.`);
  };
  for (let i = 0; i < args.length; i++) {
    const tok = args[i]!;
    if (tok === "--") {
      args.slice(i + 1).forEach(positional);
      break;
    }
    if (tok.startsWith("--")) {
      const eq = tok.indexOf("=");
      const name = eq === -1 ? tok.slice(2) : tok.slice(2, eq);
      const inline = eq === -1 ? undefined : tok.slice(eq + 1);
      const spec = FIXED_OPTIONS.find((o) => o.long === name);
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
      else if (i + 1 < args.length && !isOptionLike(args[i + 1]!)) t.attached = args[++i]!;
      tokens.push(t);
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
  return { fixed, ...(step !== undefined ? { step } : {}), tokens, errors };
}

export type StepOption = { kind: "parameter"; target: Parameter } | { kind: "input"; target: { name: string; optional: boolean; default: string[] } };

/** `--<sanitized>` and its lowercase twin for every parameter, then every input (first wins). */
export function stepOptionTable(step: Step): { options: Map<string, StepOption>; shadowed: string[] } {
  const options = new Map<string, StepOption>();
  const shadowed: string[] = [];
  const add = (name: string, opt: StepOption) => {
    const s = sanitizeOptionName(name);
    for (const n of new Set([s, s.toLowerCase()])) {
      if (!n) continue;
      if (FIXED_NAMES.has(n)) {
        shadowed.push(`${opt.kind === "parameter" ? "Parameter" : "Input"} "${name}" has the same option name as vh's own --${n}; set it with --parameter-file instead.`);
        continue;
      }
      if (!options.has(n)) options.set(n, opt);
    }
  };
  for (const p of step.parameters.values()) add(p.name, { kind: "parameter", target: p });
  for (const i of step.inputs.values()) add(i.name, { kind: "input", target: i });
  return { options, shadowed };
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
      if (p) parameters[p.name] = value;
      else warnings.push(`Ignoring "${key}" from the parameter file: step "${step.name}" has no such parameter.`);
    }
  }

  const fromCli = new Set<string>();
  for (const t of tokens) {
    const opt = options.get(t.name);
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
    } else if (fromCli.has(p.name)) {
      errors.push(`Parameter "${p.name}" was given more than once; it takes one value.`);
      continue;
    } else {
      parameters[p.name] = value;
    }
    fromCli.add(p.name);
  }
  return { parameters, inputs, errors, warnings };
}

/** The value each parameter gets when the command line does not give one: its YAML default. */
export function withDefaults(step: Step, given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of step.parameters.values()) {
    if (Object.hasOwn(given, p.name)) out[p.name] = given[p.name];
    else if (p.default !== undefined && p.default !== null) out[p.name] = p.default;
  }
  return out;
}

/** Parameters that need a value and have none (no default, not optional). */
export function missingParameters(step: Step, values: Record<string, unknown>): string[] {
  const errors: string[] = [];
  for (const p of step.parameters.values()) {
    const v = values[p.name];
    if (!p.optional && (v === undefined || v === null)) {
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
