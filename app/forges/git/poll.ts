/**
 * The poller: task `git_poll` { repositoryId }, one queue per repository (`git_poll:<id>`, so never
 * two polls of one repository at once), re-adding itself after each poll until the repository is
 * removed.
 *
 * One poll: `git ls-remote` → for each watched branch whose head moved since the last poll, fetch
 * that head (depth 1) into the mirror, lint its valohai.yaml (problems kept in `last_lint` for
 * `vh repo status`), and when its message has `/vh run` lines record a delivery
 * (`forge_deliveries` (git, `<id>:<sha>`), event push) whose `forge_event` job hands it to the bot,
 * like a GitHub push. The refs are stored only after every changed branch was handled: a poll that
 * fails half-way is redone whole, and a delivery recorded twice is recorded once.
 *
 * A failed poll records `last_error`, counts `failures` and waits interval × 2^failures (capped at
 * 10 minutes, or the interval when that is longer) before the next; a good poll clears both. Each
 * wait is jittered by ±10 % so that repositories linked together do not poll together.
 */
import { problemLine } from "../../snapshots/config.js";
import { loadValohaiYaml, SERVER_MAX_YAML_BYTES } from "../../valohai/index.js";
import { addJob, addJobCall } from "../../../db/queries/jobs.js";
import { recordDelivery } from "../../../db/queries/deliveries.js";
import { ForgeError } from "../../errors.js";
import type { Mirror } from "./mirror.js";
import { hasRunLines } from "./normalize.js";
import { mirrorOf, pollKey, repositoryById, type GitRepositoryRow } from "./records.js";
import type { GitPushPayload } from "./schema.js";
import type { GitDeps } from "./types.js";

export const YAML_PATH = "valohai.yaml";
/** The longest backoff after failed polls (unless the interval itself is longer). */
export const MAX_BACKOFF_MS = 10 * 60_000;

/** The wait before the next poll: the interval, doubled per consecutive failure (capped), ±10 %. */
export function nextPollDelayMs(intervalSeconds: number, failures: number, random: () => number = Math.random): number {
  const base = intervalSeconds * 1000;
  const backedOff = failures > 0 ? Math.min(base * 2 ** Math.min(failures, 30), Math.max(base, MAX_BACKOFF_MS)) : base;
  return Math.round(backedOff * (0.9 + 0.2 * random()));
}

/** The interval a repository is polled at: its own, never below VH_GIT_MIN_POLL_S. */
export function intervalOf(deps: Pick<GitDeps, "git">, r: Pick<GitRepositoryRow, "poll_seconds">): number {
  return Math.max(r.poll_seconds, deps.git.minPollSeconds);
}

/** The branches a repository watches now: its own list, or the default branch. */
export function watchedBranches(r: Pick<GitRepositoryRow, "branches" | "default_branch">): string[] {
  if (r.branches.length) return r.branches;
  return r.default_branch ? [r.default_branch] : [];
}

/** valohai.yaml's problems at a commit in the mirror, as `file:line:column: message` lines; null when it lints clean. */
export async function lintAt(mirror: Mirror, sha: string): Promise<string | null> {
  let text: string | null;
  try {
    text = await mirror.readFile(sha, YAML_PATH, 4 * SERVER_MAX_YAML_BYTES);
  } catch (err) {
    if (err instanceof ForgeError) return err.message;
    throw err;
  }
  if (text === null) return `${YAML_PATH}: no such file at ${sha.slice(0, 7)}; /vh run needs one at the repository's root.`;
  const { problems } = loadValohaiYaml(text, { filename: YAML_PATH, maxBytes: SERVER_MAX_YAML_BYTES });
  if (problems.length === 0) return null;
  return problems.map((p) => problemLine(p.severity === "warning" ? { ...p, message: `warning: ${p.message}` } : p, YAML_PATH)).join("\n");
}

/** Queues the repository's next poll unless it was removed (one statement, so a removal in between wins). */
async function queueNext(deps: GitDeps, id: number, delayMs: number): Promise<boolean> {
  const key = pollKey(id);
  // preserve_run_at: a poll asked for meanwhile (the webhook's, due now) keeps its time.
  const rows = await deps.sql`
    with r as (select id from git_repositories where id = ${id})
    select ${addJobCall(deps.sql, "git_poll", { repositoryId: id }, { queueName: key, jobKey: key, delayMs, jobKeyMode: "preserve_run_at" })} from r`;
  return rows.length > 0;
}

/** An immediate poll (the webhook's, `vh repo add`'s first): replaces the pending one's time. */
export async function requestPoll(deps: Pick<GitDeps, "sql">, id: number, delayMs = 0): Promise<void> {
  const key = pollKey(id);
  await addJob(deps.sql, "git_poll", { repositoryId: id }, { queueName: key, jobKey: key, delayMs, jobKeyMode: "replace" });
}

/**
 * Queues a poll for every linked repository that has none pending (run at worker start: a poll that
 * died with its worker, or a database outage that stopped a re-add, must not end polling).
 */
