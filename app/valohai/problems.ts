/** Collects problems and gives each the line/column of the YAML node it is about. */
import type { Problem } from "./objects.js";
import { pythonRepr } from "./python-format.js";
import { isPlainObject, type ParsedYaml, type Position } from "./yaml11.js";

export type PathSeg = string | number;

export class Reporter {
  readonly problems: Problem[] = [];
  constructor(
    private readonly parsed?: ParsedYaml,
    private readonly filename?: string,
  ) {}

  /** The position of `path`, or of its nearest ancestor that has one. */
  locate(path: PathSeg[], atKey = false): Position | undefined {
    const segs = [...path];
    if (atKey && segs.length) {
      const p = this.parsed?.positions.get(`${segs.join(".")}#key`);
      if (p) return p;
    }
    while (segs.length) {
      const p = this.parsed?.positions.get(segs.join("."));
      if (p) return p;
      segs.pop();
    }
    return this.parsed?.positions.get("");
  }

  /** The scalar as written in the YAML (plain scalars only). */
  source(path: PathSeg[]): string | undefined {
    return this.parsed?.sources.get(path.join("."));
  }

  add(severity: Problem["severity"], code: string, message: string, path?: PathSeg[], opts: { atKey?: boolean } = {}): void {
    const p = path ? this.locate(path, opts.atKey) : undefined;
    this.problems.push({
      severity,
      code,
      message,
      ...(this.filename !== undefined ? { file: this.filename } : {}),
      ...(p ? { line: p.line, column: p.column } : {}),
      ...(path && path.length ? { path: path.join(".") } : {}),
    });
  }

  error(code: string, message: string, path?: PathSeg[], opts?: { atKey?: boolean }): void {
    this.add("error", code, message, path, opts);
  }

  warn(code: string, message: string, path?: PathSeg[], opts?: { atKey?: boolean }): void {
    this.add("warning", code, message, path, opts);
  }

  hasErrors(): boolean {
    return this.problems.some((p) => p.severity === "error");
  }
}

const ITEM_LABELS: Record<string, string> = {
  parameters: "parameter",
  inputs: "input",
  "environment-variables": "environment variable",
  "environment-variable-groups": "environment variable group",
  outputs: "output",
  nodes: "node",
  edges: "edge",
  files: "file",
  mounts: "mount",
  actions: "action",
  tolerations: "toleration",
  "parameter-sets": "parameter set",
  "cache-volumes": "cache volume",
  endpoints: "endpoint",
  aliases: "alias",
  command: "command line",
  "server-command": "command line",
  choices: "choice",
  targets: "target",
  items: "item",
  when: "`when` entry",
  then: "`then` entry",
  if: "`if` entry",
};

/**
 * Human words for a path: the context (`step "train": parameter "lr"`) and the field
 * (`"type"`), e.g. for `0.step.parameters.2.type`.
 */
export function describePath(root: unknown, path: PathSeg[]): { context: string; field?: string } {
  const parts: string[] = [];
  let fieldKeys: string[] = [];
  let cur: unknown = root;
  let i = 0;
  const first = path[0];
  if (typeof first === "number") {
    const item = Array.isArray(root) ? root[first] : undefined;
    const kind = path[1];
    if (typeof kind === "string") {
      const obj = isPlainObject(item) ? item[kind] : undefined;
      const name = isPlainObject(obj) && typeof obj["name"] === "string" ? obj["name"] : undefined;
      parts.push(name !== undefined ? `${kind} "${name}"` : `${kind} (top-level item ${first + 1})`);
      cur = obj;
      i = 2;
    } else {
      parts.push(`top-level item ${first + 1}`);
      cur = item;
      i = 1;
    }
  }
  while (i < path.length) {
    const seg = path[i];
    const next = path[i + 1];
    const container = isPlainObject(cur) && typeof seg === "string" ? cur[seg] : undefined;
    if (typeof seg === "string" && Array.isArray(container) && typeof next === "number") {
      const el: unknown = container[next];
      const label = ITEM_LABELS[seg] ?? `${seg} item`;
      const prefix = fieldKeys.length ? `${fieldKeys.join(".")} ` : "";
      const name = isPlainObject(el) && typeof el["name"] === "string" ? `"${el["name"]}"` : `#${next + 1}`;
      parts.push(`${prefix}${label} ${name}`);
      fieldKeys = [];
      cur = el;
      i += 2;
      continue;
    }
    fieldKeys.push(String(seg));
    cur = isPlainObject(cur) ? cur[String(seg)] : Array.isArray(cur) && typeof seg === "number" ? cur[seg] : undefined;
    i += 1;
  }
  const out: { context: string; field?: string } = { context: parts.join(": ") || "valohai.yaml" };
  if (fieldKeys.length) out.field = `"${fieldKeys.join(".")}"`;
  return out;
}

/** `context: field` — the subject of a sentence about `path`. */
export function subject(root: unknown, path: PathSeg[]): string {
  const d = describePath(root, path);
  return d.field ? `${d.context}: ${d.field}` : d.context;
}

/** A short description of a value for "(got …)". */
export function describeValue(v: unknown, written?: string): string {
  if (v === null || v === undefined) return "an empty value";
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return `a list of ${v.length} item${v.length === 1 ? "" : "s"}`;
  if (isPlainObject(v)) return "a mapping";
  const repr = typeof v === "boolean" ? String(v) : pythonRepr(v);
  if (written !== undefined && written !== repr) {
    const kind = typeof v === "boolean" ? "boolean" : typeof v === "number" || typeof v === "bigint" ? "integer" : "value";
    return `${written}, which YAML reads as the ${kind} ${repr}`;
  }
  return repr;
}
