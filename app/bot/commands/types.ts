/** What command runners are given: the forge client, where the command came from (a pull request's comment or a commit's message), and a way to answer. */
import type { Sql } from "../../../db/client.js";
import type { Store } from "../../contracts/store.js";
import type { Config } from "../../config.js";
import type { Logger } from "../../log.js";
import type { Actor, Forge, Forges, Permission, PullRequest, RepoRef } from "../../contracts/forge.js";

export interface BotDeps {
  sql: Sql;
  store: Store;
  config: Config;
  log: Logger;
  /** The forge each repository lives on. */
  forges: Forges;
  fetch?: typeof fetch;
}

/** Where a command was given: a comment on a pull (merge) request, or a line of a commit's message (pushed or polled). */
export type CommandPlace =
  | {
      kind: "pull_request";
      pr: number;
      /** Its head is the one the comment was made on (app/bot/pin-head.ts). */
      pull: PullRequest;
      /** A fork's: the base commit whose valohai.yaml its code runs with (app/bot/fork-policy.ts); null: its own. */
      configFrom: string | null;
    }
  | { kind: "commit"; sha: string; ref: string };

export interface CommandContext {
  deps: BotDeps;
  forge: Forge;
  repo: RepoRef;
  place: CommandPlace;
  actor: Actor;
  permission: Permission;
  commentUrl: string | null;
  commentId: number | null;
  /** Unique per webhook delivery and command: what makes a replayed delivery create nothing. */
  requestKey: string;
  /** Answers where the command was given: a comment on the pull request; for a commit, a failed check run or commit status (where the forge has them). */
  reply(body: string): Promise<void>;
}

/** The pull request of a command that works only on one (commands/index.ts WORKS_IN keeps the others out of commit messages). */
export function pullRequestOf(ctx: CommandContext): { pr: number; pull: PullRequest; configFrom: string | null } {
  if (ctx.place.kind !== "pull_request") throw new Error(`a pull request command ran in a ${ctx.place.kind} (WORKS_IN should have refused it)`);
  return ctx.place;
}

/** A runner returns a few words for the delivery's outcome (logged and stored). */
export type CommandRunner<C> = (ctx: CommandContext, command: C) => Promise<string>;
