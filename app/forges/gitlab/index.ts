/**
 * The GitLab forge (gitlab.com or self-managed): one token per instance (a bot user's personal
 * token, or a project or group access token, scope `api`), through @gitbeaker/rest. Merge requests
 * are vh's pull requests; vh reports with notes, award emoji and commit statuses (GitLab has no
 * check runs: no buttons, no annotations).
 *
 * Every request is bounded (`VH_GITLAB_TIMEOUT_S`, default 10 s): the JSON calls as a whole, the
 * archive download per pause (its answer within the bound, then no pause that long), so a large
 * archive may take longer but never stalls. gitbeaker's own client-side rate limiter is off (it
 * would wait up to a minute for GitLab.com's archive limit, holding a forge slot): a 429 is retried
 * by gitbeaker a few times within a second, then fails the job, and the queue retries the job with
 * backoff.
 */
import { createHash } from "node:crypto";
import {
  Commits,
  GitbeakerRequestError,
  GitbeakerRetryError,
  GitbeakerTimeoutError,
  MergeRequestNoteAwardEmojis,
  MergeRequestNotes,
  MergeRequests,
  ProjectMembers,
  Projects,
  Repositories,
  RepositoryFiles,
  Users,
} from "@gitbeaker/rest";
import type { z } from "zod";
import { ForgeError, VhError } from "../../errors.js";
import type { Comments, CommitStatusSpec, CommitStatuses, EnsureResult, ForgeCore, ForgeProvider, Permission, PullRequest, RepoRef } from "../../contracts/forge.js";
import {
  GlCommit,
  GlCommitStatusList,
  GlCreated,
  GlMember,
  GlMergeRequest,
  GlNote,
  GlNoteList,
  GlProject,
  GlUser,
  GlUserList,
} from "./schema.js";
import { AWARD_EMOJI, GITLAB_LIMITS, permissionOfAccessLevel, type GitLabForgeOptions } from "./types.js";

export type { GitLabForgeOptions } from "./types.js";
export { GITLAB_LIMITS } from "./types.js";

/** What the GitLab forge can do: the core, comments (notes) and commit statuses. */
export type GitLabForge = ForgeCore & Comments & CommitStatuses;

export interface GitLabProvider extends ForgeProvider {
  readonly kind: "gitlab";
  /** The forge (GitLab has one token per instance: `installationId` is 0 and ignored). */
  forInstallation(installationId: number): Promise<GitLabForge>;
  /** The token's user (`GET /user`, once per provider): the normaliser's `botUsername`. */
  botUser(): Promise<{ id: number; username: string }>;
}

/** Cuts markdown to `max` characters, saying so at the end. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = "\n\n… (cut to GitLab's size limit; the rest is in vh)";
  return text.slice(0, max - note.length) + note;
}

/** One line cut to `max` characters. */
function cutLine(text: string, max: number): string {
  const line = text.replace(/[\r\n]+/g, " ");
  return line.length <= max ? line : line.slice(0, max - 1) + "…";
}

function parse<T extends z.ZodType>(schema: T, data: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(data);
  if (!r.success) throw new ForgeError(`GitLab answered ${what} with an unexpected shape: ${r.error.issues[0]?.message ?? "?"}`);
  return r.data;
}

/** A request to GitLab that got no answer, or stalled mid-answer, for VH_GITLAB_TIMEOUT_S. */
export class GitLabTimeoutError extends Error {
  constructor(readonly ms: number, phase: "answer" | "pause") {
    super(
      phase === "answer"
        ? `GitLab did not answer within ${ms / 1000} s (VH_GITLAB_TIMEOUT_S)`
        : `GitLab's answer stalled for ${ms / 1000} s (VH_GITLAB_TIMEOUT_S)`,
    );
    this.name = "GitLabTimeoutError";
  }
}

