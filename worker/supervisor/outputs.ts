/**
 * Outputs → datums. Every file under outputs/ at the end, and every file made read-only while the
 * execution runs (a valohai-utils live upload), goes to the store with its size and sha256 and
 * becomes `datum://<id>`. Sidecars (`<file>.metadata.json`, `valohai.metadata.jsonl`, valohai-spec
 * §3.5) are not datums of their own: their content is stored as the file's metadata.
 *
 * Nothing a job leaves in outputs/ can fail the upload of the others or exhaust the server (issue
 * 20); each of these is a warning on the execution, and the other outputs are uploaded:
 * - a name the store cannot hold (a backslash, over 1024 bytes…) or with a control character: skipped;
 * - a sidecar over MAX_SIDECAR_BYTES (or past MAX_SIDECARS_BYTES read in one pass): not parsed,
 *   uploaded as a plain output; sidecars are read with a byte cap, never whole;
 * - past the execution's output quota (VH_MAX_OUTPUT_MB; files count by their apparent size, so a
 *   sparse file counts as what a reader gets and the store holds): skipped.
 */
import { randomUUID } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import type { Sql } from "../../db/client.js";
import type { Store } from "../../app/contracts/store.js";
import type { OutputFileInfo, Runner, RunnerHandle } from "../../app/contracts/runner.js";
import { RunnerError } from "../../app/errors.js";
import { keyProblem } from "../../app/contracts/store-keys.js";
import { registerOutputVersions } from "../../app/models/versions.js";
import { createOutputDatasetVersions } from "./dataset-versions.js";
import { MAX_JSON_DEPTH, jsonbSafe, mb, nestedDeeperThan, nonFiniteKeys, setOwn } from "./json-limits.js";

export const JSONL_SIDECAR = "valohai.metadata.jsonl";
const SIDECAR_SUFFIX = ".metadata.json";

/** Largest sidecar read as metadata; a larger one is uploaded as a plain output file. */
export const MAX_SIDECAR_BYTES = 1024 * 1024;
/** Most sidecar bytes one pass over outputs/ reads in all (metadata of every datum is returned by each listing). */
export const MAX_SIDECARS_BYTES = 16 * 1024 * 1024;
/** Per-file warnings kept from one pass; the rest are counted in one more. */
const MAX_FILE_WARNINGS = 50;

export interface OutputLimits {
  /** The execution's output quota in bytes (datums already uploaded included). */
  maxOutputBytes: number;
}
const NO_LIMITS: OutputLimits = { maxOutputBytes: Number.POSITIVE_INFINITY };

const show = (name: string) => JSON.stringify(name);

/** Why an output cannot become a datum under its name, or null. */
export function outputNameProblem(name: string): string | null {
  const control = /[\u0000-\u001f\u007f-\u009f]/.exec(name);
  if (control) {
    return `its name has a control character (U+${control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}), which would break downloads and terminals`;
  }
  const problem = keyProblem(`data/00000000-0000-0000-0000-000000000000/${name}`, false);
  return problem ? `the artifact store refuses its name (${problem})` : null;
}

/** The file's text, or null when it holds more than `cap` bytes (it is never read past the cap). */
async function readCapped(runner: Runner, handle: RunnerHandle, rel: string, cap: number): Promise<string | null> {
  const stream = await runner.openOutput(handle, rel);
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of stream) {
      n += (c as Buffer).length;
      if (n > cap) return null;
      chunks.push(c as Buffer);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).toString("utf8");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Collects warnings, keeping the first MAX_FILE_WARNINGS and counting the rest. */
function warningList() {
  const list: string[] = [];
  let more = 0;
  return {
    add(w: string) {
      if (list.length < MAX_FILE_WARNINGS) list.push(w);
      else more += 1;
    },
    done(): string[] {
      return more > 0 ? [...list, `… and ${more} more warnings about outputs.`] : list;
    },
  };
}

export interface OutputPlan {
  uploads: { file: OutputFileInfo; metadata: Record<string, unknown> }[];
  warnings: string[];
  /** Sidecars not read as metadata (too big): uploaded as plain outputs instead. */
  plain: Set<string>;
}

