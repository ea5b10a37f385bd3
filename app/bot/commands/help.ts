/** `/vh help`: the grammar, and the steps valohai.yaml has at the head commit. */
import { renderHelp } from "../../../templates/github/render.js";
import { loadValohaiYaml } from "../../valohai/index.js";
import { YAML_PATH } from "../../sweeps/start.js";
import type { Command } from "./parse.js";
import type { CommandRunner } from "./types.js";

export const help: CommandRunner<Extract<Command, { name: "help" }>> = async (ctx) => {
  const text = await ctx.forge.readFile(ctx.repo, ctx.pull.headSha, YAML_PATH);
  const steps = text === null ? null : [...(loadValohaiYaml(text, { filename: YAML_PATH }).config?.steps.keys() ?? [])];
  await ctx.reply(renderHelp(ctx.deps.config.sweepCap, steps));
  return "replied: help";
};