/** The HTTP status of a failed GitLab request, when it got one. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof GitbeakerRequestError) return err.cause?.response?.status;
  return undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof GitbeakerRequestError) return err.cause?.description || err.message;
  return err instanceof Error ? err.message : String(err);
}

function isTimeout(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return err instanceof GitbeakerTimeoutError || err instanceof GitLabTimeoutError || name === "TimeoutError" || name === "AbortError";
}

/** GitLab's failures as ForgeErrors whose message names what to fix. */
export function wrapGitLabError(err: unknown, what: string, url: string, timeoutMs?: number): ForgeError {
  if (err instanceof ForgeError) return err;
  if (isTimeout(err)) {
    const why =
      err instanceof GitLabTimeoutError
        ? err.message
        : `GitLab did not answer ${timeoutMs === undefined ? "in time" : `within ${timeoutMs / 1000} s`} (VH_GITLAB_TIMEOUT_S)`;
    return new ForgeError(`GitLab: ${what} failed: ${why}; the work is retried later.`);
  }
  if (err instanceof GitbeakerRetryError) {
    return new ForgeError(`GitLab: ${what} failed: ${err.message} (GitLab's rate limit, or GitLab failing); the work is retried later.`);
  }
  const status = statusOf(err);
  const msg = messageOf(err);
  if (status === undefined) {
    const cause = (err as { cause?: { message?: string; code?: string } } | null)?.cause;
    const detail = cause?.code ?? cause?.message ?? msg;
    return new ForgeError(`GitLab: ${what} failed: ${url} could not be reached (${detail}): check GITLAB_URL; the work is retried later.`);
  }
  let hint = "";
  if (status === 401) hint = " GitLab refused GITLAB_TOKEN: the token is wrong, expired or revoked; create a new one with the api scope and set GITLAB_TOKEN.";
  else if (status === 403) hint = " The token lacks the api scope, or access to this project: give GITLAB_TOKEN the api scope, and its user the Developer role (or higher) on the project.";
  else if (status === 404) hint = " Not found, or not visible to GITLAB_TOKEN: is its user a member of the project (Developer or higher)?";
  else if (status === 429) hint = " GitLab's rate limit was hit; the work is retried later.";
  return new ForgeError(`GitLab: ${what} failed (HTTP ${status}): ${msg}.${hint}`, { status });
}

function bodyHash(s: string): string {
  return createHash("sha256").update(s.trimEnd()).digest("hex");
}

/** The gitbeaker resources vh uses, sharing one configuration. */
function clients(opts: GitLabForgeOptions) {
  const base = {
    host: opts.config.url,
    token: opts.config.token,
    queryTimeout: opts.config.requestTimeoutMs,
    // gitbeaker's client-side limiter would wait (up to a minute) rather than fail: off, see above
    rateLimits: {},
  };
  return {
    users: new Users(base),
    members: new ProjectMembers(base),
    projects: new Projects(base),
    mergeRequests: new MergeRequests(base),
    notes: new MergeRequestNotes(base),
    awards: new MergeRequestNoteAwardEmojis(base),
    files: new RepositoryFiles(base),
    repositories: new Repositories(base),
    commits: new Commits(base),
  };
}

type Clients = ReturnType<typeof clients>;

export function createGitLabProvider(opts: GitLabForgeOptions): GitLabProvider {
  const c = clients(opts);
  const url = opts.config.url;
  const ttl = opts.permissionTtlMs ?? 60_000;
  const permissions = new Map<string, { value: Permission; until: number }>();
  let me: Promise<{ id: number; username: string }> | null = null;
  function botUser(): Promise<{ id: number; username: string }> {
    if (me) return me;
    const asked = (async () => {
      try {
        return parse(GlUser, await c.users.showCurrentUser(), "the token's user");
      } catch (err) {
        throw wrapGitLabError(err, "looking up GITLAB_TOKEN's user", url, opts.config.requestTimeoutMs);
      }
    })();
    // a failure is not remembered: the next call asks again
    asked.catch(() => {
      if (me === asked) me = null;
    });
    me = asked;
    return asked;
  }
  const forge = gitlabForge(c, { url, timeoutMs: opts.config.requestTimeoutMs, permissions, ttl, botUser });
  return {
    kind: "gitlab",
    botUser,
    async forInstallation() {
      return forge;
    },
  };
}

interface ForgeState {
  url: string;
  timeoutMs: number;
  permissions: Map<string, { value: Permission; until: number }>;
  ttl: number;
  botUser(): Promise<{ id: number; username: string }>;
}

