/**
 * Python's `str()`, `repr()`, `format()` and `str.format_map()` for parameter values
 * (valohai-spec §1.5 steps 3–4). Numbers are rounded exactly (BigInt arithmetic on the binary
 * value, ties to even) so `{v:.2f}` matches CPython digit for digit.
 */
import { floatRepr, PyDate, PyFloat } from "./objects.js";

/** A Python exception raised while formatting (ValueError, KeyError, TypeError, IndexError). */
export class PythonFormatError extends Error {
  override name = "PythonFormatError";
  /** The Python exception class this stands for. */
  readonly pyType: "ValueError" | "KeyError" | "TypeError" | "IndexError" | "AttributeError" | "OverflowError";
  constructor(message: string, pyType: PythonFormatError["pyType"] = "ValueError") {
    super(message);
    this.pyType = pyType;
  }
}

function intStr(n: number): string {
  if (Object.is(n, -0)) return "0";
  return Math.abs(n) >= 1e21 ? BigInt(n).toString() : String(n);
}

/** True when the value is a Python float: a `PyFloat`, or a JS number that is not an integer. */
export function isPyFloat(v: unknown): v is PyFloat | number {
  return v instanceof PyFloat || (typeof v === "number" && !Number.isInteger(v));
}

function numberOf(v: PyFloat | number): number {
  return v instanceof PyFloat ? v.value : v;
}

/** Python `str(value)`: `True`/`False`/`None`, float repr, list repr `['a', 'b']`. */
export function pythonStr(v: unknown): string {
  if (typeof v === "string") return v;
  if (v instanceof PyDate) return v.toString();
  return pythonRepr(v);
}

function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof PyFloat) && !(v instanceof PyDate);
}

/** Python `repr(value)`. */
export function pythonRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "string") return stringRepr(v);
  if (v instanceof PyFloat) return floatRepr(v.value);
  if (typeof v === "number") return Number.isInteger(v) ? intStr(v) : floatRepr(v);
  if (typeof v === "bigint") return v.toString();
  if (v instanceof PyDate) return v.repr();
  if (Array.isArray(v)) return `[${v.map(pythonRepr).join(", ")}]`;
  if (isDict(v)) return `{${Object.entries(v).map(([k, x]) => `${stringRepr(k)}: ${pythonRepr(x)}`).join(", ")}}`;
  return String(v);
}

const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python `ascii()` from a repr: every non-ASCII character as `\xhh`, `\uhhhh` or `\Uhhhhhhhh`. */
function asciiEscape(repr: string): string {
  let out = "";
  for (const ch of repr) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) out += ch;
    else if (cp < 0x100) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return out;
}

/** Python `repr(str)`. */
export function stringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch !== " " && NON_PRINTABLE.test(ch)) {
      const cp = ch.codePointAt(0) ?? 0;
      if (cp < 0x100) out += `\\x${cp.toString(16).padStart(2, "0")}`;
      else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
      else out += `\\U${cp.toString(16).padStart(8, "0")}`;
    } else out += ch;
  }
  return out + quote;
}

// ---------------------------------------------------------------------------------------------
// Exact decimal rounding of doubles.

function decompose(x: number): { mant: bigint; exp: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased === 0) return { mant: frac, exp: -1074 };
  return { mant: frac | (1n << 52n), exp: biased - 1075 };
}

function roundHalfEven(num: bigint, den: bigint): bigint {
  const q = num / den;
  const r = num % den;
  const twice = r * 2n;
  if (twice > den || (twice === den && q % 2n === 1n)) return q + 1n;
  return q;
}

/** round(|x| * 10^j) exactly. */
function scaledRound(x: number, j: number): bigint {
  const { mant, exp } = decompose(Math.abs(x));
  let num = mant;
  let den = 1n;
  if (exp >= 0) num <<= BigInt(exp);
  else den <<= BigInt(-exp);
  if (j >= 0) num *= 10n ** BigInt(j);
  else den *= 10n ** BigInt(-j);
  return roundHalfEven(num, den);
}

/** |x| with `prec` digits after the point. */
function fixedAbs(x: number, prec: number): string {
  const n = scaledRound(x, prec).toString().padStart(prec + 1, "0");
  if (prec === 0) return n;
  return `${n.slice(0, n.length - prec)}.${n.slice(n.length - prec)}`;
}

