/** `/vh approve model://NAME/vN`: the model hub's approval, as the commenter (app/models/approval.ts). */
import { approveVersion } from "../../models/approval.js";
import { renderDone } from "../../../templates/github/render.js";
import { reportTargetOfPr, scheduleReport } from "../../reporting/schedule.js";
import type { Command } from "./parse.js";
import { pullRequestOf, type CommandRunner } from "./types.js";

export const approve: CommandRunner<Extract<Command, { name: "approve" }>> = async (ctx, cmd) => {
  const r = await approveVersion({ sql: ctx.deps.sql }, cmd.uri, {
    login: ctx.actor.login,
    source: "comment",
    url: ctx.commentUrl,
    permission: ctx.permission,
  }, { repo: ctx.repo.fullName, fromRepo: { forge: ctx.repo.forge, id: ctx.repo.id, fullName: ctx.repo.fullName } });
  // The sticky comment and the approval check run show the new status.
  const target = await reportTargetOfPr(ctx.deps.sql, ctx.repo, pullRequestOf(ctx).pr);
  if (target) await scheduleReport(ctx.deps.sql, target, 0);
  await ctx.reply(renderDone(ctx.actor.login, r.changed ? `Approved \`${r.version}\`.` : `\`${r.version}\` was already approved.`));
  return `approved ${r.version}`;
};
