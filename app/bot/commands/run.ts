/** `/vh run STEP …`: a sweep (or one execution) at the pull request's head commit, or at the commit whose message says it. */
import { VhError } from "../../errors.js";
import type { Command } from "./parse.js";
import { startSweep } from "../../sweeps/start.js";
import { definitionOfRun } from "../../sweeps/definition.js";
import type { CommandRunner } from "./types.js";
import { changeRequestName, changeRequestNoun } from "../../contracts/forge.js";

export const run: CommandRunner<Extract<Command, { name: "run" }>> = async (ctx, cmd) => {
  const place = ctx.place;
  if (place.kind === "pull_request" && place.pull.state !== "open") {
    const name = changeRequestName(ctx.repo.forge, place.pr);
    const noun = changeRequestNoun(ctx.repo.forge);
    throw new VhError("conflict", `${name[0]!.toUpperCase()}${name.slice(1)} is closed; vh runs on open ${noun}s.`);
  }
  // For a fork this is the fork's head commit (the one commented on): what runs is what was reviewed,
  // and it is recorded; its valohai.yaml is the base's unless the project allows the fork's own.
  const configFrom = place.kind === "pull_request" ? place.configFrom : null;
  const started = await startSweep(ctx.deps, ctx.forge, {
    ...(configFrom ? { configFrom } : {}),
    repo: ctx.repo,
    commitSha: place.kind === "pull_request" ? place.pull.headSha : place.sha,
    step: cmd.step,
    definition: definitionOfRun(cmd.rules, cmd.options),
    ...(cmd.options.environment ? { environment: cmd.options.environment } : {}),
    ...(cmd.options.retries ? { retries: cmd.options.retries } : {}),
    trigger: place.kind === "pull_request" ? "comment" : "push",
    pr: place.kind === "pull_request" ? place.pr : null,
    commentId: ctx.commentId,
    actor: ctx.actor,
    requestKey: ctx.requestKey,
  });
  return `${started.existing ? "already created" : "created"} sweep ${started.sweepId}: ${started.counters.map((c) => `#${c}`).join(", ")}`;
};
