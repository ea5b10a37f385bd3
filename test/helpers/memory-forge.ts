/**
 * An in-memory Git host behind vh's Forge interface (app/contracts/forge.ts), for tests that call
 * the bot and the queue's tasks directly instead of going through HTTP and nock.
 *
 * What it holds: repositories (by `owner/name`, as GitHub routes them) with files at commits,
 * pull requests with head SHAs, plain issues, actors' permissions, comments and check runs. Every
 * write vh makes through the Forge is recorded, in order, in `world.writes` (comments created and
 * edited, reactions, check runs created, updated and annotated); the current state is readable too
 * (`comments`, `checkRuns`). Like GitHub's forge it has comments and check runs, and no commit
 * statuses (check runs are vh's statuses there).
 *
 * Fidelity to app/forges/github/index.ts, so a test cannot pass by accident:
 * - Failures are the real forge's ForgeErrors, made by its own `wrapGitHubError` from the status
 *   GitHub would answer: an unknown repository, pull request, issue or comment is a 404; a check
 *   run on a commit GitHub does not know is a 422; a repository of another installation is not
 *   visible (404), and an unknown installation fails at authentication.
 * - Reads that the real forge turns into "nothing" do the same: a 404 on a permission is `none`,
 *   a missing file (or commit) in `readFile` is null.
 * - `readFile` and `downloadArchive` answer from the same files: the archive is a gzipped tarball
 *   with the whole tree under one `owner-name-<sha7>/` folder, as GitHub's tarball endpoint
 *   returns it (entries portable, mtime fixed, so the same tree gives the same bytes).
 * - Bodies are cut to GitHub's limits with the real `truncate`; GitHub's validation of check run
 *   buttons (label ≤ 20, description ≤ 40, identifier ≤ 20, at most 3) and of annotation batches
 *   (≤ 50) answers 422, as GitHub does.
 * - Permissions are not cached (the real forge caches them for a minute).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { create } from "tar";
import type {
  Actor,
  Annotation,
  CheckRunSpec,
  Comment,
  EnsureResult,
  CheckRuns,
  Comments,
  Forge,
  ForgeProvider,
  Forges,
  Permission,
  PullRequest,
  Reaction,
  RepoRef,
} from "../../app/contracts/forge.js";
import type { ForgeEvent } from "../../app/contracts/forge-events.js";
import { ForgeError } from "../../app/errors.js";
import { truncate, wrapGitHubError } from "../../app/forges/github/index.js";
import { GITHUB_LIMITS } from "../../app/forges/github/types.js";

/** The memory forge has GitHub's capabilities: comments and check runs. */
export type MemoryForge = Forge & Comments & CheckRuns;

/** A commit's tree: path (relative, `/`-separated) → content. */
export type Files = Record<string, string | Buffer>;

/** vh's own identity on the host (the App's bot user): the author of every comment it writes. */
export const VH_BOT: Actor = { login: "vh[bot]", id: 1, isBot: true };

/** One write vh made through the Forge, in the order they were made. */
export type ForgeWrite =
  | { kind: "reaction"; repo: string; commentId: number; reaction: Reaction }
  | { kind: "comment_created"; repo: string; issue: number; commentId: number; body: string }
  | { kind: "comment_edited"; repo: string; issue: number; commentId: number; body: string }
  | { kind: "check_run_created"; repo: string; checkRunId: number; spec: CheckRunSpec; annotations: Annotation[] }
  | { kind: "check_run_updated"; repo: string; checkRunId: number; spec: CheckRunSpec; annotations: Annotation[] }
  | { kind: "check_run_annotated"; repo: string; checkRunId: number; annotations: Annotation[] };

export interface StoredComment {
  id: number;
  issue: number;
  body: string;
  author: Actor;
  url: string;
}

export interface StoredCheckRun {
  id: number;
  sha: string;
  spec: CheckRunSpec;
  annotations: Annotation[];
}

interface RepoState {
  ref: RepoRef;
  commits: Map<string, Map<string, Buffer>>;
  archives: Map<string, Buffer>;
  /** Commits whose content GitHub fails to serve, with the HTTP status it answers. */
  broken: Map<string, number>;
  pulls: Map<number, PullRequest>;
  issues: Set<number>;
  permissions: Map<string, Permission>;
}

