/**
 * Templates are files under templates/github/; `fill` puts values into `{{name}}` slots. Loaded
 * once at import; rendering is pure. An unknown or missing slot is a bug and throws.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), ".");

export const TEMPLATE_NAMES = [
  "check-run-summary",
  "sticky-comment",
  "sweep-section",
  "failure-text",
  "approval-section",
  "replies/refused",
  "replies/error",
  "replies/help",
  "replies/status",
  "replies/done",
  "replies/vh-failure",
] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

const texts = new Map<TemplateName, string>(TEMPLATE_NAMES.map((n) => [n, fs.readFileSync(path.join(root, `${n}.md`), "utf8")]));

export function fill(name: TemplateName, values: Record<string, string | number>): string {
  const text = texts.get(name)!;
  const used = new Set<string>();
  const out = text.replace(/\{\{(\w+)\}\}/g, (_m, key: string) => {
    if (!(key in values)) throw new Error(`template ${name}: no value for {{${key}}}`);
    used.add(key);
    return String(values[key]);
  });
  for (const k of Object.keys(values)) if (!used.has(k)) throw new Error(`template ${name}: {{${k}}} is not in the template`);
  return out;
}
