/** `datum://ID` inputs: a file vh stores (an output, or an upload), in the execution's project. */
import path from "node:path";
import { datumById } from "../../db/queries/datums.js";
import { VhError } from "../errors.js";
import type { InputResolver } from "./types.js";

export const resolveDatum: InputResolver = async (ctx, input, uri) => {
  const id = /^datum:\/\/([0-9a-f-]{36})$/i.exec(uri)?.[1];
  if (!id) throw new VhError("invalid_input", `Input "${input}": "${uri}" is not a datum URI; it is datum://<id>, the id a file's record shows.`, { input, uri });
  const row = await datumById(ctx.sql, id, ctx.project.id);
  if (!row) throw new VhError("invalid_input", `Input "${input}": ${uri} does not exist in project ${ctx.project.name}.`, { input, uri });
  return [
    {
      name: input,
      uri,
      source: { kind: "store", key: row.store_key },
      datumId: row.id,
      sha256: row.sha256,
      size: Number(row.size),
      file: path.posix.basename(row.name),
    },
  ];
};
