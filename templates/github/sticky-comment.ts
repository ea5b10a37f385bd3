/** The one comment per pull request: every sweep of it (the newest ten), each with its table, then the model approvals. Pure. */
import { changeRequestName, type ForgeKind } from "../../app/contracts/forge.js";
import type { MetricGoal, SweepView } from "../../app/reporting/view.js";
import { renderApprovalSection, type ApprovalRequestView } from "./approval.js";
import { MAX_SWEEPS_SHOWN, sweepSection } from "./sweep.js";

/** The hidden marker the sticky comment is found by. */
export const STICKY_MARKER = "<!-- vh:sticky-comment -->";

/** The forge the sweeps came from (GitHub's words when none says). */
function forgeOf(views: SweepView[]): ForgeKind {
  const src = views.find((v) => v.source.kind === "forge")?.source;
  return src?.kind === "forge" ? src.forge : "github";
}

export function renderSticky(
  pr: number,
  views: SweepView[],
  opts: { metrics: Map<string, MetricGoal | null>; now: Date; approvals?: ApprovalRequestView[] },
): string {
  const shown = views.slice(-MAX_SWEEPS_SHOWN).reverse();
  const older = views.length - shown.length;
  const sections = shown.map((v) => sweepSection(v, opts.metrics.get(v.id) ?? null, opts.now).trimEnd() + "\n").join("\n");
  return [
    STICKY_MARKER,
    `### vh · ${changeRequestName(forgeOf(views), pr)}`,
    "",
    sections +
      (older > 0 ? `\n_${older} older sweep${older === 1 ? "" : "s"} not shown._\n` : "") +
      (opts.approvals?.length ? "\n" + renderApprovalSection(opts.approvals) : ""),
    "<sub>`/vh run STEP name=[a,b]` starts a sweep · `/vh status` · `/vh stop N|all` · `/vh rerun N` · `/vh help`</sub>",
    "",
  ].join("\n");
}
