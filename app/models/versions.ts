/**
 * Models and versions: created from an output's sidecar (`valohai.model-versions`, valohai-spec
 * §3.5) or explicitly (CLI/API), resolved from `model://` URIs, listed and shown.
 */
import { createHash } from "node:crypto";
import type { Sql } from "../../db/client.js";
import { datumsByIds } from "../../db/queries/datums.js";
import { modelByName, resetVersionToPending, type ModelRow, type VersionRow } from "../../db/queries/models.js";
import { VhError } from "../errors.js";
import { recordEvent, trackingLatest, currentLatest, type Actor, type Tx } from "./events.js";
import { MODEL_NAME, mustParseVersionRef, parseModelUri, versionUri } from "./uri.js";

export type { ModelRow, VersionRow };

export interface VersionFile {
  name: string;
  datumId: string;
  sha256: string;
  size: number;
}

/** sha256 over "sha256  name" lines sorted by name (the `sha256sum` format): what an approval binds to. */
export function filesDigest(files: { name: string; sha256: string }[]): string {
  const lines = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((f) => `${f.sha256}  ${f.name}\n`);
  return createHash("sha256").update(lines.join("")).digest("hex");
}

/** Locks the model row for the rest of the transaction (creating it when `create`), so version numbers and `latest` are serialised. */
export async function lockModel(tx: Tx, name: string, create: boolean): Promise<ModelRow> {
  if (create) await tx`insert into models (name) values (${name}) on conflict (name) do nothing`;
  const [row] = await tx<ModelRow[]>`select * from models where name = ${name} for update`;
  if (!row) throw new VhError("not_found", `Model "${name}" does not exist.`);
  return row;
}

async function filesOf(tx: Tx | Sql, versionId: string): Promise<VersionFile[]> {
  const rows = await (tx as Sql)<{ name: string; datum_id: string; sha256: string; size: string }[]>`
    select name, datum_id, sha256, size from model_version_files where version_id = ${versionId} order by name`;
  return rows.map((r) => ({ name: r.name, datumId: r.datum_id, sha256: r.sha256, size: Number(r.size) }));
}

interface NewVersion {
  sourceKind: "execution" | "manual";
  sourceExecutionId: string | null;
  commitSha: string | null;
  triggeredBy: string | null;
  description: string | null;
  tags: string[];
  files: VersionFile[];
}

async function insertVersion(tx: Tx, model: ModelRow, v: NewVersion, actor: Actor): Promise<VersionRow> {
  const [counter] = await tx<{ version_counter: number }[]>`
    update models set version_counter = version_counter + 1 where id = ${model.id} returning version_counter`;
  const [row] = await tx<VersionRow[]>`
    insert into model_versions (model_id, number, source_kind, source_execution_id, commit_sha, triggered_by, created_by, description, tags, files_sha256)
    values (${model.id}, ${counter!.version_counter}, ${v.sourceKind}, ${v.sourceExecutionId}, ${v.commitSha}, ${v.triggeredBy}, ${actor.login},
      ${v.description}, ${tx.json(v.tags)}, ${filesDigest(v.files)})
    returning *`;
  for (const f of v.files) {
    await tx`insert into model_version_files (version_id, name, datum_id, sha256, size) values (${row!.id}, ${f.name}, ${f.datumId}, ${f.sha256}, ${f.size})`;
  }
  await recordEvent(tx, {
    modelId: model.id,
    versionId: row!.id,
    kind: "created",
    actor,
    details: {
      version: versionUri(model.name, row!.number),
      filesSha256: row!.files_sha256,
      files: v.files.map((f) => ({ name: f.name, sha256: f.sha256, size: f.size, datum: `datum://${f.datumId}` })),
      ...(v.sourceExecutionId ? { execution: v.sourceExecutionId } : {}),
    },
  });
  return row!;
}

/**
 * Adds or replaces files of a version. When the digest changes, an approval given for the old files
 * does not carry over: the version goes back to pending (`approval_invalidated`).
 */
