/** `/vh reject model://NAME/vN REASON`: the model hub's rejection, as the commenter (app/models/approval.ts). */
import { rejectVersion } from "../../models/approval.js";
import { renderDone } from "../../../templates/github/render.js";
import { reportTargetOfPr, scheduleReport } from "../../reporting/schedule.js";
import type { Command } from "./parse.js";
import { pullRequestOf, type CommandRunner } from "./types.js";

export const reject: CommandRunner<Extract<Command, { name: "reject" }>> = async (ctx, cmd) => {
  const r = await rejectVersion({ sql: ctx.deps.sql }, cmd.uri, {
    login: ctx.actor.login,
    source: "comment",
    url: ctx.commentUrl,
    permission: ctx.permission,
  }, cmd.reason, { fromRepo: { forge: ctx.repo.forge, id: ctx.repo.id, fullName: ctx.repo.fullName } });
  // The sticky comment and the approval check run show the new status.
  const target = await reportTargetOfPr(ctx.deps.sql, ctx.repo, pullRequestOf(ctx).pr);
  if (target) await scheduleReport(ctx.deps.sql, target, 0);
  await ctx.reply(renderDone(ctx.actor.login, r.changed ? `Rejected \`${r.version}\`: ${cmd.reason}` : `\`${r.version}\` was already rejected.`));
  return `rejected ${r.version}`;
};
