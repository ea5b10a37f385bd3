/**
 * Parameter value validation (valohai-spec §1.3, `Parameter.validate`) with the reference's exact
 * messages, plus the merge of defaults and supplied values used when an execution is created.
 */
import { PyFloat, pyInt, type Parameter, type ParamValue, type PyNumber, type Step } from "./objects.js";
import { sanitizeOptionName, suggest } from "./names.js";
import { isPyFloat, pythonRepr, pythonStr } from "./python-format.js";

export type ValidateResult = { ok: true; value: ParamValue } | { ok: false; message: string };

/** Characters Python's `str.isspace()` (and so `int()`/`float()`) strips. */
const PY_SPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;

function digitValue(ch: string): number | undefined {
  if (!/\p{Nd}/u.test(ch)) return undefined;
  // Unicode keeps decimal digits in runs of whole 0–9 sets: count back to the run's start.
  let cp = ch.codePointAt(0) ?? 0;
  const start = cp;
  while (cp > 0 && /\p{Nd}/u.test(String.fromCodePoint(cp - 1))) cp -= 1;
  return (start - cp) % 10;
}

/**
 * What CPython does to a string before `int()`/`float()` parse it: whitespace becomes a space,
 * any Unicode decimal digit (`٣`, `１`, `𝟕`) its ASCII digit, other non-ASCII characters a `?`
 * (which then fails to parse); the result is stripped.
 */
function pyNumberText(s: string): string {
  let out = "";
  for (const ch of s) {
    if (PY_SPACE.test(ch)) out += " ";
    else if (ch.charCodeAt(0) < 128) out += ch;
    else {
      const d = digitValue(ch);
      out += d === undefined ? "?" : String(d);
    }
  }
  return out.replace(/^ +| +$/g, "");
}

/**
 * Python `int(s)` (base 10): sign, digits with single `_` between them, Unicode digits and
 * surrounding whitespace allowed. Exact: beyond 2^53 the result is a `bigint`. Undefined where
 * Python raises ValueError.
 */
export function pythonInt(s: string): number | bigint | undefined {
  const t = pyNumberText(s);
  if (!/^[+-]?\d(?:_?\d)*$/.test(t)) return undefined;
  return pyInt(BigInt(t.replace(/_/g, "")));
}

/** Python `float(s)`, with the same text rules as `pythonInt`; undefined where Python raises ValueError. */
export function pythonFloat(s: string): number | undefined {
  const t = pyNumberText(s);
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(t);
  if (special) {
    const word = (special[2] ?? "").toLowerCase();
    if (word === "nan") return NaN;
    return special[1] === "-" ? -Infinity : Infinity;
  }
  if (!/^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/.test(t)) return undefined;
  return Number(t.replace(/_/g, ""));
}

/** Flag spellings accepted from the CLI and the API (valohai-cli: yes/no/1/0/true/false). */
export function parseFlag(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  const n = numeric(v);
  if (n !== undefined) {
    if (n == 1) return true;
    if (n == 0) return false;
    return undefined;
  }
  if (typeof v !== "string") return undefined;
  const t = v.trim().toLowerCase();
  if (["yes", "y", "true", "1", "on"].includes(t)) return true;
  if (["no", "n", "false", "0", "off"].includes(t)) return false;
  return undefined;
}

function numeric(v: unknown): number | bigint | undefined {
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "number" || typeof v === "bigint") return v;
  if (v instanceof PyFloat) return v.value;
  return undefined;
}

/** Python `a == b` for parameter values (1 == 1.0 == True; exact between ints and floats). */
export function pyEquals(a: unknown, b: unknown): boolean {
  const na = numeric(a);
  const nb = numeric(b);
  // `==` between a bigint and a number compares the exact values, as Python does.
  if (na !== undefined && nb !== undefined) return na == nb;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => pyEquals(x, b[i]));
  if (a === null || b === null) return a === b;
  if (typeof a === "string" && typeof b === "string") return a === b;
  return false;
}

/** One value; `inList`: an item of a `multiple` parameter's list, where Python lets None through to the type checks. */
function validateAtom(param: Parameter, value: unknown, inList = false): ValidateResult {
  if (value === undefined || (value === null && !inList)) return { ok: false, message: "No value supplied" };
  let v: ParamValue = value as ParamValue;
  const text = pythonStr(value);
  if (param.type === "integer") {
    const n = pythonInt(text);
    if (n === undefined) return { ok: false, message: value === "" ? "No value supplied" : `${text} is not an integer` };
    v = n;
  } else if (param.type === "float") {
    const n = pythonFloat(text);
    if (n === undefined) return { ok: false, message: value === "" ? "No value supplied" : `${text} is not a floating-point number` };
    v = new PyFloat(n);
  } else if (param.type === "flag") {
    const b = parseFlag(value);
    if (b === undefined) return { ok: false, message: `${text} is not among the choices allowed ([True, False])` };
    // Python keeps a number that equals True or False as it is (it prints as 1 or 0); a flag word becomes a bool.
    v = typeof value === "number" || typeof value === "bigint" || value instanceof PyFloat ? (value as ParamValue) : b;
  }
  const messages: string[] = [];
  const n = numeric(v);
  if (n !== undefined && param.type !== "flag") {
    const min = param.min === undefined ? undefined : numeric(param.min);
    const max = param.max === undefined ? undefined : numeric(param.max);
    if (min !== undefined && n < min) messages.push(`${pythonStr(v)} is less than the minimum allowed (${pythonStr(param.min)})`);
    if (max !== undefined && n > max) messages.push(`${pythonStr(v)} is greater than the maximum allowed (${pythonStr(param.max)})`);
  }
  if (param.choices && param.type !== "flag" && !param.choices.some((c) => pyEquals(c, v))) {
    messages.push(`${pythonStr(v)} is not among the choices allowed (${pythonRepr(param.choices)})`);
  }
  if (messages.length) return { ok: false, message: messages.join("; ") };
  return { ok: true, value: v };
}

