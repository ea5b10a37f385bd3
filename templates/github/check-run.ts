/**
 * A sweep's check run: name, status and conclusion, the summary (headline, table, best run), the
 * log tails of failed executions, and the Stop / Re-run buttons. Pure.
 */
import type { CheckConclusion, CheckRunAction } from "../../app/contracts/forge.js";
import { pickMetric, sweepDone, type MetricGoal, type SweepView } from "../../app/reporting/view.js";
import { bestLine, earlyStoppedLines, goalWord, headline, statusCounts, sweepCost, sweepTable } from "./sweep.js";
import { formatUsd } from "../format.js";

export const BUTTONS = {
  rerun: { label: "Re-run", description: "Run this sweep again at this commit", identifier: "rerun" },
  stop: { label: "Stop", description: "Stop its running and queued executions", identifier: "stop" },
} satisfies Record<string, CheckRunAction>;

export interface LogTail {
  counter: number;
  status: string;
  detail: string | null;
  lines: string[];
}

export interface RenderedCheckRun {
  name: string;
  status: "queued" | "in_progress" | "completed";
  conclusion?: CheckConclusion;
  title: string;
  summary: string;
  text?: string;
  actions: CheckRunAction[];
}

export function conclusionOf(v: SweepView): CheckConclusion | undefined {
  if (!sweepDone(v)) return undefined;
  const c = statusCounts(v);
  if ((c.get("failed") ?? 0) + (c.get("error") ?? 0) + (c.get("lost") ?? 0) > 0) return "failure";
  // Stopped by the sweep's own rules (early stopping, its target reached) is how a search succeeds.
  if (v.executions.some((e) => e.status === "stopped" && e.stopCause !== "early-stop" && e.stopCause !== "sweep")) return "cancelled";
  return "success";
}

export function checkStatusOf(v: SweepView): "queued" | "in_progress" | "completed" {
  if (sweepDone(v)) return "completed";
  return v.executions.some((e) => !["created", "queued"].includes(e.status)) ? "in_progress" : "queued";
}

export function checkRunName(v: SweepView): string {
  // The planned size, not the count so far: a Bayesian search keeps one check run as it grows.
  const n = Math.max(v.planned, v.executions.length);
  return n === 1 ? `vh: ${v.step}` : `vh: ${v.step} (sweep of ${n})`;
}

/** The summary: headline with step, parameters and commit; the table; the best run; who started it. */
function summary(v: SweepView, metric: MetricGoal | null, now: Date): string {
  const spec = Object.entries(v.spec).map(([k, vals]) => `\`${k}=${vals.length > 1 ? `[${vals.join(",")}]` : vals[0]}\``).join(" ");
  return [
    `**${headline(v)}** · step \`${v.step}\`${spec ? ` · ${spec}` : ""} · commit \`${v.commitSha.slice(0, 7)}\``,
    "",
    sweepTable(v, metric, now),
    bestLine(v, metric),
    ...(earlyStoppedLines(v) ? [earlyStoppedLines(v)] : []),
    ...(v.stoppedReason ? [`**Sweep stopped:** ${v.stoppedReason}`, ""] : []),
    ...(sweepCost(v) !== null ? [`**Cost:** ${formatUsd(sweepCost(v))} (rented hosts, every attempt)`, ""] : []),
    `<sub>Started by @${v.triggeredBy}${metric ? ` · best by ${metric.name} (${goalWord(metric)})` : ""}</sub>`,
    "",
  ].join("\n");
}

/** The last log lines of one failed execution; a ``` in the log cannot close the block. */
function failureText(t: LogTail): string {
  return [
    `### Execution #${t.counter} ${t.status}${t.detail ? `: ${t.detail}` : ""}`,
    "",
    `Last ${t.lines.length} log lines:`,
    "",
    "```text",
    t.lines.join("\n").replace(/```/g, "`\u200b``"),
    "```",
    "",
  ].join("\n");
}

export function renderCheckRun(v: SweepView, opts: { metric: MetricGoal | null; now: Date; logTails?: LogTail[] }): RenderedCheckRun {
  const metric = pickMetric(v, opts.metric);
  const status = checkStatusOf(v);
  const conclusion = conclusionOf(v);
  const tails = (opts.logTails ?? []).filter((t) => t.lines.length > 0);
  const text = tails.length ? tails.map(failureText).join("\n") : undefined;
  return {
    name: checkRunName(v),
    status,
    ...(conclusion ? { conclusion } : {}),
    title: headline(v),
    summary: summary(v, metric, opts.now),
    ...(text ? { text } : {}),
    actions: status === "completed" ? [BUTTONS.rerun] : [BUTTONS.stop, BUTTONS.rerun],
  };
}
