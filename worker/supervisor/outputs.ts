/**
 * Outputs → datums. Every file under outputs/ at the end, and every file made read-only while the
 * execution runs (a valohai-utils live upload), goes to the store with its size and sha256 and
 * becomes `datum://<id>`. Sidecars (`<file>.metadata.json`, `valohai.metadata.jsonl`, valohai-spec
 * §3.5) are not datums of their own: their content is stored as the file's metadata.
 */
import { randomUUID } from "node:crypto";
import type { Sql } from "../../db/client.js";
import type { Store } from "../stores/types.js";
import type { OutputFileInfo, Runner, RunnerHandle } from "../runners/types.js";
import { registerOutputVersions } from "../../app/models/versions.js";

export const JSONL_SIDECAR = "valohai.metadata.jsonl";
const SIDECAR_SUFFIX = ".metadata.json";

async function readAll(runner: Runner, handle: RunnerHandle, rel: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await runner.openOutput(handle, rel)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Files that are data (not sidecars) and the metadata each one gets; problems become warnings. */
export async function planOutputs(
  runner: Runner,
  handle: RunnerHandle,
  files: OutputFileInfo[],
): Promise<{ uploads: { file: OutputFileInfo; metadata: Record<string, unknown> }[]; warnings: string[] }> {
  const names = new Set(files.map((f) => f.path));
  const warnings: string[] = [];
  const fromJsonl = new Map<string, Record<string, unknown>>();
  if (names.has(JSONL_SIDECAR)) {
    const text = await readAll(runner, handle, JSONL_SIDECAR);
    text.split("\n").forEach((line, i) => {
      if (!line.trim()) return;
      try {
        const v: unknown = JSON.parse(line);
        if (isObject(v) && typeof v["file"] === "string" && isObject(v["metadata"])) {
          fromJsonl.set(v["file"], { ...(fromJsonl.get(v["file"]) ?? {}), ...v["metadata"] });
        } else warnings.push(`${JSONL_SIDECAR} line ${i + 1}: expected {"file": "...", "metadata": {...}}`);
      } catch {
        warnings.push(`${JSONL_SIDECAR} line ${i + 1} is not valid JSON`);
      }
    });
  }
  const uploads: { file: OutputFileInfo; metadata: Record<string, unknown> }[] = [];
  for (const file of files) {
    if (file.path === JSONL_SIDECAR) continue;
    if (file.path.endsWith(SIDECAR_SUFFIX) && names.has(file.path.slice(0, -SIDECAR_SUFFIX.length))) continue;
    let metadata: Record<string, unknown> = { ...(fromJsonl.get(file.path) ?? {}) };
    const sidecar = file.path + SIDECAR_SUFFIX;
    if (names.has(sidecar)) {
      try {
        const v: unknown = JSON.parse(await readAll(runner, handle, sidecar));
        if (isObject(v)) metadata = { ...metadata, ...v };
        else warnings.push(`${sidecar} must hold a JSON object; ignored`);
      } catch {
        warnings.push(`${sidecar} is not valid JSON; ignored`);
      }
    }
    uploads.push({ file, metadata });
  }
  return { uploads, warnings };
}

export interface UploadedDatum {
  id: string;
  name: string;
  size: number;
  sha256: string;
}

/** Uploads one output file and records its datum (idempotent on execution+name+sha256). */
export async function uploadOutput(
  deps: { sql: Sql; store: Store; runner: Runner },
  exec: { id: string; projectId: string },
  handle: RunnerHandle,
  file: OutputFileInfo,
  metadata: Record<string, unknown>,
): Promise<UploadedDatum> {
  const id = randomUUID();
  const key = `data/${id}/${file.path}`;
  const put = await deps.store.put(key, await deps.runner.openOutput(handle, file.path));
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
 * valohai-utils live-upload contract). Otherwise everything left in outputs/.
 */
export async function uploadOutputs(
  deps: { sql: Sql; store: Store; runner: Runner },
  exec: { id: string; projectId: string },
  handle: RunnerHandle,
  mode: "live" | "final",
): Promise<{ uploaded: UploadedDatum[]; warnings: string[] }> {
  const files = await deps.runner.listOutputs(handle);
  const isSidecar = (f: OutputFileInfo) => f.path === JSONL_SIDECAR || f.path.endsWith(SIDECAR_SUFFIX);
  const candidates = mode === "live" ? files.filter((f) => f.readOnly && !isSidecar(f)) : files;
  if (candidates.length === 0) return { uploaded: [], warnings: [] };
  // Live uploads still read every sidecar present, so a file's metadata travels with it.
  const plan = await planOutputs(deps.runner, handle, mode === "live" ? [...candidates, ...files.filter(isSidecar)] : files);
  const wanted = new Set(candidates.map((c) => c.path));
  const uploaded: UploadedDatum[] = [];
  for (const u of plan.uploads) {
    if (!wanted.has(u.file.path)) continue;
    const datum = await uploadOutput(deps, exec, handle, u.file, u.metadata);
    uploaded.push(datum);
    // `valohai.model-versions` in the sidecar → a model version (idempotent per model and execution).
    plan.warnings.push(...(await registerOutputVersions(deps.sql, exec, datum, u.metadata)).warnings);
    if (mode === "live") {
      await deps.runner.removeOutput(handle, u.file.path);
      // Its sidecar travelled with it: left behind it would become a datum of its own at the end.
      if (files.some((f) => f.path === u.file.path + SIDECAR_SUFFIX)) await deps.runner.removeOutput(handle, u.file.path + SIDECAR_SUFFIX);
    }
  }
  return { uploaded, warnings: plan.warnings };
}
