/**
 * Golden files for every variant of every render function of templates/github/ (what
 * templates/github/render.ts exports): CASES names each function's cases, one golden file each.
 * A render function without a case, a case without a golden file or a golden file without a case
 * fails. `UPDATE_GOLDEN=1 npx vitest run test/templates/github` rewrites them; review the diff. A
 * missing golden file fails under CI (test/templates/golden.ts).
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import * as github from "../../../templates/github/render.js";
import type { ApprovalRequestView, RenderedCheckRun } from "../../../templates/github/render.js";
import type { ExecView, SweepView } from "../../../app/reporting/view.js";
import type { PipelineView } from "../../../app/pipelines/present.js";
import { pipelineMermaid } from "../../../app/pipelines/graph.js";
import { expectGolden, renderFunctionsOf } from "../golden.js";

const dir = path.join(import.meta.dirname, "golden");
const now = new Date("2026-01-02T03:04:05Z");
const t = (s: number) => new Date(now.getTime() - s * 1000);

function golden(name: string, text: string) {
  expectGolden(path.join(dir, `${name}.md`), text);
}

function exec(counter: number, status: ExecView["status"], lr: number, metrics: Record<string, unknown> = {}, ran = 0): ExecView {
  const started = ["queued", "created"].includes(status) ? null : t(ran + 10);
  const ended = ["completed", "failed", "error", "stopped", "lost"].includes(status) ? t(10) : null;
  return { id: `e${counter}`, counter, status, statusDetail: status === "error" ? "Input failed to download" : null, stopCause: null, parameters: { lr, epochs: 2 }, metrics, startedAt: started, endedAt: ended, attempt: 1, earlierAttempts: [], costUsd: null };
}

function sweep(executions: ExecView[], spec: Record<string, string[]> = { lr: executions.map((e) => String(e.parameters["lr"])) }, trigger: "comment" | "push" = "comment"): SweepView {
  return {
    id: "3f1c0000-0000-4000-8000-000000000001",
    step: "train",
    kind: "grid",
    spec,
    definition: null,
    planned: executions.length,
    stoppedReason: null,
    commitSha: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
    codeSha256: "f".repeat(64),
    source: { kind: "forge", forge: "github", repositoryId: 1, repo: "o/r", installationId: 42, pr: 7, trigger, commentId: 1 },
    triggeredBy: "octocat",
    createdAt: t(100),
    executions,
  };
}

const queued = sweep([exec(1, "queued", 0.01), exec(2, "queued", 0.001)]);
const running = sweep([exec(1, "running", 0.01, { epoch: 0, loss: 0.6 }), exec(2, "queued", 0.001)]);
const done = sweep([exec(1, "completed", 0.01, { epoch: 1, loss: 0.4333, accuracy: 0.5667 }, 65), exec(2, "completed", 0.001, { epoch: 1, loss: 0.3433, accuracy: 0.6567 }, 7)]);
const failed = sweep([exec(1, "completed", 0.01, { loss: 0.4 }, 3), exec(2, "failed", 0.001, { loss: 9 }, 2), exec(3, "error", 0.1, {}, 0)]);
const single = sweep([exec(4, "stopped", 0.01, {}, 4000)], {}, "push");
const metrics = new Map();
/** A Bayesian search of 8 with 4 made, ranked by accuracy: one early-stopped by ASHA, one still running. */
const searchExecs = [
  exec(11, "completed", 0.01, { epoch: 8, accuracy: 0.71 }, 30),
  { ...exec(12, "stopped", 0.3, { epoch: 2, accuracy: 0.22 }, 9), stopCause: "early-stop", statusDetail: "Early-stopped: ASHA: accuracy 0.22 at step 2 is below the top 1/3 of 3 trials at that rung (cut-off 0.5)" },
  exec(13, "completed", 0.003, { epoch: 8, accuracy: 0.83 }, 31),
  exec(14, "running", 0.02, { epoch: 3, accuracy: 0.4 }),
];
const search: SweepView = {
  ...sweep(searchExecs),
  kind: "bayesian_tpe",
  planned: 8,
  definition: { kind: "bayesian_tpe", parameters: { lr: { style: "random", distribution: "loguniform", min: 0.0001, max: 1 } }, count: 8, target: { metric: "accuracy", direction: "max" }, earlyStopping: { rule: "asha", gracePeriod: 1 } },
  spec: { lr: ["loguniform(0.0001, 1)"] },
};
const searchDone: SweepView = {
  ...search,
  executions: searchExecs.map((e) => (e.status === "running" ? { ...e, status: "stopped" as const, stopCause: "sweep", statusDetail: "The sweep stopped: Target reached: #13 has accuracy 0.83 (target ≥ 0.8)." } : e)),
  stoppedReason: "Target reached: #13 has accuracy 0.83 (target ≥ 0.8).",
};
/** A sweep on spot instances: one execution interrupted and resumed as attempt 2, each priced. */
const onSpot = sweep([
  { ...exec(21, "completed", 0.01, { accuracy: 0.8 }, 300), attempt: 2, earlierAttempts: ["interrupted"], costUsd: 0.04217 },
  { ...exec(22, "completed", 0.001, { accuracy: 0.7 }, 120), costUsd: 0.0101 },
  { ...exec(23, "running", 0.1, {}), attempt: 2, earlierAttempts: ["lost"], costUsd: 0.0012 },
]);

