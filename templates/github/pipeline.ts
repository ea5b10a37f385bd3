/**
 * A pipeline run's check run: named by the pipeline and its number, in progress until the run
 * ends, its summary the Mermaid graph of node states and a table of the nodes (status, the
 * execution or the reused one, why). Pure.
 */
import type { CheckConclusion, CheckRunAction } from "../../app/contracts/forge.js";
import type { PipelineView } from "../../app/pipelines/present.js";

export interface RenderedPipelineCheck {
  name: string;
  status: "in_progress" | "completed";
  conclusion?: CheckConclusion;
  title: string;
  summary: string;
  /** While it runs: Stop, and an Approve button for each node that waits for approval (by its position; GitHub allows 3). */
  actions: CheckRunAction[];
}

/** The external id of a pipeline run's check run (the button handler finds the run by it). */
export const PIPELINE_EXTERNAL_PREFIX = "pipeline:";

const CONCLUSION: Record<string, CheckConclusion> = { completed: "success", failed: "failure", stopped: "cancelled" };

function cell(s: string): string {
  return s.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

export function renderPipelineCheck(v: PipelineView): RenderedPipelineCheck {
  const counts = new Map<string, number>();
  for (const n of v.nodes) counts.set(n.status, (counts.get(n.status) ?? 0) + 1);
  const title = `${v.status === "running" ? "Running" : v.status[0]!.toUpperCase() + v.status.slice(1)}: ${[...counts].map(([s, k]) => `${k} ${s}`).join(", ")}`;
  const rows = v.nodes.map((n) => {
    const what = n.reusedFrom ? `reused #${n.reusedFrom.counter}` : n.execution ? `#${n.execution.counter}` : n.sweep ? n.sweep.executions.map((e) => `#${e.counter}`).join(" ") : "—";
    return `| \`${cell(n.name)}\` | ${n.type} | ${n.status} | ${what} | ${cell(n.detail ?? "")} |`;
  });
  const summary = [
    `**Pipeline \`${cell(v.name)}\` =${v.counter}** · ${v.status}${v.statusDetail ? ` · ${cell(v.statusDetail)}` : ""}${v.commit ? ` · commit \`${v.commit.slice(0, 7)}\`` : ""}`,
    "",
    "```mermaid",
    v.mermaid,
    "```",
    "",
    "| Node | Type | Status | Execution | |",
    "|---|---|---|---|---|",
    ...rows,
    "",
    `<sub>Started by @${v.triggeredBy} · \`vh pipeline show =${v.counter}\`</sub>`,
    "",
  ].join("\n");
  const actions: CheckRunAction[] = [];
  if (v.status === "running") {
    v.nodes.forEach((n, i) => {
      if (n.status === "awaiting-approval" && actions.length < 2) {
        actions.push({ label: `Approve ${n.name}`.slice(0, 20), description: `Let node ${n.name} start`.slice(0, 40), identifier: `approve:${i}` });
      }
    });
    actions.push({ label: "Stop", description: "Stop the pipeline run", identifier: "stop" });
  }
  return {
    name: `vh pipeline: ${v.name} (=${v.counter})`,
    status: v.status === "running" ? "in_progress" : "completed",
    ...(CONCLUSION[v.status] ? { conclusion: CONCLUSION[v.status]! } : {}),
    title,
    summary,
    actions,
  };
}
