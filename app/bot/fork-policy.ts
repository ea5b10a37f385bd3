/**
 * Whether a command may run code from a fork's pull request. Beyond the commenter's permission
 * (write or more, checked first), a fork's code runs only when the project allows commands on fork
 * pull requests (`PATCH /projects/:project {"forkCommands": true}`, `vh project set --fork-commands
 * on`) or the command itself says so (`/vh run … --allow-fork`). Off by default: a maintainer's
 * habitual `/vh run` on a stranger's pull request does not run the stranger's code by accident.
 */
import type { Sql } from "../../db/client.js";
import { changeRequestName, changeRequestNoun, type PullRequest, type RepoRef } from "../contracts/forge.js";
import { existingProjectForRepo, projectNameFor } from "../projects/for-repo.js";
import type { Command } from "./commands/parse.js";
import { VhError } from "../errors.js";

/** The commands that run the pull request's code at its head. */
const RUNS_HEAD: ReadonlySet<Command["name"]> = new Set(["run", "pipeline"]);

export function runsHead(command: Command): boolean {
  return RUNS_HEAD.has(command.name);
}

/**
 * What a fork's command may do, decided from the project once: refused (not allowed for every
 * command, and no `--allow-fork`), or allowed with the base commit whose valohai.yaml its code runs
 * with (`configFrom`; null: the pull request's own, as for any pull request that is not a fork, or
 * a project that allows fork configs). A fork's valohai.yaml decides its image, its environment
 * (which hosts, GPUs, spot or not) and its inputs: the base repository's decides.
 */
export type ForkDecision = { refused: string } | { configFrom: string | null };

export async function forkDecision(sql: Sql, repo: RepoRef, pr: number, pull: PullRequest, command: Command): Promise<ForkDecision> {
  if (!pull.isFork || !runsHead(command)) return { configFrom: null };
  const project = await existingProjectForRepo(sql, repo);
  if (!(command.name === "run" && command.options.allowFork) && !project?.forkCommands) {
    const noun = changeRequestNoun(repo.forge);
    const name = project?.name ?? projectNameFor(repo.fullName);
    return {
      refused:
        `this ${noun} comes from a fork (${pull.headRepo ?? "a deleted repository"}), and project \`${name}\` does not run commands on fork ${noun}s. ` +
        `If you have read the fork's code at \`${pull.headSha.slice(0, 7)}\`, run it with \`/vh run … --allow-fork\`; ` +
        `a project admin can allow it for every command with \`vh project set ${name} --fork-commands on\`.`,
    };
  }
  if (project?.forkConfigs) return { configFrom: null };
  if (!pull.baseSha) {
    throw new VhError("conflict", `${changeRequestName(repo.forge, pr)} does not name its base commit yet, and code from a fork runs with the base's valohai.yaml; try again in a minute.`);
  }
  return { configFrom: pull.baseSha };
}
