/** `vh lineage`: the lineage of a version as an indented tree (upstream, then downstream). Pure. */
import type { FullLineage, LineageExecution } from "../../app/models/lineage.js";

function execText(e: LineageExecution | undefined, id: string): string {
  if (!e) return `execution ${id}`;
  const code = e.commitSha ? `commit ${e.commitSha.slice(0, 12)}` : e.codeSha256 ? `code ${e.codeSha256.slice(0, 12)}` : "no code";
  const made = e.produced.length ? `, made ${e.produced.join(", ")}` : "";
  return `${e.project} #${e.counter} ${e.step} (${e.status}, ${code}${made})`;
}

export function renderLineageTree(l: FullLineage): string {
  const out: string[] = [`${l.version} (${l.status}, files ${l.filesSha256.slice(0, 12)})`];
  const up = l.upstream;
  const byConsumer = new Map<string | null, typeof up.edges>();
  for (const e of up.edges) byConsumer.set(e.consumer, [...(byConsumer.get(e.consumer) ?? []), e]);
  const seen = new Set<string>();
  const walk = (consumer: string | null, prefix: string) => {
    const edges = byConsumer.get(consumer) ?? [];
    edges.forEach((e, i) => {
      const last = i === edges.length - 1;
      const branch = prefix + (last ? "└─ " : "├─ ");
      const next = prefix + (last ? "   " : "│  ");
      const what = consumer === null ? `file ${e.name}` : `input ${e.input}: ${e.name}`;
      const from = e.modelVersion ? ` ← ${e.modelVersion}` : e.producer ? "" : ` ← ${e.uri}`;
      out.push(`${branch}${what} sha256 ${e.sha256.slice(0, 12)}${from}`);
      if (!e.producer) return;
      const producedBy = `${next}└─ from ${execText(up.executions[e.producer], e.producer)}`;
      if (seen.has(e.producer)) {
        out.push(`${producedBy} (shown above)`);
        return;
      }
      seen.add(e.producer);
      out.push(producedBy);
      walk(e.producer, next + "   ");
    });
  };
  walk(null, "");
  const down = l.downstream;
  if (down.edges.length === 0) {
    out.push("", "used by: nobody yet");
    return out.join("\n") + "\n";
  }
  out.push("", "used by:");
  const children = new Map<string | null, typeof down.edges>();
  for (const e of down.edges) children.set(e.producer, [...(children.get(e.producer) ?? []), e]);
  const shown = new Set<string>();
  const walkDown = (producer: string | null, prefix: string) => {
    const edges = children.get(producer) ?? [];
    edges.forEach((e, i) => {
      const last = i === edges.length - 1;
      const via = producer === null ? `${e.uri}${e.modelVersion && e.modelVersion !== e.uri ? ` → ${e.modelVersion}` : ""}` : e.uri;
      const again = shown.has(e.consumer);
      out.push(`${prefix}${last ? "└─ " : "├─ "}${execText(down.executions[e.consumer], e.consumer)} input ${e.input} ← ${via}${again ? " (shown above)" : ""}`);
      if (again) return;
      shown.add(e.consumer);
      walkDown(e.consumer, prefix + (last ? "   " : "│  "));
    });
  };
  walkDown(null, "");
  return out.join("\n") + "\n";
}