async function addFiles(tx: Tx, model: ModelRow, version: VersionRow, files: VersionFile[], actor: Actor): Promise<VersionRow> {
  for (const f of files) {
    await tx`
      insert into model_version_files (version_id, name, datum_id, sha256, size) values (${version.id}, ${f.name}, ${f.datumId}, ${f.sha256}, ${f.size})
      on conflict (version_id, name) do update set datum_id = excluded.datum_id, sha256 = excluded.sha256, size = excluded.size`;
  }
  const digest = filesDigest(await filesOf(tx, version.id));
  if (digest === version.files_sha256) return version;
  return trackingLatest(tx, model.id, { login: "vh", source: "system" }, async () => {
    const [row] = await tx<VersionRow[]>`update model_versions set files_sha256 = ${digest} where id = ${version.id} returning *`;
    await recordEvent(tx, {
      modelId: model.id,
      versionId: version.id,
      kind: "files_changed",
      actor,
      details: { from: version.files_sha256, to: digest, files: files.map((f) => ({ name: f.name, sha256: f.sha256 })) },
    });
    if (version.status !== "approved") return row!;
    const reset = await resetVersionToPending(tx, version.id, "vh", "files changed after approval");
    await recordEvent(tx, {
      modelId: model.id,
      versionId: version.id,
      kind: "approval_invalidated",
      actor: { login: "vh", source: "system" },
      reason: `The files changed after the approval (approved ${version.approved_sha256}, now ${digest}); the approval does not carry over.`,
    });
    return reset!;
  });
}

type SidecarEntry = { model: string; tags: string[]; note: string | null };

/** The `valohai.model-versions` entries of a file's metadata; problems become warnings. */
export function sidecarModelEntries(metadata: Record<string, unknown>, file: string): { entries: SidecarEntry[]; warnings: string[] } {
  const raw = metadata["valohai.model-versions"];
  if (raw === undefined) return { entries: [], warnings: [] };
  const warnings: string[] = [];
  const entries: SidecarEntry[] = [];
  const list = Array.isArray(raw) ? raw : [raw];
  for (const item of list) {
    let uri: unknown = item;
    let tags: string[] = [];
    let note: string | null = null;
    if (item !== null && typeof item === "object" && !Array.isArray(item)) {
      const o = item as Record<string, unknown>;
      uri = o["model_uri"];
      if (Array.isArray(o["model_version_tags"])) tags = o["model_version_tags"].filter((t): t is string => typeof t === "string");
      if (typeof o["model_release_note"] === "string") note = o["model_release_note"];
    }
    if (typeof uri !== "string") {
      warnings.push(`${file}: valohai.model-versions entries must be "model://NAME/" or {"model_uri": "model://NAME/", …}; ignored ${JSON.stringify(item)}`);
      continue;
    }
    const parsed = parseModelUri(uri);
    if ("error" in parsed) {
      warnings.push(`${file}: valohai.model-versions: ${parsed.error}`);
      continue;
    }
    if (parsed.ref.kind !== "next") {
      warnings.push(`${file}: valohai.model-versions: "${uri}" names a version; outputs always make the next version, write model://${parsed.ref.model}/ (used as such).`);
    }
    const existing = entries.find((e) => e.model === parsed.ref.model);
    if (existing) {
      existing.tags = [...new Set([...existing.tags, ...tags])];
      existing.note ??= note;
    } else entries.push({ model: parsed.ref.model, tags, note });
  }
  return { entries, warnings };
}

/**
 * After an output datum is stored: creates (or extends) the version of each model its sidecar
 * lists. One version per model per execution — every file of the execution tagged with the model
 * goes into it — so an output re-uploaded after a crash never makes a second version.
 */
