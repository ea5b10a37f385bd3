/** `vh exec diff A B`: only what differs, grouped by section, aligned. Pure: data in, text out. */
import type { DiffSectionName, ExecutionDiff } from "../../app/executions/diff.js";
import { aligned, percent, signed } from "./format.js";

const TITLES: Record<DiffSectionName, string> = {
  code: "Code",
  image: "Image",
  command: "Command",
  parameters: "Parameters",
  inputs: "Inputs",
  environment: "Environment",
  runtime: "Hardware and runtime",
  metrics: "Metrics (last values)",
  outputs: "Outputs (sha256)",
};

const ABSENT = "(none)";

export function renderDiff(d: ExecutionDiff): string {
  const a = `#${d.a.counter}`;
  const b = `#${d.b.counter}`;
  if (d.same) return `${a} and ${b} are the same in ${d.sections.map((s) => TITLES[s.name].toLowerCase().replace(/ \(.*\)$/, "")).join(", ")}.\n`;
  const lines = [`What differs from ${a} (${d.a.step}, ${d.a.status}) to ${b} (${d.b.step}, ${d.b.status}):`];
  for (const s of d.sections) {
    if (s.entries.length === 0) continue;
    lines.push("", `${TITLES[s.name]}:`);
    lines.push(
      ...aligned(
        s.entries.map((e) => [
          e.key,
          e.a ?? ABSENT,
          "→",
          e.b ?? ABSENT,
          e.note ? `(${e.note})` : e.delta ? `(${signed(e.delta.absolute)}, ${percent(e.delta.relative)})` : "",
        ]),
      ),
    );
  }
  return lines.join("\n") + "\n";
}
