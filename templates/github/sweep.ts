/**
 * A sweep as the check run, the sticky comment and `/vh status` show it: the headline, the table
 * (execution, parameters, status, latest metrics, duration), the best run, and the section of one
 * sweep. Pure.
 */
import type { ExecutionStatus } from "../../app/executions/state.js";
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

/** The sweep table: execution, parameters, status, latest metrics, duration. */
export function sweepTable(v: SweepView, metric: MetricGoal | null, now: Date): string {
  const cols = metricColumns(v, metric);
  const head = ["Execution", "Parameters", "Status", ...cols.map(cell), "Duration"];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_h, i) => (i >= 3 && i < 3 + cols.length ? "---:" : "---")).join("|")}|`];
  for (const e of v.executions) {
    const metrics = cols.map((k) => cell(formatValue(e.metrics[k])));
    lines.push(`| #${e.counter} | ${paramText(v, e)} | ${ICON[e.status]} ${e.status} | ${[...metrics, formatDuration(e, now)].join(" | ")} |`);
  }
  return lines.join("\n");
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
  const title = n === 1 ? `\`${v.step}\`` : `\`${v.step}\` · grid sweep of ${n}`;
  const trigger = v.source.kind === "forge" ? v.source.trigger : "api";
  const how = trigger === "push" ? "commit message" : trigger === "button" ? "check run button" : trigger === "rerun" ? "rerun" : trigger === "reproduce" ? "reproduction" : "comment";
  const shown = pickMetric(v, metric);
  return [
    `#### ${title}`,
    `${headline(v)} · commit \`${v.commitSha.slice(0, 7)}\` · by @${v.triggeredBy} (${how})`,
    "",
    sweepTable(v, shown, now),
    bestLine(v, shown),
    "",
  ].join("\n");
}