/** |x| rounded to prec+1 significant digits: the digits and the decimal exponent. */
/** Sign of |x| − 10^k, exactly. */
function compareToPow10(x: number, k: number): number {
  const { mant, exp } = decompose(Math.abs(x));
  let num = mant;
  let den = 1n;
  if (exp >= 0) num <<= BigInt(exp);
  else den <<= BigInt(-exp);
  if (k >= 0) den *= 10n ** BigInt(k);
  else num *= 10n ** BigInt(-k);
  return num === den ? 0 : num > den ? 1 : -1;
}

/** floor(log10(|x|)) exactly (Math.log10 rounds: log10(9.999999999999999e-8) is -7). */
function exactExp10(x: number): number {
  let k = Math.floor(Math.log10(Math.abs(x)));
  while (compareToPow10(x, k) < 0) k -= 1;
  while (compareToPow10(x, k + 1) >= 0) k += 1;
  return k;
}

function sciDigits(x: number, prec: number): { digits: string; exp: number } {
  if (x === 0) return { digits: "0".repeat(prec + 1), exp: 0 };
  let k = exactExp10(x);
  let s = scaledRound(x, prec - k).toString();
  // Rounding up may carry into one more digit (9.99 → 10.0): then the exponent is one more.
  if (s.length > prec + 1) {
    k += 1;
    s = scaledRound(x, prec - k).toString();
  }
  return { digits: s, exp: k };
}

function expSuffix(exp: number, upper: boolean): string {
  const a = Math.abs(exp);
  return `${upper ? "E" : "e"}${exp < 0 ? "-" : "+"}${a < 10 ? `0${a}` : a}`;
}

function sciAbs(x: number, prec: number, upper: boolean, alt: boolean): string {
  const { digits, exp } = sciDigits(x, prec);
  const mant = prec > 0 ? `${digits[0]}.${digits.slice(1)}` : alt ? `${digits}.` : digits;
  return mant + expSuffix(exp, upper);
}