/** Files that are data (not sidecars) and the metadata each one gets; problems become warnings. */
export async function planOutputs(runner: Runner, handle: RunnerHandle, files: OutputFileInfo[]): Promise<OutputPlan> {
  const names = new Map(files.map((f) => [f.path, f]));
  const w = warningList();
  const plain = new Set<string>();
  let budget = MAX_SIDECARS_BYTES;

  /** A sidecar's text, or null (with a warning) when it is not to be read: then it is a plain output. */
  async function sidecarText(file: OutputFileInfo): Promise<string | null> {
    const tooBig = (size: string) => {
      w.add(`${file.path} is ${size} MB, over the ${mb(MAX_SIDECAR_BYTES)} MB limit for sidecars: it was uploaded as a plain output and not read as metadata.`);
      plain.add(file.path);
      return null;
    };
    if (file.size > MAX_SIDECAR_BYTES) return tooBig(mb(file.size));
    if (file.size > budget) {
      w.add(`${file.path} was uploaded as a plain output and not read as metadata: the sidecars of one upload are read up to ${mb(MAX_SIDECARS_BYTES)} MB in all.`);
      plain.add(file.path);
      return null;
    }
    let text: string | null;
    try {
      text = await readCapped(runner, handle, file.path, Math.min(MAX_SIDECAR_BYTES, budget));
    } catch (err) {
      if (!(err instanceof RunnerError)) throw err;
      w.add(`${file.path} could not be read (${err.message}); ignored.`);
      return null;
    }
    if (text === null) return tooBig(`over ${mb(MAX_SIDECAR_BYTES)}`); // it grew since it was listed
    budget -= Buffer.byteLength(text);
    return text;
  }

  /** A JSON object within the limits (keys with numbers JSON cannot hold left out), or a reason. */
  function parseObject(text: string, dropNonFinite = true): { value: Record<string, unknown>; dropped: string[] } | string {
    if (nestedDeeperThan(text, MAX_JSON_DEPTH)) return `is nested deeper than ${MAX_JSON_DEPTH} levels`;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return "is not valid JSON";
    }
    if (!isObject(v)) return "must hold a JSON object";
    const value = jsonbSafe(v) as Record<string, unknown>;
    const dropped = dropNonFinite ? nonFiniteKeys(value) : [];
    for (const k of dropped) delete value[k];
    return { value, dropped };
  }
  const outOfRange = (where: string, keys: string[]) =>
    w.add(`${where} has numbers out of range for JSON (like 1e400) in ${keys.slice(0, 10).map(show).join(", ")}; those keys were left out of the metadata.`);

  const fromJsonl = new Map<string, Record<string, unknown>>();
  const jsonl = names.get(JSONL_SIDECAR);
  if (jsonl) {
    const text = await sidecarText(jsonl);
    if (text !== null) {
      const bad: number[] = [];
      const dropped = new Set<string>();
      text.split("\n").forEach((line, i) => {
        if (!line.trim()) return;
        const parsed = parseObject(line, false);
        const v = typeof parsed === "string" ? null : parsed.value;
        if (v && typeof v["file"] === "string" && isObject(v["metadata"])) {
          const md = v["metadata"];
          for (const k of nonFiniteKeys(md)) {
            dropped.add(k);
            delete md[k];
          }
          // Merged in place: a copy per line made 20,000 lines for one file quadratic.
          let target = fromJsonl.get(v["file"]);
          if (!target) fromJsonl.set(v["file"], (target = {}));
          for (const [k, x] of Object.entries(md)) setOwn(target, k, x);
        } else bad.push(i + 1);
      });
      if (bad.length > 0) {
        w.add(`${JSONL_SIDECAR} line${bad.length > 1 ? "s" : ""} ${bad.slice(0, 10).join(", ")}${bad.length > 10 ? ` (and ${bad.length - 10} more)` : ""}: expected one JSON object {"file": "...", "metadata": {...}} per line; ignored.`);
      }
      if (dropped.size > 0) outOfRange(JSONL_SIDECAR, [...dropped]);
    }
  }

  const fromSidecar = new Map<string, Record<string, unknown>>();
  for (const file of files) {
    const sidecar = names.get(file.path + SIDECAR_SUFFIX);
    if (!sidecar) continue;
    const text = await sidecarText(sidecar);
    if (text === null) continue;
    const parsed = parseObject(text);
    if (typeof parsed === "string") {
      w.add(`${sidecar.path} ${parsed}; ignored.`);
      continue;
    }
    if (parsed.dropped.length > 0) outOfRange(sidecar.path, parsed.dropped);
    fromSidecar.set(file.path, parsed.value);
  }

  const uploads: OutputPlan["uploads"] = [];
  for (const file of files) {
    if (plain.has(file.path)) {
      uploads.push({ file, metadata: {} });
      continue;
    }
    if (file.path === JSONL_SIDECAR) continue;
    if (file.path.endsWith(SIDECAR_SUFFIX) && names.has(file.path.slice(0, -SIDECAR_SUFFIX.length))) continue;
    const metadata: Record<string, unknown> = {};
    for (const src of [fromJsonl.get(file.path), fromSidecar.get(file.path)]) for (const [k, x] of Object.entries(src ?? {})) setOwn(metadata, k, x);
    uploads.push({ file, metadata });
  }
  return { uploads, warnings: w.done(), plain };
}

