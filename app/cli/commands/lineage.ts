/** `vh lineage model://x/latest`: where a version came from and who used it (tree, --json or --mermaid). */
import type { Context } from "../context.js";
import { jsonText } from "../format.js";
import { versionPath } from "./model.js";
import type { FullLineage } from "../../models/lineage.js";
import { renderLineageTree } from "../../../templates/model/lineage-tree.js";
import { renderLineageMermaid } from "../../../templates/model/lineage-mermaid.js";

export async function lineageCommand(ctx: Context, uri: string, opts: { json?: boolean; mermaid?: boolean }): Promise<number> {
  const l = await ctx.client().json<FullLineage>("GET", `${versionPath(uri)}/lineage`);
  ctx.io.stdout.write(opts.json ? jsonText(l) : opts.mermaid ? renderLineageMermaid(l) : renderLineageTree(l));
  return 0;
}
