/** `/vh rerun N`: execution #N of this pull request again, same parameters, same commit. */
import { VhError } from "../../errors.js";
import { expandSweep } from "../../sweeps/index.js";
import type { Command } from "./parse.js";
import { startSweep } from "../../sweeps/start.js";
import { executionOfPr } from "../../sweeps/of-pull-request.js";
import { pullRequestOf, type CommandRunner } from "./types.js";

export const rerun: CommandRunner<Extract<Command, { name: "rerun" }>> = async (ctx, cmd) => {
  const { pr } = pullRequestOf(ctx);
  const e = await executionOfPr(ctx.deps.sql, ctx.repo, pr, cmd.execution);
  if (!e) throw new VhError("not_found", `Execution #${cmd.execution} was not started from this pull request.`);
  const point = expandSweep("grid", e.spec)[e.position] ?? {};
  const spec = Object.fromEntries(Object.entries(point).map(([k, v]) => [k, [v]]));
  const started = await startSweep(ctx.deps, ctx.forge, {
    repo: ctx.repo,
    commitSha: e.commit_sha,
    step: e.step,
    spec,
    trigger: "rerun",
    pr,
    commentId: ctx.commentId,
    actor: ctx.actor,
    requestKey: ctx.requestKey,
  });
  return `rerun of #${cmd.execution}: ${started.counters.map((c) => `#${c}`).join(", ")}`;
};
