/**
 * A sweep as the check run, the sticky comment and `/vh status` show it: the headline, the table
 * (execution, parameters, status, latest metrics, duration), the best run, and the section of one
 * sweep. Pure.
 */
import type { ExecutionStatus } from "../../app/executions/state.js";
import { formatUsd } from "../format.js";
import { bestExecution, pickMetric, sweepDone, type ExecView, type MetricGoal, type SweepView } from "../../app/reporting/view.js";

const MAX_METRIC_COLUMNS = 4;
/** How many sweeps the sticky comment and a `/vh status` reply show, newest first. */
export const MAX_SWEEPS_SHOWN = 10;

const ICON: Record<ExecutionStatus, string> = {
  created: "⏳",
  queued: "⏳",
  starting: "🏃",
  running: "🏃",
  stopping: "⏹️",
  uploading: "📤",
  completed: "✅",
  failed: "❌",
  error: "⚠️",
  stopped: "⏹️",
  lost: "❓",
};

function cell(s: string): string {
  return s.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

export function formatValue(v: unknown): string {
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const p = Number(v.toPrecision(4));
    return Math.abs(p) >= 1e-4 || p === 0 ? String(p) : p.toExponential(2);
  }
  if (v && typeof v === "object" && "value" in v && typeof (v as { value: unknown }).value === "number") return formatValue((v as { value: number }).value);
  if (typeof v === "string") return v.length > 40 ? v.slice(0, 39) + "…" : v;
  if (v === null || v === undefined) return "—";
  return JSON.stringify(v);
}

/**
 * How long an ended execution ran; "—" while it runs (a ticking clock would rewrite every report
 * every interval, which is what coalescing is there to avoid).
 */
export function formatDuration(e: Pick<ExecView, "startedAt" | "endedAt">, _now: Date): string {
  if (!e.startedAt || !e.endedAt) return "—";
  const s = Math.max(0, Math.round((e.endedAt.getTime() - e.startedAt.getTime()) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/** "lowest" or "highest": which end of a metric is best. */
export function goalWord(metric: MetricGoal): string {
  return metric.goal === "min" ? "lowest" : "highest";
}

function paramText(v: SweepView, e: ExecView): string {
  const names = Object.keys(v.spec);
  if (names.length === 0) return "(defaults)";
  return names.map((n) => `\`${cell(n)}=${cell(formatValue(e.parameters[n] ?? v.spec[n]?.[0]))}\``).join(" ");
}

function metricColumns(v: SweepView, metric: MetricGoal | null): string[] {
  const keys: string[] = metric ? [metric.name] : [];
  for (const e of v.executions) {
    for (const [k, val] of Object.entries(e.metrics)) {
      if (keys.length >= MAX_METRIC_COLUMNS) break;
      if ((typeof val === "number" || typeof val === "string") && !keys.includes(k)) keys.push(k);
    }
  }
  return keys;
}

/**
 * The executions in the order shown: by the sweep's target metric, best first, when it declares
 * one (those without a value after, in their order); else as made.
 */
export function ranked(v: SweepView, metric: MetricGoal | null): ExecView[] {
  if (!v.definition?.target || !metric || v.executions.length < 2) return v.executions;
  const value = (e: ExecView) => {
    const x = e.metrics[metric.name];
    return typeof x === "number" && Number.isFinite(x) ? x : null;
  };
  return v.executions
    .map((e, i) => ({ e, i, x: value(e) }))
    .sort((a, b) => (a.x === null ? (b.x === null ? a.i - b.i : 1) : b.x === null ? -1 : metric.goal === "min" ? a.x - b.x || a.i - b.i : b.x - a.x || a.i - b.i))
    .map((r) => r.e);
}

/** "interrupted on spot, resumed as attempt 2" (or "host lost, …"), or "" on a first attempt. */
export function attemptNote(e: Pick<ExecView, "attempt" | "earlierAttempts">): string {
  if (e.attempt <= 1) return "";
  const last = e.earlierAttempts[e.earlierAttempts.length - 1];
  const why = last === "interrupted" ? "interrupted on spot" : last === "lost" ? "host lost" : "retried";
  return `${why}, resumed as attempt ${e.attempt}`;
}

function statusText(e: ExecView): string {
  if (e.stopCause === "early-stop") return "✂️ early-stopped";
  const note = attemptNote(e);
  return `${ICON[e.status]} ${e.status}${note ? ` (${note})` : ""}`;
}

/** Whether any execution of the sweep ran on a priced host (then the table has a cost column). */
function priced(v: SweepView): boolean {
  return v.executions.some((e) => e.costUsd !== null);
}

/** The sweep's cost so far, over every attempt of every execution (null: none ran on a priced host). */
export function sweepCost(v: SweepView): number | null {
  return priced(v) ? v.executions.reduce((n, e) => n + (e.costUsd ?? 0), 0) : null;
}

/** The sweep table: execution (ranked when the sweep has a target), parameters, status, latest metrics, duration. */
export function sweepTable(v: SweepView, metric: MetricGoal | null, now: Date): string {
  const cols = metricColumns(v, metric);
  const rank = v.definition?.target !== undefined && v.executions.length > 1 && metric !== null;
  const cost = priced(v);
  const head = [...(rank ? ["Rank"] : []), "Execution", "Parameters", "Status", ...cols.map(cell), "Duration", ...(cost ? ["Cost"] : [])];
  const first = rank ? 4 : 3;
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_h, i) => (i >= first && i < first + cols.length ? "---:" : "---")).join("|")}|`];
  for (const [i, e] of ranked(v, metric).entries()) {
    const metrics = cols.map((k) => cell(formatValue(e.metrics[k])));
    const r = rank ? [typeof e.metrics[metric!.name] === "number" ? String(i + 1) : "—"] : [];
    lines.push(`| ${[...r, `#${e.counter}`].join(" | ")} | ${paramText(v, e)} | ${statusText(e)} | ${[...metrics, formatDuration(e, now), ...(cost ? [formatUsd(e.costUsd)] : [])].join(" | ")} |`);
  }
  return lines.join("\n");
}

/** Early-stopped executions, each with the rule's reason, between blank lines; "" when none was. */
export function earlyStoppedLines(v: SweepView): string {
  const stopped = v.executions.filter((e) => e.stopCause === "early-stop");
  if (stopped.length === 0) return "";
  return `**Early-stopped (${stopped.length}):**\n${stopped.map((e) => `- #${e.counter}: ${cell((e.statusDetail ?? "").replace(/^Early-stopped: /, ""))}`).join("\n")}\n`;
}

/** What kind of sweep, in words: "grid sweep of 6", "random search of 20", "Bayesian search (TPE), 5 of 30". */
export function kindWords(v: SweepView): string {
  const n = v.executions.length;
  switch (v.kind) {
    case "random":
      return `random search of ${v.planned}`;
    case "manual":
      return `manual sweep of ${v.planned}`;
    case "bayesian_tpe":
      return `Bayesian search (TPE), ${n} of ${v.planned}`;
    default:
      return `grid sweep of ${v.planned}`;
  }
}

/** The best run of an ended sweep of two or more, between blank lines; "" when there is none to name. */
export function bestLine(v: SweepView, metric: MetricGoal | null): string {
  if (!sweepDone(v) || v.executions.length < 2) return "";
  const best = bestExecution(v, metric);
  if (!best || !metric) return "";
  return `\n**Best:** #${best.exec.counter} ${paramText(v, best.exec)}: ${metric.name} ${formatValue(best.value)} (${goalWord(metric)})\n`;
}