export async function ensurePolls(deps: GitDeps): Promise<number> {
  const rows = await deps.sql<{ id: string; poll_seconds: number; failures: number }[]>`
    select g.id, g.poll_seconds, g.failures from git_repositories g
    where not exists (select 1 from graphile_worker.jobs j where j.key = 'git_poll:' || g.id::text and j.attempts < j.max_attempts)`;
  // `replace`: a job that used up its attempts (it keeps its key) is revived, not left in the way
  for (const r of rows) await requestPoll(deps, Number(r.id), nextPollDelayMs(Math.min(intervalOf(deps, r), 60), 0, deps.random));
  return rows.length;
}

export interface PollOutcome {
  /** What the poll did, in a few words (the task's log line). */
  outcome: string;
  /** Deliveries recorded (new head commits with `/vh run`). */
  recorded: number;
  /** When the next poll was queued, in ms from now (null: the repository is gone). */
  nextDelayMs: number | null;
}

/** One poll of one linked repository (task `git_poll`). Never throws for the Git host's failures: they are recorded and backed off. */
export async function pollRepository(deps: GitDeps, repositoryId: number): Promise<PollOutcome> {
  const row = await repositoryById(deps.sql, repositoryId);
  if (!row) return { outcome: "repository removed: not polled again", recorded: 0, nextDelayMs: null };
  const random = deps.random ?? Math.random;
  let outcome: string;
  let recorded = 0;
  let failures = 0;
  try {
    const r = await pollOnce(deps, row);
    recorded = r.recorded;
    outcome = r.outcome;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const [u] = await deps.sql<{ failures: number }[]>`
      update git_repositories set last_error = ${message.slice(0, 2000)}, failures = failures + 1, last_poll_at = now()
      where id = ${row.id} returning failures`;
    failures = u?.failures ?? row.failures + 1;
    deps.log.warn("git poll failed", { repository: row.id, name: row.name, failures, error: message });
    outcome = `failed (${failures} in a row): ${message}`;
  }
  const delay = nextPollDelayMs(intervalOf(deps, row), failures, random);
  const queued = await queueNext(deps, row.id, delay);
  return { outcome: queued ? outcome : `${outcome}; removed meanwhile`, recorded, nextDelayMs: queued ? delay : null };
}

async function pollOnce(deps: GitDeps, row: GitRepositoryRow): Promise<{ outcome: string; recorded: number }> {
  const mirror = mirrorOf(deps, row);
  const remote = await mirror.lsRemote();
  const defaultBranch = remote.defaultBranch ?? row.default_branch;
  const watched = watchedBranches({ branches: row.branches, default_branch: defaultBranch });
  const changed = watched
    .map((b) => ({ branch: b, ref: `refs/heads/${b}`, sha: remote.heads[`refs/heads/${b}`] }))
    .filter((c): c is { branch: string; ref: string; sha: string } => c.sha !== undefined && c.sha !== row.refs[c.ref]);

  let recorded = 0;
  let lastSha: string | null = null;
  let lint: string | null = null;
  const said: string[] = [];
  if (changed.length) await mirror.fetch(changed.map((c) => c.ref));
  for (const c of changed) {
    const commit = await mirror.commit(c.sha);
    lint = await lintAt(mirror, c.sha);
    lastSha = c.sha;
    // A watched branch that appeared since the last poll, pointing at a commit another branch already
    // had: that commit was there before (the baseline rule), so it is not run.
    const seenBefore = row.refs[c.ref] === undefined && Object.values(row.refs).includes(c.sha);
    if (seenBefore) {
      said.push(`${c.branch} ${c.sha.slice(0, 7)}: new branch at a commit seen before, not run`);
    } else if (hasRunLines(commit.message)) {
      const payload = {
        repositoryId: row.id,
        name: row.name,
        ref: c.ref,
        sha: c.sha,
        message: commit.message,
        author: commit.author,
      } satisfies GitPushPayload;
      const r = await recordDelivery(deps.sql, { forge: "git", id: `${row.id}:${c.sha}`, event: "push", installationId: row.id, payload });
      if (r === "queued") recorded++;
      said.push(`${c.branch} ${c.sha.slice(0, 7)}: ${r === "queued" ? "/vh run recorded" : "already recorded"}`);
    } else {
      said.push(`${c.branch} ${c.sha.slice(0, 7)}: no /vh run`);
    }
    deps.log.info("git: new commit", { repository: row.id, name: row.name, branch: c.branch, sha: c.sha, run: hasRunLines(commit.message), lint: lint !== null });
  }
  const handled = lastSha !== null;
  await deps.sql`
    update git_repositories set
      refs = ${deps.sql.json(remote.heads)},
      default_branch = ${defaultBranch},
      last_poll_at = now(),
      last_error = null,
      failures = 0,
      last_commit_sha = case when ${handled} then ${lastSha} else last_commit_sha end,
      last_lint = case when ${handled} then ${lint} else last_lint end
    where id = ${row.id}`;
  return { outcome: said.length ? said.join("; ") : "no new commits on the watched branches", recorded };
}