/**
 * Validates and casts one value for `param`: `"7"` → 7 for integers, any number → `PyFloat` for
 * floats, flag spellings → booleans; a `multiple` parameter takes a value or a list of values.
 */
export function validateParameterValue(param: Parameter, value: unknown): ValidateResult {
  if (param.multiple !== "none") {
    const list: unknown[] = value === null || value === undefined ? [] : Array.isArray(value) ? value : [value];
    const out: ParamValue[] = [];
    const messages: string[] = [];
    for (const atom of list) {
      const r = validateAtom(param, atom, true);
      if (r.ok) out.push(r.value);
      else messages.push(r.message);
    }
    if (messages.length) return { ok: false, message: messages.join("; ") };
    return { ok: true, value: out };
  }
  if (Array.isArray(value)) return { ok: false, message: "Only a single value is allowed" };
  return validateAtom(param, value);
}

const PYTHON_TYPED = Symbol("python-typed");

/**
 * Whether `values` came from `validateParameterValues`: already typed the Python way (a YAML
 * default's `1000` for a float parameter is the int 1000, as valohai-yaml merges it), so the
 * command builder must not re-read its plain numbers by the parameters' declared types.
 */
export function isPythonTyped(values: object): boolean {
  return (values as { [PYTHON_TYPED]?: true })[PYTHON_TYPED] === true;
}

/** Finds the parameter a supplied key means: its name, or valohai-cli's option spelling of it. */
export function findParameter(step: Step, key: string): Parameter | undefined {
  const direct = step.parameters.get(key);
  if (direct) return direct;
  const wanted = sanitizeOptionName(key).toLowerCase();
  for (const p of step.parameters.values()) {
    if (sanitizeOptionName(p.name).toLowerCase() === wanted) return p;
  }
  return undefined;
}

/**
 * Validates supplied values against a step and merges them with the defaults. Unknown names and
 * missing required parameters are errors (a `multiple` parameter is never required: without a
 * default it has no values). Non-flag defaults (not null) are applied; a flag takes
 * the supplied value or its default (valohai-cli passes flag defaults explicitly, spec §1.4).
 * A supplied `null` on an optional parameter is kept and removes it from the command.
 */
export function validateParameterValues(
  step: Step,
  values: Record<string, unknown>,
): { values: Record<string, ParamValue>; errors: { parameter: string; message: string }[] } {
  const errors: { parameter: string; message: string }[] = [];
  const supplied = new Map<string, unknown>();
  const names = [...step.parameters.keys()];
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const param = findParameter(step, key);
    if (!param) {
      const hint = suggest(key, names);
      errors.push({
        parameter: key,
        message: `Step ${step.name} has no parameter '${key}'.${hint ? ` Did you mean '${hint}'?` : ""} Parameters: ${names.length ? names.join(", ") : "(none)"}`,
      });
      continue;
    }
    supplied.set(param.name, value);
  }
  const out: Record<string, ParamValue> = {};
  for (const param of step.parameters.values()) {
    if (supplied.has(param.name)) {
      const value = supplied.get(param.name);
      if (value === null) {
        if (param.optional) out[param.name] = null;
        else errors.push({ parameter: param.name, message: "No value supplied" });
        continue;
      }
      const r = validateParameterValue(param, value);
      if (r.ok) out[param.name] = r.value;
      else errors.push({ parameter: param.name, message: r.message });
      continue;
    }
    if (param.type === "flag") {
      if (param.default !== undefined && param.default !== null) out[param.name] = parseFlag(param.default) ?? Boolean(param.default);
      continue;
    }
    if (param.default !== undefined && param.default !== null) {
      out[param.name] = param.default;
      continue;
    }
    // A `multiple` parameter without a default defaults to no values (valohai-yaml listifies None).
    if (!param.optional && param.multiple === "none") {
      errors.push({
        parameter: param.name,
        message: `No value supplied (the parameter is required: it has no default and is not optional)`,
      });
    }
  }
  Object.defineProperty(out, PYTHON_TYPED, { value: true, enumerable: false });
  return { values: out, errors };
}

/** Reads a plain JS value (e.g. from JSON) as the Python value the parameter's type implies. */
export function normaliseValue(param: Parameter | undefined, v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => normaliseValue(param, x));
  if (typeof v === "number" && param?.type === "float") return new PyFloat(v);
  if (param?.type === "flag" && typeof v === "string") return parseFlag(v) ?? v;
  return v;
}

export function isNumberLike(v: unknown): v is PyNumber {
  return typeof v === "number" || typeof v === "bigint" || isPyFloat(v);
}
