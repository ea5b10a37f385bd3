/** `/vh help`: the grammar, and the steps valohai.yaml has at the head commit. */
import { renderHelp } from "../../../templates/github/render.js";
import { loadValohaiYaml, SERVER_MAX_YAML_BYTES } from "../../valohai/index.js";
import { stepNames, YAML_PATH } from "../../snapshots/config.js";
import { recordedSnapshot } from "../../snapshots/of-commit.js";
import type { Command } from "./parse.js";
import { pullRequestOf, type CommandRunner } from "./types.js";

export const help: CommandRunner<Extract<Command, { name: "help" }>> = async (ctx) => {
  const sha = pullRequestOf(ctx).pull.headSha;
  // A commit that already has its snapshot (a command ran on it): its steps from the same parse.
  // Otherwise only the one file is read: anyone may ask for help, and asking must not make vh
  // download and store a commit's code (that is for those who may run it, through /vh run).
  const code = await recordedSnapshot(ctx.deps.sql, ctx.repo, sha);
  let steps: string[] | null;
  if (code) {
    steps = await stepNames(ctx.deps.store, { code, yamlPath: YAML_PATH, commitSha: sha });
  } else {
    const text = await ctx.forge.readFile(ctx.repo, sha, YAML_PATH);
    steps = text === null ? null : [...(loadValohaiYaml(text, { filename: YAML_PATH, maxBytes: SERVER_MAX_YAML_BYTES }).config?.steps.keys() ?? [])];
  }
  await ctx.reply(renderHelp(ctx.deps.config.sweepCap, steps, ctx.repo.forge));
  return "replied: help";
};