export interface UploadedDatum {
  id: string;
  name: string;
  size: number;
  sha256: string;
}

/** Thrown by `uploadOutput` when the file held more than `maxBytes` (it grew since it was listed). */
export class OutputTooLarge extends Error {}

/**
 * Uploads one output file and records its datum (idempotent on execution+name+sha256). `maxBytes`:
 * the upload is stopped (and nothing recorded) past that many bytes.
 */
export async function uploadOutput(
  deps: { sql: Sql; store: Store; runner: Runner },
  exec: { id: string; projectId: string },
  handle: RunnerHandle,
  file: OutputFileInfo,
  metadata: Record<string, unknown>,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<UploadedDatum> {
  const id = randomUUID();
  const key = `data/${id}/${file.path}`;
  let body: Readable = await deps.runner.openOutput(handle, file.path);
  let exceeded = false;
  if (Number.isFinite(maxBytes)) {
    const source = body;
    let n = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        n += chunk.length;
        if (n > maxBytes) {
          exceeded = true;
          cb(new OutputTooLarge(`more than ${maxBytes} bytes`));
        } else cb(null, chunk);
      },
    });
    source.on("error", (err) => counter.destroy(err));
    counter.on("close", () => source.destroy());
    body = source.pipe(counter);
  }
  let put;
  try {
    put = await deps.store.put(key, body);
  } catch (err) {
    if (!exceeded) throw err;
    await deps.store.delete(key).catch(() => {});
    throw new OutputTooLarge(`${file.path} grew past ${maxBytes} bytes while it was uploaded`);
  }
  const [row] = await deps.sql<{ id: string }[]>`
    insert into datums (id, project_id, execution_id, name, size, sha256, store_key, metadata)
    values (${id}, ${exec.projectId}, ${exec.id}, ${file.path}, ${put.size}, ${put.sha256}, ${key}, ${deps.sql.json(metadata as never)})
    on conflict (execution_id, name, sha256) do nothing
    returning id`;
  if (!row) {
    await deps.store.delete(key);
    const [existing] = await deps.sql<{ id: string }[]>`
      select id from datums where execution_id = ${exec.id} and name = ${file.path} and sha256 = ${put.sha256}`;
    return { id: existing!.id, name: file.path, size: put.size, sha256: put.sha256 };
  }
  return { id: row.id, name: file.path, size: put.size, sha256: put.sha256 };
}

/**
 * Uploads outputs. `live`: only read-only files, each removed from outputs/ once stored (the
 * valohai-utils live-upload contract). Otherwise everything left in outputs/. A file that cannot
 * be uploaded (its name, the quota, it vanished) is a warning; a failing store is an error.
 */
