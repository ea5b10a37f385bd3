/**
 * The elements of a step that pipelines share with steps: parameters, inputs, environment
 * variables and mounts (valohai-spec §2), with the small coercions they use.
 */
import { PyFloat, type EnvironmentVariable, type Input, type KeepDirectories, type Mount, type Parameter, type ParameterType, type ParamValue, type PyNumber } from "./objects.js";
import { validateParameterValue } from "./parameters.js";
import type { PathSeg, Reporter } from "./problems.js";
import { formatMap, PythonFormatError, pythonRepr, pythonStr } from "./python-format.js";
import { isPlainObject } from "./yaml11.js";

export type Raw = Record<string, unknown>;

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function num(v: unknown): number | undefined {
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "bigint") return Number(v);
  return typeof v === "number" ? v : undefined;
}

export function pyNum(v: unknown): PyNumber | undefined {
  if (v instanceof PyFloat) return v;
  return typeof v === "number" || typeof v === "bigint" ? v : undefined;
}

export function listify<T>(v: T | T[] | null | undefined): T[] {
  if (v === null || v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

export function strList(v: unknown): string[] {
  return listify(v).filter((x): x is string => typeof x === "string");
}

/** Sets `line`/`column`; for a top-level item (`[i, kind]`) the position of its `kind:` key. */
export function withPos<T extends object>(obj: T, r: Reporter, path: PathSeg[]): T {
  const p = r.locate(path, path.length === 2 && typeof path[0] === "number");
  if (p) Object.assign(obj, { line: p.line, column: p.column });
  return obj;
}

/** Python truthiness, used by the default lint (falsy defaults are never checked). */
export function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === "" || v === 0 || v === 0n) return false;
  if (v instanceof PyFloat) return v.value !== 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

export function pyTypeName(v: unknown): string {
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