/** A failure as GitHub's API would give it to the real forge (an Octokit RequestError has `status`). */
function github(status: number, message: string, what: string): ForgeError {
  return wrapGitHubError(Object.assign(new Error(message), { status }), what);
}

const notFound = (what: string) => github(404, "Not Found", what);

function safePath(p: string): string {
  const clean = p.replace(/^\.\/+/, "");
  if (clean === "" || clean.startsWith("/") || clean.split("/").some((s) => s === "" || s === "." || s === "..") || clean.includes("\\")) {
    throw new Error(`memory forge: "${p}" is not a relative file path`);
  }
  return clean;
}

/** The files of a directory on disk (e.g. test/github/fixture-repo), to commit in memory. */
export function filesOfDir(dir: string): Files {
  const out: Files = {};
  for (const d of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!d.isFile()) continue;
    const full = path.join(d.parentPath, d.name);
    out[path.relative(dir, full).split(path.sep).join("/")] = fs.readFileSync(full);
  }
  return out;
}

/** GitHub's tarball of a tree: everything under `owner-name-<sha7>/`, gzipped. */
async function tarballOf(ref: RepoRef, sha: string, files: Map<string, Buffer>): Promise<Buffer> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vh-memforge-"));
  try {
    const top = `${ref.owner}-${ref.name}-${sha.slice(0, 7)}`;
    fs.mkdirSync(path.join(tmp, top));
    for (const [p, content] of files) {
      const dest = path.join(tmp, top, ...p.split("/"));
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, content);
    }
    // Every folder and file named, in sorted order (not the file system's), so the bytes depend on the tree only.
    const names = new Set<string>([top]);
    for (const p of files.keys()) {
      const parts = p.split("/");
      for (let i = 1; i <= parts.length; i++) names.add([top, ...parts.slice(0, i)].join("/"));
    }
    const chunks: Buffer[] = [];
    const opts = { gzip: true, cwd: tmp, portable: true, noDirRecurse: true, mtime: new Date("2024-01-01T00:00:00Z") };
    for await (const c of create(opts, [...names].sort())) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** One repository of the world: commits, pull requests, issues and who may do what. */
export class MemoryRepo {
  constructor(
    private readonly world: MemoryForgeWorld,
    /** @internal */ readonly state: RepoState,
  ) {}

  get ref(): RepoRef {
    return { ...this.state.ref };
  }

