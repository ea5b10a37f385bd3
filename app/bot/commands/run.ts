/** `/vh run STEP …`: a sweep (or one execution) at the pull request's head commit. */
import { VhError } from "../../errors.js";
import type { Command } from "./parse.js";
import { startSweep } from "../../sweeps/start.js";
import type { CommandRunner } from "./types.js";

export const run: CommandRunner<Extract<Command, { name: "run" }>> = async (ctx, cmd) => {
  if (ctx.pull.state !== "open") throw new VhError("conflict", `Pull request #${ctx.pr} is closed; vh runs on open pull requests.`);
  // For a fork this is the fork's head commit: what runs is what was reviewed, and it is recorded.
  const started = await startSweep(ctx.deps, ctx.forge, {
    repo: ctx.repo,
    commitSha: ctx.pull.headSha,
    step: cmd.step,
    spec: cmd.parameters,
    trigger: "comment",
    pr: ctx.pr,
    commentId: ctx.commentId,
    actor: ctx.actor,
    requestKey: ctx.requestKey,
  });
  return `${started.existing ? "already created" : "created"} sweep ${started.sweepId}: ${started.counters.map((c) => `#${c}`).join(", ")}`;
};
