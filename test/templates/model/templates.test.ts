/** Golden tests: each variant of each model template against a file under golden/ (vitest -u rewrites them). */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { renderApprovalRequest, type ApprovalRequestData } from "../../../templates/model/approval-request.js";
import { renderAuditReport } from "../../../templates/model/audit-report.js";
import { renderLineageMermaid } from "../../../templates/model/lineage-mermaid.js";
import { renderLineageTree } from "../../../templates/model/lineage-tree.js";
import { lineage, report } from "./data.js";

const golden = (name: string) => path.join(import.meta.dirname, "golden", name);

const base: ApprovalRequestData = {
  version: "model://churn/v3",
  status: "pending",
  statusBy: null,
  statusReason: null,
  filesSha256: "f".repeat(64),
  files: [{ name: "model.bin", sha256: "a".repeat(64), size: 2048 }],
  execution: { project: "churn", counter: 12, step: "train", commitSha: "c0ffee".padEnd(40, "0"), triggeredBy: "trainer" },
  metrics: { loss: 0.125, accuracy: 0.875 },
  latest: null,
  separationOfDuties: false,
  lineageUrl: null,
  mermaid: null,
};

describe("approval request", () => {
  it("pending, first version (nothing to compare with), separation of duties on", async () => {
    const r = renderApprovalRequest({ ...base, separationOfDuties: true });
    expect(r.title).toBe("model://churn/v3 needs approval");
    await expect(r.markdown).toMatchFileSnapshot(golden("approval-request-pending-first.md"));
  });
  it("pending, compared with the current latest, with lineage link and graph", async () => {
    const r = renderApprovalRequest({
      ...base,
      latest: { version: "model://churn/v2", metrics: { loss: 0.25, accuracy: 0.75, auc: 0.8 } },
      lineageUrl: "https://vh.example.com/api/v1/models/churn/versions/3/lineage",
      mermaid: renderLineageMermaid(lineage),
    });
    await expect(r.markdown).toMatchFileSnapshot(golden("approval-request-pending-vs-latest.md"));
  });
  it("approved", async () => {
    const r = renderApprovalRequest({ ...base, status: "approved", statusBy: "lead" });
    expect(r.title).toBe("model://churn/v3 approved");
    await expect(r.markdown).toMatchFileSnapshot(golden("approval-request-approved.md"));
  });
  it("rejected", async () => {
    const r = renderApprovalRequest({ ...base, status: "rejected", statusBy: "lead", statusReason: "AUC | below 0.7", execution: null, metrics: {} });
    expect(r.title).toBe("model://churn/v3 rejected");
    await expect(r.markdown).toMatchFileSnapshot(golden("approval-request-rejected.md"));
  });
});

describe("lineage", () => {
  it("Mermaid graph", async () => {
    await expect(renderLineageMermaid(lineage)).toMatchFileSnapshot(golden("lineage.mermaid.md"));
  });
  it("Mermaid graph of a version nobody used", async () => {
    await expect(renderLineageMermaid({ ...lineage, downstream: { ...lineage.downstream, edges: [] } })).toMatchFileSnapshot(golden("lineage-unused.mermaid.md"));
  });
  it("tree", async () => {
    await expect(renderLineageTree(lineage)).toMatchFileSnapshot(golden("lineage-tree.txt"));
  });
  it("tree of a version nobody used", async () => {
    await expect(renderLineageTree({ ...lineage, downstream: { ...lineage.downstream, edges: [] } })).toMatchFileSnapshot(golden("lineage-tree-unused.txt"));
  });
});

describe("audit report", () => {
  it("markdown", async () => {
    await expect(renderAuditReport(report)).toMatchFileSnapshot(golden("audit-report.md"));
  });
  it("markdown of a hand-made version whose approval no longer matches its files", async () => {
    await expect(
      renderAuditReport({ ...report, execution: null, sourceKind: "manual", approvalValid: false, trainingData: [], downstream: { ...report.downstream, edges: [] }, history: [] }),
    ).toMatchFileSnapshot(golden("audit-report-manual.md"));
  });
});
