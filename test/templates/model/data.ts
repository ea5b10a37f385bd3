/** Fixed data for the model template golden tests: a churn model trained on an http dataset and a base model. */
import type { FullLineage } from "../../../app/models/lineage.js";
import type { AuditReport } from "../../../app/models/audit.js";

const H = (c: string) => c.repeat(64);
export const TRAIN = "11111111-1111-4111-8111-111111111111";
export const PREP = "22222222-2222-4222-8222-222222222222";
export const INFER = "33333333-3333-4333-8333-333333333333";
export const REPORT = "44444444-4444-4444-8444-444444444444";

const exec = (id: string, counter: number, step: string, produced: string[] = []) => ({
  id,
  counter,
  project: "churn",
  step,
  status: "completed",
  commitSha: "c0ffee".padEnd(40, "0"),
  codeSha256: null,
  createdAt: "2025-01-02T03:04:05.000Z",
  produced,
});

export const lineage: FullLineage = {
  version: "model://churn/v3",
  status: "approved",
  filesSha256: H("f"),
  upstream: {
    version: "model://churn/v3",
    executions: { [TRAIN]: exec(TRAIN, 12, "train", ["model://churn/v3"]), [PREP]: exec(PREP, 11, "prepare") },
    edges: [
      { consumer: null, input: null, name: "model.bin", uri: "datum://d1", datumId: "d1", sha256: H("a"), size: 2048, producer: TRAIN, modelVersion: null },
      { consumer: TRAIN, input: "base", name: "base.bin", uri: "model://base/latest", datumId: "d0", sha256: H("b"), size: 100, producer: null, modelVersion: "model://base/v2" },
      { consumer: TRAIN, input: "dataset", name: "train.csv", uri: "datum://d2", datumId: "d2", sha256: H("c"), size: 4096, producer: PREP, modelVersion: null },
      { consumer: PREP, input: "raw", name: "raw.csv", uri: "https://data.example.com/raw.csv", datumId: null, sha256: H("d"), size: 9000, producer: null, modelVersion: null },
    ],
  },
  downstream: {
    version: "model://churn/v3",
    executions: { [INFER]: exec(INFER, 13, "infer"), [REPORT]: exec(REPORT, 14, "report") },
    edges: [
      { consumer: INFER, input: "model", uri: "model://churn/latest", datumId: "d1", producer: null, modelVersion: "model://churn/v3" },
      { consumer: REPORT, input: "predictions", uri: "datum://d9", datumId: "d9", producer: INFER, modelVersion: null },
    ],
  },
};

export const report: AuditReport = {
  model: { id: "66666666-6666-4666-8666-666666666666", name: "churn", description: "Customer churn", approvers: ["risk"], separationOfDuties: true },
  version: "model://churn/v3",
  id: "55555555-5555-4555-8555-555555555555",
  number: 3,
  status: "approved",
  approvalValid: true,
  filesSha256: H("f"),
  approvedSha256: H("f"),
  statusBy: "lead",
  statusReason: null,
  statusAt: "2025-01-02T05:00:00.000Z",
  sourceKind: "execution",
  createdBy: "trainer",
  triggeredBy: "trainer",
  commitSha: "c0ffee".padEnd(40, "0"),
  description: "weekly retrain",
  tags: ["nightly"],
  createdAt: "2025-01-02T04:00:00.000Z",
  files: [{ name: "model.bin", sha256: H("a"), size: 2048, datum: "datum://d1", api: "/api/v1/data/d1" }],
  size: 2048,
  latest: "model://churn/v3",
  execution: {
    id: TRAIN,
    counter: 12,
    project: "churn",
    step: "train",
    status: "completed",
    commitSha: "c0ffee".padEnd(40, "0"),
    codeSha256: H("e"),
    yamlPath: "valohai.yaml",
    image: "python:3.12",
    command: "python3 train.py --epochs=3",
    parameters: { epochs: 3, lr: 0.001 },
    inputs: [],
    requestedInputs: [],
    environmentVariables: { MODE: "fast", API_TOKEN: "***" },
    gpus: 1,
    runtime: { mode: "docker", imageDigest: "sha256:abc", runner: "local", host: { hostname: "gpu-1", cpuCount: 16, gpus: "NVIDIA A100" } },
    triggeredBy: "trainer",
    createdAt: "2025-01-02T03:59:00.000Z",
    startedAt: "2025-01-02T04:00:00.000Z",
    endedAt: "2025-01-02T04:10:30.000Z",
    durationSeconds: 630,
    metrics: { loss: 0.125, accuracy: 0.875, epoch: 2 },
    api: `/api/v1/executions/${TRAIN}`,
  },
  generatedAt: "2025-01-03T00:00:00.000Z",
  baseUrl: null,
  api: {
    model: "/api/v1/models/churn",
    version: "/api/v1/models/churn/versions/v3",
    events: "/api/v1/models/churn/versions/v3/events",
    lineage: "/api/v1/models/churn/versions/v3/lineage",
    report: "/api/v1/models/churn/versions/v3/report",
    auditVerify: "/api/v1/audit/verify",
  },
  provenance: [],
  versions: [],
  approvals: [],
  approvalRequests: [],
  inventory: {
    modelId: "66666666-6666-4666-8666-666666666666",
    model: "churn",
    version: "model://churn/v3",
    owner: "trainer",
    purpose: "Customer churn",
    status: "approved",
    approvalDate: "2025-01-02T05:00:00.000Z",
    approver: "lead",
    approvalEvent: { id: 3, api: "/api/v1/models/events/3" },
    validationEvidence: null,
    limitations: null,
  },
  auditChain: { ok: true, verifiedAt: "2025-01-03T00:00:00.000Z", chains: [] },
  trainingData: lineage.upstream.edges.filter((e) => e.consumer !== null),
  upstream: lineage.upstream,
  downstream: lineage.downstream,
  history: [
    { id: 1, at: "2025-01-02T04:10:31.000Z", kind: "created", version: "model://churn/v3", actor: "trainer", source: "execution", sourceUrl: null, reason: null, details: {}, hash: H("1"), api: "/api/v1/models/events/1" },
    { id: 2, at: "2025-01-02T04:20:00.000Z", kind: "refused", version: "model://churn/v3", actor: "visitor", source: "pr_review", sourceUrl: "https://github.com/acme/churn/pull/7#pullrequestreview-1", reason: "visitor has read permission on acme/churn; approving model://churn/v3 needs write permission (or being one of the model's approvers).", details: { action: "approve" }, hash: H("2"), api: "/api/v1/models/events/2" },
    { id: 3, at: "2025-01-02T05:00:00.000Z", kind: "approved", version: "model://churn/v3", actor: "lead", source: "pr_review", sourceUrl: "https://github.com/acme/churn/pull/7#pullrequestreview-2", reason: null, details: {}, hash: H("3"), api: "/api/v1/models/events/3" },
    { id: 4, at: "2025-01-02T05:00:00.000Z", kind: "alias_changed", version: null, actor: "lead", source: "pr_review", sourceUrl: null, reason: null, details: { alias: "latest", from: "v2", to: "v3" }, hash: H("4"), api: "/api/v1/models/events/4" },
    { id: 5, at: "2025-01-02T06:00:00.000Z", kind: "used", version: "model://churn/v3", actor: "execution #13", source: "execution", sourceUrl: null, reason: null, details: { counter: 13, uri: "model://churn/latest" }, hash: H("5"), api: "/api/v1/models/events/5" },
  ],
};
