/** Small Markdown helpers shared by the model templates (sizes: templates/format.ts). Pure. */

export function cell(v: unknown): string {
  if (v === undefined || v === null) return "–";
  const s = typeof v === "string" ? v : typeof v === "number" ? String(Math.round(v * 1e6) / 1e6) : JSON.stringify(v);
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export function short(sha: string | null | undefined, n = 12): string {
  return sha ? sha.slice(0, n) : "–";
}

export function table(header: string[], rows: string[][]): string {
  if (rows.length === 0) return "";
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n") + "\n";
}

/** A hidden marker so a bot finds its own comment again (ensureComment). */
export function marker(kind: string, key: string): string {
  return `<!-- vh:${kind} ${key} -->`;
}