function generalAbs(x: number, precision: number, upper: boolean, alt: boolean, noneType: boolean): string {
  const p = precision === 0 ? 1 : precision;
  const exp = x === 0 ? 0 : sciDigits(x, p - 1).exp;
  let s: string;
  // With no presentation type, Python switches to the exponent form one digit earlier (exp >= p - 1).
  if (exp >= -4 && exp < (noneType ? p - 1 : p)) {
    s = fixedAbs(x, p - 1 - exp);
    if (!alt && s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
    if (alt && !s.includes(".")) s += ".";
    if (noneType && !s.includes(".")) s += ".0";
  } else {
    s = sciAbs(x, p - 1, upper, alt);
    if (!alt) s = s.replace(/\.?0+(?=[eE])/, "");
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// format(value, spec)

interface Spec {
  fill: string;
  align?: "<" | ">" | "=" | "^";
  sign?: "+" | "-" | " ";
  z: boolean;
  alt: boolean;
  zero: boolean;
  width?: number;
  grouping?: "," | "_";
  precision?: number;
  type?: string;
  /** `=` came from the `0` flag, not from the spec (strings then pad on the right). */
  zeroAlign?: boolean;
}

// The type is any one character (Python then says "Unknown format code" for one the type has not).
const SPEC_RE = /^(?:([\s\S])?([<>=^]))?([-+ ])?(z)?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([\s\S])?$/u;

function parseSpec(spec: string, tname: string): Spec {
  const m = SPEC_RE.exec(spec);
  if (!m) {
    if (/\.(?!\d)/.test(spec) && SPEC_RE.test(spec.replace(/\.(?!\d)/, ".0"))) throw new PythonFormatError("Format specifier missing precision");
    throw new PythonFormatError(`Invalid format specifier '${spec}' for object of type '${tname}'`);
  }
  const out: Spec = { fill: m[1] ?? " ", z: m[4] !== undefined, alt: m[5] !== undefined, zero: m[6] !== undefined };
  if (m[2]) out.align = m[2] as Spec["align"];
  if (m[3]) out.sign = m[3] as Spec["sign"];
  if (m[7] !== undefined) out.width = Number(m[7]);
  if (m[8]) out.grouping = m[8] as Spec["grouping"];
  if (m[9] !== undefined) out.precision = Number(m[9]);
  if (m[10]) out.type = m[10];
  // Python checks the grouping against the type before it looks at the value.
  if (out.grouping && out.type !== undefined && !(out.grouping === "," ? "deEfFgG%" : "deEfFgG%bxXo").includes(out.type)) {
    throw new PythonFormatError(`Cannot specify '${out.grouping}' with '${out.type}'.`);
  }
  if (out.zero && !out.align) {
    out.fill = "0";
    out.align = "=";
    out.zeroAlign = true;
  }
  return out;
}

function pad(body: string, signStr: string, spec: Spec, defaultAlign: "<" | ">"): string {
  const align = spec.align ?? defaultAlign;
  const width = spec.width ?? 0;
  const len = [...signStr].length + [...body].length;
  if (len >= width) return signStr + body;
  const n = width - len;
  const fill = spec.fill;
  if (align === "<") return signStr + body + fill.repeat(n);
  if (align === ">") return fill.repeat(n) + signStr + body;
  if (align === "=") return signStr + fill.repeat(n) + body;
  const left = Math.floor(n / 2);
  return fill.repeat(left) + signStr + body + fill.repeat(n - left);
}

function group(intPart: string, sep: string, size: number): string {
  let out = "";
  for (let i = intPart.length; i > 0; i -= size) {
    const start = Math.max(0, i - size);
    out = intPart.slice(start, i) + (out ? sep + out : "");
  }
  return out;
}

function applyGrouping(body: string, spec: Spec, size = 3): string {
  if (!spec.grouping) return body;
  // Decimal: the digits before the point; binary/octal/hex (size 4): every digit and letter.
  const m = (size === 4 ? /^([0-9a-fA-F]+)(.*)$/s : /^(\d+)(.*)$/s).exec(body);
  if (!m) return body;
  return group(m[1] ?? "", spec.grouping, size) + (m[2] ?? "");
}

function signOf(negative: boolean, spec: Spec): string {
  if (negative) return "-";
  if (spec.sign === "+") return "+";
  if (spec.sign === " ") return " ";
  return "";
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return "NoneType";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "string") return "str";
  if (isPyFloat(v)) return "float";
  if (typeof v === "number" || typeof v === "bigint") return "int";
  if (Array.isArray(v)) return "list";
  if (v instanceof PyDate) return v.time ? "datetime" : "date";
  return "dict";
}

function formatFloat(value: number, spec: Spec): string {
  const type = spec.type;
  if (type !== undefined && !"eEfFgGn%".includes(type)) throw new PythonFormatError(`Unknown format code '${type}' for object of type 'float'`);
  // `%` multiplies by 100 in double arithmetic first (so 1.7976931348623157e308 gives inf%).
  const x = type === "%" ? value * 100 : value;
  let negative = x < 0 || Object.is(x, -0);
  let body: string;
  const upper = type === "E" || type === "F" || type === "G";
  if (!Number.isFinite(x)) {
    body = Number.isNaN(x) ? "nan" : "inf";
    if (Number.isNaN(x)) negative = false;
    if (upper) body = body.toUpperCase();
    if (type === "%") body += "%";
  } else if (type === "f" || type === "F") {
    body = fixedAbs(x, spec.precision ?? 6);
    if (spec.alt && !body.includes(".")) body += ".";
  } else if (type === "e" || type === "E") {
    body = sciAbs(x, spec.precision ?? 6, upper, spec.alt);
  } else if (type === "g" || type === "G" || type === "n") {
    body = generalAbs(x, spec.precision ?? 6, upper, spec.alt, false);
  } else if (type === "%") {
    body = fixedAbs(x, spec.precision ?? 6);
    if (spec.alt && !body.includes(".")) body += ".";
    body += "%";
  } else if (spec.precision !== undefined) {
    body = generalAbs(x, spec.precision, false, spec.alt, true);
  } else {
    body = floatRepr(Math.abs(x));
  }
  if (spec.z && negative && /^[0.]*$/.test(body.replace(/[eE][-+]\d+$|%$/, ""))) negative = false;
  body = applyGrouping(body, spec);
  return pad(body, signOf(negative, spec), spec, ">");
}

function formatInt(n: number | bigint, spec: Spec, tname: string): string {
  const type = spec.type;
  // Python converts the int to a float for these (correctly rounded, as Number(bigint) is).
  if (type !== undefined && "eEfFgG%".includes(type)) return formatFloat(Number(n), spec);
  if (type !== undefined && !"bcdoxXn".includes(type)) throw new PythonFormatError(`Unknown format code '${type}' for object of type '${tname}'`);
  if (spec.precision !== undefined) throw new PythonFormatError("Precision not allowed in integer format specifier");
  if (spec.z) throw new PythonFormatError("Negative zero coercion (z) not allowed in integer format specifier");
  const big = typeof n === "bigint" ? n : BigInt(Math.trunc(n));
  const negative = big < 0n;
  const abs = negative ? -big : big;
  let body: string;
  let prefix = "";
  if (type === "c") {
    if (spec.sign) throw new PythonFormatError("Sign not allowed with integer format specifier 'c'");
    if (big >= 2n ** 63n || big < -(2n ** 63n)) throw new PythonFormatError("Python int too large to convert to C long", "OverflowError");
    if (negative || abs > 0x10ffffn) throw new PythonFormatError("%c arg not in range(0x110000)", "OverflowError");
    body = String.fromCodePoint(Number(abs));
    return pad(body, "", spec, ">");
  }
  if (type === "b" || type === "o" || type === "x" || type === "X") {
    const radix = type === "b" ? 2 : type === "o" ? 8 : 16;
    body = abs.toString(radix);
    if (type === "X") body = body.toUpperCase();
    if (spec.alt) prefix = type === "b" ? "0b" : type === "o" ? "0o" : type === "x" ? "0x" : "0X";
    body = applyGrouping(body, spec, 4);
  } else {
    body = applyGrouping(abs.toString(), spec);
  }
  return pad(body, signOf(negative, spec) + prefix, spec, ">");
}

function formatString(s: string, spec: Spec): string {
  if (spec.type !== undefined && spec.type !== "s") throw new PythonFormatError(`Unknown format code '${spec.type}' for object of type 'str'`);
  if (spec.sign) throw new PythonFormatError("Sign not allowed in string format specifier");
  if (spec.alt) throw new PythonFormatError("Alternate form (#) not allowed in string format specifier");
  if (spec.grouping) throw new PythonFormatError(`Cannot specify '${spec.grouping}' with 's'.`);
  if (spec.z) throw new PythonFormatError("Negative zero coercion (z) not allowed in string format specifier");
  if (spec.align === "=" && !spec.zeroAlign) throw new PythonFormatError("'=' alignment not allowed in string format specifier");
  const body = spec.precision !== undefined ? [...s].slice(0, spec.precision).join("") : s;
  const fixed = spec.zeroAlign ? { ...spec, align: "<" as const } : spec;
  return pad(body, "", fixed, "<");
}

function strftime(d: PyDate, fmt: string): string {
  const t = d.time ?? { hour: 0, minute: 0, second: 0, microsecond: 0 };
  const two = (n: number): string => String(n).padStart(2, "0");
  return fmt.replace(/%([YmdHMSfy%])/g, (_m, c: string) => {
    switch (c) {
      case "Y":
        return String(d.year).padStart(4, "0");
      case "y":
        return two(d.year % 100);
      case "m":
        return two(d.month);
      case "d":
        return two(d.day);
      case "H":
        return two(t.hour);
      case "M":
        return two(t.minute);
      case "S":
        return two(t.second);
      case "f":
        return String(t.microsecond).padStart(6, "0");
      default:
        return "%";
    }
  });
}

/** Python `format(value, spec)`. */
export function formatValue(v: unknown, specText: string): string {
  if (specText === "") return pythonStr(v);
  if (v instanceof PyDate) return strftime(v, specText);
  const spec = parseSpec(specText, typeName(v));
  if (typeof v === "string") return formatString(v, spec);
  if (typeof v === "boolean") return formatInt(v ? 1 : 0, spec, "bool");
  if (isPyFloat(v)) return formatFloat(numberOf(v), spec);
  if (typeof v === "number" || typeof v === "bigint") return formatInt(v, spec, "int");
  throw new PythonFormatError(`unsupported format string passed to ${typeName(v)}.__format__`, "TypeError");
}

// ---------------------------------------------------------------------------------------------
// str.format_map

/**
 * `value.attr` for the data attributes Python has on parameter values: `real`/`imag` on numbers
 * and bools, `numerator`/`denominator` on ints and bools, the fields of dates. Anything else is
 * an AttributeError: either Python has no such attribute, or it is a method or a dunder whose text
 * (`<built-in method …>`, with a memory address) no command should contain.
 */
function attribute(value: unknown, attr: string): unknown {
  const isInt = typeof value === "boolean" || typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value));
  const asInt = (v: unknown): number | bigint => (typeof v === "boolean" ? (v ? 1 : 0) : (v as number | bigint));
  if (isInt) {
    if (attr === "real" || attr === "numerator") return asInt(value);
    if (attr === "imag") return 0;
    if (attr === "denominator") return 1;
  } else if (isPyFloat(value)) {
    if (attr === "real") return value instanceof PyFloat ? value : new PyFloat(value);
    if (attr === "imag") return new PyFloat(0);
  } else if (value instanceof PyDate) {
    const t = value.time;
    if (attr === "year" || attr === "month" || attr === "day") return value[attr];
    if (t && (attr === "hour" || attr === "minute" || attr === "second" || attr === "microsecond")) return t[attr];
  }
  const tname = typeName(value);
  throw new PythonFormatError(
    `'${tname}' object has no attribute '${attr}' that a pass-as template can use (${tname === "int" || tname === "bool" ? "real, imag, numerator, denominator" : tname === "float" ? "real, imag" : "none"})`,
    "AttributeError",
  );
}

