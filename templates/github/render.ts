/**
 * Pure renderers: sweep views → check-run fields and the sticky comment; replies. Every variant
 * has a golden file under test/templates/github/.
 */
import type { CheckConclusion, CheckRunAction } from "../../app/contracts/forge.js";
import type { ExecutionStatus } from "../../app/executions/state.js";
import { fill } from "./fill.js";
import { bestExecution, pickMetric, sweepDone, type ExecView, type MetricGoal, type SweepView } from "../../app/reporting/view.js";

/** The hidden marker the sticky comment is found by. */
export const STICKY_MARKER = "<!-- vh:sticky-comment -->";
const MAX_METRIC_COLUMNS = 4;
const MAX_SWEEPS_IN_COMMENT = 10;

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

export const BUTTONS = {
  rerun: { label: "Re-run", description: "Run this sweep again at this commit", identifier: "rerun" },
  stop: { label: "Stop", description: "Stop its running and queued executions", identifier: "stop" },
} satisfies Record<string, CheckRunAction>;

/** The buttons of a model version's approval check run (app/bot/handle-event.ts routes them). */
export const APPROVAL_BUTTONS = {
  approve: { label: "Approve model", description: "Approve this model version", identifier: "approve_model" },
  reject: { label: "Reject", description: "Reject it (a reason is asked for)", identifier: "reject_model" },
} satisfies Record<string, CheckRunAction>;

/** An approval request of the model hub (app/models/review.ts), as shown on the pull request. */
export interface ApprovalRequestView {
  version: string;
  title: string;
  markdown: string;
}

/** The external id of a version's approval check run: how its buttons find the version. */
export const APPROVAL_EXTERNAL_PREFIX = "vh-model:";

export function approvalStateOf(r: ApprovalRequestView): "pending" | "approved" | "rejected" {
  return r.title.endsWith(" approved") ? "approved" : r.title.endsWith(" rejected") ? "rejected" : "pending";
}

/**
 * The check run of one version's approval request: completed at once (nothing runs), asking for
 * action while the version is pending (with the Approve model / Reject buttons), success once
 * approved, failure once rejected. `action_required` needs a details URL on GitHub, so without
 * one a pending request is `neutral`.
 */
export function renderApprovalCheckRun(r: ApprovalRequestView, opts: { hasDetailsUrl: boolean }): RenderedCheckRun {
  const state = approvalStateOf(r);
  const conclusion: CheckConclusion = state === "approved" ? "success" : state === "rejected" ? "failure" : opts.hasDetailsUrl ? "action_required" : "neutral";
  return {
    name: `vh: approve ${r.version}`,
    status: "completed",
    conclusion,
    title: r.title,
    summary: r.markdown,
    actions: state === "pending" ? [APPROVAL_BUTTONS.approve, APPROVAL_BUTTONS.reject] : [],
  };
}

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

function bestLine(v: SweepView, metric: MetricGoal | null): string {
  if (!sweepDone(v) || v.executions.length < 2) return "";
  const best = bestExecution(v, metric);
  if (!best || !metric) return "";
  return `\n**Best:** #${best.exec.counter} ${paramText(v, best.exec)}: ${metric.name} ${formatValue(best.value)} (${metric.goal === "min" ? "lowest" : "highest"})\n`;
}

function counts(v: SweepView): Map<ExecutionStatus, number> {
  const m = new Map<ExecutionStatus, number>();
  for (const e of v.executions) m.set(e.status, (m.get(e.status) ?? 0) + 1);
  return m;
}

export function headline(v: SweepView): string {
  const n = v.executions.length;
  const noun = n === 1 ? "execution" : "executions";
  const c = counts(v);
  if (sweepDone(v) && c.get("completed") === n) return n === 1 ? "1 execution completed" : `All ${n} ${noun} completed`;
  const parts = [...c.entries()].map(([s, k]) => `${k} ${s}`);
  return `${n} ${noun}: ${parts.join(", ")}`;
}

export function conclusionOf(v: SweepView): CheckConclusion | undefined {
  if (!sweepDone(v)) return undefined;
  const c = counts(v);
  if ((c.get("failed") ?? 0) + (c.get("error") ?? 0) + (c.get("lost") ?? 0) > 0) return "failure";
  if ((c.get("stopped") ?? 0) > 0) return "cancelled";
  return "success";
}

export function checkStatusOf(v: SweepView): "queued" | "in_progress" | "completed" {
  if (sweepDone(v)) return "completed";
  return v.executions.some((e) => !["created", "queued"].includes(e.status)) ? "in_progress" : "queued";
}

export function checkRunName(v: SweepView): string {
  return v.executions.length === 1 ? `vh: ${v.step}` : `vh: ${v.step} (sweep of ${v.executions.length})`;
}

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

