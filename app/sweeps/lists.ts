/**
 * A sweep's value list as people write it, in `/vh run` comments, commit messages and the GitHub
 * Action's `parameters`: `lr=[0.1,0.2]`, `note=["a,b", c]`. One rule for all of them. Pure.
 */

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
