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
    runtime: { mode: "docker", imageDigest: "python@sha256:abc", runner: "local", host: { hostname: "gpu-1", cpuCount: 16, gpus: "NVIDIA A100" } },
    reproducibility: {
      fingerprint: "recorded",
      os: "Debian GNU/Linux 12 (bookworm)",
      interpreters: [{ program: "python3", version: "Python 3.12.7", path: "/usr/local/bin/python3" }],
      pipPackages: 42,
      npmPackages: null,
      truncated: false,
      seed: "1234",
      imageDigest: "python@sha256:abc",
    },
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
  provenance: [
    { consumer: { id: TRAIN, counter: 12, project: "churn", step: "train", api: `/api/v1/executions/${TRAIN}` }, input: "base", file: "base.bin", sha256: H("b"), size: 100, uri: "model://base/latest", resolved: { kind: "model", ref: "model://base/v2", api: "/api/v1/models/base/versions/v2" }, producer: null, etag: null, objectVersionId: null },
    { consumer: { id: TRAIN, counter: 12, project: "churn", step: "train", api: `/api/v1/executions/${TRAIN}` }, input: "dataset", file: "train.csv", sha256: H("c"), size: 4096, uri: "dataset://churn-data/latest", resolved: { kind: "dataset", ref: "dataset://churn-data/2025-01-01", api: "/api/v1/projects/churn/datasets/churn-data/versions/2025-01-01" }, producer: { id: PREP, counter: 11, project: "churn", step: "prepare", api: `/api/v1/executions/${PREP}` }, etag: null, objectVersionId: null },
    { consumer: { id: PREP, counter: 11, project: "churn", step: "prepare", api: `/api/v1/executions/${PREP}` }, input: "raw", file: "raw.csv", sha256: H("d"), size: 9000, uri: "s3://lake/raw/*.csv", resolved: { kind: "external", ref: "s3://lake/raw/raw.csv", api: null }, producer: null, etag: "\"9e107d9d372bb6826bd81d3542a419d6\"", objectVersionId: null },
  ],
  versions: [
    { version: "model://churn/v2", id: "77777777-7777-4777-8777-777777777777", status: "approved", createdAt: "2024-12-26T04:00:00.000Z", createdBy: "trainer", filesSha256: H("9"), statusBy: "lead", statusAt: "2024-12-26T06:00:00.000Z", description: null, sourceExecution: null, api: "/api/v1/models/churn/versions/v2" },
    { version: "model://churn/v3", id: "55555555-5555-4555-8555-555555555555", status: "approved", createdAt: "2025-01-02T04:00:00.000Z", createdBy: "trainer", filesSha256: H("f"), statusBy: "lead", statusAt: "2025-01-02T05:00:00.000Z", description: "weekly retrain", sourceExecution: { id: TRAIN, counter: 12, project: "churn", step: "train", api: `/api/v1/executions/${TRAIN}` }, api: "/api/v1/models/churn/versions/v3" },
  ],
  approvals: [],
  approvalRequests: [{ repo: "acme/churn", prNumber: 7, headSha: "beef".padEnd(40, "0"), filesSha256: H("f"), requestedAt: "2025-01-02T04:11:00.000Z" }],
  inventory: {
    modelId: "66666666-6666-4666-8666-666666666666",
    model: "churn",
    version: "model://churn/v3",
    owner: "trainer",
    purpose: "Customer churn",
    status: "approved",
    approvalDate: "2025-01-02T05:00:00.000Z",
    approver: "lead",
    approvalEvent: { id: 3, api: "/api/v1/audit/model-events/3" },
    validationEvidence: { execution: { id: TRAIN, counter: 12, project: "churn", step: "train", api: `/api/v1/executions/${TRAIN}` }, metrics: ["accuracy", "epoch", "loss"] },
    limitations: null,
  },
  auditChain: {
    ok: true,
    verifiedAt: "2025-01-03T00:00:00.000Z",
    chains: [
      { table: "model_events", rows: 5, ok: true, lastId: 5, lastHash: H("5"), head: { lastId: 5, lastHash: H("5"), rows: 5 }, broken: null },
      { table: "execution_status_history", rows: 40, ok: true, lastId: 40, lastHash: H("7"), head: { lastId: 40, lastHash: H("7"), rows: 40 }, broken: null },
    ],
  },
  trainingData: lineage.upstream.edges.filter((e) => e.consumer !== null),
  upstream: lineage.upstream,
  downstream: lineage.downstream,
  history: [
    { id: 1, at: "2025-01-02T04:10:31.000Z", kind: "created", version: "model://churn/v3", actor: "trainer", source: "execution", sourceUrl: null, reason: null, details: {}, hash: H("1"), api: "/api/v1/audit/model-events/1" },
    { id: 2, at: "2025-01-02T04:20:00.000Z", kind: "refused", version: "model://churn/v3", actor: "visitor", source: "pr_review", sourceUrl: "https://github.com/acme/churn/pull/7#pullrequestreview-1", reason: "visitor has read permission on acme/churn; approving model://churn/v3 needs write permission (or being one of the model's approvers).", details: { action: "approve" }, hash: H("2"), api: "/api/v1/audit/model-events/2" },
    { id: 3, at: "2025-01-02T05:00:00.000Z", kind: "approved", version: "model://churn/v3", actor: "lead", source: "pr_review", sourceUrl: "https://github.com/acme/churn/pull/7#pullrequestreview-2", reason: null, details: {}, hash: H("3"), api: "/api/v1/audit/model-events/3" },
    { id: 4, at: "2025-01-02T05:00:00.000Z", kind: "alias_changed", version: null, actor: "lead", source: "pr_review", sourceUrl: null, reason: null, details: { alias: "latest", from: "v2", to: "v3" }, hash: H("4"), api: "/api/v1/audit/model-events/4" },
    { id: 5, at: "2025-01-02T06:00:00.000Z", kind: "used", version: "model://churn/v3", actor: "execution #13", source: "execution", sourceUrl: null, reason: null, details: { counter: 13, uri: "model://churn/latest" }, hash: H("5"), api: "/api/v1/audit/model-events/5" },
  ],
};
report.approvals = report.history.filter((h) => ["approved", "rejected", "refused", "pending", "approval_invalidated", "approval_requested"].includes(h.kind));