  /** Adds a commit with exactly these files; returns its SHA (derived from the content unless given). */
  commit(files: Files, opts: { sha?: string } = {}): string {
    const tree = new Map<string, Buffer>();
    for (const [p, content] of Object.entries(files)) tree.set(safePath(p), Buffer.isBuffer(content) ? Buffer.from(content) : Buffer.from(content, "utf8"));
    const sha =
      opts.sha ??
      createHash("sha1")
        .update(`${this.state.ref.fullName}\u0000${this.state.commits.size}\u0000`)
        .update(JSON.stringify([...tree].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, b]) => [p, b.toString("base64")])))
        .digest("hex");
    if (!/^[0-9a-f]{40}$/.test(sha)) throw new Error(`memory forge: commit SHA "${sha}" is not 40 hex digits`);
    if (this.state.commits.has(sha)) throw new Error(`memory forge: commit ${sha} already exists in ${this.state.ref.fullName}`);
    this.state.commits.set(sha, tree);
    return sha;
  }

  /** The files of a commit (a copy). */
  files(sha: string): Files {
    const tree = this.state.commits.get(sha);
    if (!tree) throw new Error(`memory forge: no commit ${sha} in ${this.state.ref.fullName}`);
    return Object.fromEntries([...tree].map(([p, b]) => [p, Buffer.from(b)]));
  }

  /** From now on GitHub fails to serve the content of `sha` (file reads and the tarball) with `status`. */
  breakCommit(sha: string, status = 502): void {
    this.state.broken.set(sha, status);
  }

  grant(login: string, permission: Permission): void {
    this.state.permissions.set(login.toLowerCase(), permission);
  }

  openIssue(number: number): void {
    if (this.state.pulls.has(number)) throw new Error(`memory forge: #${number} is a pull request`);
    this.state.issues.add(number);
  }

  openPullRequest(opts: {
    number: number;
    headSha: string;
    author: Actor;
    title?: string;
    headRef?: string;
    state?: "open" | "closed";
    /** The head branch's repository, when it is a fork (null: the fork was deleted). */
    fork?: { headRepo: string | null };
    /** A commit of the base branch (see PullRequest.baseSha). */
    baseSha?: string;
  }): PullRequest {
    if (this.state.issues.has(opts.number) || this.state.pulls.has(opts.number)) throw new Error(`memory forge: #${opts.number} exists already`);
    // GitHub makes a pull request's head commit (a fork's too) readable in the base repository.
    if (!this.state.commits.has(opts.headSha)) throw new Error(`memory forge: no commit ${opts.headSha} in ${this.state.ref.fullName}`);
    const pr: PullRequest = {
      number: opts.number,
      title: opts.title ?? `Pull request #${opts.number}`,
      state: opts.state ?? "open",
      headSha: opts.headSha,
      headRef: opts.headRef ?? `branch-${opts.number}`,
      headRepo: opts.fork ? opts.fork.headRepo : this.state.ref.fullName,
      isFork: !!opts.fork,
      baseSha: opts.baseSha ?? null,
      author: { ...opts.author },
    };
    this.state.pulls.set(opts.number, pr);
    return structuredClone(pr);
  }

  /** A push to the pull request's branch: its head moves to `sha`. */
  moveHead(pr: number, sha: string): void {
    const p = this.state.pulls.get(pr);
    if (!p) throw new Error(`memory forge: no pull request #${pr}`);
    if (!this.state.commits.has(sha)) throw new Error(`memory forge: no commit ${sha}`);
    p.headSha = sha;
  }

  /** A person's comment on an issue or pull request (not one of vh's writes): what a comment event carries. */
  say(issue: number, author: Actor, body: string): Comment {
    if (!this.state.pulls.has(issue) && !this.state.issues.has(issue)) throw new Error(`memory forge: no issue or pull request #${issue}`);
    const c = this.world._addComment(this.state, issue, author, body);
    return { id: c.id, body: c.body, author: { ...c.author }, url: c.url };
  }

  /** The `comment` event GitHub would deliver for a new comment (`say` + the event's envelope). */
  commentEvent(issue: number, author: Actor, body: string, opts: { action?: string; at?: Date; headSha?: string } = {}): Extract<ForgeEvent, { kind: "comment" }> {
    const comment = this.say(issue, author, body);
    return {
      kind: "comment", action: opts.action ?? "created", repo: this.ref, pr: this.state.pulls.has(issue) ? issue : null, issue, comment,
      commentedAt: opts.at ?? null, headSha: opts.headSha ?? null,
    };
  }

  /** The `pr_head` event GitHub's `pull_request` synchronize would deliver once the head is `sha` (see moveHead). */
  headEvent(pr: number, sha: string, at: Date): Extract<ForgeEvent, { kind: "pr_head" }> {
    return { kind: "pr_head", repo: this.ref, pr, sha, at };
  }

  /** The `push` event for a push whose head commit is `sha`. */
  pushEvent(sha: string, pusher: Actor, message: string, ref = "refs/heads/main"): Extract<ForgeEvent, { kind: "push" }> {
    if (!this.state.commits.has(sha)) throw new Error(`memory forge: no commit ${sha}`);
    return { kind: "push", repo: this.ref, ref, headSha: sha, message, pusher: { ...pusher } };
  }
}

export class MemoryForgeWorld {
  /** Every write vh made, in order. */
  readonly writes: ForgeWrite[] = [];
  /** The installations vh authenticated as (`forInstallation`), in order: a handling that needs no forge opens none. */
  readonly authentications: number[] = [];
  private readonly repos = new Map<string, RepoState>();
  private readonly commentsById = new Map<number, StoredComment & { repo: string }>();
  private readonly runsById = new Map<number, StoredCheckRun & { repo: string }>();
  private nextRepoId = 100_000;
  private nextCommentId = 7_000;
  private nextCheckRunId = 9_000;

