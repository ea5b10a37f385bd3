/**
 * Command building, byte-identical to valohai-yaml's `build_command` (valohai-spec §1.5).
 */
import type { Parameter, ParamValue, Problem, Step } from "./objects.js";
import { isPythonTyped, normaliseValue, parseFlag } from "./parameters.js";
import { formatMap, pythonRepr, pythonStr, PythonFormatError } from "./python-format.js";
import { shlexQuote } from "./shlex.js";

/** Raised when a `pass-as` template cannot be filled in (Python would raise KeyError/TypeError). */
export class CommandBuildError extends Error {
  override name = "CommandBuildError";
  readonly problem: Problem;
  /** The Python exception the reference would raise. */
  readonly pyType: PythonFormatError["pyType"];
  constructor(problem: Problem, pyType: PythonFormatError["pyType"]) {
    super(problem.message);
    this.problem = problem;
    this.pyType = pyType;
  }
}

/** Python truthiness of a parameter value. */
function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === "" || v === 0 || v === 0n) return false;
  if (typeof v === "object" && "value" in (v as object) && typeof (v as { value: unknown }).value === "number") return (v as { value: number }).value !== 0;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

function fill(template: string, param: Parameter, value: unknown, step: Step): string[] {
  return template
    .split(/\s+/)
    .filter((t) => t !== "")
    .map((token) => {
      try {
        return formatMap(token, { name: param.name, value, v: value });
      } catch (err) {
        if (!(err instanceof PythonFormatError)) throw err;
        throw new CommandBuildError({
          severity: "error",
          code: "pass-as-template",
          message:
            err.pyType === "KeyError" || err.pyType === "ValueError"
              ? `Step "${step.name}", parameter "${param.name}": cannot fill in "${token}" (${err.message}); a pass-as template may use {name}, {value} and {v} (with a format spec such as {v:.3f}), and a literal brace is written {{ or }}.`
              : `Step "${step.name}", parameter "${param.name}": cannot fill in "${token}" with the value ${pythonRepr(value)}: ${err.message} (Python raises ${err.pyType}).`,
          ...(param.line !== undefined ? { line: param.line } : {}),
          ...(param.column !== undefined ? { column: param.column } : {}),
        }, err.pyType);
      }
    });
}

/** `format_cli`: the command-line tokens (unquoted) for one parameter, or null for none. */
export function formatCli(param: Parameter, value: unknown, step: Step): string[] | null {
  let template: string;
  if (param.type === "flag") {
    const on = typeof value === "string" ? (parseFlag(value) ?? truthy(value)) : truthy(value);
    if (param.passTrueAs !== undefined || param.passFalseAs !== undefined) {
      const chosen = on ? param.passTrueAs : param.passFalseAs;
      if (!chosen) return null;
      template = chosen;
    } else {
      if (!on) return null;
      template = param.passAs ?? "--{name}";
    }
  } else {
    if (value === null || value === undefined) return null;
    template = param.passAs ?? "--{name}={value}";
  }
  if (param.multiple === "separate" && param.type !== "flag") {
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0) return null;
    return fill(template, param, list.map((x) => pythonStr(x)).join(param.multipleSeparator), step);
  }
  if (param.multiple === "repeat" && param.type !== "flag") {
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0) return null;
    return list.flatMap((atom) => fill(template, param, atom, step));
  }
  return fill(template, param, value, step);
}

function quoteTokens(tokens: string[] | null): string {
  return (tokens ?? []).map(shlexQuote).join(" ");
}

/**
 * The step's command list with placeholders filled in (spec §1.5 steps 1–5). Non-flag defaults
 * (not null) are merged under `values`; flag values must be supplied (see
 * `validateParameterValues`). Plain JS numbers are read by the parameter's declared type, except
 * in values that `validateParameterValues` returned, which are typed already.
 * Throws `CommandBuildError` where Python would raise (a `pass-as` naming an unknown field).
 */
export function buildCommandList(step: Step, values: Record<string, ParamValue | unknown>, specials?: Record<string, string>): string[] {
  const merged = new Map<string, unknown>();
  for (const p of step.parameters.values()) {
    // valohai-yaml listifies a multiple parameter's default, so "no default" is `[]` (not None).
    if (p.type !== "flag" && p.default !== undefined && p.default !== null) merged.set(p.name, p.default);
    else if (p.multiple !== "none" && p.default === undefined) merged.set(p.name, []);
  }
  const typed = isPythonTyped(values);
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) continue;
    merged.set(k, typed ? v : normaliseValue(step.parameters.get(k), v));
  }
  const special = new Map<string, string>();
  if (step.sourcePath !== undefined) special.set("source-path", step.sourcePath);
  for (const [k, v] of Object.entries(specials ?? {})) special.set(k, v);

  function paramTokens(p: Parameter): string[] | null {
    // An absent or None value renders nothing, for a flag too (not its pass-false-as).
    const v = merged.get(p.name);
    if (v === undefined || v === null) return null;
    return formatCli(p, v, step);
  }

  function expand(key: string, whole: string): string {
    const s = special.get(key);
    if (s !== undefined) return shlexQuote(s);
    if (key === "parameters" || key === "params") {
      return [...step.parameters.values()].map((p) => quoteTokens(paramTokens(p))).filter((t) => t !== "").join(" ");
    }
    if (key.startsWith("parameter:")) {
      const p = step.parameters.get(key.slice("parameter:".length));
      return p ? quoteTokens(paramTokens(p)) : whole;
    }
    if (key.startsWith("parameter-value:")) {
      const name = key.slice("parameter-value:".length);
      return merged.has(name) ? shlexQuote(pythonStr(merged.get(name))) : whole;
    }
    return whole;
  }

  return step.command.map((command) => {
    let out: string;
    try {
      out = command.replace(/\{(.+?)\}/g, (whole, key: string) => expand(key, whole));
    } catch (err) {
      // Python's build_command catches ValueError (bad format spec) and keeps the command as is.
      if (err instanceof CommandBuildError && err.pyType === "ValueError") {
        out = command;
      } else {
        throw err;
      }
    }
    return out.trim();
  });
}

/**
 * Joins a command list into one script (spec §1.5 step 6): blank items are dropped; a first item
 * starting with `#!` keeps its first line as the shebang line. `and` joins with ` && `, `newline`
 * with a newline.
 */
export function joinCommand(list: string[], joiner: "newline" | "and"): string {
  const sep = joiner === "and" ? " && " : "\n";
  const items = list.filter((c) => c.trim() !== "");
  const first = items[0];
  if (first === undefined) return "";
  if (first.startsWith("#!")) {
    const nl = first.indexOf("\n");
    const shebang = nl < 0 ? first : first.slice(0, nl);
    const rest = nl < 0 ? "" : first.slice(nl + 1);
    const remaining = [rest, ...items.slice(1)].filter((c) => c.trim() !== "");
    return `${shebang}\n${remaining.join(sep)}`;
  }
  return items.join(sep);
}

/** The final shell script of a step: `joinCommand(buildCommandList(...))`. */
export function buildScript(
  step: Step,
  values: Record<string, ParamValue | unknown>,
  opts: { joiner: "newline" | "and"; specials?: Record<string, string> },
): string {
  return joinCommand(buildCommandList(step, values, opts.specials), opts.joiner);
}
