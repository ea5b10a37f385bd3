/**
 * Golden files for every template variant (templates/github/). `UPDATE_GOLDEN=1 npx vitest run
 * test/templates/github` rewrites them; review the diff. A missing golden file fails under CI
 * (test/templates/golden.ts).
 */
import path from "node:path";
import { describe, it } from "vitest";
import { renderApprovalCheckRun, renderCheckRun, renderDone, renderError, renderHelp, renderRefused, renderStatusReply, renderSticky } from "../../../templates/github/render.js";
import type { ExecView, SweepView } from "../../../app/reporting/view.js";
import { expectGolden } from "../golden.js";

const dir = path.join(import.meta.dirname, "golden");
const now = new Date("2026-01-02T03:04:05Z");
const t = (s: number) => new Date(now.getTime() - s * 1000);

function golden(name: string, text: string) {
  expectGolden(path.join(dir, `${name}.md`), text);
}

function exec(counter: number, status: ExecView["status"], lr: number, metrics: Record<string, unknown> = {}, ran = 0): ExecView {
  const started = ["queued", "created"].includes(status) ? null : t(ran + 10);
  const ended = ["completed", "failed", "error", "stopped", "lost"].includes(status) ? t(10) : null;
  return { id: `e${counter}`, counter, status, statusDetail: status === "error" ? "Input failed to download" : null, parameters: { lr, epochs: 2 }, metrics, startedAt: started, endedAt: ended };
}

function sweep(executions: ExecView[], spec: Record<string, string[]> = { lr: executions.map((e) => String(e.parameters["lr"])) }, trigger: "comment" | "push" = "comment"): SweepView {
  return {
    id: "3f1c0000-0000-4000-8000-000000000001",
    step: "train",
    kind: "grid",
    spec,
    commitSha: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
    codeSha256: "f".repeat(64),
    source: { kind: "github", repositoryId: 1, repo: "o/r", installationId: 42, pr: 7, trigger, commentId: 1 },
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

describe("templates/github golden files", () => {
  it("check run: queued, in progress, completed with the best run, failed with log tails, stopped", () => {
    const fmt = (r: ReturnType<typeof renderCheckRun>) => `name: ${r.name}\nstatus: ${r.status}\nconclusion: ${r.conclusion ?? "-"}\ntitle: ${r.title}\nactions: ${r.actions.map((a) => a.identifier).join(",")}\n---\n${r.summary}${r.text ? `---\n${r.text}` : ""}`;
    golden("check-run-queued", fmt(renderCheckRun(queued, { metric: null, now })));
    golden("check-run-in-progress", fmt(renderCheckRun(running, { metric: null, now })));
    golden("check-run-completed", fmt(renderCheckRun(done, { metric: null, now })));
    golden("check-run-declared-metric", fmt(renderCheckRun(done, { metric: { name: "accuracy", goal: "max" }, now })));
    golden(
      "check-run-failed",
      fmt(renderCheckRun(failed, { metric: null, now, logTails: [{ counter: 2, status: "failed", detail: null, lines: ["epoch 0", "Traceback (most recent call last):", "ValueError: ```boom```"] }, { counter: 3, status: "error", detail: "Input failed to download", lines: ["fetching"] }] })),
    );
    golden("check-run-stopped-single", fmt(renderCheckRun(single, { metric: null, now })));
  });

  it("sticky comment with several sweeps", () => {
    golden("sticky-comment", renderSticky(7, [single, done, running], { metrics, now }));
  });

  it("replies", () => {
    golden("reply-refused", renderRefused("mallory", "`/vh run` needs write permission on o/r; yours is `read`.", "o/r"));
    golden("reply-error-run", renderError("octocat", "`valohai.yaml` at 0d1a26e has no step `trian`. Did you mean `train`? Steps: `train`, `evaluate`.", "run"));
    golden("reply-error-all", renderError("octocat", "`rnu` is not a vh command. Did you mean `/vh run`?", "all"));
    golden("reply-error-plain", renderError("octocat", "vh commands work on pull requests, not on issues."));
    golden("reply-help", renderHelp(100, ["train", "evaluate"]));
    golden("reply-help-no-yaml", renderHelp(100, null));
    golden("reply-status", renderStatusReply("octocat", [done, running], { metrics, now }));
    golden("reply-status-empty", renderStatusReply("octocat", [], { metrics, now }));
    golden("reply-done", renderDone("octocat", "Stopping #1, #2."));
  });
  it("model approval: the sticky comment's approval section, the approval check run pending / approved", () => {
    const fmt = (r: ReturnType<typeof renderCheckRun>) => `name: ${r.name}\nstatus: ${r.status}\nconclusion: ${r.conclusion ?? "-"}\ntitle: ${r.title}\nactions: ${r.actions.map((a) => `${a.identifier}=${a.label}`).join(",")}\n---\n${r.summary}`;
    const pending = {
      version: "model://churn/v3",
      title: "model://churn/v3 needs approval",
      markdown: "<!-- vh:model-approval model://churn/v3 -->\n### Model model://churn/v3\n\n⏳ **Waiting for approval.**\n\n```\n/vh approve model://churn/v3\n```\n",
    };
    const approved = { ...pending, title: "model://churn/v3 approved", markdown: "### Model model://churn/v3\n\n✅ **Approved** by lead.\n" };
    golden("sticky-comment-approval", renderSticky(7, [done], { metrics, now, approvals: [pending] }));
    golden("check-run-approval-pending", fmt(renderApprovalCheckRun(pending, { hasDetailsUrl: true })));
    golden("check-run-approval-pending-no-url", fmt(renderApprovalCheckRun(pending, { hasDetailsUrl: false })));
    golden("check-run-approval-approved", fmt(renderApprovalCheckRun(approved, { hasDetailsUrl: true })));
  });
});
