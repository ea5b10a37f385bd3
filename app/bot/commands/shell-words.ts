/**
 * Shell-style splitting, without any expansion: quotes group, backslashes escape, and `$(…)`,
 * backticks, `;`, `|` and globs are ordinary characters. Values reach the command line later
 * through shlexQuote, so whatever a comment says is passed as one literal argument.
 */
export type SplitResult = { ok: true; tokens: string[] } | { ok: false; message: string };

export function shellSplit(line: string): SplitResult {
  const tokens: string[] = [];
  let cur = "";
  let inToken = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else cur += ch;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) cur += line[++i];
      else cur += ch;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inToken) tokens.push(cur);
      cur = "";
      inToken = false;
      continue;
    }
    inToken = true;
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "\\" && i + 1 < line.length) cur += line[++i];
    else cur += ch;
  }
  if (quote) return { ok: false, message: `A ${quote === "'" ? "single" : "double"} quote is not closed.` };
  if (inToken) tokens.push(cur);
  return { ok: true, tokens };
}

/**
 * `[a, b, "c,d"]` → ["a", "b", "c,d"]; null when `value` is not a bracketed list. Items are
 * trimmed; quotes inside group commas and are removed.
 */
export function splitList(value: string): string[] | null {
  const v = value.trim();
  if (!(v.startsWith("[") && v.endsWith("]"))) return null;
  const inner = v.slice(1, -1);
  const items: string[] = [];
  let cur = "";
  let quote: string | null = null;
  let quoted = false;
  for (const ch of inner) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      if (!quoted && cur.trim() === "") cur = "";
      quote = ch;
      quoted = true;
      continue;
    }
    if (ch === ",") {
      items.push(quoted ? cur : cur.trim());
      cur = "";
      quoted = false;
      continue;
    }
    if (quoted && /\s/.test(ch)) continue;
    cur += ch;
  }
  if (cur.trim() !== "" || quoted || items.length > 0) items.push(quoted ? cur : cur.trim());
  return items;
}
