/**
 * Linking plain Git repositories (`vh repo add|list|status|remove`, REST /api/v1/repos).
 *
 * Linking checks the URL and its credentials, reaches the remote at once (`git ls-remote`: a typo,
 * a missing key or an unknown host fails the link, not a poll later), pins an ssh host key on this
 * first contact, and takes the remote's branches as the baseline: commits already there are never
 * run; only commits that arrive after linking are. It creates the project (default: the URL's last
 * path part) and the forge_repositories row (forge `git`, the same id), and queues the first poll.
 *
 * Linking is the authorisation: whoever can push to a watched branch of a linked repository is
 * trusted to run its valohai.yaml steps on vh's hosts (docs/git-hosts.md).
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import ssh2 from "ssh2";
import type { Sql } from "../../../db/client.js";
import { addJob } from "../../../db/queries/jobs.js";
import { createProject } from "../../../db/queries/projects.js";
import type { Row } from "../../../db/queries/rows.js";
import type { gitRepositories } from "../../../db/schema/git.js";
import { ForgeError, VhError } from "../../errors.js";
import { projectNameFor } from "../../projects/for-repo.js";
import { isRefName, Mirror, repoPaths } from "./mirror.js";
import { intervalOf, nextPollDelayMs, watchedBranches } from "./poll.js";
import { findRepositoryRow, pollKey, type GitRepositoryRow } from "./records.js";
import { checkTokenEnv, checkTokenHost, parseRemote, type Transport } from "./remote.js";
import type { GitDeps, LinkRepositoryInput, RepoService, RepositoryView } from "./types.js";
import { WEBHOOK_PATH } from "./webhook-route.js";

export const DEFAULT_POLL_SECONDS = 60;
export const MAX_POLL_SECONDS = 86_400;
const MAX_BRANCHES = 50;
const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function bad(message: string): VhError {
  return new VhError("bad_request", message);
}

type ViewRow = Row<typeof gitRepositories> & {
  project_name: string;
  next_poll_at: Date | null;
  run_id: string | null;
  run_at: Date | null;
  run_outcome: string | null;
};

function toView(r: ViewRow): RepositoryView {
  const id = Number(r.id);
  const kind = parseRemote(r.url).kind;
  return {
    id,
    name: r.name,
    url: r.url,
    kind,
    project: r.project_name,
    branches: r.branches,
    watching: watchedBranches(r),
    defaultBranch: r.default_branch,
    pollSeconds: r.poll_seconds,
    credentials: r.key_file ? "deploy key" : r.token_env ? "token" : "none",
    tokenEnv: r.token_env,
    hostKeyPinned: Boolean(r.known_hosts),
    webhook: r.webhook_secret ? { path: `${WEBHOOK_PATH}/${id}` } : null,
    lastPollAt: r.last_poll_at?.toISOString() ?? null,
    lastError: r.last_error,
    lastCommitSha: r.last_commit_sha,
    lastLint: r.last_lint,
    failures: r.failures,
    lastRun: r.run_id && r.run_at ? { sha: r.run_id.slice(r.run_id.indexOf(":") + 1), at: r.run_at.toISOString(), outcome: r.run_outcome } : null,
    nextPollAt: r.next_poll_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
  };
}

async function views(sql: Sql, id: number | null): Promise<RepositoryView[]> {
  const rows = await sql<ViewRow[]>`
    select g.*, p.name as project_name,
      (select min(j.run_at) from graphile_worker.jobs j where j.key = 'git_poll:' || g.id::text and j.attempts < j.max_attempts) as next_poll_at,
      d.id as run_id, d.received_at as run_at, d.outcome as run_outcome
    from git_repositories g join projects p on p.id = g.project_id
    left join lateral (
      select id, received_at, outcome from forge_deliveries
      where forge = 'git' and installation_id = g.id order by received_at desc, id desc limit 1) d on true
    where ${id === null ? sql`true` : sql`g.id = ${id}`}
    order by g.id`;
  return rows.map(toView);
}

async function mustFind(sql: Sql, ref: string): Promise<GitRepositoryRow> {
  const row = await findRepositoryRow(sql, ref);
  if (!row) throw new VhError("not_found", `No linked repository "${ref}": vh repo list shows them (by id and name).`);
  return row;
}

/** Checks the deploy key's text: an unencrypted private key ssh can use. */
function checkDeployKey(text: string): string {
  if (text.length > 64 * 1024) throw bad("The deploy key is over 64 KB: send the private key file itself.");
  const parsed = ssh2.utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    throw bad(`The deploy key is not a private key vh can use (${key instanceof Error ? key.message : "empty"}): send an OpenSSH or PEM private key without a passphrase.`);
  }
  if (!key.isPrivateKey()) throw bad("The deploy key is a public key: send the private key (the file without .pub), and add the public one to the repository.");
  return text.endsWith("\n") ? text : `${text}\n`;
}

