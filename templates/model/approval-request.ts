/**
 * The approval request for a model version, for a check run and the sticky PR comment: the
 * version, its files and digest, metrics compared with the current `latest`, a lineage link and
 * graph, and how to approve or reject. Pure: the facts app/models/review.ts gathers in, text out
 * (golden tests in test/templates/model/).
 */
import type { ForgeKind } from "../../app/contracts/forge.js";
import type { ApprovalRequest } from "../../app/models/review.js";
import { formatBytes } from "../format.js";
import { cell, marker, short, table } from "./format.js";
import { renderLineageMermaid } from "./lineage-mermaid.js";

export interface RenderedApprovalRequest {
  /** Check run title (one line). */
  title: string;
  /** Check run summary / comment body (markdown). */
  markdown: string;
}

function statusLine(d: ApprovalRequest): string {
  if (d.status === "approved") return `✅ **Approved** by ${d.statusBy ?? "someone"} for files \`${short(d.filesSha256)}\`.`;
  if (d.status === "rejected") return `❌ **Rejected** by ${d.statusBy ?? "someone"}: ${d.statusReason ?? "(no reason)"}`;
  return `⏳ **Waiting for approval.**`;
}

export function renderApprovalRequest(d: ApprovalRequest, forge: ForgeKind = "github"): RenderedApprovalRequest {
  const title =
    d.status === "approved" ? `${d.version} approved` : d.status === "rejected" ? `${d.version} rejected` : `${d.version} needs approval`;
  const out: string[] = [marker("model-approval", d.version), `### Model ${d.version}`, "", statusLine(d), ""];
  if (d.execution) {
    const e = d.execution;
    out.push(
      `Trained by ${e.project} #${e.counter} (\`${e.step}\`)${e.commitSha ? ` at commit \`${short(e.commitSha, 7)}\`` : ""}${e.triggeredBy ? `, triggered by @${e.triggeredBy}` : ""}.`,
      "",
    );
  }
  out.push(`Files (digest \`${short(d.filesSha256)}\`; an approval holds for exactly these files):`, "");
  out.push(table(["file", "sha256", "size"], d.files.map((f) => [`\`${f.name}\``, `\`${short(f.sha256)}\``, formatBytes(f.size)])));
  const keys = [...new Set([...Object.keys(d.metrics), ...Object.keys(d.latest?.metrics ?? {})])].sort();
  if (keys.length) {
    if (d.latest) {
      out.push(`Metrics, compared with the current latest (${d.latest.version}):`, "");
      out.push(table(["metric", d.version, d.latest.version], keys.map((k) => [k, cell(d.metrics[k]), cell(d.latest!.metrics[k])])));
    } else {
      out.push("Metrics (no approved version to compare with yet):", "");
      out.push(table(["metric", d.version], keys.map((k) => [k, cell(d.metrics[k])])));
    }
  }
  if (d.lineage) out.push("<details><summary>Lineage</summary>", "", renderLineageMermaid(d.lineage), "</details>", "");
  if (d.lineageUrl) out.push(`Full lineage: ${d.lineageUrl}`, "");
  if (d.status === "pending") {
    const sha = d.execution?.commitSha ? ` on commit \`${short(d.execution.commitSha, 7)}\`` : "";
    out.push(
      forge === "gitlab"
        ? "**To approve**, approve this merge request" + sha + " (the Developer role or higher needed; an approval of an older commit does not count), or comment:"
        : "**To approve**, submit an approving review of this pull request" + sha + " (write permission on the repository needed; a review of an older commit does not count), or comment:",
      "",
      "```",
      `/vh approve ${d.version}`,
      "```",
      "",
      "**To reject**, comment with a reason:",
      "",
      "```",
      `/vh reject ${d.version} REASON`,
      "```",
    );
    if (d.separationOfDuties && d.execution?.triggeredBy) out.push("", `Separation of duties is on: @${d.execution.triggeredBy} triggered the training and cannot approve it.`);
  }
  return { title, markdown: out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n" };
}
