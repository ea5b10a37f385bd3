/**
 * A review (GitHub's `pull_request_review`, GitLab's merge request approval) → the model hub's approvals (app/models/review.ts): the reviewer's
 * permission is looked up through the Forge, never taken from the payload.
 */
import type { ForgeEvent } from "../contracts/forge-events.js";
import type { BotDeps } from "./commands/types.js";
import { applyPullRequestReview } from "../models/review.js";

export async function applyReview(deps: BotDeps, ev: Extract<ForgeEvent, { kind: "review" }>): Promise<string> {
  if (ev.action !== "submitted" && ev.action !== "dismissed") return `ignored: review ${ev.action}`;
  if (ev.reviewer.isBot) return "ignored: a bot's review";
  const forge = await deps.forges.forRepo(ev.repo);
  const permission = await forge.getPermission(ev.repo, ev.reviewer.login);
  const r = await applyPullRequestReview({ sql: deps.sql }, {
    state: ev.action === "dismissed" ? "dismissed" : ev.state,
    commitSha: ev.commitSha,
    reviewer: { login: ev.reviewer.login, permission },
    url: ev.url,
    repo: ev.repo.fullName,
    forge: ev.repo.forge,
    prNumber: ev.pr,
  });
  return `review: approved ${r.approved.length}, refused ${r.refused.length}`;
}
