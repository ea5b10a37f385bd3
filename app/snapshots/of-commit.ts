/**
 * The code snapshot of a forge commit: the forge's archive of it, repacked and stored
 * content-addressed (./store.ts), and recorded per (repository, commit) in
 * `forge_commit_snapshots`, so a commit's archive is downloaded once: by the first command on it,
 * and never again by a second command, a rerun, a button or `/vh help`. Two handlings that want
 * the same commit at once in this process share one download.
 */
import type { Sql } from "../../db/client.js";
import type { Store } from "../contracts/store.js";
import type { Forge, RepoRef } from "../contracts/forge.js";
import type { Config } from "../config.js";
import { snapshotFromArchive } from "./store.js";

export interface CommitSnapshotDeps {
  sql: Sql;
  store: Store;
  config: Pick<Config, "maxCodeBytes" | "codeLimits">;
}

const inFlight = new Map<string, Promise<string>>();

/** The recorded snapshot of the commit, when it was stored before (and is still a stored snapshot). */
export async function recordedSnapshot(sql: Sql, repo: RepoRef, commitSha: string): Promise<string | null> {
  const [row] = await sql<{ code_sha256: string }[]>`
    select g.code_sha256 from forge_commit_snapshots g join code_snapshots c on c.sha256 = g.code_sha256
    where g.forge = ${repo.forge} and g.repository_id = ${repo.id} and g.commit_sha = ${commitSha}`;
  return row?.code_sha256 ?? null;
}

/** The sha256 of the commit's code snapshot: the recorded one, or the forge's archive downloaded, stored and recorded now. */
export function snapshotOfCommit(deps: CommitSnapshotDeps, forge: Forge, repo: RepoRef, commitSha: string): Promise<string> {
  const key = `${repo.forge}:${repo.id}:${commitSha}`;
  const running = inFlight.get(key);
  if (running) return running;
  const p = (async () => {
    const recorded = await recordedSnapshot(deps.sql, repo, commitSha);
    if (recorded) return recorded;
    const archive = await forge.downloadArchive(repo, commitSha, deps.config.maxCodeBytes);
    const code = await snapshotFromArchive(deps, archive, deps.config.codeLimits);
    await deps.sql`
      insert into forge_commit_snapshots (forge, repository_id, commit_sha, code_sha256) values (${repo.forge}, ${repo.id}, ${commitSha}, ${code})
      on conflict (forge, repository_id, commit_sha) do update set code_sha256 = excluded.code_sha256`;
    return code;
  })().finally(() => inFlight.delete(key));
  inFlight.set(key, p);
  return p;
}
