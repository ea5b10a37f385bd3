/**
 * The plain-Git forge: any Git server vh can reach by URL (`vh repo add`), read through a local
 * mirror. It has the core every forge has and no capabilities: a plain Git host has no pull
 * requests, comments, check runs or statuses, so a sweep's results show in vh (the CLI, the UI)
 * only, and `vh repo status` shows what the poller saw.
 *
 * Installations are linked repositories: `forInstallation(id)` is the forge of repository `id`
 * (git_repositories.id), with that repository's own credentials.
 *
 * Who may run: anyone. Linking a repository is the authorisation — whoever can push to one of its
 * watched branches is trusted to run its steps — so every actor has `write` (an actor with no
 * identity at all, the empty login, has `none`).
 */
import { ForgeError, VhError } from "../../errors.js";
import type { Forge, ForgeProvider, Permission, RepoRef } from "../../contracts/forge.js";
import { isFullSha, type Mirror } from "./mirror.js";
import { watchedBranches } from "./poll.js";
import { mirrorOf, repositoryById, type GitRepositoryRow } from "./records.js";
import type { GitDeps } from "./types.js";

export type { GitDeps } from "./types.js";

/** The most a file read through `readFile` may be (valohai.yaml and friends are far smaller). */
export const MAX_READ_BYTES = 16 * 1024 * 1024;

export function createGitProvider(deps: GitDeps): ForgeProvider {
  return {
    kind: "git",
    async forInstallation(installationId: number): Promise<Forge> {
      const row = await repositoryById(deps.sql, installationId);
      if (!row) return removedForge(installationId);
      return gitForge(deps, row);
    },
  };
}

/** A repository unlinked since: it shows nothing (no capabilities), and every read says it is gone. */
function removedForge(id: number): Forge {
  const gone = async (): Promise<never> => {
    throw new ForgeError(`There is no linked Git repository with id ${id} (removed?): vh repo list shows those linked.`);
  };
  return { kind: "git", getPermission: gone, getPullRequest: gone, readFile: gone, downloadArchive: gone, resolveCommit: gone };
}

export function gitForge(deps: GitDeps, row: GitRepositoryRow): Forge {
  const mirror: Mirror = mirrorOf(deps, row);
  function check(repo: RepoRef): void {
    if (repo.forge !== "git" || repo.id !== row.id) {
      throw new ForgeError(`The Git forge of repository ${row.id} (${row.name}) was asked about ${repo.forge} repository ${repo.id} (${repo.fullName}).`);
    }
  }
  /** A commit in the mirror, by full sha or by what `resolveCommit` makes of the ref; null when there is none. */
  async function commitOf(repo: RepoRef, ref: string): Promise<string | null> {
    const sha = isFullSha(ref) ? ref : await forge.resolveCommit(repo, ref);
    if (!sha) return null;
    return (await mirror.ensureCommit(sha)) ? sha : null;
  }

  const forge: Forge = {
    kind: "git",

    async getPermission(repo, login): Promise<Permission> {
      check(repo);
      return login.trim() === "" ? "none" : "write";
    },

    async getPullRequest(repo, number) {
      check(repo);
      throw new VhError("not_found", `${repo.fullName} is on a plain Git host, and plain Git hosts have no pull requests (asked for #${number}).`);
    },

    async readFile(repo, sha, path) {
      check(repo);
      const commit = await commitOf(repo, sha);
      if (!commit) return null;
      return mirror.readFile(commit, path, MAX_READ_BYTES);
    },

    async downloadArchive(repo, sha, maxBytes) {
      check(repo);
      const commit = await commitOf(repo, sha);
      if (!commit) throw new ForgeError(`${repo.fullName} has no commit ${sha.slice(0, 12)} (the remote does not have it either).`);
      return mirror.archive(commit, maxBytes);
    },

    async resolveCommit(repo, ref) {
      check(repo);
      const r = ref.trim();
      if (isFullSha(r)) return (await mirror.ensureCommit(r)) ? r : null;
      if (r === "HEAD") {
        // the default branch's tip, as the remote says now
        const remote = await mirror.lsRemote();
        const branch = remote.defaultBranch ?? row.default_branch;
        return branch ? (remote.heads[`refs/heads/${branch}`] ?? null) : null;
      }
      const named = await mirror.lsRemoteRef(r);
      if (named) return named;
      if (!/^[0-9a-fA-F]{4,63}$/.test(r)) return null;
      const known = await mirror.expand(r.toLowerCase());
      if (known) return known;
      // an abbreviated sha of a watched branch's head the mirror has not fetched yet
      const heads = watchedBranches(row).map((b) => `refs/heads/${b}`);
      const remote = await mirror.lsRemote();
      const present = heads.filter((h) => remote.heads[h]);
      if (present.length === 0) return null;
      await mirror.fetch(present);
      return mirror.expand(r.toLowerCase());
    },
  };
  return forge;
}
