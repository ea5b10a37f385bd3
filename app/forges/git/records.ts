/**
 * `git_repositories` rows: read by id or name, turned into the mirror that reaches the remote with
 * the repository's own credentials, and the RepoRef the rest of vh knows the repository by.
 */
import type { Sql } from "../../../db/client.js";
import type { Row } from "../../../db/queries/rows.js";
import type { gitRepositories } from "../../../db/schema/git.js";
import { repoRef, type RepoRef } from "../../contracts/forge.js";
import { Mirror } from "./mirror.js";
import { repoPaths } from "./mirror.js";
import { parseRemote, type Transport } from "./remote.js";
import type { GitDeps } from "./types.js";

export type GitRepositoryRow = Omit<Row<typeof gitRepositories>, "id"> & { id: number };

/** The poll's job key and queue: one pending poll, and never two at once, per repository. */
export function pollKey(id: number): string {
  return `git_poll:${id}`;
}

function fromRow(r: Row<typeof gitRepositories>): GitRepositoryRow {
  return { ...r, id: Number(r.id) };
}

export async function repositoryById(sql: Sql, id: number): Promise<GitRepositoryRow | null> {
  const [row] = await sql<Row<typeof gitRepositories>[]>`select * from git_repositories where id = ${id}`;
  return row ? fromRow(row) : null;
}

/** By id (digits) or name; null when neither matches. */
export async function findRepositoryRow(sql: Sql, ref: string): Promise<GitRepositoryRow | null> {
  if (/^\d{1,15}$/.test(ref)) {
    const byId = await repositoryById(sql, Number(ref));
    if (byId) return byId;
  }
  const [row] = await sql<Row<typeof gitRepositories>[]>`select * from git_repositories where name = ${ref} order by id limit 1`;
  return row ? fromRow(row) : null;
}

/** The RepoRef of a linked repository: its id is also its installation (credentials are per repository). */
export function repoRefOf(r: { id: number; name: string }): RepoRef {
  return repoRef({ forge: "git", id: r.id, installationId: r.id, fullName: r.name });
}

/** How git reaches the repository: its deploy key and pinned host key, its token's variable, or nothing. */
export function transportOf(deps: Pick<GitDeps, "git">, r: GitRepositoryRow): Transport {
  const remote = parseRemote(r.url);
  const paths = repoPaths(deps.git.dir, r.id);
  switch (remote.kind) {
    case "ssh":
      return { kind: "ssh", keyFile: r.key_file ?? paths.keyFile, knownHostsFile: paths.knownHostsFile, pinned: Boolean(r.known_hosts) };
    case "https":
      return { kind: "https", host: remote.host, user: remote.user, tokenEnv: r.token_env };
    case "git":
      return { kind: "git" };
    case "file":
      return { kind: "file" };
  }
}

/** The advisory-lock namespace of mirror writes (`git` as four bytes). */
const MIRROR_LOCK = 0x67697400;

/** The repository's mirror; a host key pinned on this contact is stored on the row. */
export function mirrorOf(deps: GitDeps, r: GitRepositoryRow): Mirror {
  const paths = repoPaths(deps.git.dir, r.id);
  return new Mirror({
    dir: paths.mirror,
    workDir: deps.git.dir,
    kind: parseRemote(r.url).kind,
    url: r.url,
    transport: transportOf(deps, r),
    tokenEnv: r.token_env,
    serverEnv: deps.env,
    ...(deps.gitTimeoutMs !== undefined ? { timeoutMs: deps.gitTimeoutMs } : {}),
    knownHosts: r.known_hosts,
    onPinned: async (knownHosts) => {
      await deps.sql`update git_repositories set known_hosts = ${knownHosts} where id = ${r.id} and known_hosts is null`;
    },
    // one writer per mirror across every vh process on this data dir: a transaction-scoped advisory lock
    lock: <T>(f: () => Promise<T>) =>
      deps.sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(${MIRROR_LOCK}, ${r.id}::int)`;
        return f();
      }) as Promise<T>,
  });
}
