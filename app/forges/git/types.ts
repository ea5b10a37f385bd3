/**
 * What the plain-Git forge is built from, and the shapes its service hands out.
 *
 * Terminology (app/contracts/forge.ts has the forge-wide one):
 * - linked repository: a row of `git_repositories`, made by `vh repo add URL`; its id is also its
 *   forge repository id and its installation id (credentials are per repository).
 * - remote: the repository at its URL, on whatever host serves it.
 * - mirror: vh's bare, shallow copy of the commits it handled, `<git.dir>/mirrors/<id>.git`.
 * - baseline: the refs seen when the repository was linked; commits already there are never run.
 * - watched branch: a branch whose new head commits are handled (default: the remote's default branch).
 */
import type { Config } from "../../config.js";
import type { Logger } from "../../log.js";
import type { Sql } from "../../../db/client.js";

/** Everything the plain-Git forge needs, passed down from the composition root. */
export interface GitDeps {
  sql: Sql;
  /** `config.git`: where mirrors and keys live, and the shortest poll interval allowed. */
  git: Config["git"];
  log: Logger;
  /**
   * The server's environment, read only for `VH_GIT_TOKEN_*` variables (https tokens, named per
   * repository by `tokenEnv`) and the few variables git itself needs (PATH, HOME, proxies, CA files).
   */
  env: Record<string, string | undefined>;
  /** Bound on one git command (ls-remote, fetch, archive); default 60 s. */
  gitTimeoutMs?: number;
  /** For the poll's jitter (tests pin it); default Math.random. */
  random?: () => number;
}

/** The URL kinds vh links. */
export type RemoteKind = "https" | "ssh" | "git" | "file";

/** A remote URL, checked and taken apart. */
export interface Remote {
  kind: RemoteKind;
  /** The URL as given (never with a password). */
  url: string;
  /** Host name (empty for file://). */
  host: string;
  /** Path on the host, without leading or trailing slashes and without `.git`. */
  path: string;
  /** `host/path` (file://: the path): the repository's name in vh. */
  name: string;
  /** The last path part: the default project name. */
  lastPart: string;
  /** https: the user name in the URL (the token's Basic-auth user); ssh: the login. */
  user: string | null;
}

/** What a linking asks for (REST `POST /api/v1/repos`, `vh repo add`). */
export interface LinkRepositoryInput {
  url: string;
  /** The vh project (created when missing); default: the URL's last path part. */
  project?: string | undefined;
  /** Branches whose new commits are handled; default: the remote's default branch. */
  branches?: string[] | undefined;
  pollSeconds?: number | undefined;
  /** ssh: the deploy key's text (stored 0600 on the server, never logged, never returned). */
  keyPem?: string | undefined;
  /** https: the name of a `VH_GIT_TOKEN_*` environment variable on the server holding the token. */
  tokenEnv?: string | undefined;
  /** The HMAC-SHA256 secret of `POST /api/git/webhooks/:repo` (at least 16 characters). */
  webhookSecret?: string | undefined;
}

/** A linked repository as the API and CLI show it: never its key, token or webhook secret. */
export interface RepositoryView {
  id: number;
  name: string;
  url: string;
  kind: RemoteKind;
  project: string;
  /** The branches asked for (empty: the default branch). */
  branches: string[];
  /** What is watched now: `branches`, or the default branch. */
  watching: string[];
  defaultBranch: string | null;
  pollSeconds: number;
  credentials: "deploy key" | "token" | "none";
  /** https: the environment variable the token is read from (its name only). */
  tokenEnv: string | null;
  /** ssh: whether the host key is pinned. */
  hostKeyPinned: boolean;
  webhook: { path: string } | null;
  lastPollAt: string | null;
  lastError: string | null;
  lastCommitSha: string | null;
  /** valohai.yaml problems at the last commit handled (`file:line:column: message` lines), or null. */
  lastLint: string | null;
  failures: number;
  /**
   * The last commit whose `/vh run` lines were handed to the bot, and what came of it (null while
   * it waits to be handled): a plain Git host has no comments or checks to say it on.
   */
  lastRun: { sha: string; at: string; outcome: string | null } | null;
  /** When the next poll is due (null when none is queued). */
  nextPollAt: string | null;
  createdAt: string;
}

/** What the REST routes (app/http/routes/repos.ts) are given: the linking service, bound to its deps. */
export interface RepoService {
  link(input: LinkRepositoryInput, by: { admin: boolean }): Promise<RepositoryView>;
  list(): Promise<RepositoryView[]>;
  status(repo: string): Promise<RepositoryView>;
  remove(repo: string): Promise<{ id: number; name: string }>;
}
