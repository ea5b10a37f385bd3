/**
 * The job summary (GITHUB_STEP_SUMMARY) of one run of the Action: a headline, the leaderboard
 * (best first by the chosen metric, then the rest by number: status, parameters, metrics,
 * duration, link), the best execution, and why each that did not complete failed. Pure: a
 * RunResult in, Markdown out, never over `maxBytes` (GitHub takes 1 MiB per step): rows past
 * what fits are left out, with a line saying how many and where they are.
 */
import { formatSeconds, whyLines, type ExecutionResult, type RunResult } from "./main.js";

/** Below GitHub's 1 MiB, with room for what other steps of the job append. */
export const MAX_SUMMARY_BYTES = 1000 * 1024;
const MAX_METRIC_COLUMNS = 4;
const MAX_CELL = 80;
const ENDED_BADLY = new Set(["failed", "error", "stopped", "lost"]);

const ICON: Record<string, string> = {
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
  const t = s.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
  return t.length > MAX_CELL ? `${t.slice(0, MAX_CELL - 1)}…` : t;
}

function codeSpan(s: string): string {
  const t = cell(s).replace(/`/g, "ˋ");
  return `\`${t}\``;
}

export function formatValue(v: unknown): string {
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const p = Number(v.toPrecision(4));
    return Math.abs(p) >= 1e-4 || p === 0 ? String(p) : p.toExponential(2);
  }
  if (v && typeof v === "object" && "value" in v && typeof (v as { value: unknown }).value === "number") return formatValue((v as { value: number }).value);
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "—";
  return JSON.stringify(v);
}

function metricColumns(r: RunResult): string[] {
  const keys: string[] = r.metric ? [r.metric.name] : [];
  for (const e of r.executions) {
    for (const [k, v] of Object.entries(e.metrics)) {
      if (keys.length >= MAX_METRIC_COLUMNS) break;
      if ((typeof v === "number" || typeof v === "string") && !keys.includes(k)) keys.push(k);
    }
  }
  return keys;
}

/** Best first (completed, with the metric), then the rest in the order they were made. */
function leaderboard(r: RunResult): ExecutionResult[] {
  const m = r.metric;
  if (!m || !r.waited) return r.executions;
  const score = (e: ExecutionResult): number | null => {
    const v = e.metrics[m.name];
    return e.status === "completed" && typeof v === "number" && Number.isFinite(v) ? v : null;
  };
  return [...r.executions].sort((a, b) => {
    const sa = score(a);
    const sb = score(b);
    if (sa !== null && sb !== null && sa !== sb) return m.goal === "min" ? sa - sb : sb - sa;
    if (sa !== null && sb === null) return -1;
    if (sa === null && sb !== null) return 1;
    return a.counter - b.counter;
  });
}

function headline(r: RunResult): string {
  const n = r.executions.length;
  const noun = n === 1 ? "execution" : "executions";
  if (!r.waited) return `Started ${n} ${noun}`;
  if (r.timedOut) return `Timed out after ${r.timedOut.minutes} min`;
  const counts = new Map<string, number>();
  for (const e of r.executions) counts.set(e.status, (counts.get(e.status) ?? 0) + 1);
  if (counts.get("completed") === n) return n === 1 ? "Completed" : `All ${n} ${noun} completed`;
  return `${n} ${noun}: ${[...counts.entries()].map(([s, k]) => `${k} ${s}`).join(", ")}`;
}

function paramText(e: ExecutionResult): string {
  const entries = Object.entries(e.parameters);
  return entries.length ? entries.map(([k, v]) => codeSpan(`${k}=${formatValue(v)}`)).join(" ") : "(defaults)";
}

function table(r: RunResult, rows: ExecutionResult[]): string {
  const cols = metricColumns(r);
  const head = ["Execution", "Parameters", "Status", ...cols.map(cell), "Duration"];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_h, i) => (i >= 3 && i < 3 + cols.length ? "---:" : "---")).join("|")}|`];
  for (const e of rows) {
    const metrics = cols.map((k) => cell(formatValue(e.metrics[k])));
    const took = e.durationSeconds === null ? "—" : formatSeconds(e.durationSeconds);
    lines.push(`| [#${e.counter}](${e.url}) | ${paramText(e)} | ${ICON[e.status] ?? ""} ${e.status} | ${[...metrics, took].join(" | ")} |`);
  }
  return lines.join("\n");
}

function failures(r: RunResult, limit: number): string {
  // Those that ended without completing; one still stopping after a timeout has nothing to say yet.
  const bad = r.executions.filter((e) => r.waited && ENDED_BADLY.has(e.status)).slice(0, limit);
  return bad
    .map((e) => {
      const [head, ...rest] = whyLines(e);
      const tail = rest.slice(1).map((l) => l.slice(2).replace(/```/g, "ˋˋˋ"));
      return tail.length ? `<details><summary>${escapeHtml(head!)}</summary>\n\n\`\`\`text\n${tail.join("\n")}\n\`\`\`\n\n</details>` : `- ${escapeHtml(head!)}`;
    })
    .join("\n\n");
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function render(r: RunResult, rows: number, runUrl: string | null): string {
  const n = r.executions.length;
  const what = r.sweepId ? `\`${cell(r.step)}\` · grid sweep of ${n}` : `\`${cell(r.step)}\``;
  const code = r.code.kind === "adhoc" ? `workspace uploaded as \`${r.code.sha256.slice(0, 12)}\`` : `commit \`${cell(r.code.commit.slice(0, 12))}\``;
  const board = leaderboard(r);
  const shown = board.slice(0, rows);
  const parts = [
    `### vh: ${what} — ${headline(r)}`,
    "",
    `Project \`${cell(r.project)}\` · ${code} · [${r.sweepId ? "sweep" : "execution"}](${r.url})${runUrl ? ` · [this run](${runUrl})` : ""}`,
    "",
    table(r, shown),
  ];
  if (shown.length < board.length) parts.push("", `… and ${board.length - shown.length} more (the summary has room for ${shown.length}): see [the ${r.sweepId ? "sweep" : "execution"}](${r.url}).`);
  if (r.best && r.metric && n > 1) {
    const e = r.executions.find((x) => x.counter === r.best!.counter)!;
    parts.push("", `**Best:** [#${e.counter}](${e.url}) ${paramText(e)}: ${cell(r.metric.name)} ${formatValue(r.best.value)} (${r.metric.goal === "min" ? "lowest" : "highest"})`);
  }
  if (r.timedOut) {
    const stopped = r.timedOut.stopped.map((c) => `#${c}`).join(", ");
    parts.push("", `⏱️ Stopped waiting after ${r.timedOut.minutes} min (\`timeout-minutes\`)${stopped ? `; asked ${stopped} to stop` : ""}.`);
  }
  const f = failures(r, rows);
  if (f) parts.push("", f);
  return `${parts.join("\n")}\n`;
}

export function renderSummary(r: RunResult, opts: { runUrl?: string | null; maxBytes?: number } = {}): string {
  const max = opts.maxBytes ?? MAX_SUMMARY_BYTES;
  let rows = r.executions.length;
  for (;;) {
    const md = render(r, rows, opts.runUrl ?? null);
    if (Buffer.byteLength(md) <= max || rows === 0) return md;
    rows = Math.floor(rows / 2);
  }
}
