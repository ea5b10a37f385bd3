/** `vh audit verify [--json]`: the server recomputes the audit chains (app/audit/); exit 1 when one is broken. */
import type { Context } from "../context.js";
import { jsonText, table } from "../format.js";
import { println } from "../io.js";
import type { AuditVerification } from "../../audit/verify.js";

const CHECK_TEXT = { content_changed: "content changed", link_broken: "link broken", row_missing: "row missing" } as const;

export async function auditVerifyCommand(ctx: Context, opts: { json?: boolean }): Promise<number> {
  const v = await ctx.client().json<AuditVerification>("GET", "/audit/verify");
  if (opts.json) {
    ctx.io.stdout.write(jsonText(v));
    return v.ok ? 0 : 1;
  }
  ctx.io.stdout.write(
    table(
      ["CHAIN", "ROWS", "STATUS", "FIRST BROKEN ROW"],
      v.chains.map((c) => [c.table, String(c.rows), c.ok ? "intact" : (c.broken ? CHECK_TEXT[c.broken.check] : "broken"), c.broken?.id != null ? String(c.broken.id) : "-"]),
    ),
  );
  for (const c of v.chains) if (c.broken) println(ctx.io.stdout, `${c.table}: ${c.broken.message}`);
  if (v.ok) ctx.info(`Every audit chain is intact (verified ${v.verifiedAt}).`);
  else ctx.info(`An audit chain is broken (verified ${v.verifiedAt}): the rows named above were changed or removed outside vh.`);
  return v.ok ? 0 : 1;
}
