/** Numbers and values as the reproduction texts show them. Pure. */

/** A number short: six significant digits at most, no trailing zeros (`0.05`, `1.23457e-7`). */
export function shortNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return String(Number(n.toPrecision(6)));
}

/** A signed difference: `+0.05`, `-3`. */
export function signed(n: number): string {
  return `${n > 0 ? "+" : n < 0 ? "-" : "±"}${shortNumber(Math.abs(n))}`;
}

/** A relative difference as a percentage: `20%`, `0.0001%`. */
export function percent(r: number): string {
  return `${shortNumber(r * 100)}%`;
}

/** A JSON value as one line: strings as they are, anything else as JSON. */
export function valueText(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  return JSON.stringify(v) ?? "null";
}

/** Lines of `rows`, each column padded to its widest cell (the last one not). */
export function aligned(raw: string[][], indent = "  "): string[] {
  // One line per row: a line break inside a value (a command line, a metric's text) is shown as \n.
  const rows = raw.map((r) => r.map((c) => c.replace(/\r?\n/g, "\\n")));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd());
}
