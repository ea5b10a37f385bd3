/**
 * What a job's JSON (stdout metadata lines, output sidecars) must satisfy before vh stores it as
 * jsonb. JSON.parse accepts any nesting depth, but JSON.stringify, the Postgres driver and Postgres
 * itself recurse: a 60 KB line nested 10,000 levels deep overflowed the stack on every commit and
 * froze its execution for ever. And JSON.parse turns `1e400` into Infinity, which JSON.stringify
 * (so jsonb) silently turns into null.
 */

/** Deepest nesting of objects and arrays accepted (a confusion matrix is 3, a dataset-version spec 4). */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether the nesting of `text` (as JSON) goes deeper than `max`, found by a scan of the text:
 * never recursive, and it stops at the first level too deep. Brackets inside strings do not count.
 */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

function hasNonFinite(v: unknown): boolean {
  if (typeof v === "number") return !Number.isFinite(v);
  if (Array.isArray(v)) return v.some(hasNonFinite);
  if (v !== null && typeof v === "object") return Object.values(v).some(hasNonFinite);
  return false;
}

/**
 * Top-level keys whose value holds a number JSON cannot represent (JSON.parse made it ±Infinity).
 * Such keys are dropped, with a warning that names them: storing them would silently store null.
 * (Numbers too small for a double, like 1e-400, parse as 0, an ordinary rounding.)
 * Only for values already checked with `nestedDeeperThan` (it recurses).
 */
export function nonFiniteKeys(obj: Record<string, unknown>): string[] {
  return Object.keys(obj).filter((k) => hasNonFinite(obj[k]));
}

/**
 * Strings Postgres jsonb refuses: `\u0000` and lone surrogates, both legal in JSON text. Replaced
 * with U+FFFD (in keys too), so one odd line can never stop an execution's ingestion.
 */
export function jsonbSafe(v: unknown): unknown {
  if (typeof v === "string") return v.replaceAll("\u0000", "\uFFFD").toWellFormed();
  if (Array.isArray(v)) return v.map(jsonbSafe);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [jsonbSafe(k) as string, jsonbSafe(x)]));
  }
  return v;
}

/** Whether the JSON text has escapes that `jsonbSafe` must clean (cheaper than walking every value). */
export const needsJsonbSafe = (text: string): boolean => /\\u(0000|d[89a-f])/i.test(text);

/**
 * `target[k] = v` as an own property even for `__proto__` (a key JSON.parse makes an own property,
 * and that a plain assignment would turn into a prototype change, losing the key).
 */
export function setOwn(target: Record<string, unknown>, k: string, v: unknown): void {
  if (k === "__proto__") Object.defineProperty(target, k, { value: v, enumerable: true, writable: true, configurable: true });
  else target[k] = v;
}

/** `n` bytes as MB (MiB, as every VH_*_MB setting) for messages: `0.6`, `1.5`, `64`. */
export function mb(n: number): string {
  const v = n / 2 ** 20;
  return v >= 10 ? v.toFixed(0) : String(Number(v.toFixed(1)));
}