  /**
   * What vh is given: a ForgeProvider (kind `github`: it stands in for the GitHub App) that is also
   * the process's Forges (every repository of the world is on it).
   */
  readonly provider: { forInstallation(installationId: number): Promise<MemoryForge> } & ForgeProvider & Forges = {
    kind: "github",
    forInstallation: async (installationId: number): Promise<MemoryForge> => {
      this.authentications.push(installationId);
      if (![...this.repos.values()].some((r) => r.ref.installationId === installationId)) {
        throw notFound(`authenticating as installation ${installationId}`);
      }
      return this.forgeFor(installationId);
    },
    forRepo: (repo: RepoRef): Promise<Forge> => {
      if (repo.forge !== "github") throw new ForgeError(`memory forge: ${repo.forge} is not served (it stands in for GitHub)`);
      return this.provider.forInstallation(repo.installationId);
    },
  };

  addRepo(fullName: string, opts: { id?: number; installationId?: number } = {}): MemoryRepo {
    const [owner, name, ...rest] = fullName.split("/");
    if (!owner || !name || rest.length) throw new Error(`memory forge: "${fullName}" is not owner/name`);
    const key = fullName.toLowerCase();
    if (this.repos.has(key)) throw new Error(`memory forge: ${fullName} exists already`);
    const state: RepoState = {
      ref: { forge: "github", id: opts.id ?? this.nextRepoId++, fullName, owner, name, installationId: opts.installationId ?? 1 },
      commits: new Map(),
      archives: new Map(),
      broken: new Map(),
      pulls: new Map(),
      issues: new Set(),
      permissions: new Map(),
    };
    this.repos.set(key, state);
    return new MemoryRepo(this, state);
  }

  /** The comments on an issue or pull request now, oldest first (people's and vh's). */
  comments(fullName: string, issue: number): StoredComment[] {
    return [...this.commentsById.values()]
      .filter((c) => c.repo === fullName.toLowerCase() && c.issue === issue)
      .map(({ repo: _r, ...c }) => structuredClone(c));
  }

  /** The check runs now, in creation order (of one commit, when `sha` is given). */
  checkRuns(fullName: string, sha?: string): StoredCheckRun[] {
    return [...this.runsById.values()]
      .filter((r) => r.repo === fullName.toLowerCase() && (sha === undefined || r.sha === sha))
      .map(({ repo: _r, ...r }) => structuredClone(r));
  }

  /** The bodies of the comments vh created (replies and sticky comments), in order. */
  createdComments(): string[] {
    return this.writes.flatMap((w) => (w.kind === "comment_created" ? [w.body] : []));
  }

  /** @internal */
  _addComment(state: RepoState, issue: number, author: Actor, body: string): StoredComment {
    const id = this.nextCommentId++;
    const c = { id, issue, body, author: { ...author }, url: `https://github.com/${state.ref.fullName}/pull/${issue}#issuecomment-${id}`, repo: state.ref.fullName.toLowerCase() };
    this.commentsById.set(id, c);
    return c;
  }

