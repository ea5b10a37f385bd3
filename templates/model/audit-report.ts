/**
 * `vh model report model://x/v3 --format md`: identity, training data with checksums, code,
 * parameters, environment and hardware, metrics, approvals and history, downstream use. Pure.
 */
import type { AuditReport } from "../../app/models/audit.js";
import { formatBytes } from "../format.js";
import { cell, table } from "./format.js";

function code(s: string): string {
  return `\`${s.replace(/`/g, "'")}\``;
}

export function renderAuditReport(r: AuditReport): string {
  const out: string[] = [`# Audit report: ${r.version}`, "", `Generated ${r.generatedAt}.`, ""];
  out.push("## Identity", "");
  out.push(
    table(
      ["field", "value"],
      [
        ["model", r.model.name],
        ["version", r.version],
        ["id", code(r.id)],
        ["status", r.status + (r.status === "approved" && !r.approvalValid ? " (approval no longer matches the files)" : "")],
        ["files digest (sha256)", code(r.filesSha256)],
        ["approved digest", r.approvedSha256 ? code(r.approvedSha256) : "–"],
        ["created", `${r.createdAt} by ${r.createdBy ?? "–"} (${r.sourceKind})`],
        ["tags", r.tags.length ? r.tags.join(", ") : "–"],
        ["description", cell(r.description)],
        ["current latest", r.latest ?? "none approved"],
      ],
    ),
  );
  out.push("### Files", "", table(["file", "sha256", "size", "datum"], r.files.map((f) => [code(f.name), code(f.sha256), formatBytes(f.size), f.datum])));
  out.push("## Training data", "");
  if (r.trainingData.length === 0) out.push("No recorded inputs.", "");
  else {
    out.push(
      table(
        ["consumed by", "input", "file", "sha256", "source"],
        r.trainingData.map((e) => {
          const ex = e.consumer ? r.upstream.executions[e.consumer] : undefined;
          const src = e.modelVersion ?? (e.producer ? `output of #${r.upstream.executions[e.producer]?.counter ?? "?"}` : e.uri);
          return [ex ? `${ex.project} #${ex.counter} ${ex.step}` : "–", e.input ?? "–", code(e.name), code(e.sha256), src];
        }),
      ),
    );
  }
  const e = r.execution;
  out.push("## Code", "");
  if (!e) out.push("No source execution (a version made from files by hand).", "");
  else {
    out.push(
      table(
        ["field", "value"],
        [
          ["execution", `${e.project} #${e.counter} (${e.id})`],
          ["step", e.step],
          ["commit", e.commitSha ? code(e.commitSha) : "–"],
          ["code snapshot (sha256)", e.codeSha256 ? code(e.codeSha256) : "–"],
          ["valohai.yaml", e.yamlPath],
          ["triggered by", e.triggeredBy ?? "–"],
        ],
      ),
      "Command:",
      "",
      "```sh",
      e.command,
      "```",
      "",
    );
    out.push("## Parameters", "");
    const params = Object.keys(e.parameters).sort();
    out.push(params.length ? table(["parameter", "value"], params.map((k) => [k, cell(e.parameters[k])])) : "None.\n");
    out.push("## Environment and hardware", "");
    const rt = e.runtime ?? {};
    const host = (rt["host"] ?? {}) as Record<string, unknown>;
    const hw = Object.keys(host).sort().map((k) => [`host.${k}`, cell(host[k])]);
    out.push(
      table(
        ["field", "value"],
        [
          ["image", code(e.image)],
          ["image digest", cell(rt["imageDigest"])],
          ["mode", cell(rt["mode"])],
          ["runner", cell(rt["runner"])],
          ["gpus requested", String(e.gpus)],
          ...hw,
          ...Object.keys(e.environmentVariables).sort().map((k) => [`env ${k}`, cell(e.environmentVariables[k])]),
          ["started", e.startedAt ?? "–"],
          ["ended", e.endedAt ?? "–"],
          ["duration", e.durationSeconds === null ? "–" : `${e.durationSeconds.toFixed(1)} s`],
        ],
      ),
    );
    out.push("## Metrics", "");
    const keys = Object.keys(e.metrics).sort();
    out.push(keys.length ? table(["metric", "last value"], keys.map((k) => [k, cell(e.metrics[k])])) : "None recorded.\n");
  }
  out.push("## Approvals and history", "");
  out.push(
    table(
      ["time", "event", "actor", "source", "reason / details"],
      r.history.map((h) => {
        const d = h.kind === "alias_changed" ? `latest: ${cell(h.details["from"])} → ${cell(h.details["to"])}` : h.kind === "used" ? `by #${cell(h.details["counter"])} as ${cell(h.details["uri"])}` : "";
        return [h.at, h.kind, h.actor, h.sourceUrl ? `[${h.source}](${h.sourceUrl})` : h.source, cell(h.reason ?? (d || null))];
      }),
    ),
  );
  out.push("## Downstream use", "");
  if (r.downstream.edges.length === 0) out.push("Not used by any execution yet.", "");
  else {
    out.push(
      table(
        ["execution", "input", "via", "status"],
        r.downstream.edges.map((d) => {
          const x = r.downstream.executions[d.consumer];
          return [x ? `${x.project} #${x.counter} ${x.step}` : d.consumer, d.input, d.modelVersion && d.modelVersion !== d.uri ? `${d.uri} → ${d.modelVersion}` : d.uri, x?.status ?? "–"];
        }),
      ),
    );
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}
