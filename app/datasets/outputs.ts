/**
 * Dataset versions from an execution's outputs: a file whose sidecar metadata (valohai-spec §3.5)
 * lists `valohai.dataset-versions` goes into each version it names, as
 * `"dataset://NAME/VERSION"` or `{"uri": …, "from"?, "start_fresh"?, "exclude"?, "targeting_aliases"?}`.
 *
 * All files of one execution that name one version form that version, created once, when the
 * execution's outputs are all stored. Its files are, as Valohai makes them:
 * - `start_fresh: true`: only the execution's files;
 * - else the files of `from` (a version of the project's datasets), or when no `from` is given the
 *   dataset's newest version (none for a new dataset), less the paths in `exclude`, then the
 *   execution's files (one at a path already there replaces it).
 * `targeting_aliases` move those aliases to the new version. `packaging` and `valohai.tags` are
 * accepted and kept in the datum's metadata only.
 */
import type { Conn } from "../../db/queries/rows.js";
import type { Project } from "../../db/schema/projects.js";
import { datasetUri, nameProblem, parseDatasetUri } from "./uri.js";
import { filesOf, insertVersion, lockDataset, latestVersion, resolveVersion, type Tx, type VersionFile } from "./versions.js";

export const DATASET_VERSIONS_KEY = "valohai.dataset-versions";

/** One version an execution's outputs make, with every option its files gave. */
export interface PlannedVersion {
  dataset: string;
  version: string;
  /** The URI of the version to start from, when one was given. */
  from: string | null;
  startFresh: boolean;
  exclude: string[];
  aliases: string[];
  /** The execution's files in it (datum name = path in the version), in path order. */
  files: VersionFile[];
}