export function renderCheckRun(v: SweepView, opts: { metric: MetricGoal | null; now: Date; logTails?: LogTail[] }): RenderedCheckRun {
  const metric = pickMetric(v, opts.metric);
  const status = checkStatusOf(v);
  const conclusion = conclusionOf(v);
  const spec = Object.entries(v.spec).map(([k, vals]) => `\`${k}=${vals.length > 1 ? `[${vals.join(",")}]` : vals[0]}\``).join(" ");
  const summary = fill("check-run-summary", {
    headline: `**${headline(v)}** · step \`${v.step}\`${spec ? ` · ${spec}` : ""} · commit \`${v.commitSha.slice(0, 7)}\``,
    table: sweepTable(v, metric, opts.now),
    best: bestLine(v, metric),
    footer: `Started by @${v.triggeredBy}${metric ? ` · best by ${metric.name} (${metric.goal === "min" ? "lowest" : "highest"})` : ""}`,
  });
  const tails = (opts.logTails ?? []).filter((t) => t.lines.length > 0);
  const text = tails.length
    ? tails
        .map((t) => fill("failure-text", { counter: t.counter, status: t.status, detail: t.detail ? `: ${t.detail}` : "", lines: t.lines.length, log: t.lines.join("\n").replace(/```/g, "`\u200b``") }))
        .join("\n")
    : undefined;
  return {
    name: checkRunName(v),
    status,
    ...(conclusion ? { conclusion } : {}),
    title: headline(v),
    summary,
    ...(text ? { text } : {}),
    actions: status === "completed" ? [BUTTONS.rerun] : [BUTTONS.stop, BUTTONS.rerun],
  };
}

function sweepSection(v: SweepView, metric: MetricGoal | null, now: Date): string {
  const n = v.executions.length;
  const title = n === 1 ? `\`${v.step}\`` : `\`${v.step}\` · grid sweep of ${n}`;
  const trigger = v.source.kind === "github" ? v.source.trigger : "api";
  const how = trigger === "push" ? "commit message" : trigger === "button" ? "check run button" : trigger === "rerun" ? "rerun" : "comment";
  return fill("sweep-section", {
    title,
    meta: `${headline(v)} · commit \`${v.commitSha.slice(0, 7)}\` · by @${v.triggeredBy} (${how})`,
    table: sweepTable(v, pickMetric(v, metric), now),
    best: bestLine(v, pickMetric(v, metric)),
  });
}

/** The one comment per pull request: every sweep of it (the newest ten), each with its table. */
export function renderSticky(
  pr: number,
  views: SweepView[],
  opts: { metrics: Map<string, MetricGoal | null>; now: Date; approvals?: ApprovalRequestView[] },
): string {
  const shown = views.slice(-MAX_SWEEPS_IN_COMMENT).reverse();
  const older = views.length - shown.length;
  const sections = shown.map((v) => sweepSection(v, opts.metrics.get(v.id) ?? null, opts.now).trimEnd() + "\n").join("\n");
  return fill("sticky-comment", {
    marker: STICKY_MARKER,
    pr,
    sweeps: sections + (older > 0 ? `\n_${older} older sweep${older === 1 ? "" : "s"} not shown._\n` : ""),
    approvals: opts.approvals?.length ? "\n" + renderApprovalSection(opts.approvals) : "",
  });
}

/** The sticky comment's approval section: one request per model version the pull request's executions produced. */
export function renderApprovalSection(approvals: ApprovalRequestView[]): string {
  return fill("approval-section", { requests: approvals.map((a) => a.markdown.trimEnd() + "\n").join("\n") });
}

export function renderStatusReply(login: string, views: SweepView[], opts: { metrics: Map<string, MetricGoal | null>; now: Date }): string {
  if (views.length === 0) return fill("replies/status", { login, summary: "Nothing has run on this pull request yet.", sweeps: "" }).trimEnd() + "\n";
  const active = views.flatMap((v) => v.executions).filter((e) => !["completed", "failed", "error", "stopped", "lost"].includes(e.status)).length;
  const total = views.reduce((n, v) => n + v.executions.length, 0);
  return fill("replies/status", {
    login,
    summary: `${total} execution${total === 1 ? "" : "s"} on this pull request, ${active} still active.`,
    sweeps: views
      .slice(-MAX_SWEEPS_IN_COMMENT)
      .reverse()
      .map((v) => sweepSection(v, opts.metrics.get(v.id) ?? null, opts.now).trimEnd() + "\n")
      .join("\n"),
  });
}

export const USAGE: Record<string, string> = {
  run: "`/vh run STEP name=value name=[v1,v2] --name=value`",
  status: "`/vh status`",
  stop: "`/vh stop N` or `/vh stop all`",
  rerun: "`/vh rerun N`",
  approve: "`/vh approve model://NAME/vN`",
  reject: "`/vh reject model://NAME/vN REASON`",
  help: "`/vh help`",
};

export function renderError(login: string, message: string, usage?: string): string {
  const u =
    usage === undefined
      ? ""
      : usage === "all"
        ? `\nCommands: ${Object.values(USAGE).join(" · ")}\n`
        : `\nUsage: ${USAGE[usage] ?? USAGE["help"]} · \`/vh help\` lists every command.\n`;
  return fill("replies/error", { login, message, usage: u }).trimEnd() + "\n";
}

export function renderRefused(login: string, reason: string, repo: string): string {
  return fill("replies/refused", { login, reason, repo });
}

export function renderHelp(cap: number, steps: string[] | null): string {
  return fill("replies/help", { cap, steps: steps === null ? "(no valohai.yaml at the head commit)" : steps.length ? steps.map((s) => `\`${s}\``).join(", ") : "(none)" });
}

export function renderDone(login: string, message: string): string {
  return fill("replies/done", { login, message });
}

/**
 * vh failed (not the user): what it could not do, the operator-facing message of a VhError (never
 * a stack trace or a raw library error), how often it was tried, and the delivery to look up.
 */
export function renderVhFailure(login: string, f: { what: string; message: string; attempts: number; delivery: string }): string {
  return fill("replies/vh-failure", { login, what: f.what, message: f.message, attempts: f.attempts, delivery: f.delivery });
}
