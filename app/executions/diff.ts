/**
 * What differs between two executions, section by section: code, image, command, parameters,
 * inputs (what each resolved to and the bytes fetched), environment (as shown: secret values are
 * never in it; whether two sealed values differ is said without showing either), hardware and
 * runtime (host, GPUs, whatever the runtime record holds), metrics (last values, with the
 * difference) and outputs (sha256). Only what differs is listed; the data is for a template
 * (templates/reproduce/diff.ts) or the API.
 */
import { createHash } from "node:crypto";
import type { Sql } from "../../db/client.js";
import { lastOutputsOf } from "../../db/queries/datums.js";
import { fetchedInputs } from "../../db/queries/executions.js";
import { openSecrets, maskEnvironment, MASK, SealError } from "./secrets.js";
import { canonical, metricDelta } from "./reproduce.js";
import type { ExecutionRow } from "./present.js";

export const DIFF_SECTIONS = ["code", "image", "command", "parameters", "inputs", "environment", "runtime", "metrics", "outputs"] as const;
export type DiffSectionName = (typeof DIFF_SECTIONS)[number];

/** One line that differs: the value in A and in B as shown (null: absent there). */
export interface DiffEntry {
  key: string;
  a: string | null;
  b: string | null;
  /** Metrics that are numbers in both: B − A, and that relative to the larger magnitude. */
  delta?: { absolute: number; relative: number };
  /** Something said instead of the values (a secret's values differ). */
  note?: string;
}

export interface ExecutionDiff {
  a: { id: string; counter: number; step: string; status: string };
  b: { id: string; counter: number; step: string; status: string };
  /** Every section, in DIFF_SECTIONS order, with what differs in it (empty: the same). */
  sections: { name: DiffSectionName; entries: DiffEntry[] }[];
  same: boolean;
}

/** A value as the diff shows it: strings as they are, anything else as JSON. */
function shown(v: unknown): string {
  return typeof v === "string" ? v : canonical(v);
}

/** Entries for the keys whose values differ in two maps, keys sorted. */
function mapDiff(a: Record<string, string>, b: Record<string, string>): DiffEntry[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((key) => (a[key] === b[key] ? [] : [{ key, a: a[key] ?? null, b: b[key] ?? null }]));
}

const MAX_DEPTH = 5;
const MAX_VALUE = 300;

/** A JSON record flattened to `a.b[0].c` → shown value (bounded), for the runtime record whatever it holds. */
export function flatten(v: unknown, prefix = "", depth = 0, out: Record<string, string> = {}): Record<string, string> {
  if (v && typeof v === "object" && depth < MAX_DEPTH) {
    const entries = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x] as const) : Object.entries(v).map(([k, x]) => [prefix ? `.${k}` : k, x] as const);
    if (entries.length === 0) out[prefix] = Array.isArray(v) ? "[]" : "{}";
    for (const [k, x] of entries) flatten(x, `${prefix}${k}`, depth + 1, out);
    return out;
  }
  const s = shown(v ?? null);
  out[prefix] = s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s;
  return out;
}

function codeOf(e: ExecutionRow): Record<string, string> {
  return {
    step: e.step,
    ...(e.commit_sha ? { commit: e.commit_sha } : {}),
    ...(e.code_sha256 ? { snapshot: e.code_sha256 } : {}),
    "valohai.yaml": e.yaml_path,
  };
}

function imageOf(e: ExecutionRow): Record<string, string> {
  const rt = e.runtime ?? {};
  const digest = rt["imageDigest"];
  const mode = rt["mode"];
  return {
    image: e.image,
    ...(typeof digest === "string" && digest ? { digest } : {}),
    ...(typeof mode === "string" ? { "ran as": mode } : {}),
  };
}

function commandOf(e: ExecutionRow): Record<string, string> {
  return Object.fromEntries(e.command_list.map((c, i) => [`line ${i + 1}`, c]));
}

function parametersOf(e: ExecutionRow): Record<string, string> {
  return Object.fromEntries(Object.entries(e.parameters).map(([k, v]) => [k, shown(v)]));
}

