/**
 * The Forge interface: everything vh asks of a Git host (GitHub, GitLab, or any Git server vh
 * polls). Nothing above this interface speaks a particular forge: commands, reporting and tasks
 * use these types. A forge is a small core every host has (a file or an archive at a commit, a ref
 * resolved, who an actor is and what they may do, a change request's head) plus optional
 * capabilities found by type guards (`hasComments`, `hasCheckRuns`, `hasCommitStatuses`): the
 * reporting layer writes what the forge can show and nothing else.
 *
 * Terminology:
 * - forge: a Git host vh is installed on, through an app (GitHub App) or a bot user (GitLab).
 * - installation: what scopes the credentials: a GitHub App's installation; 0 on GitLab (one bot
 *   token per instance); the linked repository's id on a plain Git host.
 * - repo: a repository, named `owner/name` (GitLab: the full path), plus the host's numeric id
 *   (on a plain Git host, vh's own id of the linked repository).
 * - pull request: GitHub's pull request, GitLab's merge request (its iid); plain Git has none.
 * - check run: one status line with a report on a commit (GitHub checks); commit status: the
 *   simpler state + description + link (GitLab; GitHub has them too, vh uses check runs there).
 * - sticky comment: the one comment vh keeps per pull request, found again by a hidden marker.
 *
 * Contracts: every `ensure*` call is idempotent (it finds vh's earlier output and edits it only when
 * the body changed); every method throws `ForgeError` (app/errors.ts) for the host's failures, with
 * a message that names what to fix; reads that find nothing return null rather than throw.
 */

export type ForgeKind = "github" | "gitlab" | "git";

export const FORGE_KINDS: readonly ForgeKind[] = ["github", "gitlab", "git"];

/** How messages name each forge. */
export const FORGE_NAMES: Record<ForgeKind, string> = { github: "GitHub", gitlab: "GitLab", git: "the Git host" };

/** What a pull request is called on each forge, with its number as the forge writes it (`#7`, `!7`). */
export function changeRequestName(forge: ForgeKind, n: number): string {
  return forge === "gitlab" ? `merge request !${n}` : `pull request #${n}`;
}

/** What a forge calls a pull request, without its number: `pull request`, `merge request`. */
export function changeRequestNoun(forge: ForgeKind): string {
  return forge === "gitlab" ? "merge request" : "pull request";
}

/** The role that runs code (CAN_RUN), in each forge's words. */
export const RUN_ROLE: Record<ForgeKind, string> = {
  github: "write permission",
  gitlab: "the Developer role or higher",
  git: "push access",
};

export interface RepoRef {
  /** Which forge the repository lives on: with `id`, what identifies it. */
  forge: ForgeKind;
  /** The host's numeric repository id (stable across renames). */
  id: number;
  /** `owner/name`. */
  fullName: string;
  owner: string;
  name: string;
  installationId: number;
}

/** A RepoRef from its full name: `owner` is all before the last `/` (GitLab: the namespace path), `name` the rest. */
export function repoRef(r: { forge: ForgeKind; id: number; installationId: number; fullName: string }): RepoRef {
  const cut = r.fullName.lastIndexOf("/");
  return {
    forge: r.forge,
    id: r.id,
    fullName: r.fullName,
    owner: cut > 0 ? r.fullName.slice(0, cut) : "",
    name: cut > 0 ? r.fullName.slice(cut + 1) : r.fullName,
    installationId: r.installationId,
  };
}

export interface Actor {
  login: string;
  id: number;
  /** Apps and bots, vh itself included: their comments never run anything. */
  isBot: boolean;
}

export interface PullRequest {
  number: number;
  title: string;
  state: "open" | "closed";
  headSha: string;
  headRef: string;
  /** `owner/name` of the repository the head branch lives in (null when that fork was deleted). */
  headRepo: string | null;
  /** The head branch lives in another repository (a fork). */
  isFork: boolean;
  /**
   * A commit of the base repository's target branch the pull request is compared with (null when
   * the forge does not say): where a fork's valohai.yaml is read from (app/bot/fork-policy.ts).
   */
  baseSha: string | null;
  author: Actor;
}

export interface Comment {
  id: number;
  body: string;
  author: Actor;
  url: string;
}

/**
 * The repository role that decides what an actor may do; vh runs code for `admin`, `maintain` and
 * `write`. GitLab's access levels map onto it: Owner → admin, Maintainer → maintain, Developer →
 * write, Reporter → triage, Guest (or Planner) → read.
 */
export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

export const CAN_RUN: readonly Permission[] = ["admin", "maintain", "write"];

export type Reaction = "eyes" | "+1" | "-1" | "confused" | "rocket";

export interface Annotation {
  path: string;
  line: number;
  column?: number;
  level: "failure" | "warning" | "notice";
  message: string;
}

