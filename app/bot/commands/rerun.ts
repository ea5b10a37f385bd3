/** `/vh rerun N`: execution #N of this pull request again, same parameters, same commit. */
import { VhError } from "../../errors.js";
import type { Command } from "./parse.js";
import { startSweep } from "../../sweeps/start.js";
import { gridOf } from "../../sweeps/definition.js";
import { executionOfPr, pointOf } from "../../sweeps/of-pull-request.js";
import { pullRequestOf, type CommandRunner } from "./types.js";

export const rerun: CommandRunner<Extract<Command, { name: "rerun" }>> = async (ctx, cmd) => {
  const { pr } = pullRequestOf(ctx);
  const e = await executionOfPr(ctx.deps.sql, ctx.repo, pr, cmd.execution);
  if (!e) throw new VhError("not_found", `Execution #${cmd.execution} was not started from this pull request.`);
  const spec = Object.fromEntries(Object.entries(pointOf(e)).map(([k, v]) => [k, [v]]));
  const started = await startSweep(ctx.deps, ctx.forge, {
    repo: ctx.repo,
    commitSha: e.commit_sha,
    // The code that ran (a fork's with its base's valohai.yaml), not the commit's archive read again.
    code: e.code_sha256,
    step: e.step,
    definition: gridOf(spec),
    trigger: "rerun",
    pr,
    commentId: ctx.commentId,
    actor: ctx.actor,
    requestKey: ctx.requestKey,
  });
  return `rerun of #${cmd.execution}: ${started.counters.map((c) => `#${c}`).join(", ")}`;
};
