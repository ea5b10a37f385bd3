/** What command runners are given: the forge client, where the command came from, and a way to answer. */
import type { Sql } from "../../../db/client.js";
import type { Store } from "../../contracts/store.js";
import type { Config } from "../../config.js";
import type { Logger } from "../../log.js";
import type { Actor, Forge, ForgeProvider, Permission, PullRequest, RepoRef } from "../../contracts/forge.js";

export interface BotDeps {
  sql: Sql;
  store: Store;
  config: Config;
  log: Logger;
  forges: ForgeProvider;
  fetch?: typeof fetch;
}

export interface CommandContext {
  deps: BotDeps;
  forge: Forge;
  repo: RepoRef;
  /** The pull request the comment is on. */
  pr: number;
  pull: PullRequest;
  actor: Actor;
  permission: Permission;
  commentUrl: string | null;
  commentId: number | null;
  /** Unique per webhook delivery and command: what makes a replayed delivery create nothing. */
  requestKey: string;
  /** Posts a reply on the pull request. */
  reply(body: string): Promise<void>;
}

/** A runner returns a few words for the delivery's outcome (logged and stored). */
export type CommandRunner<C> = (ctx: CommandContext, command: C) => Promise<string>;
