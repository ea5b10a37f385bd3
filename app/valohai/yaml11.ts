/**
 * YAML 1.1 as PyYAML's `safe_load` reads it (valohai-spec §1.1).
 *
 * The `yaml` package parses the text (failsafe schema, so every scalar stays a string), and this
 * module resolves plain scalars itself with PyYAML's implicit resolvers. That fixes the places
 * where `yaml`'s own 1.1 schema disagrees with PyYAML: `1e-4` stays a string (a float needs a dot),
 * `1:30` is the sexagesimal 90, `0777` is octal, `1_000` is 1000, dates become `PyDate`,
 * `y`/`n` stay strings. While converting, it records the line and column of every node under its
 * dotted path ("0.step.parameters.2.default") so later problems can point at the YAML.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from "yaml";
import { PyDate, PyFloat, pyInt, type Problem } from "./objects.js";

export interface Position {
  line: number;
  column: number;
}

export interface ParsedYaml {
  value: unknown;
  /** Dotted path → position of the value node; `path + "#key"` → position of its mapping key. */
  positions: Map<string, Position>;
  /** Dotted path → the scalar as written (for plain scalars only). */
  sources: Map<string, string>;
  problems: Problem[];
}

const RE_BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const RE_FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const RE_INT = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const RE_NULL = /^(?:~|null|Null|NULL|)$/;
const RE_TIMESTAMP =
  /^(?:([0-9]{4})-([0-9]{2})-([0-9]{2})|([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)$/;

const TRUE_WORDS = new Set(["yes", "true", "on"]);

class YamlValueError extends Error {
  position?: Position;
}

/** PyYAML `construct_yaml_int`, exact: beyond 2^53 the result is a `bigint` (see objects.ts). */
export function constructInt(text: string): number | bigint {
  let value = text.replace(/_/g, "");
  let sign = 1n;
  if (value.startsWith("-")) {
    sign = -1n;
    value = value.slice(1);
  } else if (value.startsWith("+")) {
    value = value.slice(1);
  }
  let n: bigint;
  if (value === "0") n = 0n;
  else if (value.startsWith("0b")) n = parseBigInt(value.slice(2), 2);
  else if (value.startsWith("0x")) n = parseBigInt(value.slice(2), 16);
  else if (value.startsWith("0")) n = parseBigInt(value.slice(1), 8);
  else if (value.includes(":")) n = sexagesimal(value);
  else n = parseBigInt(value, 10);
  return pyInt(sign * n);
}

function parseBigInt(digits: string, base: 2 | 8 | 10 | 16): bigint {
  if (digits === "") return 0n;
  const prefix = base === 2 ? "0b" : base === 8 ? "0o" : base === 16 ? "0x" : "";
  return BigInt(prefix + digits);
}

function sexagesimal(value: string): bigint {
  let result = 0n;
  for (const part of value.split(":")) result = result * 60n + BigInt(part === "" ? "0" : part);
  return result;
}

/** PyYAML `construct_yaml_float`. */
export function constructFloat(text: string): number {
  let value = text.replace(/_/g, "").toLowerCase();
  let sign = 1;
  if (value.startsWith("-")) {
    sign = -1;
    value = value.slice(1);
  } else if (value.startsWith("+")) {
    value = value.slice(1);
  }
  if (value === ".inf") return sign * Infinity;
  if (value === ".nan") return NaN;
  if (value.includes(":")) {
    // PyYAML: float parts, summed from the last one up with base 60, 3600, …
    const parts = value.split(":").map((p) => Number(p));
    let base = 1;
    let result = 0;
    for (let i = parts.length - 1; i >= 0; i--) {
      result += (parts[i] ?? 0) * base;
      base *= 60;
    }
    return sign * result;
  }
  return sign * Number(value.endsWith(".") ? `${value}0` : value);
}

function constructTimestamp(m: RegExpMatchArray): PyDate {
  if (m[1] !== undefined) return new PyDate(Number(m[1]), Number(m[2]), Number(m[3]));
  const fraction = m[10] ?? "";
  const time: NonNullable<PyDate["time"]> = {
    hour: Number(m[7]),
    minute: Number(m[8]),
    second: Number(m[9]),
    microsecond: fraction ? Number(fraction.slice(0, 6).padEnd(6, "0")) : 0,
  };
  if (m[11] === "Z") time.tzOffsetMinutes = 0;
  else if (m[11] !== undefined) {
    const minutes = Number(m[13]) * 60 + Number(m[14] ?? 0);
    time.tzOffsetMinutes = m[12] === "-" ? -minutes : minutes;
  }
  return new PyDate(Number(m[4]), Number(m[5]), Number(m[6]), time);
}

/** Resolves a plain (unquoted, untagged) scalar the way PyYAML's `Resolver` + `SafeConstructor` do. */
export function resolvePlainScalar(text: string): unknown {
  if (RE_BOOL.test(text)) return TRUE_WORDS.has(text.toLowerCase());
  if (RE_FLOAT.test(text)) return new PyFloat(constructFloat(text));
  if (RE_INT.test(text)) return constructInt(text);
  if (RE_NULL.test(text)) return null;
  const ts = RE_TIMESTAMP.exec(text);
  if (ts) return constructTimestamp(ts);
  return text;
}

function resolveTagged(tag: string, text: string): unknown {
  switch (tag) {
    case "tag:yaml.org,2002:str":
    case "!":
      return text;
    case "tag:yaml.org,2002:int":
      if (!RE_INT.test(text)) throw new YamlValueError(`"${text}" is not an integer, but it is tagged !!int`);
      return constructInt(text);
    case "tag:yaml.org,2002:float": {
      if (RE_FLOAT.test(text) || RE_INT.test(text)) return new PyFloat(RE_FLOAT.test(text) ? constructFloat(text) : Number(constructInt(text)));
      const n = Number(text);
      if (text.trim() !== "" && !Number.isNaN(n)) return new PyFloat(n);
      throw new YamlValueError(`"${text}" is not a number, but it is tagged !!float`);
    }
    case "tag:yaml.org,2002:bool":
      if (!RE_BOOL.test(text)) throw new YamlValueError(`"${text}" is not a boolean, but it is tagged !!bool`);
      return TRUE_WORDS.has(text.toLowerCase());
    case "tag:yaml.org,2002:null":
      return null;
    case "tag:yaml.org,2002:timestamp": {
      const ts = RE_TIMESTAMP.exec(text);
      if (!ts) throw new YamlValueError(`"${text}" is not a timestamp, but it is tagged !!timestamp`);
      return constructTimestamp(ts);
    }
    default:
      throw new YamlValueError(`the tag ${tag} is not supported (safe YAML loading knows only the standard tags); remove it`);
  }
}

/** Guard against alias bombs: the expanded document may hold at most this many values. */
const MAX_EXPANDED_NODES = 1_000_000;

export function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Parses YAML text into plain values (PyYAML semantics) plus a path → position index. */
export function parseYaml11(text: string, filename?: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const positions = new Map<string, Position>();
  const sources = new Map<string, string>();
  const problems: Problem[] = [];
  const doc = parseDocument(text, { lineCounter, schema: "failsafe", version: "1.1", uniqueKeys: false, strict: false, prettyErrors: false });

  function pos(node: { range?: [number, number, number] | null | undefined } | null | undefined): Position | undefined {
    const offset = node?.range?.[0];
    if (offset === undefined) return undefined;
    const lp = lineCounter.linePos(offset);
    return { line: lp.line, column: lp.col };
  }

  function problem(message: string, p: Position | undefined, code = "yaml-syntax", path?: string): void {
    problems.push({
      severity: "error",
      code,
      message,
      ...(filename !== undefined ? { file: filename } : {}),
      ...(p ? { line: p.line, column: p.column } : {}),
      ...(path !== undefined ? { path } : {}),
    });
  }

  if (doc.errors.length) {
    for (const err of doc.errors) {
      const lp = err.linePos?.[0] ?? (err.pos ? lineCounter.linePos(err.pos[0]) : undefined);
      const detail = err.message.split(" at line ")[0] ?? err.message;
      const where = lp ? `Indentation Error at line ${lp.line}, column ${lp.col}` : "YAML syntax error";
      const hint = /multiple documents/.test(detail)
        ? "valohai.yaml must hold one YAML document; remove the extra `---` separator."
        : "Check the indentation and the `key: value` syntax around that place (nested keys must be indented more than their parent, list items start with `- `).";
      problem(`${where}: ${detail}. ${hint}`, lp ? { line: lp.line, column: lp.col } : undefined);
      break;
    }
    return { value: null, positions, sources, problems };
  }

  let expanded = 0;
  const anchored = new Map<YamlNode, { value: unknown; size: number }>();
  const inProgress = new Set<YamlNode>();

  function convert(node: unknown, path: string): unknown {
    if (++expanded > MAX_EXPANDED_NODES) throw new YamlValueError("the document is too large once its aliases (*name) are expanded");
    if (node === null || node === undefined) return null;
    const p = pos(node as YamlNode);
    if (p && !positions.has(path)) positions.set(path, p);
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) throw new YamlValueError(`the alias *${node.source} refers to no anchor`);
      if (inProgress.has(target)) throw new YamlValueError(`the alias *${node.source} refers to a node that contains it (recursive YAML is not supported)`);
      const seen = anchored.get(target);
      if (seen) {
        expanded += seen.size;
        if (expanded > MAX_EXPANDED_NODES) throw new YamlValueError("the document is too large once its aliases (*name) are expanded");
        return seen.value;
      }
      return convertNode(target, path);
    }
    try {
      return convertNode(node as YamlNode, path);
    } catch (err) {
      if (err instanceof YamlValueError && !err.position && p) err.position = p;
      throw err;
    }
  }

  function convertNode(node: YamlNode, path: string): unknown {
    inProgress.add(node);
    const before = expanded;
    try {
      const value = convertInner(node, path);
      if (node.anchor) anchored.set(node, { value, size: expanded - before });
      return value;
    } finally {
      inProgress.delete(node);
    }
  }

  function convertInner(node: YamlNode, path: string): unknown {
    if (isScalar(node)) {
      const text = String(node.value ?? "");
      const tag = node.tag;
      if (tag) return resolveTagged(tag, text);
      if (node.type === "PLAIN" || node.type === undefined) {
        if (text === "=") throw new YamlValueError('an unquoted "=" is the YAML 1.1 "value" key, which safe loading rejects; put it in quotes');
        sources.set(path, text);
        return resolvePlainScalar(text);
      }
      return text;
    }
    if (isSeq(node)) {
      if (node.tag && node.tag !== "tag:yaml.org,2002:seq") throw new YamlValueError(`the tag ${node.tag} is not supported on a list; remove it`);
      return node.items.map((item, i) => convert(item, join(path, i)));
    }
    if (isMap(node)) {
      if (node.tag && node.tag !== "tag:yaml.org,2002:map") throw new YamlValueError(`the tag ${node.tag} is not supported on a mapping; remove it`);
      const out: Record<string, unknown> = {};
      const merged: Record<string, unknown>[] = [];
      for (const pair of node.items) {
        const keyNode = pair.key as YamlNode | null;
        if (isScalar(keyNode) && keyNode.type === "PLAIN" && !keyNode.tag && keyNode.value === "<<") {
          const mergeValue = convert(pair.value, `${path}#merge`);
          const sourcesToMerge = Array.isArray(mergeValue) ? mergeValue : [mergeValue];
          for (const m of sourcesToMerge) {
            if (!isPlainObject(m)) throw new YamlValueError("a merge key (<<) must point at a mapping or a list of mappings");
            merged.push(m);
          }
          continue;
        }
        const keyValue = keyNode === null ? null : convert(keyNode, `${path}#keyvalue`);
        if (isPlainObject(keyValue) || Array.isArray(keyValue)) throw new YamlValueError("a mapping key must be a plain value, not a list or mapping");
        const key = keyValue === null ? "None" : typeof keyValue === "boolean" ? (keyValue ? "True" : "False") : String(keyValue);
        const childPath = join(path, key);
        const kp = pos(keyNode);
        if (kp) positions.set(`${childPath}#key`, kp);
        const value = convert(pair.value, childPath);
        if (!positions.has(childPath) && kp) positions.set(childPath, kp);
        setKey(out, key, value);
      }
      // PyYAML: explicit keys win over merged ones; earlier merge sources win over later ones.
      if (merged.length) {
        const result: Record<string, unknown> = {};
        for (const m of [...merged].reverse()) for (const [k, v] of Object.entries(m)) setKey(result, k, v);
        for (const [k, v] of Object.entries(out)) setKey(result, k, v);
        return result;
      }
      return out;
    }
    return null;
  }

  try {
    const value = doc.contents === null ? null : convert(doc.contents, "");
    return { value, positions, sources, problems };
  } catch (err) {
    if (!(err instanceof YamlValueError)) throw err;
    problem(`YAML error: ${err.message}.`, err.position, "yaml-value");
    return { value: null, positions, sources, problems };
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof PyFloat) && !(v instanceof PyDate);
}

export function join(path: string, key: string | number): string {
  return path === "" ? String(key) : `${path}.${key}`;
}