const fmtCheckRun = (r: RenderedCheckRun) =>
  `name: ${r.name}\nstatus: ${r.status}\nconclusion: ${r.conclusion ?? "-"}\ntitle: ${r.title}\nactions: ${r.actions.map((a) => a.identifier).join(",")}\n---\n${r.summary}${r.text ? `---\n${r.text}` : ""}`;
const fmtApprovalRun = (r: RenderedCheckRun) =>
  `name: ${r.name}\nstatus: ${r.status}\nconclusion: ${r.conclusion ?? "-"}\ntitle: ${r.title}\nactions: ${r.actions.map((a) => `${a.identifier}=${a.label}`).join(",")}\n---\n${r.summary}`;

const pending: ApprovalRequestView = {
  version: "model://churn/v3",
  status: "pending",
  title: "model://churn/v3 needs approval",
  markdown: "<!-- vh:model-approval model://churn/v3 -->\n### Model model://churn/v3\n\n⏳ **Waiting for approval.**\n\n```\n/vh approve model://churn/v3\n```\n",
};
const approved: ApprovalRequestView = { ...pending, status: "approved", title: "model://churn/v3 approved", markdown: "### Model model://churn/v3\n\n✅ **Approved** by lead.\n" };

/** A pipeline run of three nodes: one reused, one running, one waiting for approval. */
const pipelineRun: PipelineView = {
  id: "9a1c0000-0000-4000-8000-000000000001",
  counter: 3,
  name: "train-and-eval",
  status: "running",
  statusDetail: null,
  commit: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
  code: "f".repeat(64),
  parameters: {},
  nodeParameters: {},
  reuse: true,
  source: { kind: "forge", forge: "github", repositoryId: 1, repo: "o/r", installationId: 42, pr: 7, trigger: "comment", commentId: 1 },
  triggeredBy: "octocat",
  createdAt: t(100).toISOString(),
  endedAt: null,
  nodes: [
    { name: "prep", type: "execution", status: "reused", detail: "Reused #12: the same code, image, command, parameters and inputs completed before.", onError: "stop-all", execution: null, reusedFrom: { id: "e12", counter: 12 }, sweep: null, approvedBy: null },
    { name: "train", type: "task", status: "running", detail: null, onError: "stop-all", execution: null, reusedFrom: null, sweep: { id: "s1", executions: [{ counter: 14, status: "running" }, { counter: 15, status: "queued" }] }, approvedBy: null },
    { name: "deploy|gate", type: "execution", status: "awaiting-approval", detail: "Waiting for approval.", onError: "stop-all", execution: null, reusedFrom: null, sweep: null, approvedBy: null },
  ],
  edges: [
    { sourceNode: "prep", sourceType: "output", sourceKey: "*.csv", targetNode: "train", targetType: "input", targetKey: "data" },
    { sourceNode: "train", sourceType: "metadata", sourceKey: "accuracy", targetNode: "deploy|gate", targetType: "parameter", targetKey: "min" },
  ],
  mermaid: "",
};
pipelineRun.mermaid = pipelineMermaid(pipelineRun.nodes.map((n) => ({ name: n.name, status: n.status, detail: n.reusedFrom ? `reused #${n.reusedFrom.counter}` : null })), pipelineRun.edges);
const fmtPipeline = (r: github.RenderedPipelineCheck) => `name: ${r.name}\nstatus: ${r.status}\nconclusion: ${r.conclusion ?? "-"}\ntitle: ${r.title}\nactions: ${r.actions.map((a) => `${a.identifier}=${a.label}`).join(",")}\n---\n${r.summary}`;

type RenderName = Extract<keyof typeof github, `render${string}`>;