export async function uploadOutputs(
  deps: { sql: Sql; store: Store; runner: Runner },
  exec: { id: string; projectId: string },
  handle: RunnerHandle,
  mode: "live" | "final",
  limits: OutputLimits = NO_LIMITS,
): Promise<{ uploaded: UploadedDatum[]; warnings: string[] }> {
  const files = await deps.runner.listOutputs(handle);
  const isSidecar = (f: OutputFileInfo) => f.path === JSONL_SIDECAR || f.path.endsWith(SIDECAR_SUFFIX);
  const candidates = mode === "live" ? files.filter((f) => f.readOnly && !isSidecar(f)) : files;
  if (candidates.length === 0) return { uploaded: [], warnings: mode === "final" ? (await createOutputDatasetVersions(deps.sql, exec)).warnings : [] };
  // Live uploads still read every sidecar present, so a file's metadata travels with it.
  const plan = await planOutputs(deps.runner, handle, mode === "live" ? [...candidates, ...files.filter(isSidecar)] : files);
  const wanted = new Set(candidates.map((c) => c.path));
  const w = warningList();
  // What this execution has uploaded so far counts against its quota (a re-upload after a restart
  // of a datum already recorded does not count twice).
  const before = await deps.sql<{ name: string; size: string | number }[]>`select name, size from datums where execution_id = ${exec.id}`;
  const recorded = new Set(before.map((d) => `${d.name}\u0000${Number(d.size)}`));
  let used = before.reduce((s, d) => s + Number(d.size), 0);
  const uploaded: UploadedDatum[] = [];
  for (const u of plan.uploads) {
    if (!wanted.has(u.file.path)) continue;
    const name = show(u.file.path);
    const problem = outputNameProblem(u.file.path);
    if (problem) {
      w.add(`Output ${name} was not uploaded: ${problem}.`);
      continue;
    }
    const counted = recorded.has(`${u.file.path}\u0000${u.file.size}`);
    if (!counted && used + u.file.size > limits.maxOutputBytes) {
      w.add(`Output ${name} (${mb(u.file.size)} MB) was not uploaded: the execution's output quota of ${mb(limits.maxOutputBytes)} MB (VH_MAX_OUTPUT_MB) would be exceeded (${mb(used)} MB uploaded before it).`);
      continue;
    }
    let datum: UploadedDatum;
    try {
      datum = await uploadOutput(deps, exec, handle, u.file, u.metadata, counted ? Number.POSITIVE_INFINITY : limits.maxOutputBytes - used);
    } catch (err) {
      if (err instanceof OutputTooLarge) {
        w.add(`Output ${name} was not uploaded: it grew past the execution's output quota of ${mb(limits.maxOutputBytes)} MB (VH_MAX_OUTPUT_MB) while it was uploaded.`);
        continue;
      }
      // The runner refused or could not open this one file (replaced by a link, removed): the job's doing.
      if (err instanceof RunnerError) {
        w.add(`Output ${name} was not uploaded: ${err.message}`);
        continue;
      }
      throw err;
    }
    if (!counted) used += datum.size;
    uploaded.push(datum);
    // `valohai.model-versions` in the sidecar → a model version (idempotent per model and execution).
    for (const x of (await registerOutputVersions(deps.sql, exec, datum, u.metadata)).warnings) w.add(x);
    if (mode === "live") {
      await deps.runner.removeOutput(handle, u.file.path);
      // Its sidecar travelled with it: left behind it would become a datum of its own at the end.
      const sidecar = u.file.path + SIDECAR_SUFFIX;
      if (!plan.plain.has(sidecar) && files.some((f) => f.path === sidecar)) await deps.runner.removeOutput(handle, sidecar);
    }
  }
  // `valohai.dataset-versions`: the versions the outputs form, once all of them are stored (./dataset-versions.ts).
  if (mode === "final") for (const x of (await createOutputDatasetVersions(deps.sql, exec)).warnings) w.add(x);
  return { uploaded, warnings: [...plan.warnings, ...w.done()] };
}
