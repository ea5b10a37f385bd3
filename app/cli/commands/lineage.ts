/**
 * `vh lineage model://x/latest`: where a version came from and who used it (tree, --json or --mermaid).
 * With `--openlineage`: the same as OpenLineage RunEvents (docs/lineage.md), a JSON array or, with
 * `--ndjson`, one event per line; also for one execution (`--execution N`) or a project's events
 * since a time (`--since ISO`, every page).
 */
import type { Context } from "../context.js";
import { CliError } from "../errors.js";
import { jsonText } from "../format.js";
import { versionPath } from "./model.js";
import type { FullLineage } from "../../models/lineage.js";
import type { RunEvent } from "../../models/openlineage.js";
import { renderLineageTree } from "../../../templates/model/lineage-tree.js";
import { renderLineageMermaid } from "../../../templates/model/lineage-mermaid.js";

export interface LineageOptions {
  json?: boolean;
  mermaid?: boolean;
  openlineage?: boolean;
  ndjson?: boolean;
  execution?: string;
  since?: string;
  direction?: string;
  project?: string;
}

const PATH = "/lineage/openlineage";

export async function lineageCommand(ctx: Context, uri: string | undefined, opts: LineageOptions): Promise<number> {
  if (!opts.openlineage) {
    for (const [flag, set] of [["--execution", opts.execution], ["--since", opts.since], ["--ndjson", opts.ndjson], ["--direction", opts.direction]] as const) {
      if (set !== undefined) throw new CliError(`${flag} goes with --openlineage: vh lineage ${flag === "--execution" ? "--execution N" : "model://NAME/vN"} --openlineage ${flag === "--execution" ? "" : flag}`.trimEnd());
    }
    if (!uri) throw new CliError("Name a model version: vh lineage model://NAME/latest (or, with --openlineage, --execution N or --since TIME).");
    const l = await ctx.client().json<FullLineage>("GET", `${versionPath(uri)}/lineage`);
    ctx.io.stdout.write(opts.json ? jsonText(l) : opts.mermaid ? renderLineageMermaid(l) : renderLineageTree(l));
    return 0;
  }
  if (opts.json || opts.mermaid) throw new CliError("--openlineage prints OpenLineage JSON (--ndjson: one event per line); leave out --json and --mermaid.");
  const selected = [uri ? "a model version" : null, opts.execution !== undefined ? "--execution" : null, opts.since !== undefined ? "--since" : null].filter((x) => x !== null);
  if (selected.length !== 1) {
    throw new CliError(
      selected.length
        ? `Give one of ${selected.join(", ")}: vh lineage model://NAME/vN --openlineage, vh lineage --execution N --openlineage, or vh lineage --since TIME --openlineage.`
        : "Say which events: vh lineage model://NAME/vN --openlineage, vh lineage --execution N --openlineage, or vh lineage --since TIME --openlineage.",
    );
  }
  if (opts.direction !== undefined && !uri) throw new CliError("--direction is for a model version's lineage: vh lineage model://NAME/vN --openlineage --direction both.");
  const client = ctx.client();
  let events: RunEvent[];
  if (uri) {
    versionPath(uri); // the same check of the URI as the other views
    events = await client.json<RunEvent[]>("GET", PATH, { query: { model: uri, direction: opts.direction } });
  } else if (opts.execution !== undefined) {
    const n = opts.execution.replace(/^#/, "");
    const ref = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(n) ? n : `${ctx.projectName(opts.project)}/${n}`;
    if (!/^\d+$/.test(n) && ref !== n) throw new CliError(`--execution ${opts.execution}: use the execution's number (3 or #3) or its id.`);
    events = await client.json<RunEvent[]>("GET", PATH, { query: { execution: ref } });
  } else {
    const project = ctx.projectName(opts.project);
    events = [];
    let after = 0;
    for (;;) {
      const res = await client.raw("GET", PATH, { query: { project, since: opts.since, after, limit: 500 } });
      events.push(...((await res.json()) as RunEvent[]));
      const next = /[?&]after=(\d+)/.exec(res.headers.get("link") ?? "");
      if (!next) break;
      after = Number(next[1]);
    }
  }
  ctx.io.stdout.write(opts.ndjson ? events.map((e) => `${JSON.stringify(e)}\n`).join("") : jsonText(events));
  return 0;
}
