/** The runner map, keyed by command name; which commands need write permission. */
import type { Command, CommandName } from "./parse.js";
import type { CommandContext } from "./types.js";
import { run } from "./run.js";
import { help } from "./help.js";
import { status } from "./status.js";
import { stop } from "./stop.js";
import { rerun } from "./rerun.js";
import { approve } from "./approve.js";
import { reject } from "./reject.js";

type Runners = { [N in CommandName]: (ctx: CommandContext, c: Extract<Command, { name: N }>) => Promise<string> };

export const runners: Runners = { run, help, status, stop, rerun, approve, reject };

/** Commands that start or stop code need write permission; approve/reject check their own rules (the model's approvers). */
export const NEEDS_WRITE: Record<CommandName, boolean> = {
  run: true,
  stop: true,
  rerun: true,
  help: false,
  status: false,
  approve: false,
  reject: false,
};

export function runCommand(ctx: CommandContext, command: Command): Promise<string> {
  return (runners[command.name] as (ctx: CommandContext, c: Command) => Promise<string>)(ctx, command);
}
