/**
 * A model version's approval on the pull request: its check run (conclusion from the version's
 * status, the Approve model / Reject buttons while it is pending) and the sticky comment's approval
 * section. Pure; the request itself is rendered by templates/model/approval-request.ts.
 */
import type { CheckConclusion, CheckRunAction } from "../../app/contracts/forge.js";
import type { ModelVersionStatus } from "../../db/schema/models.js";
import type { RenderedCheckRun } from "./check-run.js";

/** The buttons of a model version's approval check run (app/bot/handle-event.ts routes them). */
export const APPROVAL_BUTTONS = {
  approve: { label: "Approve model", description: "Approve this model version", identifier: "approve_model" },
  reject: { label: "Reject", description: "Reject it (a reason is asked for)", identifier: "reject_model" },
} satisfies Record<string, CheckRunAction>;

/** The external id of a version's approval check run: how its buttons find the version. */
export const APPROVAL_EXTERNAL_PREFIX = "vh-model:";

/** An approval request of the model hub (app/models/review.ts) as shown on the pull request: its status, and its rendered text. */
export interface ApprovalRequestView {
  version: string;
  /** The version's approval status, as stored; never read back out of the text. */
  status: ModelVersionStatus;
  title: string;
  markdown: string;
}

/**
 * The check run of one version's approval request: completed at once (nothing runs), asking for
 * action while the version is pending (with the Approve model / Reject buttons), success once
 * approved, failure once rejected. `action_required` needs a details URL on GitHub, so without
 * one a pending request is `neutral`.
 */
export function renderApprovalCheckRun(r: ApprovalRequestView, opts: { hasDetailsUrl: boolean }): RenderedCheckRun {
  const conclusion: CheckConclusion =
    r.status === "approved" ? "success" : r.status === "rejected" ? "failure" : opts.hasDetailsUrl ? "action_required" : "neutral";
  return {
    name: `vh: approve ${r.version}`,
    status: "completed",
    conclusion,
    title: r.title,
    summary: r.markdown,
    actions: r.status === "pending" ? [APPROVAL_BUTTONS.approve, APPROVAL_BUTTONS.reject] : [],
  };
}

/** The sticky comment's approval section: one request per model version the pull request's executions produced. */
export function renderApprovalSection(approvals: ApprovalRequestView[]): string {
  return ["#### Model approval", "", approvals.map((a) => a.markdown.trimEnd() + "\n").join("\n")].join("\n");
}
