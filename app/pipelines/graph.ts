/**
 * A pipeline's graph, pure: which nodes each node waits for (every edge makes its target wait for
 * its source, whatever the socket types), a cycle refused with the nodes on it, the parameter
 * values a node is given (pipeline parameters' targets, `--param node.name=value`, parameter and
 * metadata edges), and the Mermaid drawing of node states that reports show.
 */
import type { PipelineEdgeRecord, PipelineNodeStatus } from "../../db/schema/pipelines.js";

/** node → the nodes it waits for. */
export function upstreamOf(nodes: readonly string[], edges: readonly PipelineEdgeRecord[]): Map<string, Set<string>> {
  const up = new Map(nodes.map((n) => [n, new Set<string>()]));
  for (const e of edges) if (e.sourceNode !== e.targetNode) up.get(e.targetNode)?.add(e.sourceNode);
  return up;
}

/** The nodes of a cycle, or null when the graph is acyclic. */
export function findCycle(nodes: readonly string[], edges: readonly PipelineEdgeRecord[]): string[] | null {
  const up = upstreamOf(nodes, edges);
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === "done") return null;
    if (state.get(n) === "visiting") return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, "visiting");
    stack.push(n);
    for (const u of up.get(n) ?? []) {
      const c = visit(u);
      if (c) return c;
    }
    stack.pop();
    state.set(n, "done");
    return null;
  };
  for (const n of nodes) {
    const c = visit(n);
    if (c) return c.reverse();
  }
  for (const e of edges) if (e.sourceNode === e.targetNode) return [e.sourceNode, e.sourceNode];
  return null;
}

/** `node.parameter.NAME` (or `node.parameters.NAME`) → [node, NAME]; null when it is not a parameter target. */
export function parameterTarget(target: string): [string, string] | null {
  const m = /^([^.]+)\.(?:parameter|parameters)\.(.+)$/.exec(target);
  return m ? [m[1]!, m[2]!] : null;
}

const SHAPE: Record<PipelineNodeStatus, string> = {
  waiting: "⏳ waiting",
  "awaiting-approval": "✋ awaiting approval",
  running: "🏃 running",
  completed: "✅ completed",
  reused: "♻️ reused",
  failed: "❌ failed",
  skipped: "⏭️ skipped",
  stopped: "⏹️ stopped",
};

const CLASS: Record<PipelineNodeStatus, string> = {
  waiting: "waiting",
  "awaiting-approval": "waiting",
  running: "running",
  completed: "ok",
  reused: "ok",
  failed: "bad",
  skipped: "idle",
  stopped: "idle",
};

/** Mermaid `graph LR` of the nodes with their states; edges labelled `type.key → type.key`. Labels are quoted and escaped. */
export function pipelineMermaid(nodes: readonly { name: string; status: PipelineNodeStatus; detail?: string | null }[], edges: readonly PipelineEdgeRecord[]): string {
  const id = new Map(nodes.map((n, i) => [n.name, `n${i}`]));
  const esc = (s: string) => s.replace(/["<>]/g, (c) => (c === '"' ? "#quot;" : c === "<" ? "#lt;" : "#gt;")).replace(/\r?\n/g, " ");
  const lines = ["graph LR"];
  for (const n of nodes) lines.push(`  ${id.get(n.name)}["${esc(n.name)}<br/>${SHAPE[n.status]}${n.detail ? `<br/>${esc(n.detail)}` : ""}"]:::${CLASS[n.status]}`);
  for (const e of edges) {
    const from = id.get(e.sourceNode);
    const to = id.get(e.targetNode);
    if (from && to) lines.push(`  ${from} -->|"${esc(`${e.sourceType}.${e.sourceKey} → ${e.targetType}.${e.targetKey}`)}"| ${to}`);
  }
  lines.push("  classDef ok fill:#dafbe1,stroke:#1a7f37", "  classDef bad fill:#ffebe9,stroke:#cf222e", "  classDef running fill:#ddf4ff,stroke:#0969da", "  classDef waiting fill:#fff8c5,stroke:#9a6700", "  classDef idle fill:#f6f8fa,stroke:#8c959f");
  return lines.join("\n");
}
