/**
 * `model://NAME/vN` and `model://NAME/latest` as step inputs: resolved when the execution is
 * created (like datum aliases, valohai-spec §1.6) to the version's files as store sources with
 * sha256, and the exact version recorded (execution_model_inputs + a `used` event), so "who used
 * this version" is one query.
 */
import path from "node:path";
import type { Sql } from "../../db/client.js";
import { datumsByIds } from "../../db/queries/datums.js";
import { modelVersionById } from "../../db/queries/models.js";
import type { RequestedInput } from "../../db/schema/executions.js";
import { isUsersMistake, VhError } from "../errors.js";
import { recordEvent, type Tx } from "./events.js";
import { resolveVersion } from "./versions.js";

/** The files of the version `uri` names, as inputs of `input`; a VhError (not_found/bad_request) when it names none. */
export async function resolveModelInput(sql: Sql, input: string, uri: string): Promise<RequestedInput[]> {
  let resolved;
  try {
    resolved = await resolveVersion(sql, uri);
  } catch (err) {
    if (isUsersMistake(err)) throw new VhError("invalid_input", `Input "${input}": ${err.message}`);
    throw err;
  }
  const keys = await datumsByIds(sql, resolved.files.map((f) => f.datumId));
  return resolved.files.map((f) => ({
    name: input,
    uri,
    source: { kind: "store", key: keys.find((k) => k.id === f.datumId)!.store_key },
    datumId: f.datumId,
    sha256: f.sha256,
    size: f.size,
    file: path.posix.basename(f.name),
    model: { version: resolved.uri, versionId: resolved.version.id },
  }));
}

/** Records, in the creating transaction, which version each model:// input resolved to. */
export async function recordModelInputs(tx: Tx, execution: { id: string; counter: number; triggeredBy?: string | null }, inputs: RequestedInput[]): Promise<void> {
  const seen = new Set<string>();
  for (const i of inputs) {
    if (!i.model) continue;
    const key = `${i.name}\0${i.model.versionId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    await tx`
      insert into execution_model_inputs (execution_id, input, uri, version_id) values (${execution.id}, ${i.name}, ${i.uri}, ${i.model.versionId})
      on conflict do nothing`;
    const v = await modelVersionById(tx, i.model.versionId);
    await recordEvent(tx, {
      modelId: v!.model_id,
      versionId: i.model.versionId,
      kind: "used",
      actor: { login: execution.triggeredBy ?? `execution #${execution.counter}`, source: "execution" },
      details: { execution: execution.id, counter: execution.counter, input: i.name, uri: i.uri, resolved: i.model.version, statusAtUse: v!.status },
    });
  }
}