  private forgeFor(installationId: number): MemoryForge {
    const world = this;
    /** The repository as this installation sees it (GitHub routes by owner and name), or null. */
    const visible = (repo: RepoRef): RepoState | null => {
      const s = this.repos.get(`${repo.owner}/${repo.name}`.toLowerCase());
      return s && s.ref.installationId === installationId ? s : null;
    };
    const checkAvailable = (s: RepoState, sha: string, what: string) => {
      const status = s.broken.get(sha);
      if (status !== undefined) throw github(status, status >= 500 ? "Server Error" : "Error", what);
    };
    const hasIssue = (s: RepoState, n: number) => s.pulls.has(n) || s.issues.has(n);
    const validationFailed = (what: string) => github(422, "Validation Failed", what);

    function stored(spec: CheckRunSpec): CheckRunSpec {
      const out: CheckRunSpec = {
        ...structuredClone(spec),
        title: spec.title.slice(0, 255),
        summary: truncate(spec.summary, GITHUB_LIMITS.checkRunSummary),
      };
      if (spec.text !== undefined) out.text = truncate(spec.text, GITHUB_LIMITS.checkRunText);
      if (spec.actions) out.actions = spec.actions.slice(0, GITHUB_LIMITS.actions).map((a) => ({ ...a }));
      return out;
    }
    function validate(spec: CheckRunSpec, batch: Annotation[], what: string): void {
      for (const a of (spec.actions ?? []).slice(0, GITHUB_LIMITS.actions)) {
        if (a.label.length > 20 || a.description.length > 40 || a.identifier.length > 20) throw validationFailed(what);
      }
      if (batch.length > GITHUB_LIMITS.annotationsPerRequest) throw validationFailed(what);
    }

    return {
      kind: "github",

      async getPermission(repo, login) {
        const s = visible(repo);
        // The real forge reads GitHub's 404 (no such repository or user) as `none`.
        if (!s) return "none";
        return s.permissions.get(login.toLowerCase()) ?? "none";
      },

      async getPullRequest(repo, number) {
        const s = visible(repo);
        const pr = s?.pulls.get(number);
        if (!s || !pr) throw notFound(`reading pull request #${number}`);
        return structuredClone(pr);
      },

      async readFile(repo, sha, file) {
        const s = visible(repo);
        const tree = s?.commits.get(sha);
        // GitHub answers 404 for an unknown repository, commit or path: the real forge returns null.
        if (!s || !tree) return null;
        checkAvailable(s, sha, `reading ${file} at ${sha.slice(0, 7)}`);
        const want = file.replace(/^\.\/+/, "").replace(/\/+$/, "");
        const hit = tree.get(want);
        if (hit) return hit.toString("utf8");
        if ([...tree.keys()].some((p) => p.startsWith(want + "/"))) throw new ForgeError(`GitHub: ${file} at ${sha.slice(0, 7)} is not a file.`);
        return null;
      },

      async downloadArchive(repo, sha, maxBytes) {
        const what = `downloading the tarball of ${sha.slice(0, 7)}`;
        const s = visible(repo);
        const tree = s?.commits.get(sha);
        if (!s || !tree) throw notFound(what);
        checkAvailable(s, sha, what);
        let buf = s.archives.get(sha);
        if (!buf) {
          buf = await tarballOf(s.ref, sha, tree);
          s.archives.set(sha, buf);
        }
        if (buf.length > maxBytes) {
          throw new ForgeError(`The repository at ${sha.slice(0, 7)} is ${Math.round(buf.length / 1048576)} MiB, over the ${Math.round(maxBytes / 1048576)} MiB limit (VH_MAX_CODE_MB).`);
        }
        return Buffer.from(buf);
      },

      async resolveCommit(repo, ref) {
        const s = visible(repo);
        if (!s) return null;
        if (s.commits.has(ref)) return ref;
        for (const pr of s.pulls.values()) if (pr.headRef === ref) return pr.headSha;
        if (/^[0-9a-f]{7,39}$/.test(ref)) return [...s.commits.keys()].find((c) => c.startsWith(ref)) ?? null;
        return null;
      },

      async addReaction(repo, { commentId }, reaction) {
        const s = visible(repo);
        const c = world.commentsById.get(commentId);
        if (!s || !c || c.repo !== s.ref.fullName.toLowerCase()) throw notFound("adding a reaction");
        world.writes.push({ kind: "reaction", repo: s.ref.fullName, commentId, reaction });
      },

      async createComment(repo, pr, body) {
        const what = `commenting on #${pr}`;
        const s = visible(repo);
        if (!s || !hasIssue(s, pr)) throw notFound(what);
        const text = truncate(body, GITHUB_LIMITS.commentBody);
        if (text.trim() === "") throw validationFailed(what);
        const c = world._addComment(s, pr, VH_BOT, text);
        world.writes.push({ kind: "comment_created", repo: s.ref.fullName, issue: pr, commentId: c.id, body: text });
        return c.id;
      },

      async ensureComment({ repo, pr, marker, body, knownId }): Promise<EnsureResult> {
        const text = truncate(body, GITHUB_LIMITS.commentBody);
        if (!text.includes(marker)) throw new ForgeError("ensureComment: the body must contain its marker.");
        const s = visible(repo);
        if (!s) throw notFound(knownId ? "updating the vh comment" : "listing comments");
        const edit = (c: StoredComment & { repo: string }) => {
          c.body = text;
          world.writes.push({ kind: "comment_edited", repo: s.ref.fullName, issue: c.issue, commentId: c.id, body: text });
        };
        if (knownId) {
          const c = world.commentsById.get(knownId);
          // A PATCH edits whatever is there; a deleted comment (404) is looked for again by its marker.
          if (c && c.repo === s.ref.fullName.toLowerCase()) {
            edit(c);
            return { id: knownId, action: "updated" };
          }
        }
        if (!hasIssue(s, pr)) throw notFound("listing comments");
        const found = [...world.commentsById.values()].find((c) => c.repo === s.ref.fullName.toLowerCase() && c.issue === pr && c.body.includes(marker));
        if (found) {
          if (found.body === text) return { id: found.id, action: "unchanged" };
          edit(found);
          return { id: found.id, action: "updated" };
        }
        const c = world._addComment(s, pr, VH_BOT, text);
        world.writes.push({ kind: "comment_created", repo: s.ref.fullName, issue: pr, commentId: c.id, body: text });
        return { id: c.id, action: "created" };
      },

      async ensureCheckRun({ repo, spec, knownId, annotations }): Promise<EnsureResult> {
        const s = visible(repo);
        const batches: Annotation[][] = [];
        for (let i = 0; i < (annotations?.length ?? 0); i += GITHUB_LIMITS.annotationsPerRequest) {
          batches.push(annotations!.slice(i, i + GITHUB_LIMITS.annotationsPerRequest).map((a) => ({ ...a })));
        }
        const first = batches.shift() ?? [];
        const noCommit = (what: string) => github(422, `No commit found for SHA: ${spec.sha}`, what);
        let id = knownId ?? null;
        if (!id) {
          if (!s) throw notFound("listing check runs");
          if (!s.commits.has(spec.sha)) throw noCommit("listing check runs");
          id = [...world.runsById.values()].find((r) => r.repo === s.ref.fullName.toLowerCase() && r.sha === spec.sha && r.spec.name === spec.name && r.spec.externalId === spec.externalId)?.id ?? null;
        }
        let action: EnsureResult["action"];
        if (id) {
          const what = "updating the check run";
          const run = world.runsById.get(id);
          if (!s || !run || run.repo !== s.ref.fullName.toLowerCase()) throw notFound(what);
          validate(spec, first, what);
          // GitHub keeps a check run's commit; the rest is what the PATCH says.
          run.spec = { ...stored(spec), sha: run.sha };
          run.annotations.push(...first);
          world.writes.push({ kind: "check_run_updated", repo: s.ref.fullName, checkRunId: id, spec: structuredClone(run.spec), annotations: structuredClone(first) });
          action = "updated";
        } else {
          const what = "creating the check run";
          if (!s) throw notFound(what);
          if (!s.commits.has(spec.sha)) throw noCommit(what);
          validate(spec, first, what);
          id = world.nextCheckRunId++;
          const run = { id, sha: spec.sha, spec: stored(spec), annotations: [...first], repo: s.ref.fullName.toLowerCase() };
          world.runsById.set(id, run);
          world.writes.push({ kind: "check_run_created", repo: s.ref.fullName, checkRunId: id, spec: structuredClone(run.spec), annotations: structuredClone(first) });
          action = "created";
        }
        for (const batch of batches) {
          const run = world.runsById.get(id)!;
          run.annotations.push(...batch);
          world.writes.push({ kind: "check_run_annotated", repo: s!.ref.fullName, checkRunId: id, annotations: structuredClone(batch) });
        }
        return { id, action };
      },
    };
  }
}

/** A world with no repositories yet; `addRepo` makes them. */
export function createMemoryForge(): MemoryForgeWorld {
  return new MemoryForgeWorld();
}

/** The pull request the bot and task tests share: acme/widgets #7 at a commit of test/github/fixture-repo. */
export const FIXTURE = { dir: path.resolve(import.meta.dirname, "../github/fixture-repo"), repo: "acme/widgets", repoId: 4242, installation: 77, pr: 7 };

/** Adds that repository and pull request (opened by `author`) to `world`; returns the repository and the head commit. */
export function addFixturePullRequest(world: MemoryForgeWorld, author: Actor, title?: string): { repo: MemoryRepo; head: string } {
  const repo = world.addRepo(FIXTURE.repo, { id: FIXTURE.repoId, installationId: FIXTURE.installation });
  const head = repo.commit(filesOfDir(FIXTURE.dir));
  repo.openPullRequest({ number: FIXTURE.pr, headSha: head, author, ...(title !== undefined ? { title } : {}) });
  return { repo, head };
}