export interface OutputDatum {
  id: string;
  name: string;
  sha256: string;
  size: number;
  metadata: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const show = (v: unknown) => JSON.stringify(v);

function strings(v: unknown): string[] | null {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  return null;
}

/**
 * The versions the outputs' sidecars name, with their files; a bad entry is a warning naming the
 * file and what was wrong, and leaves out only that entry.
 */
export function planVersions(outputs: readonly OutputDatum[]): { versions: PlannedVersion[]; warnings: string[] } {
  const warnings: string[] = [];
  const byUri = new Map<string, PlannedVersion>();
  const where = (file: string) => `${file}: ${DATASET_VERSIONS_KEY}`;
  for (const d of [...outputs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const raw = d.metadata[DATASET_VERSIONS_KEY];
    if (raw === undefined) continue;
    const list = Array.isArray(raw) ? raw : [raw];
    for (const item of list) {
      const o: Record<string, unknown> = typeof item === "string" ? { uri: item } : isObject(item) ? item : {};
      if (typeof o["uri"] !== "string") {
        warnings.push(`${where(d.name)} entries must be "dataset://NAME/VERSION" or {"uri": "dataset://NAME/VERSION", …}; ignored ${show(item)}.`);
        continue;
      }
      const uri = o["uri"];
      const parsed = parseDatasetUri(uri);
      if ("error" in parsed) {
        warnings.push(`${where(d.name)}: ${parsed.error} Ignored.`);
        continue;
      }
      if (parsed.ref.version === null) {
        warnings.push(`${where(d.name)}: ${show(uri)} names no version to create; write dataset://${parsed.ref.dataset}/VERSION. Ignored.`);
        continue;
      }
      const exclude = strings(o["exclude"]);
      const aliases = strings(o["targeting_aliases"]);
      const from = o["from"] ?? null;
      const startFresh = o["start_fresh"] ?? false;
      const bad: string[] = [];
      if (exclude === null) bad.push(`"exclude" must be a list of paths`);
      if (aliases === null) bad.push(`"targeting_aliases" must be a list of names`);
      for (const a of aliases ?? []) {
        const p = nameProblem("alias", a);
        if (p) bad.push(`targeting_aliases: ${p}`);
      }
      if (from !== null) {
        const f = typeof from === "string" ? parseDatasetUri(from) : { error: `"from" must be a dataset URI, not ${show(from)}` };
        if ("error" in f) bad.push(f.error);
      }
      if (typeof startFresh !== "boolean") bad.push(`"start_fresh" must be true or false, not ${show(startFresh)}`);
      if (bad.length) {
        warnings.push(`${where(d.name)} ${show(uri)}: ${bad.map((b) => b.replace(/\.$/, "")).join("; ")}. Ignored.`);
        continue;
      }
      const key = datasetUri(parsed.ref.dataset, parsed.ref.version);
      let v = byUri.get(key);
      if (!v) byUri.set(key, (v = { dataset: parsed.ref.dataset, version: parsed.ref.version, from: null, startFresh: false, exclude: [], aliases: [], files: [] }));
      if (typeof from === "string") {
        if (v.from !== null && v.from !== from) warnings.push(`${where(d.name)} ${show(key)}: "from" ${show(from)} differs from ${show(v.from)} given by another file; ${show(v.from)} is used.`);
        v.from ??= from;
      }
      v.startFresh ||= startFresh === true;
      v.exclude = [...new Set([...v.exclude, ...(exclude ?? [])])];
      v.aliases = [...new Set([...v.aliases, ...(aliases ?? [])])];
      if (!v.files.some((f) => f.path === d.name)) v.files.push({ path: d.name, datumId: d.id, sha256: d.sha256, size: d.size });
    }
  }
  for (const v of byUri.values()) {
    if (v.startFresh && v.from !== null) warnings.push(`${DATASET_VERSIONS_KEY} ${show(datasetUri(v.dataset, v.version))}: "start_fresh" is true, so "from" ${show(v.from)} is not used.`);
  }
  return { versions: [...byUri.values()], warnings };
}

export type MadeVersion =
  | { kind: "created"; uri: string; versionId: string; files: number; base: string | null }
  /** This execution made it before (a worker that finished the execution again). */
  | { kind: "existed"; uri: string };

/**
 * Creates one planned version in the caller's transaction. A user's mistake (the version exists,
 * `from` names nothing) is a VhError with the reason; nothing is written then.
 */
export async function createPlannedVersion(
  tx: Tx,
  project: Pick<Project, "id" | "name">,
  exec: { id: string; createdBy: string },
  plan: PlannedVersion,
): Promise<MadeVersion> {
  const uri = datasetUri(plan.dataset, plan.version);
  // Locked (made when new) first: `latest` and the name check hold until this commits; a failure rolls it back.
  const dataset = await lockDataset(tx, project.id, plan.dataset);
  const [mine] = await tx<{ execution_id: string | null }[]>`
    select execution_id from dataset_versions where dataset_id = ${dataset.id} and name = ${plan.version}`;
  if (mine && mine.execution_id === exec.id) return { kind: "existed", uri };
  let base: { uri: string; files: VersionFile[] } | null = null;
  if (plan.from !== null && !plan.startFresh) {
    const r = await resolveVersion(tx, project, plan.from);
    base = { uri: r.uri, files: await filesOf(tx, r.version.id) };
  } else if (!plan.startFresh) {
    const latest = await latestVersion(tx, dataset.id);
    if (latest) base = { uri: datasetUri(plan.dataset, latest.name), files: await filesOf(tx, latest.id) };
  }
  const files = new Map<string, VersionFile>();
  const excluded = new Set(plan.exclude);
  for (const f of base?.files ?? []) if (!excluded.has(f.path)) files.set(f.path, f);
  for (const f of plan.files) files.set(f.path, f);
  const sorted = [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const { version } = await insertVersion(tx, project, plan.dataset, { version: plan.version, files: sorted, executionId: exec.id, createdBy: exec.createdBy, aliases: plan.aliases });
  return { kind: "created", uri, versionId: version.id, files: sorted.length, base: base?.uri ?? null };
}

/** The line valohai-utils prints for a version it made (valohai-spec §3.5). */
export function createdLine(made: { uri: string; files: number }): string {
  return `Created dataset version '${made.uri}' with ${made.files} files`;
}
