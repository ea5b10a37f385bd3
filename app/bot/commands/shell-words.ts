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

// The list rule is the sweeps' own (app/sweeps/lists.ts), shared with the GitHub Action.
export { splitList } from "../../sweeps/lists.js";