function lookupField(field: string, mapping: Record<string, unknown>): unknown {
  const m = /^([^.[]*)(.*)$/s.exec(field);
  const argName = m?.[1] ?? "";
  let rest = m?.[2] ?? "";
  // `{}` and `{0}` are positional: format_map has no positional arguments (a ValueError).
  if (argName === "" || /^\d+$/.test(argName)) throw new PythonFormatError("Format string contains positional fields");
  if (!Object.prototype.hasOwnProperty.call(mapping, argName)) throw new PythonFormatError(`'${argName}'`, "KeyError");
  let value: unknown = mapping[argName];
  while (rest) {
    const attr = /^\.([^.[]*)/.exec(rest);
    if (attr) {
      if (attr[1] === "") throw new PythonFormatError("Empty attribute in format string");
      value = attribute(value, attr[1] ?? "");
      rest = rest.slice(attr[0].length);
      continue;
    }
    const idx = /^\[([^\]]*)\]/.exec(rest);
    if (!idx) throw new PythonFormatError(rest.startsWith("[") ? "Missing ']' in format string" : "Only '.' or '[' may follow ']' in format field specifier");
    const key = idx[1] ?? "";
    if (key === "") throw new PythonFormatError("Empty attribute in format string");
    const numeric = /^\d+$/.test(key);
    if (Array.isArray(value) || typeof value === "string") {
      if (!numeric) throw new PythonFormatError(`${typeName(value) === "str" ? "string" : "list"} indices must be integers${typeName(value) === "list" ? " or slices, not str" : ""}`, "TypeError");
      const arr = typeof value === "string" ? [...value] : value;
      const i = Number(key);
      if (i >= arr.length) throw new PythonFormatError(`${typeName(value) === "str" ? "string" : "list"} index out of range`, "IndexError");
      value = arr[i];
    } else if (isDict(value)) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) throw new PythonFormatError(numeric ? key : `'${key}'`, "KeyError");
      value = value[key];
    } else {
      throw new PythonFormatError(`'${typeName(value)}' object is not subscriptable`, "TypeError");
    }
    rest = rest.slice(idx[0].length);
  }
  return value;
}