export function statusCounts(v: SweepView): Map<ExecutionStatus, number> {
  const m = new Map<ExecutionStatus, number>();
  for (const e of v.executions) m.set(e.status, (m.get(e.status) ?? 0) + 1);
  return m;
}

export function headline(v: SweepView): string {
  const n = v.executions.length;
  const noun = n === 1 ? "execution" : "executions";
  const c = statusCounts(v);
  if (sweepDone(v) && c.get("completed") === n) return n === 1 ? "1 execution completed" : `All ${n} ${noun} completed`;
  const parts = [...c.entries()].map(([s, k]) => `${k} ${s}`);
  return `${n} ${noun}: ${parts.join(", ")}`;
}

/** One sweep in the sticky comment or a `/vh status` reply: title, who started it how, table, best run. */
export function sweepSection(v: SweepView, metric: MetricGoal | null, now: Date): string {
  const n = v.executions.length;
  const title = n === 1 && v.planned <= 1 ? `\`${v.step}\`` : `\`${v.step}\` · ${kindWords(v)}`;
  const trigger = v.source.kind === "forge" ? v.source.trigger : "api";
  const how = trigger === "push" ? "commit message" : trigger === "button" ? "check run button" : trigger === "rerun" ? "rerun" : trigger === "reproduce" ? "reproduction" : "comment";
  const shown = pickMetric(v, metric);
  return [
    `#### ${title}`,
    `${headline(v)} · commit \`${v.commitSha.slice(0, 7)}\` · by @${v.triggeredBy} (${how})`,
    "",
    sweepTable(v, shown, now),
    bestLine(v, shown),
    ...(earlyStoppedLines(v) ? [earlyStoppedLines(v)] : []),
    ...(v.stoppedReason ? [`**Sweep stopped:** ${cell(v.stoppedReason)}`, ""] : []),
    ...(sweepCost(v) !== null ? [`**Cost:** ${formatUsd(sweepCost(v))} (rented hosts, every attempt)`, ""] : []),
    "",
  ].join("\n");
}