/** Each render function's cases: golden file (under golden/, without `.md`) → the text. */
const CASES: Record<RenderName, Record<string, () => string>> = {
  renderCheckRun: {
    "check-run-queued": () => fmtCheckRun(github.renderCheckRun(queued, { metric: null, now })),
    "check-run-in-progress": () => fmtCheckRun(github.renderCheckRun(running, { metric: null, now })),
    "check-run-completed": () => fmtCheckRun(github.renderCheckRun(done, { metric: null, now })),
    "check-run-spot-resumed": () => fmtCheckRun(github.renderCheckRun(onSpot, { metric: null, now })),
    "check-run-declared-metric": () => fmtCheckRun(github.renderCheckRun(done, { metric: { name: "accuracy", goal: "max" }, now })),
    "check-run-failed": () =>
      fmtCheckRun(
        github.renderCheckRun(failed, {
          metric: null,
          now,
          logTails: [
            { counter: 2, status: "failed", detail: null, lines: ["epoch 0", "Traceback (most recent call last):", "ValueError: ```boom```"] },
            { counter: 3, status: "error", detail: "Input failed to download", lines: ["fetching"] },
          ],
        }),
      ),
    "check-run-stopped-single": () => fmtCheckRun(github.renderCheckRun(single, { metric: null, now })),
    "check-run-bayesian-running": () => fmtCheckRun(github.renderCheckRun(search, { metric: null, now })),
    "check-run-bayesian-stopped": () => fmtCheckRun(github.renderCheckRun(searchDone, { metric: null, now })),
  },
  renderSticky: {
    "sticky-comment": () => github.renderSticky(7, [single, done, running], { metrics, now }),
    "sticky-comment-approval": () => github.renderSticky(7, [done], { metrics, now, approvals: [pending] }),
    "sticky-comment-search": () => github.renderSticky(7, [searchDone], { metrics, now }),
    "sticky-comment-spot": () => github.renderSticky(7, [onSpot], { metrics, now }),
  },
  renderPipelineCheck: {
    "check-run-pipeline-running": () => fmtPipeline(github.renderPipelineCheck(pipelineRun)),
    "check-run-pipeline-failed": () =>
      fmtPipeline(github.renderPipelineCheck({ ...pipelineRun, status: "failed", statusDetail: 'Failed: node "train" failed (None of its 2 executions completed.).', endedAt: t(5).toISOString() })),
  },
  renderApprovalSection: {
    "approval-section": () =>
      github.renderApprovalSection([pending, { ...approved, version: "model://churn/v2", title: "model://churn/v2 approved", markdown: "### Model model://churn/v2\n\n✅ **Approved** by lead.\n" }]),
  },
  renderApprovalCheckRun: {
    "check-run-approval-pending": () => fmtApprovalRun(github.renderApprovalCheckRun(pending, { hasDetailsUrl: true })),
    "check-run-approval-pending-no-url": () => fmtApprovalRun(github.renderApprovalCheckRun(pending, { hasDetailsUrl: false })),
    "check-run-approval-approved": () => fmtApprovalRun(github.renderApprovalCheckRun(approved, { hasDetailsUrl: true })),
  },
  renderRefused: {
    "reply-refused": () => github.renderRefused("mallory", "`/vh run` needs write permission on o/r; yours is `read`.", "o/r"),
  },
  renderError: {
    "reply-error-run": () => github.renderError("octocat", "`valohai.yaml` at 0d1a26e has no step `trian`. Did you mean `train`? Steps: `train`, `evaluate`.", "run"),
    "reply-error-all": () => github.renderError("octocat", "`rnu` is not a vh command. Did you mean `/vh run`?", "all"),
    "reply-error-plain": () => github.renderError("octocat", "vh commands work on pull requests, not on issues."),
  },
  renderHelp: {
    "reply-help": () => github.renderHelp(100, ["train", "evaluate"]),
    "reply-help-no-yaml": () => github.renderHelp(100, null),
  },
  renderStatusReply: {
    "reply-status": () => github.renderStatusReply("octocat", [done, running], { metrics, now }),
    "reply-status-empty": () => github.renderStatusReply("octocat", [], { metrics, now }),
  },
  renderDone: {
    "reply-done": () => github.renderDone("octocat", "Stopping #1, #2."),
  },
  renderVhFailure: {
    "reply-vh-failure": () =>
      github.renderVhFailure("octocat", {
        what: "run `/vh run`",
        message: "The artifact store did not answer: connect ECONNREFUSED 127.0.0.1:9000.",
        attempts: 3,
        delivery: "3f1c9a00-0000-4000-8000-00000000000a",
      }),
  },
};

describe("templates/github golden files", () => {
  for (const [fn, cases] of Object.entries(CASES)) {
    describe(fn, () => {
      for (const [name, text] of Object.entries(cases)) it(name, () => golden(name, text()));
    });
  }

  it("every render function has a golden case, and every golden file is one", async () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(github).filter((k) => k.startsWith("render")).sort());
    // a render function in templates/github/ that render.ts does not export would escape the line above
    expect((await renderFunctionsOf("templates/github")).filter((k) => !(k in github))).toEqual([]);
    for (const [fn, cases] of Object.entries(CASES)) expect(Object.keys(cases).length, `${fn} has no golden case`).toBeGreaterThan(0);
    const names = Object.values(CASES).flatMap((c) => Object.keys(c).map((n) => `${n}.md`));
    expect(fs.readdirSync(dir).sort()).toEqual(names.sort());
  });
});

describe("the approval state is data", () => {
  it("comes from the view's status, never from its text", () => {
    const looksApproved = { ...pending, title: "model://churn/v3 approved" };
    expect(github.renderApprovalCheckRun(looksApproved, { hasDetailsUrl: true })).toMatchObject({ conclusion: "action_required", actions: [github.APPROVAL_BUTTONS.approve, github.APPROVAL_BUTTONS.reject] });
    expect(github.renderApprovalCheckRun({ ...pending, status: "rejected" }, { hasDetailsUrl: true })).toMatchObject({ conclusion: "failure", actions: [] });
    expect(github.renderApprovalCheckRun({ ...approved, status: "approved", title: "anything" }, { hasDetailsUrl: false })).toMatchObject({ conclusion: "success", actions: [] });
  });
});
