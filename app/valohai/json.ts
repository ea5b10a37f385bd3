/**
 * JSON for parameter values without losing integers beyond 2^53 (see objects.ts): JSON itself
 * has exact integers of any size, but `JSON.parse` rounds them to doubles and `JSON.stringify`
 * refuses a `bigint`.
 *
 * - `parseJsonExact(text, opts)`: like `JSON.parse`, except that an integer literal beyond the
 *   safe range becomes a `bigint`, and, under the top-level keys `opts.pyFloatsUnder` names
 *   (e.g. `parameters`), a literal with a fraction or an exponent becomes a `PyFloat`, as
 *   Python's `json.loads` makes it a float (`1.0` stays `1.0`, `-0.0` keeps its sign, `1e16` is
 *   no integer); elsewhere such a literal is a plain number (`opts.pyFloats`: a `PyFloat` everywhere);
 * - `stringifyJson(value, indent)`: like `JSON.stringify`, writing a `bigint` as its exact digits
 *   and a `PyFloat` the way Python's `json.dumps` does (`1.0`, `-0.0`, `1e-07`), except that
 *   `inf`, `-inf` and `nan`, which JSON has not, stay strings (see `PyFloat#toJSON`);
 * - `toJsonValue(value)`: a copy that `JSON.stringify` (or a database driver) can take as is:
 *   a `bigint` becomes its decimal string, which an integer parameter accepts back exactly.
 */
import { floatRepr, PyFloat, pyInt } from "./objects.js";

export class JsonSyntaxError extends SyntaxError {
  override name = "JsonSyntaxError";
}

/** `JSON.parse` that keeps big integer literals exact (as `bigint`); see the module comment for `pyFloatsUnder`. */
export function parseJsonExact(text: string, opts: { pyFloatsUnder?: string[]; pyFloats?: boolean } = {}): unknown {
  const floatKeys = new Set(opts.pyFloatsUnder ?? []);
  let pyFloats = opts.pyFloats === true;
  let i = 0;
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} in JSON at position ${i}`);
  };
  const ws = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const value = (depth: number): unknown => {
    if (depth > 512) fail("Nesting too deep");
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const out: Record<string, unknown> = {};
      ws();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("Expected a property name");
        const key = string();
        ws();
        if (text[i] !== ":") fail("Expected ':'");
        i++;
        const outer = pyFloats;
        if (depth === 0 && opts.pyFloats !== true) pyFloats = floatKeys.has(key);
        Object.defineProperty(out, key, { value: value(depth + 1), enumerable: true, writable: true, configurable: true });
        pyFloats = outer;
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return out;
        }
        fail("Expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const out: unknown[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value(depth + 1));
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return out;
        }
        fail("Expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (text.startsWith("true", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return false;
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return null;
    }
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 4096));
    if (!m) fail(i >= text.length ? "Unexpected end" : `Unexpected token ${JSON.stringify(text[i])}`);
    const lit = m![0];
    i += lit.length;
    // An integer literal is a Python int (so `-0` is 0, as json.loads reads it).
    if (m![1] === undefined && m![2] === undefined) return pyInt(BigInt(lit));
    return pyFloats ? new PyFloat(Number(lit)) : Number(lit);
  };
  const string = (): string => {
    const start = i;
    i++;
    for (;;) {
      const j = text.indexOf('"', i);
      if (j < 0) fail("Unterminated string");
      let backslashes = 0;
      for (let k = j - 1; k >= start + 1 && text[k] === "\\"; k--) backslashes++;
      i = j + 1;
      if (backslashes % 2 === 0) break;
    }
    // The string token is valid JSON on its own: let JSON.parse decode its escapes.
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      i = start;
      return fail("Bad string");
    }
  };
  const out = value(0);
  ws();
  if (i < text.length) fail(`Unexpected token ${JSON.stringify(text[i])}`);
  return out;
}

/** A copy of `v` with every `bigint` replaced by its decimal string. */
export function toJsonValue<T>(v: T): T {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x))) as T;
}

/** `JSON.stringify`, writing each `bigint` as its exact digits and each `PyFloat` as Python writes it. */
export function stringifyJson(v: unknown, indent?: number): string {
  const marks: string[] = [];
  // A placeholder no string value can collide with: it carries a fresh random tag.
  const tag = Math.random().toString(36).slice(2);
  const mark = (raw: string) => {
    marks.push(raw);
    return `\u0000${tag}:${marks.length - 1}\u0000`;
  };
  const text = JSON.stringify(
    v,
    function (this: Record<string, unknown>, k: string, x: unknown) {
      // `this[k]` is the value before its toJSON() ran.
      const before = this[k];
      if (before instanceof PyFloat && Number.isFinite(before.value)) return mark(floatRepr(before.value));
      if (typeof x === "bigint") return mark(x.toString());
      return x;
    },
    indent,
  );
  if (!marks.length) return text;
  return text.replace(new RegExp(`"\\\\u0000${tag}:(\\d+)\\\\u0000"`, "g"), (_m, k: string) => marks[Number(k)] ?? "null");
}
