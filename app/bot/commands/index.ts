/**
 * The one command path: the runner map, keyed by command name; which commands need write
 * permission; and where each works. Comments on pull requests and `/vh` lines in commit messages
 * both come through here (app/bot/handle-event.ts builds the context).
 */
import type { Command, CommandName } from "./parse.js";
import type { CommandContext, CommandPlace } from "./types.js";
import { run } from "./run.js";
import { help } from "./help.js";
import { status } from "./status.js";
import { stop } from "./stop.js";
import { rerun } from "./rerun.js";
import { reproduce } from "./reproduce.js";
import { approve } from "./approve.js";
import { reject } from "./reject.js";
import { pipeline } from "./pipeline.js";

type Runners = { [N in CommandName]: (ctx: CommandContext, c: Extract<Command, { name: N }>) => Promise<string> };

export const runners: Runners = { run, help, status, stop, rerun, reproduce, approve, reject, pipeline };

/** Commands that start or stop code need write permission; approve/reject check their own rules (the model's approvers). */
export const NEEDS_WRITE: Record<CommandName, boolean> = {
  run: true,
  stop: true,
  rerun: true,
  reproduce: true,
  help: false,
  status: false,
  approve: false,
  reject: false,
  pipeline: true,
};

/** Where each command works: everything on a pull request; in a commit message only `run` (the rest act on a pull request's runs). */
export const WORKS_IN: Record<CommandName, readonly CommandPlace["kind"][]> = {
  run: ["pull_request", "commit"],
  stop: ["pull_request"],
  rerun: ["pull_request"],
  reproduce: ["pull_request"],
  help: ["pull_request"],
  status: ["pull_request"],
  approve: ["pull_request"],
  reject: ["pull_request"],
  pipeline: ["pull_request"],
};

/** Why a command cannot run where it was given, or null when it can. */
export function placeRefusal(command: CommandName, place: CommandPlace["kind"]): string | null {
  if (WORKS_IN[command].includes(place)) return null;
  const here = Object.entries(WORKS_IN).filter(([, places]) => places.includes(place)).map(([n]) => `\`/vh ${n}\``);
  return place === "commit"
    ? `\`/vh ${command}\` works in a pull request's comments, not in a commit message; in a commit message only ${here.join(", ")} works.`
    : `\`/vh ${command}\` does not work here.`;
}

export function runCommand(ctx: CommandContext, command: Command): Promise<string> {
  return (runners[command.name] as (ctx: CommandContext, c: Command) => Promise<string>)(ctx, command);
}
