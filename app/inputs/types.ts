/** What an input resolver (one per URI scheme, ./resolve.ts) is given and returns. */
import type { Sql } from "../../db/client.js";
import type { Project } from "../../db/schema/projects.js";
import type { RequestedInput } from "../../db/schema/executions.js";
import type { Store } from "../contracts/store.js";
import type { Config } from "../config.js";
import type { KeepDirectories } from "../valohai/objects.js";

export interface ResolveContext {
  sql: Sql;
  store: Store;
  config: Config;
  project: Project;
  fetch: typeof fetch;
}

/** What the step says of the input that shapes its files' names (valohai-spec §1.6). */
export interface ResolveOptions {
  /** For a URI with wildcards: `none` flattens, `suffix` keeps the path after the wildcard's folder, `full` the whole key. */
  keepDirectories?: KeepDirectories;
}

/** The files `uri` names as input `input`; `file` is each one's name under inputs/INPUT/ before `filename` and de-duplication. */
export type InputResolver = (ctx: ResolveContext, input: string, uri: string, options?: ResolveOptions) => Promise<RequestedInput[]>;

