/** Small text helpers for human output: tables, durations, sizes, times. */

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "-";
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}h${String(m).padStart(2, "0")}m${rest}s` : `${m}m${rest}s`;
}

/** Sizes: the templates' rule (templates/format.ts), so the CLI and the reports agree. */
export { formatBytes } from "../../templates/format.js";

/** `2025-01-02T03:04:05.678Z` → `2025-01-02 03:04:05` (UTC, so output is the same everywhere). */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "-";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().slice(0, 19).replace("T", " ");
}

/**
 * Text that came from a job (log lines, output names, titles) made safe for a terminal: control
 * characters — ESC and the rest of C0 except tab (and newline when `multiline`), DEL, and C1 (a
 * lone 0x9b is a CSI on some terminals) — are shown as visible `\xNN` escapes instead of being
 * obeyed, so a job cannot move the cursor, rewrite the screen, set the window title or hide text.
 */
export function printable(s: string, opts: { multiline?: boolean } = {}): string {
  const re = opts.multiline ? /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g : /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;
  return s.replace(re, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** Rows as left-aligned columns separated by two spaces; trailing spaces trimmed; cells made printable. */
export function columns(rawRows: string[][]): string {
  const rows = rawRows.map((r) => r.map((c) => printable(c)));
  const n = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: n }, (_, i) => Math.max(0, ...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd() + "\n").join("");
}

export function table(header: string[], rows: string[][]): string {
  return columns([header, ...rows]);
}

/** A JSON value shown in one line for humans: strings bare, the rest as JSON. */
export function showValue(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

export function jsonText(v: unknown): string {
  return JSON.stringify(v, null, 2) + "\n";
}