/** Python `template.format_map(mapping)`. Throws `PythonFormatError` like Python raises. */
export function formatMap(template: string, mapping: Record<string, unknown>, depth = 0): string {
  let out = "";
  let i = 0;
  while (i < template.length) {
    const ch = template[i];
    if (ch === "}") {
      if (template[i + 1] === "}") {
        out += "}";
        i += 2;
        continue;
      }
      throw new PythonFormatError("Single '}' encountered in format string");
    }
    if (ch !== "{") {
      out += ch;
      i += 1;
      continue;
    }
    if (template[i + 1] === "{") {
      out += "{";
      i += 2;
      continue;
    }
    // Find the matching '}' (the format spec may nest one level of `{...}`).
    let j = i + 1;
    let nesting = 1;
    while (j < template.length) {
      if (template[j] === "{") nesting += 1;
      else if (template[j] === "}") {
        nesting -= 1;
        if (nesting === 0) break;
      }
      j += 1;
    }
    if (j >= template.length) throw new PythonFormatError(nesting > 1 ? "unmatched '{' in format spec" : "expected '}' before end of string");
    const inner = template.slice(i + 1, j);
    const fm = /^([^!:]*)(?:!([^:]*))?(?::([\s\S]*))?$/.exec(inner);
    const field = fm?.[1] ?? "";
    const conversion = fm?.[2];
    let spec = fm?.[3] ?? "";
    if (spec.includes("{")) {
      if (depth >= 1) throw new PythonFormatError("Max string recursion exceeded");
      spec = formatMap(spec, mapping, depth + 1);
    }
    let value = lookupField(field, mapping);
    if (conversion !== undefined) {
      if (conversion === "s") value = pythonStr(value);
      else if (conversion === "r") value = pythonRepr(value);
      else if (conversion === "a") value = asciiEscape(pythonRepr(value));
      else if (conversion === "") throw new PythonFormatError("end of string while looking for conversion specifier");
      else throw new PythonFormatError(`Unknown conversion specifier ${conversion}`);
    }
    out += formatValue(value, spec);
    i = j + 1;
  }
  return out;
}
