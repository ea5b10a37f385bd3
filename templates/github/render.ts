/**
 * The GitHub templates, in one place for the bot (app/bot/): typed render functions, data in and
 * text out, one file per kind of text: sweep tables (sweep.ts), check runs (check-run.ts), the
 * sticky comment (sticky-comment.ts), model approvals (approval.ts) and replies (replies.ts).
 * Every render function has a golden file under test/templates/github/golden/.
 */
export { formatDuration, formatValue, headline, sweepTable } from "./sweep.js";
export { BUTTONS, checkRunName, checkStatusOf, conclusionOf, renderCheckRun, type LogTail, type RenderedCheckRun } from "./check-run.js";
export { STICKY_MARKER, renderSticky } from "./sticky-comment.js";
export { PIPELINE_EXTERNAL_PREFIX, renderPipelineCheck, type RenderedPipelineCheck } from "./pipeline.js";
export { APPROVAL_BUTTONS, APPROVAL_EXTERNAL_PREFIX, renderApprovalCheckRun, renderApprovalSection, type ApprovalRequestView } from "./approval.js";
export { USAGE, renderDone, renderError, renderHelp, renderRefused, renderStatusReply, renderVhFailure } from "./replies.js";