function gitlabForge(c: Clients, s: ForgeState): GitLabForge {
  async function call<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw wrapGitLabError(err, what, s.url, s.timeoutMs);
    }
  }

  /** The bot's note carrying `marker` on merge request `pr`, oldest first; null when there is none. */
  async function findNote(repo: RepoRef, pr: number, marker: string): Promise<{ id: number; body: string } | null> {
    const bot = (await s.botUser()).username;
    for (let page = 1; page <= GITLAB_LIMITS.notesPages; page++) {
      const res = await call("listing notes", () =>
        c.notes.all(repo.id, pr, { sort: "asc", orderBy: "created_at", perPage: GITLAB_LIMITS.notesPerPage, page, showExpanded: true }));
      const list = parse(GlNoteList, res.data, "the note list");
      const hit = list.find((n) => !n.system && n.author?.username === bot && (n.body ?? "").includes(marker));
      if (hit) return { id: hit.id, body: hit.body ?? "" };
      // the last page: no X-Next-Page, and not full (a full one without the header is read past, once)
      if (res.paginationInfo.next === null && list.length < GITLAB_LIMITS.notesPerPage) return null;
    }
    return null;
  }

  async function createNote(repo: RepoRef, pr: number, body: string): Promise<number> {
    const data = await call(`commenting on !${pr}`, () => c.notes.create(repo.id, pr, body));
    return parse(GlCreated, data, "the new note").id;
  }

  async function editNote(repo: RepoRef, pr: number, id: number, body: string): Promise<void> {
    await call("updating the vh note", () => c.notes.edit(repo.id, pr, id, { body }));
  }

  /** The newest status named `name` on the commit, if any. */
  async function latestStatus(repo: RepoRef, spec: CommitStatusSpec) {
    const data = await call("listing commit statuses", () =>
      c.commits.allStatuses(repo.id, spec.sha, { name: spec.name }));
    const same = parse(GlCommitStatusList, data, "the commit status list").filter((x) => x.name === spec.name);
    return same.sort((a, b) => b.id - a.id)[0] ?? null;
  }

  return {
    kind: "gitlab",

    async getPermission(repo, login) {
      const key = `${repo.id}:${login.toLowerCase()}`;
      const hit = s.permissions.get(key);
      if (hit && hit.until > Date.now()) return hit.value;
      const what = `looking up ${login}'s role on ${repo.fullName}`;
      const users = parse(GlUserList, await call(what, () => c.users.all({ username: login, maxPages: 1 })), "the user lookup");
      const user = users.find((u) => u.username.toLowerCase() === login.toLowerCase());
      let value: Permission = "none";
      if (user) {
        try {
          const m = parse(GlMember, await c.members.show(repo.id, user.id, { includeInherited: true }), "the member lookup");
          const active = m.state === undefined || m.state === "active";
          const current = !m.expires_at || Date.parse(m.expires_at) > Date.now();
          value = active && current ? permissionOfAccessLevel(m.access_level) : "none";
        } catch (err) {
          if (statusOf(err) !== 404) throw wrapGitLabError(err, what, s.url, s.timeoutMs);
        }
      }
      if (s.permissions.size > 10_000) s.permissions.clear();
      s.permissions.set(key, { value, until: Date.now() + s.ttl });
      return value;
    },

    async getPullRequest(repo, number): Promise<PullRequest> {
      const data = await call(`reading merge request !${number}`, () => c.mergeRequests.show(repo.id, number));
      const mr = parse(GlMergeRequest, data, "the merge request");
      if (!mr.sha) throw new VhError("not_found", `Merge request !${number} has no head commit: was its source branch ${mr.source_branch} deleted?`);
      const isFork = mr.source_project_id !== mr.target_project_id;
      let headRepo: string | null = repo.fullName;
      if (isFork) {
        headRepo = null;
        if (mr.source_project_id !== null) {
          const sourceId = mr.source_project_id;
          try {
            headRepo = parse(GlProject, await c.projects.show(sourceId), "the source project").path_with_namespace;
          } catch (err) {
            // a deleted fork, or one the token cannot see: its path is unknown
            const st = statusOf(err);
            if (st !== 404 && st !== 403) throw wrapGitLabError(err, `reading the source project of !${number}`, s.url, s.timeoutMs);
          }
        }
      }
      return {
        number: mr.iid,
        title: mr.title,
        state: mr.state === "opened" ? "open" : "closed",
        headSha: mr.sha,
        headRef: mr.source_branch,
        headRepo,
        isFork,
        baseSha: mr.diff_refs?.base_sha ?? null,
        author: { login: mr.author.username, id: mr.author.id, isBot: false },
      };
    },

    async readFile(repo, sha, path) {
      try {
        const data: unknown = await c.files.showRaw(repo.id, path, sha);
        if (typeof data === "string") return data;
        if (data instanceof Blob) return Buffer.from(await data.arrayBuffer()).toString("utf8");
        throw new ForgeError(`GitLab: ${path} at ${sha.slice(0, 7)} did not come back as a file.`);
      } catch (err) {
        if (statusOf(err) === 404) return null;
        throw wrapGitLabError(err, `reading ${path} at ${sha.slice(0, 7)}`, s.url, s.timeoutMs);
      }
    },

    async downloadArchive(repo, sha, maxBytes) {
      const what = `downloading the archive of ${sha.slice(0, 7)}`;
      const mib = (n: number) => `${Math.round((n / 1048576) * 10) / 10} MiB`;
      const tooLarge = (bytes: number) =>
        // the user's to fix (a smaller repository), not retried
        new VhError("too_large", `The repository at ${sha.slice(0, 7)} is ${mib(bytes)} or more, over the ${mib(maxBytes)} limit (VH_MAX_CODE_MB).`);
      const ms = s.timeoutMs;
      const ctrl = new AbortController();
      let timer: NodeJS.Timeout | undefined = setTimeout(() => ctrl.abort(new GitLabTimeoutError(ms, "answer")), ms);
      let res: { body: unknown; headers: Record<string, string> };
      try {
        res = await c.repositories.requester.get<ReadableStream>(`projects/${encodeURIComponent(repo.id)}/repository/archive.tar.gz`, {
          searchParams: { sha },
          asStream: true,
          signal: ctrl.signal,
        });
      } catch (err) {
        throw wrapGitLabError(ctrl.signal.aborted ? ctrl.signal.reason : err, what, s.url, s.timeoutMs);
      } finally {
        clearTimeout(timer);
      }
      if (!(res.body instanceof ReadableStream)) throw new ForgeError(`GitLab: ${what} did not return bytes.`);
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > maxBytes) {
        ctrl.abort();
        throw tooLarge(declared);
      }
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for (;;) {
          const stalled = new Promise<never>((_resolve, reject) => {
            timer = setTimeout(() => reject(new GitLabTimeoutError(ms, "pause")), ms);
          });
          const next = await Promise.race([reader.read(), stalled]).finally(() => clearTimeout(timer));
          if (next.done) break;
          size += next.value.byteLength;
          if (size > maxBytes) throw tooLarge(size);
          chunks.push(Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength));
        }
      } catch (err) {
        ctrl.abort();
        reader.cancel().catch(() => {});
        throw err instanceof VhError ? err : wrapGitLabError(err, what, s.url, s.timeoutMs);
      }
      if (size === 0) throw new ForgeError(`GitLab: the archive of ${sha.slice(0, 7)} came back empty (cut off?); the work is retried later.`);
      return Buffer.concat(chunks, size);
    },

    async resolveCommit(repo, ref) {
      if (!ref) return null;
      try {
        return parse(GlCommit, await c.commits.show(repo.id, ref), "the commit").id;
      } catch (err) {
        if (statusOf(err) === 404) return null;
        throw wrapGitLabError(err, `resolving ${ref}`, s.url, s.timeoutMs);
      }
    },

    async addReaction(repo, target, reaction) {
      try {
        await c.awards.award(repo.id, target.pr, target.commentId, AWARD_EMOJI[reaction]);
      } catch (err) {
        // awarding the same emoji twice: GitLab answers 404 (older) or 400 "has already been taken"
        const st = statusOf(err);
        if ((st === 400 || st === 404 || st === 409) && /already|taken/i.test(messageOf(err))) return;
        throw wrapGitLabError(err, "adding an award emoji", s.url, s.timeoutMs);
      }
    },

    async createComment(repo, pr, body) {
      return createNote(repo, pr, truncate(body, GITLAB_LIMITS.noteBody));
    },

    async ensureComment({ repo, pr, marker, body, knownId }): Promise<EnsureResult> {
      const text = truncate(body, GITLAB_LIMITS.noteBody);
      if (!text.includes(marker)) throw new ForgeError("ensureComment: the body must contain its marker.");
      if (knownId) {
        try {
          const note = parse(GlNote, await c.notes.show(repo.id, pr, knownId), "the vh note");
          if (bodyHash(note.body ?? "") === bodyHash(text)) return { id: knownId, action: "unchanged" };
          await editNote(repo, pr, knownId, text);
          return { id: knownId, action: "updated" };
        } catch (err) {
          if (statusOf(err) !== 404) throw wrapGitLabError(err, "reading the vh note", s.url, s.timeoutMs);
          // deleted by someone: find another with the marker, or create it again
        }
      }
      const found = await findNote(repo, pr, marker);
      if (found) {
        if (bodyHash(found.body) === bodyHash(text)) return { id: found.id, action: "unchanged" };
        await editNote(repo, pr, found.id, text);
        return { id: found.id, action: "updated" };
      }
      return { id: await createNote(repo, pr, text), action: "created" };
    },

    async ensureCommitStatus({ repo, status }): Promise<EnsureResult> {
      const description = cutLine(status.description, GITLAB_LIMITS.statusDescription);
      const latest = await latestStatus(repo, status);
      if (
        latest &&
        latest.status === status.state &&
        (latest.description ?? "") === description &&
        (latest.target_url ?? null) === (status.targetUrl ?? null)
      ) {
        return { id: latest.id, action: "unchanged" };
      }
      try {
        const data = await c.commits.editStatus(repo.id, status.sha, status.state, {
          name: status.name,
          description,
          ...(status.targetUrl ? { targetUrl: status.targetUrl } : {}),
        });
        return { id: parse(GlCreated, data, "the commit status").id, action: latest ? "updated" : "created" };
      } catch (err) {
        // the same state again (with another description): GitLab cannot "transition" it, and keeps the status as it is
        if (latest && statusOf(err) === 400 && /cannot transition status/i.test(messageOf(err))) return { id: latest.id, action: "unchanged" };
        throw wrapGitLabError(err, `setting the commit status ${status.name}`, s.url, s.timeoutMs);
      }
    },
  };
}