export async function registerOutputVersions(
  sql: Sql,
  exec: { id: string },
  datum: { id: string; name: string; size: number; sha256: string },
  metadata: Record<string, unknown>,
): Promise<{ versions: string[]; warnings: string[] }> {
  const { entries, warnings } = sidecarModelEntries(metadata, datum.name);
  if (entries.length === 0) return { versions: [], warnings };
  const versions: string[] = [];
  for (const entry of entries) {
    versions.push(
      await sql.begin(async (tx) => {
        const model = await lockModel(tx, entry.model, true);
        const [e] = await tx<{ counter: number; commit_sha: string | null; triggered_by: string | null }[]>`
          select counter, commit_sha, triggered_by from executions where id = ${exec.id}`;
        const actor: Actor = { login: e?.triggered_by ?? `execution #${e?.counter ?? "?"}`, source: "execution" };
        const file: VersionFile = { name: datum.name, datumId: datum.id, sha256: datum.sha256, size: datum.size };
        const [existing] = await tx<VersionRow[]>`
          select * from model_versions where model_id = ${model.id} and source_execution_id = ${exec.id}`;
        if (existing) {
          await addFiles(tx, model, existing, [file], actor);
          const tags = [...new Set([...existing.tags, ...entry.tags])];
          if (tags.length !== existing.tags.length) await tx`update model_versions set tags = ${tx.json(tags)} where id = ${existing.id}`;
          return versionUri(model.name, existing.number);
        }
        const v = await insertVersion(
          tx,
          model,
          { sourceKind: "execution", sourceExecutionId: exec.id, commitSha: e?.commit_sha ?? null, triggeredBy: e?.triggered_by ?? null, description: entry.note, tags: entry.tags, files: [file] },
          actor,
        );
        return versionUri(model.name, v.number);
      }),
    );
  }
  return { versions, warnings };
}

/** An explicit version (CLI/API) made of existing datums. */
export async function createVersion(
  sql: Sql,
  body: { model: string; files: string[]; description?: string | null; tags?: string[] },
  actor: Actor,
): Promise<{ uri: string; id: string }> {
  if (!MODEL_NAME.test(body.model)) throw new VhError("bad_request", `"${body.model}" is not a model name: use letters, digits, ".", "_" and "-".`);
  if (body.files.length === 0) throw new VhError("bad_request", "A version needs at least one file (datum://ID).");
  const ids = body.files.map((f) => f.replace(/^datum:\/\//, ""));
  const bad = ids.filter((id) => !/^[0-9a-f-]{36}$/i.test(id));
  if (bad.length) throw new VhError("bad_request", `Not datum ids: ${bad.join(", ")}.`);
  const rows = await datumsByIds(sql, ids);
  const missing = ids.filter((id) => !rows.some((r) => r.id === id));
  if (missing.length) throw new VhError("not_found", `No such datum: ${missing.map((m) => `datum://${m}`).join(", ")}.`);
  const files = rows.map((r) => ({ name: r.name, datumId: r.id, sha256: r.sha256, size: Number(r.size) }));
  const names = new Set<string>();
  for (const f of files) {
    if (names.has(f.name)) throw new VhError("bad_request", `Two files are named "${f.name}"; a version's file names must differ.`);
    names.add(f.name);
  }
  return sql.begin(async (tx) => {
    const model = await lockModel(tx, body.model, true);
    const v = await insertVersion(
      tx,
      model,
      { sourceKind: "manual", sourceExecutionId: null, commitSha: null, triggeredBy: null, description: body.description ?? null, tags: body.tags ?? [], files },
      actor,
    );
    return { uri: versionUri(model.name, v.number), id: v.id };
  });
}

export interface ResolvedVersion {
  model: ModelRow;
  version: VersionRow;
  files: VersionFile[];
  uri: string;
}

/** `model://NAME/vN` or `model://NAME/latest` → the version and its files; clear errors otherwise. */
export async function resolveVersion(sql: Sql | Tx, uri: string): Promise<ResolvedVersion> {
  const ref = mustParseVersionRef(uri);
  const q = sql as Sql;
  const model = await modelByName(q, ref.model);
  if (!model) throw new VhError("not_found", `Model "${ref.model}" does not exist (${uri}).`);
  let number: number;
  if (ref.kind === "latest") {
    const latest = await currentLatest(q, model.id);
    if (latest === null) {
      const all = await q<{ number: number; status: string }[]>`select number, status from model_versions where model_id = ${model.id} order by number`;
      const summary = all.length ? all.map((v) => `v${v.number} ${v.status}`).join(", ") : "no versions yet";
      throw new VhError("not_found", `${uri}: model "${model.name}" has no approved version (${summary}). Approve one first: vh model approve model://${model.name}/vN.`);
    }
    number = latest;
  } else number = ref.number;
  const [version] = await q<VersionRow[]>`select * from model_versions where model_id = ${model.id} and number = ${number}`;
  if (!version) throw new VhError("not_found", `${uri} does not exist: model "${model.name}" has ${model.version_counter} version(s).`);
  return { model, version, files: await filesOf(q, version.id), uri: versionUri(model.name, version.number) };
}

export { filesOf };
