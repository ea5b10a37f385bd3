/**
 * Golden tests: each variant of each model template against a file under golden/.
 * `UPDATE_GOLDEN=1 npx vitest run test/templates/model` rewrites them; a missing one fails under CI
 * (test/templates/golden.ts).
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { renderApprovalRequest, type ApprovalRequestData } from "../../../templates/model/approval-request.js";
import { renderAuditReport } from "../../../templates/model/audit-report.js";
import { renderLineageMermaid } from "../../../templates/model/lineage-mermaid.js";
import { renderLineageTree } from "../../../templates/model/lineage-tree.js";
import { lineage, report } from "./data.js";
import { expectGolden } from "../golden.js";

const golden = (name: string, text: string) => expectGolden(path.join(import.meta.dirname, "golden", name), text);

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
  it("pending, first version (nothing to compare with), separation of duties on", () => {
    const r = renderApprovalRequest({ ...base, separationOfDuties: true });
    expect(r.title).toBe("model://churn/v3 needs approval");
    golden("approval-request-pending-first.md", r.markdown);
  });
  it("pending, compared with the current latest, with lineage link and graph", () => {
    const r = renderApprovalRequest({
      ...base,
      latest: { version: "model://churn/v2", metrics: { loss: 0.25, accuracy: 0.75, auc: 0.8 } },
      lineageUrl: "https://vh.example.com/api/v1/models/churn/versions/3/lineage",
      mermaid: renderLineageMermaid(lineage),
    });
    golden("approval-request-pending-vs-latest.md", r.markdown);
  });
  it("approved", () => {
    const r = renderApprovalRequest({ ...base, status: "approved", statusBy: "lead" });
    expect(r.title).toBe("model://churn/v3 approved");
    golden("approval-request-approved.md", r.markdown);
  });
  it("rejected", () => {
    const r = renderApprovalRequest({ ...base, status: "rejected", statusBy: "lead", statusReason: "AUC | below 0.7", execution: null, metrics: {} });
    expect(r.title).toBe("model://churn/v3 rejected");
    golden("approval-request-rejected.md", r.markdown);
  });
});

describe("lineage", () => {
  it("Mermaid graph", () => {
    golden("lineage.mermaid.md", renderLineageMermaid(lineage));
  });
  it("Mermaid graph of a version nobody used", () => {
    golden("lineage-unused.mermaid.md", renderLineageMermaid({ ...lineage, downstream: { ...lineage.downstream, edges: [] } }));
  });
  it("tree", () => {
    golden("lineage-tree.txt", renderLineageTree(lineage));
  });
  it("tree of a version nobody used", () => {
    golden("lineage-tree-unused.txt", renderLineageTree({ ...lineage, downstream: { ...lineage.downstream, edges: [] } }));
  });
});

describe("audit report", () => {
  it("markdown", () => {
    golden("audit-report.md", renderAuditReport(report));
  });
  it("markdown of a hand-made version whose approval no longer matches its files", () => {
    golden(
      "audit-report-manual.md",
      renderAuditReport({ ...report, execution: null, sourceKind: "manual", approvalValid: false, trainingData: [], downstream: { ...report.downstream, edges: [] }, history: [] }),
    );
  });
});
