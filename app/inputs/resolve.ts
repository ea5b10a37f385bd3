/**
 * Input URIs → the files an execution fetches, resolved when the execution is created (so the
 * record says exactly what it got, and a rerun can pin it). One resolver per scheme, each in its
 * own file beside this one; a scheme is added by adding a file and a line in `resolvers`.
 *
 * A resolver returns every file the URI names (a glob or a version may name many) or throws a
 * VhError for the user's mistake (unknown datum, unreachable URL…), which the caller collects with
 * the others so one answer lists every bad input.
 */
import type { RequestedInput } from "../../db/schema/executions.js";
import type { InputResolver, ResolveContext, ResolveOptions } from "./types.js";
import { VhError } from "../errors.js";
import { resolveHttp } from "./http.js";
import { resolveDatum } from "./datum.js";
import { resolveModel } from "./model.js";
import { resolveS3 } from "./s3.js";
import { resolveDataset } from "./dataset.js";

export type { InputResolver, ResolveContext, ResolveOptions } from "./types.js";

const resolvers: Record<string, InputResolver> = {
  http: resolveHttp,
  https: resolveHttp,
  datum: resolveDatum,
  model: resolveModel,
  s3: resolveS3,
  dataset: resolveDataset,
};

/** The URI schemes inputs may use, as they are written in messages. */
export function supportedSchemes(): string[] {
  return Object.keys(resolvers).map((s) => `${s}://`);
}

export async function resolveInputUri(ctx: ResolveContext, input: string, uri: string, options?: ResolveOptions): Promise<RequestedInput[]> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  const resolver = scheme ? resolvers[scheme] : undefined;
  if (resolver) return resolver(ctx, input, uri, options);
  const known = supportedSchemes().join(", ");
  throw new VhError(
    "invalid_input",
    scheme ? `Input "${input}": ${scheme}:// URIs are not supported (${uri}); inputs may be ${known}.` : `Input "${input}": "${uri}" is not a URI; inputs may be ${known}.`,
    { input, uri },
  );
}
