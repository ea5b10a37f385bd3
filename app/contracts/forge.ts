/**
 * The Forge interface: everything vh asks of a Git host (GitHub now; GitLab and plain Git later).
 * Nothing above this interface speaks GitHub: commands, reporting and tasks use these types.
 *
 * Terminology:
 * - forge: a Git host vh is installed on, through an app (GitHub App) or a bot user (GitLab).
 * - installation: one install of the app on an account; its id scopes the credentials.
 * - repo: a repository, named `owner/name` (GitLab: the full path), plus the host's numeric id.
 * - check run: one status line with a report on a commit (GitHub checks; GitLab commit statuses).
 * - sticky comment: the one comment vh keeps per pull request, found again by a hidden marker.
 *
 * Contracts: every `ensure*` call is idempotent (it finds vh's earlier output and edits it only when
 * the body changed); every method throws `ForgeError` (app/errors.ts) for the host's failures, with
 * a message that names what to fix; reads that find nothing return null rather than throw.
 */

export type ForgeKind = "github" | "not-configured";

export interface RepoRef {
  /** The host's numeric repository id (stable across renames). */
  id: number;
  /** `owner/name`. */
  fullName: string;
  owner: string;
  name: string;
  installationId: number;
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
  author: Actor;
}

export interface Comment {
  id: number;
  body: string;
  author: Actor;
  url: string;
}

/** The repository role that decides what an actor may do; vh runs code for `admin`, `maintain` and `write`. */
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

export interface Forge {
  readonly kind: ForgeKind;
  /** The actor's role on the repository. Cached for a short while (a minute). */
  getPermission(repo: RepoRef, login: string): Promise<Permission>;
  getPullRequest(repo: RepoRef, number: number): Promise<PullRequest>;
  /** A file's text at a commit, or null when the commit has no such file. */
  readFile(repo: RepoRef, sha: string, path: string): Promise<string | null>;
  /** The gzipped tarball of the tree at `sha` (GitHub wraps it in one top-level folder). */
  downloadArchive(repo: RepoRef, sha: string, maxBytes: number): Promise<Buffer>;
  addReaction(repo: RepoRef, commentId: number, reaction: Reaction): Promise<void>;
  /** A new comment (replies); returns its id. */
  createComment(repo: RepoRef, pr: number, body: string): Promise<number>;
  /**
   * The one comment carrying `marker` (an HTML comment inside `body`) on the pull request: created
   * when absent, edited when its body differs. `knownId` skips the search when the caller stored it.
   */
  ensureComment(opts: { repo: RepoRef; pr: number; marker: string; body: string; knownId?: number | null }): Promise<EnsureResult>;
  /**
   * The check run with `spec.externalId` on `spec.sha`: created when absent, updated otherwise.
   * `annotations` are sent in batches of at most 50 per request (the first with the create).
   */
  ensureCheckRun(opts: { repo: RepoRef; spec: CheckRunSpec; knownId?: number | null; annotations?: Annotation[] }): Promise<EnsureResult>;
}

/** Makes a Forge for one installation (credentials are per installation). */
export interface ForgeProvider {
  readonly kind: ForgeKind;
  forInstallation(installationId: number): Promise<Forge>;
}
