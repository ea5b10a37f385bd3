/** The lineage of a version as a Mermaid flowchart (GitHub renders ```mermaid blocks). Pure. */
import type { DownstreamEdge, Lineage, LineageExecution, UpstreamEdge } from "../../app/models/lineage.js";

export interface MermaidInput {
  version: string;
  upstream: Lineage<UpstreamEdge>;
  downstream: Lineage<DownstreamEdge>;
}

function label(s: string): string {
  return `"${s.replace(/"/g, "#quot;").replace(/[<>]/g, (c) => (c === "<" ? "#lt;" : "#gt;")).replace(/\n/g, "<br/>")}"`;
}

function execLabel(e: LineageExecution | undefined, id: string): string {
  return e ? `#${e.counter} ${e.step}` : `execution ${id.slice(0, 8)}`;
}

/** Returns the fenced block (```mermaid … ```). */
export function renderLineageMermaid(input: MermaidInput): string {
  const lines: string[] = ["```mermaid", "flowchart LR"];
  const ids = new Map<string, string>();
  const declared = new Set<string>();
  const idOf = (key: string, prefix: string) => {
    let id = ids.get(key);
    if (!id) {
      id = `${prefix}${ids.size + 1}`;
      ids.set(key, id);
    }
    return id;
  };
  const node = (key: string, prefix: string, text: string, shape: "box" | "round" | "data" = "box") => {
    const id = idOf(key, prefix);
    if (!declared.has(id)) {
      declared.add(id);
      const open = shape === "round" ? "([" : shape === "data" ? "[(" : "[";
      const close = shape === "round" ? "])" : shape === "data" ? ")]" : "]";
      lines.push(`  ${id}${open}${label(text)}${close}`);
    }
    return id;
  };
  const execs = { ...input.upstream.executions, ...input.downstream.executions };
  const v = node(`version:${input.version}`, "v", input.version, "round");
  const arrows = new Set<string>();
  const arrow = (from: string, to: string, text?: string) => {
    const a = text ? `  ${from} -->|${label(text)}| ${to}` : `  ${from} --> ${to}`;
    if (!arrows.has(a)) arrows.add(a);
  };
  for (const e of input.upstream.edges) {
    const to = e.consumer === null ? v : node(`exec:${e.consumer}`, "e", execLabel(execs[e.consumer], e.consumer));
    const producer = e.producer ? node(`exec:${e.producer}`, "e", execLabel(execs[e.producer], e.producer)) : null;
    if (e.modelVersion) {
      const m = node(`version:${e.modelVersion}`, "v", e.modelVersion, "round");
      if (producer) arrow(producer, m, e.name);
      arrow(m, to, e.input ?? undefined);
      continue;
    }
    const from = producer ?? node(`data:${e.uri}`, "d", `${e.uri}\nsha256 ${e.sha256.slice(0, 12)}`, "data");
    arrow(from, to, e.consumer === null ? e.name : (e.input ?? e.name));
  }
  for (const e of input.downstream.edges) {
    const to = node(`exec:${e.consumer}`, "e", execLabel(execs[e.consumer], e.consumer));
    const from = e.producer ? node(`exec:${e.producer}`, "e", execLabel(execs[e.producer], e.producer)) : v;
    arrow(from, to, e.input);
  }
  lines.push(...arrows, `  style ${v} stroke-width:3px`, "```");
  return lines.join("\n") + "\n";
}
