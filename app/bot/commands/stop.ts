/** `/vh stop N|all`: stops this pull request's execution #N, or all its active ones. */
import { VhError } from "../../errors.js";
import { stopExecution } from "../../executions/stop.js";
import { ACTIVE } from "../../executions/state.js";
import { renderDone } from "../../../templates/github/render.js";
import { reportTargetOfSweep, scheduleReport } from "../../reporting/schedule.js";
import type { Command } from "./parse.js";
import { executionOfPr, sweepIdsOfPr } from "../../sweeps/of-pull-request.js";
import { pullRequestOf, type CommandRunner } from "./types.js";
import { executionsOfSweeps } from "../../../db/queries/sweeps.js";

export const stop: CommandRunner<Extract<Command, { name: "stop" }>> = async (ctx, cmd) => {
  const { sql } = ctx.deps;
  const { pr } = pullRequestOf(ctx);
  let targets: { id: string; counter: number; sweep_id: string }[];
  if (cmd.target === "all") {
    const ids = await sweepIdsOfPr(sql, ctx.repo, pr);
    targets = await executionsOfSweeps(sql, ids, ACTIVE);
  } else {
    const e = await executionOfPr(sql, ctx.repo, pr, cmd.target);
    if (!e) throw new VhError("not_found", `Execution #${cmd.target} was not started from this pull request.`);
    if (!ACTIVE.includes(e.status as never)) throw new VhError("conflict", `Execution #${cmd.target} has already ended (${e.status}).`);
    targets = [{ id: e.id, counter: cmd.target, sweep_id: e.sweep_id }];
  }
  if (targets.length === 0) {
    await ctx.reply(renderDone(ctx.actor.login, "Nothing to stop: no execution of this pull request is queued or running."));
    return "replied: nothing to stop";
  }
  for (const t of targets) await stopExecution(sql, t.id);
  for (const sweepId of new Set(targets.map((t) => t.sweep_id))) {
    const target = await reportTargetOfSweep(sql, sweepId);
    if (target) await scheduleReport(sql, target, 0);
  }
  await ctx.reply(renderDone(ctx.actor.login, `Stopping ${targets.map((t) => `#${t.counter}`).join(", ")}.`));
  return `stopped ${targets.length}`;
};
