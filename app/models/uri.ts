/**
 * `model://` URIs (valohai-spec §1.6): `model://NAME/vN` is one version, `model://NAME/latest` the
 * highest-numbered APPROVED version, `model://NAME/` (in a sidecar) "the next version of NAME".
 */
import { VhError } from "../errors.js";

export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export type ModelRef =
  | { kind: "version"; model: string; number: number }
  | { kind: "latest"; model: string }
  | { kind: "next"; model: string };

/** Parses a model URI; returns null when `uri` is not one (the message says why). */
export function parseModelUri(uri: string): { ref: ModelRef } | { error: string } {
  const m = /^model:\/\/([^/]*)(?:\/(.*))?$/.exec(uri.trim());
  if (!m) return { error: `"${uri}" is not a model URI; write model://NAME/vN or model://NAME/latest.` };
  const model = m[1]!;
  if (!MODEL_NAME.test(model)) {
    return { error: `"${model}" is not a model name: use letters, digits, ".", "_" and "-" (at most 100, starting with a letter or digit).` };
  }
  const rest = m[2] ?? "";
  if (rest === "") return { ref: { kind: "next", model } };
  if (rest === "latest") return { ref: { kind: "latest", model } };
  const v = /^v?([1-9][0-9]{0,8})$/.exec(rest);
  if (v) return { ref: { kind: "version", model, number: Number(v[1]) } };
  return { error: `"${uri}": the version must be vN (e.g. v3) or latest.` };
}

/** Like parseModelUri, but throws a VhError (bad_request) and refuses `model://NAME/`. */
export function mustParseVersionRef(uri: string): Exclude<ModelRef, { kind: "next" }> {
  const r = parseModelUri(uri);
  if ("error" in r) throw new VhError("bad_request", r.error);
  if (r.ref.kind === "next") throw new VhError("bad_request", `"${uri}" names no version; write model://${r.ref.model}/vN or model://${r.ref.model}/latest.`);
  return r.ref;
}

export function versionUri(model: string, number: number): string {
  return `model://${model}/v${number}`;
}
