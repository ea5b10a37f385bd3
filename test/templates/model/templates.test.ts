/**
 * Golden tests: each variant of each model template against a file under golden/. CASES names
 * each render function's cases, one golden file each; a render function of templates/model/
 * without a case, or a golden file without a case, fails.
 * `UPDATE_GOLDEN=1 npx vitest run test/templates/model` rewrites them; a missing one fails under CI
 * (test/templates/golden.ts).
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { AuditReport } from "../../../app/models/audit.js";
import type { ApprovalRequest } from "../../../app/models/review.js";
import * as approvalRequest from "../../../templates/model/approval-request.js";
import * as auditReport from "../../../templates/model/audit-report.js";
import * as lineageMermaid from "../../../templates/model/lineage-mermaid.js";
import * as lineageTree from "../../../templates/model/lineage-tree.js";
import { lineage, report } from "./data.js";
import { expectGolden, renderFunctionsOf } from "../golden.js";

const dir = path.join(import.meta.dirname, "golden");
const golden = (name: string, text: string) => expectGolden(path.join(dir, name), text);

const base: ApprovalRequest = {
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
  lineage: null,
};
const approved: ApprovalRequest = { ...base, status: "approved", statusBy: "lead" };
const rejected: ApprovalRequest = { ...base, status: "rejected", statusBy: "lead", statusReason: "AUC | below 0.7", execution: null, metrics: {} };
const unused = { ...lineage, downstream: { ...lineage.downstream, edges: [] } };
// a hand-made version whose approval no longer matches its files, and a broken audit chain
const manual: AuditReport = {
  ...report,
  execution: null,
  sourceKind: "manual",
  approvalValid: false,
  trainingData: [],
  provenance: [],
  approvalRequests: [],
  downstream: { ...report.downstream, edges: [] },
  history: [],
  approvals: [],
  inventory: { ...report.inventory, owner: null, purpose: null, approvalDate: null, approver: null, approvalEvent: null, validationEvidence: null },
  auditChain: {
    ok: false,
    verifiedAt: report.auditChain.verifiedAt,
    chains: [{ ...report.auditChain.chains[0]!, ok: false, broken: { id: 3, check: "content_changed", message: "model_events row 3 was changed after it was written (its hash does not match its content)" } }],
  },
};

type RenderName = Extract<keyof typeof approvalRequest | keyof typeof auditReport | keyof typeof lineageMermaid | keyof typeof lineageTree, `render${string}`>;

/** Each render function's cases: golden file (under golden/) → the text. */
const CASES: Record<RenderName, Record<string, () => string>> = {
  renderApprovalRequest: {
    // pending, first version (nothing to compare with), separation of duties on
    "approval-request-pending-first.md": () => approvalRequest.renderApprovalRequest({ ...base, separationOfDuties: true }).markdown,
    // pending, compared with the current latest, with lineage link and graph
    "approval-request-pending-vs-latest.md": () =>
      approvalRequest.renderApprovalRequest({
        ...base,
        latest: { version: "model://churn/v2", metrics: { loss: 0.25, accuracy: 0.75, auc: 0.8 } },
        lineageUrl: "https://vh.example.com/api/v1/models/churn/versions/3/lineage",
        lineage,
      }).markdown,
    "approval-request-approved.md": () => approvalRequest.renderApprovalRequest(approved).markdown,
    "approval-request-rejected.md": () => approvalRequest.renderApprovalRequest(rejected).markdown,
  },
  renderLineageMermaid: {
    "lineage.mermaid.md": () => lineageMermaid.renderLineageMermaid(lineage),
    // a version nobody used
    "lineage-unused.mermaid.md": () => lineageMermaid.renderLineageMermaid(unused),
  },
  renderLineageTree: {
    "lineage-tree.txt": () => lineageTree.renderLineageTree(lineage),
    "lineage-tree-unused.txt": () => lineageTree.renderLineageTree(unused),
  },
  renderAuditReport: {
    "audit-report.md": () => auditReport.renderAuditReport(report),
    // a hand-made version whose approval no longer matches its files
    "audit-report-manual.md": () => auditReport.renderAuditReport(manual),
  },
  renderAuditReportHtml: {
    "audit-report.html": () => auditReport.renderAuditReportHtml({ ...report, baseUrl: "https://vh.example.com" }),
    "audit-report-manual.html": () => auditReport.renderAuditReportHtml(manual),
  },
};

describe("templates/model golden files", () => {
  for (const [fn, cases] of Object.entries(CASES)) {
    describe(fn, () => {
      for (const [name, text] of Object.entries(cases)) it(name, () => golden(name, text()));
    });
  }

  it("every render function has a golden case, and every golden file is one", async () => {
    expect(Object.keys(CASES).sort()).toEqual(await renderFunctionsOf("templates/model"));
    for (const [fn, cases] of Object.entries(CASES)) expect(Object.keys(cases).length, `${fn} has no golden case`).toBeGreaterThan(0);
    expect(fs.readdirSync(dir).sort()).toEqual(Object.values(CASES).flatMap((c) => Object.keys(c)).sort());
  });
});

describe("approval request", () => {
  it("its title follows the version's status", () => {
    expect(approvalRequest.renderApprovalRequest(base).title).toBe("model://churn/v3 needs approval");
    expect(approvalRequest.renderApprovalRequest(approved).title).toBe("model://churn/v3 approved");
    expect(approvalRequest.renderApprovalRequest(rejected).title).toBe("model://churn/v3 rejected");
  });
  it("draws the lineage graph from the lineage data (the Mermaid template's block)", () => {
    expect(approvalRequest.renderApprovalRequest({ ...base, lineage }).markdown).toContain(lineageMermaid.renderLineageMermaid(lineage));
  });
});
