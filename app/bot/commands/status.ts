/** `/vh status`: the executions of this pull request, as a reply. */
import { declaredMetrics } from "../../reporting/metrics.js";
import { renderStatusReply } from "../../../templates/github/render.js";
import { loadSweepViews } from "../../reporting/view.js";
import type { Command } from "./parse.js";
import { sweepIdsOfPr } from "../../sweeps/of-pull-request.js";
import { pullRequestOf, type CommandRunner } from "./types.js";

export const status: CommandRunner<Extract<Command, { name: "status" }>> = async (ctx) => {
  const views = await loadSweepViews(ctx.deps.sql, await sweepIdsOfPr(ctx.deps.sql, ctx.repo, pullRequestOf(ctx).pr));
  await ctx.reply(renderStatusReply(ctx.actor.login, views, { metrics: await declaredMetrics(ctx.deps, views), now: new Date(), forge: ctx.repo.forge }));
  return "replied: status";
};
