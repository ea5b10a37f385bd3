/**
 * `dataset://` URIs (valohai-spec §1.6): `dataset://NAME/VERSION` is one version (or an alias),
 * `dataset://NAME/latest`, `dataset://NAME/` and `dataset://NAME` the newest version.
 */
import { VhError } from "../errors.js";

/** Dataset, version and alias names: what a URI part and a folder name can both hold. */
export const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NAME_RULE = 'use letters, digits, ".", "_" and "-" (at most 128, starting with a letter or digit)';

export type DatasetRef = { dataset: string; version: string } | { dataset: string; version: null };

/** Why `name` cannot be a dataset (`what` = "dataset"), version or alias name, or null. */
export function nameProblem(what: "dataset" | "version" | "alias", name: string): string | null {
  const a = what === "alias" ? "an" : "a";
  if (!DATASET_NAME.test(name)) return `"${name}" is not ${a} ${what} name: ${NAME_RULE}.`;
  if (what !== "dataset" && name === "latest") return `"latest" cannot be ${a} ${what} name: dataset://NAME/latest always means the newest version.`;
  return null;
}

/** Parses a dataset URI; `version: null` = the newest (`latest`, or no version written). */
export function parseDatasetUri(uri: string): { ref: DatasetRef } | { error: string } {
  const m = /^dataset:\/\/([^/]*)(?:\/([^/]*))?$/.exec(uri.trim());
  if (!m) return { error: `"${uri}" is not a dataset URI; write dataset://NAME/VERSION or dataset://NAME/latest.` };
  const dataset = m[1]!;
  const bad = nameProblem("dataset", dataset);
  if (bad) return { error: `${JSON.stringify(uri)}: ${bad}` };
  const version = m[2] ?? "";
  if (version === "" || version === "latest") return { ref: { dataset, version: null } };
  if (!DATASET_NAME.test(version)) return { error: `${JSON.stringify(uri)}: "${version}" is not a version name: ${NAME_RULE}.` };
  return { ref: { dataset, version } };
}

/** Like parseDatasetUri, but throws a VhError (bad_request). */
export function mustParseDatasetUri(uri: string): DatasetRef {
  const r = parseDatasetUri(uri);
  if ("error" in r) throw new VhError("bad_request", r.error);
  return r.ref;
}

export function datasetUri(dataset: string, version: string): string {
  return `dataset://${dataset}/${version}`;
}