function checkBranches(branches: string[] | undefined): string[] {
  const out: string[] = [];
  for (const raw of branches ?? []) {
    const b = raw.trim().replace(/^refs\/heads\//, "");
    if (!isRefName(b)) throw bad(`Branch "${raw}" is not a valid branch name.`);
    if (!out.includes(b)) out.push(b);
  }
  if (out.length > MAX_BRANCHES) throw bad(`At most ${MAX_BRANCHES} branches per repository.`);
  return out;
}

function checkPollSeconds(deps: GitDeps, s: number | undefined): number {
  const v = s ?? Math.max(DEFAULT_POLL_SECONDS, Math.ceil(deps.git.minPollSeconds));
  const min = Math.max(1, Math.ceil(deps.git.minPollSeconds));
  if (!Number.isInteger(v) || v < min || v > MAX_POLL_SECONDS) {
    throw bad(`The poll interval is whole seconds from ${min} (VH_GIT_MIN_POLL_S) to ${MAX_POLL_SECONDS}, not ${v}.`);
  }
  return v;
}

/**
 * Links a repository: checks, reaches it, takes the baseline, stores it, queues its first poll.
 * `allowFile`: file:// URLs read repositories on the vh server's own disks, so only admins may.
 */
export async function linkRepository(deps: GitDeps, input: LinkRepositoryInput, opts: { allowFile?: boolean } = {}): Promise<RepositoryView> {
  const remote = parseRemote(input.url);
  if (remote.kind === "file" && !opts.allowFile) {
    throw new VhError("forbidden", `${remote.url}: file:// URLs read repositories on the vh server's own disks; only an admin token may link them.`);
  }
  let keyText: string | null = null;
  let tokenEnv: string | null = null;
  if (remote.kind === "ssh") {
    if (!input.keyPem) throw bad(`${remote.url}: an ssh URL needs a deploy key (vh repo add URL --key FILE); vh never uses the server's own ssh keys.`);
    if (input.tokenEnv) throw bad(`${remote.url}: a token is for https URLs; ssh URLs take a deploy key.`);
    keyText = checkDeployKey(input.keyPem);
  } else if (input.keyPem) {
    throw bad(`${remote.url}: a deploy key is for ssh URLs (ssh://… or user@host:path)${remote.kind === "https" ? "; https URLs take a token (--token-env)" : ""}.`);
  }
  if (input.tokenEnv) {
    if (remote.kind !== "https") throw bad(`${remote.url}: a token is for https URLs.`);
    tokenEnv = checkTokenEnv(input.tokenEnv);
    if (!deps.env[tokenEnv]) throw new VhError("invalid_config", `The environment variable ${tokenEnv} is not set on the vh server: set it to the token and restart vh, then link again.`);
    checkTokenHost(tokenEnv, remote.host, deps.env);
  }
  const branches = checkBranches(input.branches);
  const pollSeconds = checkPollSeconds(deps, input.pollSeconds);
  const webhookSecret = input.webhookSecret ?? null;
  if (webhookSecret !== null && (webhookSecret.length < 16 || webhookSecret.length > 256)) throw bad("The webhook secret is 16 to 256 characters.");
  const projectName = input.project?.trim() || projectNameFor(remote.lastPart);
  if (!PROJECT_NAME.test(projectName)) {
    throw bad(`Project name "${projectName}" is not allowed: use letters, digits, ".", "_" and "-" (up to 100), starting with a letter or digit.`);
  }

  const [dup] = await deps.sql<{ id: string; url: string }[]>`
    select id, url from git_repositories where url = ${remote.url} or name = ${remote.name} limit 1`;
  if (dup) {
    throw new VhError("conflict", `${dup.url === remote.url ? remote.url : `A repository named ${remote.name}`} is already linked (id ${dup.id}): vh repo status ${dup.id}; vh repo remove ${dup.id} first to link it anew.`);
  }

  // Reach it now, with the credentials in a scratch folder (the repository has no id yet).
  const tmp = path.join(deps.git.dir, "tmp", `link-${randomBytes(8).toString("hex")}`);
  fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    let transport: Transport;
    const tmpKey = path.join(tmp, "key");
    if (remote.kind === "ssh") {
      fs.writeFileSync(tmpKey, keyText!, { mode: 0o600 });
      transport = { kind: "ssh", keyFile: tmpKey, knownHostsFile: path.join(tmp, "known_hosts"), pinned: false };
    } else if (remote.kind === "https") {
      transport = { kind: "https", host: remote.host, user: remote.user, tokenEnv };
    } else {
      transport = { kind: remote.kind };
    }
    const probe = new Mirror({
      dir: null,
      workDir: tmp,
      kind: remote.kind,
      url: remote.url,
      transport,
      tokenEnv,
      serverEnv: deps.env,
      ...(deps.gitTimeoutMs !== undefined ? { timeoutMs: deps.gitTimeoutMs } : {}),
      knownHosts: null,
    });
    const baseline = await probe.lsRemote();
    const knownHosts = remote.kind === "ssh" ? probe.pinnedHostKeys() : null;
    if (remote.kind === "ssh" && !knownHosts) throw new ForgeError(`${remote.url}: ssh connected but no host key was recorded to pin; vh did not link it.`);

    let movedKey: string | null = null;
    const id = await deps.sql.begin(async (tx) => {
      await createProject(tx, projectName);
      const [project] = await tx<{ id: string }[]>`select id from projects where name = ${projectName}`;
      const [ins] = await tx<{ id: string }[]>`
        insert into git_repositories (url, name, project_id, branches, poll_seconds, token_env, known_hosts, webhook_secret, default_branch, refs)
        values (${remote.url}, ${remote.name}, ${project!.id}, ${tx.json(branches)}, ${pollSeconds}, ${tokenEnv}, ${knownHosts}, ${webhookSecret},
          ${baseline.defaultBranch}, ${tx.json(baseline.heads)})
        returning id`;
      const newId = Number(ins!.id);
      await tx`
        insert into forge_repositories (forge, id, installation_id, full_name, project_id) values ('git', ${newId}, ${newId}, ${remote.name}, ${project!.id})
        on conflict (forge, id) do update set installation_id = excluded.installation_id, full_name = excluded.full_name,
          project_id = excluded.project_id, removed_at = null`;
      if (keyText !== null) {
        const keyFile = repoPaths(deps.git.dir, newId).keyFile;
        fs.mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
        fs.renameSync(tmpKey, keyFile);
        movedKey = keyFile;
        await tx`update git_repositories set key_file = ${keyFile} where id = ${newId}`;
      }
      const key = pollKey(newId);
      await addJob(tx, "git_poll", { repositoryId: newId }, { queueName: key, jobKey: key, delayMs: nextPollDelayMs(intervalOf(deps, { poll_seconds: pollSeconds }), 0, deps.random) });
      return newId;
    }).catch((err: unknown) => {
      // the key was moved in before a failed commit: take it away again
      if (movedKey) fs.rmSync(movedKey, { force: true });
      throw err;
    });
    deps.log.info("git repository linked", { repository: id, name: remote.name, kind: remote.kind, project: projectName, branches: Object.keys(baseline.heads).length });
    const [view] = await views(deps.sql, id);
    return view!;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function removeRepoFiles(deps: GitDeps, id: number, ...extra: string[]): void {
  for (const f of [...Object.values(repoPaths(deps.git.dir, id)), ...extra]) fs.rmSync(f, { recursive: true, force: true });
}

export async function listRepositories(deps: Pick<GitDeps, "sql">): Promise<RepositoryView[]> {
  return views(deps.sql, null);
}

/** A repository's state: last poll, last error, last commit handled, its lint, failures, next poll. */
export async function repositoryStatus(deps: Pick<GitDeps, "sql">, ref: string): Promise<RepositoryView> {
  const row = await mustFind(deps.sql, ref);
  const [view] = await views(deps.sql, row.id);
  if (!view) throw new VhError("not_found", `No linked repository "${ref}" (removed just now?).`);
  return view;
}

/**
 * Unlinks a repository: its row goes (so a poll in flight does not queue another), its pending poll
 * is dropped, its forge_repositories row is marked removed, and its key, pinned host key and mirror
 * are deleted. Its project, executions and deliveries stay.
 */
export async function removeRepository(deps: GitDeps, ref: string): Promise<{ id: number; name: string }> {
  const row = await mustFind(deps.sql, ref);
  await deps.sql.begin(async (tx) => {
    await tx`delete from git_repositories where id = ${row.id}`;
    await tx`update forge_repositories set removed_at = now() where forge = 'git' and id = ${row.id}`;
    await tx`select graphile_worker.remove_job(${pollKey(row.id)}::text)`;
  });
  removeRepoFiles(deps, row.id, ...(row.key_file ? [row.key_file] : []));
  deps.log.info("git repository removed", { repository: row.id, name: row.name });
  return { id: row.id, name: row.name };
}

/** The service the REST routes are given (registry.ts builds it). */
export function createRepoService(deps: GitDeps): RepoService {
  return {
    link: (input, by) => linkRepository(deps, input, { allowFile: by.admin }),
    list: () => listRepositories(deps),
    status: (ref) => repositoryStatus(deps, ref),
    remove: (ref) => removeRepository(deps, ref),
  };
}