export interface CheckRunAction {
  /** ≤20 characters. */
  label: string;
  /** ≤40 characters. */
  description: string;
  /** ≤20 characters; comes back in the `requested_action` event. */
  identifier: string;
}

export type CheckConclusion = "success" | "failure" | "neutral" | "cancelled" | "timed_out" | "action_required" | "skipped";

export interface CheckRunSpec {
  sha: string;
  name: string;
  /** Our id for it (the sweep id): how the run is found again and how its buttons find the sweep. */
  externalId: string;
  status: "queued" | "in_progress" | "completed";
  conclusion?: CheckConclusion;
  startedAt?: Date;
  completedAt?: Date;
  title: string;
  /** Markdown; cut to the host's limit (65,535 characters on GitHub) by the forge. */
  summary: string;
  text?: string;
  actions?: CheckRunAction[];
  detailsUrl?: string;
}

export interface EnsureResult {
  id: number;
  action: "created" | "updated" | "unchanged";
}

/** A commit status (GitLab's pipeline-less status; one per sweep, found again by `name` on the commit). */
export type CommitState = "pending" | "running" | "success" | "failed" | "canceled";

export interface CommitStatusSpec {
  sha: string;
  /** The status's name (GitLab: `name`/context): how it is found again, e.g. `vh: train`. */
  name: string;
  state: CommitState;
  /** One line; cut to the host's limit (255 characters on GitLab) by the forge. */
  description: string;
  targetUrl?: string;
}

/** What every forge can do. */
export interface ForgeCore {
  readonly kind: ForgeKind;
  /** The actor's role on the repository. Cached for a short while (a minute). */
  getPermission(repo: RepoRef, login: string): Promise<Permission>;
  /** A pull request (merge request) by number; a forge without them throws `VhError("not_found")`. */
  getPullRequest(repo: RepoRef, number: number): Promise<PullRequest>;
  /** A file's text at a commit, or null when the commit has no such file. */
  readFile(repo: RepoRef, sha: string, path: string): Promise<string | null>;
  /** The gzipped tarball of the tree at `sha`, wrapped in one top-level folder (as GitHub's and GitLab's are; the snapshot drops it). */
  downloadArchive(repo: RepoRef, sha: string, maxBytes: number): Promise<Buffer>;
  /** The commit a branch, tag or (abbreviated) sha names, as a full sha; null when nothing matches. */
  resolveCommit(repo: RepoRef, ref: string): Promise<string | null>;
}

/** Comments on pull requests: replies, the sticky comment, reactions. */
export interface Comments {
  /** 👀 and friends on a comment of pull request `pr` (GitLab: an award emoji on the note). */
  addReaction(repo: RepoRef, target: { pr: number; commentId: number }, reaction: Reaction): Promise<void>;
  /** A new comment (replies); returns its id. */
  createComment(repo: RepoRef, pr: number, body: string): Promise<number>;
  /**
   * The one comment carrying `marker` (an HTML comment inside `body`) on the pull request: created
   * when absent, edited when its body differs. `knownId` skips the search when the caller stored it.
   */
  ensureComment(opts: { repo: RepoRef; pr: number; marker: string; body: string; knownId?: number | null }): Promise<EnsureResult>;
}

/** Check runs with a report, buttons and annotations (GitHub). */
export interface CheckRuns {
  /**
   * The check run with `spec.externalId` on `spec.sha`: created when absent, updated otherwise.
   * `annotations` are sent in batches of at most 50 per request (the first with the create).
   */
  ensureCheckRun(opts: { repo: RepoRef; spec: CheckRunSpec; knownId?: number | null; annotations?: Annotation[] }): Promise<EnsureResult>;
}

/** Commit statuses (GitLab). */
export interface CommitStatuses {
  /** The status named `status.name` on `status.sha` set to `status.state` (unchanged when it already is). */
  ensureCommitStatus(opts: { repo: RepoRef; status: CommitStatusSpec }): Promise<EnsureResult>;
}

/** A forge: its core, and whichever capabilities its host has. */
export type Forge = ForgeCore & Partial<Comments & CheckRuns & CommitStatuses>;

export function hasComments(f: Forge): f is Forge & Comments {
  return typeof f.ensureComment === "function" && typeof f.createComment === "function" && typeof f.addReaction === "function";
}

export function hasCheckRuns(f: Forge): f is Forge & CheckRuns {
  return typeof f.ensureCheckRun === "function";
}

export function hasCommitStatuses(f: Forge): f is Forge & CommitStatuses {
  return typeof f.ensureCommitStatus === "function";
}

/** Makes a Forge for one installation (credentials are per installation). */
export interface ForgeProvider {
  readonly kind: ForgeKind;
  forInstallation(installationId: number): Promise<Forge>;
}

/** Every forge a process serves: the one a repository lives on, by its `forge` kind. */
export interface Forges {
  forRepo(repo: RepoRef): Promise<Forge>;
}