async function inputsOf(sql: Sql, e: ExecutionRow): Promise<Record<string, string>> {
  const fetched = await fetchedInputs(sql, e.id);
  const out: Record<string, string> = {};
  for (const i of e.inputs) {
    const at = `${i.name}/${i.file}`;
    out[`${at} uri`] = i.uri;
    const resolved = i.model?.version ?? (i.dataset ? `dataset://${i.dataset.name}/${i.dataset.version}` : null) ?? (i.datumId ? `datum://${i.datumId}` : null);
    if (resolved && resolved !== i.uri) out[`${at} resolved`] = resolved;
    if (i.versionId) out[`${at} version id`] = i.versionId;
    if (i.etag) out[`${at} etag`] = i.etag;
    const sha = fetched.find((f) => f.input === i.name && f.name === i.file)?.sha256 ?? i.sha256;
    if (sha) out[`${at} sha256`] = sha;
  }
  return out;
}

/** Digests of the sealed values, to tell whether two secrets differ without opening them to anyone. */
function secretDigests(e: ExecutionRow, key: Buffer | null): Record<string, string> | null {
  if (!e.environment_secrets) return {};
  if (!key) return null;
  try {
    const open = openSecrets(e.environment_secrets, key);
    return Object.fromEntries(Object.entries(open).map(([k, v]) => [k, createHash("sha256").update(`${k}\u0000${v}`).digest("hex")]));
  } catch (err) {
    if (err instanceof SealError) return null;
    throw err;
  }
}

function environmentDiff(a: ExecutionRow, b: ExecutionRow, key: Buffer | null): DiffEntry[] {
  const entries = mapDiff(maskEnvironment(a.environment_variables), maskEnvironment(b.environment_variables));
  const da = secretDigests(a, key);
  const db = secretDigests(b, key);
  if (da && db) {
    for (const k of Object.keys(da)) {
      if (k in db && da[k] !== db[k] && !entries.some((e) => e.key === k)) entries.push({ key: k, a: MASK, b: MASK, note: "the secret values differ" });
    }
    entries.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  }
  return entries;
}

function runtimeOf(e: ExecutionRow): Record<string, string> {
  const { imageDigest: _d, image: _i, mode: _m, ...rest } = e.runtime ?? {};
  return { ...(e.host ? { host: e.host } : {}), runner: e.runner, "GPUs asked": String(e.gpus), ...flatten(rest) };
}

function metricsDiff(a: ExecutionRow, b: ExecutionRow): DiffEntry[] {
  const ma = a.metadata_latest;
  const mb = b.metadata_latest;
  const keys = [...new Set([...Object.keys(ma), ...Object.keys(mb)])].sort();
  const out: DiffEntry[] = [];
  for (const key of keys) {
    const has = [key in ma, key in mb];
    if (has[0] && has[1] && canonical(ma[key]) === canonical(mb[key])) continue;
    const d = has[0] && has[1] ? metricDelta(ma[key], mb[key]) : { absolute: null, relative: null };
    const entry: DiffEntry = { key, a: has[0] ? shown(ma[key]) : null, b: has[1] ? shown(mb[key]) : null };
    if (d.absolute !== null && d.relative !== null) {
      const signed = (mb[key] as number) - (ma[key] as number);
      entry.delta = { absolute: signed, relative: d.relative };
    }
    out.push(entry);
  }
  return out;
}

async function outputsOf(sql: Sql, e: ExecutionRow): Promise<Record<string, string>> {
  return Object.fromEntries((await lastOutputsOf(sql, e.id)).map((r) => [r.name, r.sha256]));
}

/** `secretsKey`: to tell whether sealed secret values differ (null: they are not compared). */
export async function diffExecutions(sql: Sql, a: ExecutionRow, b: ExecutionRow, secretsKey: Buffer | null): Promise<ExecutionDiff> {
  const entries: Record<DiffSectionName, DiffEntry[]> = {
    code: mapDiff(codeOf(a), codeOf(b)),
    image: mapDiff(imageOf(a), imageOf(b)),
    command: mapDiff(commandOf(a), commandOf(b)),
    parameters: mapDiff(parametersOf(a), parametersOf(b)),
    inputs: mapDiff(await inputsOf(sql, a), await inputsOf(sql, b)),
    environment: environmentDiff(a, b, secretsKey),
    runtime: mapDiff(runtimeOf(a), runtimeOf(b)),
    metrics: metricsDiff(a, b),
    outputs: mapDiff(await outputsOf(sql, a), await outputsOf(sql, b)),
  };
  const sections = DIFF_SECTIONS.map((name) => ({ name, entries: entries[name] }));
  const side = (e: ExecutionRow) => ({ id: e.id, counter: e.counter, step: e.step, status: e.status });
  return { a: side(a), b: side(b), sections, same: sections.every((s) => s.entries.length === 0) };
}
