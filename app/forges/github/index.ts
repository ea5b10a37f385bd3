/**
 * The GitHub forge: a GitHub App, through Probot's Octokit (JWT → installation token, cached by
 * Probot; secondary-rate-limit throttling from Probot's plugin). GitHub Enterprise Server works
 * through `GHE_HOST`/`GHE_PROTOCOL` (config.baseUrl).
 *
 * Every request is bounded (`VH_GITHUB_TIMEOUT_S`, default 10 s): no answer within it, or a pause
 * that long in the middle of one, and the request fails. Octokit's own retries are off and a rate
 * limit is waited out only when it clears soon: a failed request fails the job, and the queue
 * retries the job with backoff, in the forge pool (worker/start.ts), so a slow or unreachable
 * GitHub holds a forge slot for seconds, never the slots that schedule and start executions.
 */
import { createHash } from "node:crypto";
import { Probot, ProbotOctokit } from "probot";
import type { z } from "zod";
import { ForgeError } from "../../errors.js";
import type {
  Annotation,
  CheckRunSpec,
  EnsureResult,
  Forge,
  ForgeProvider,
  Permission,
  PullRequest,
  Reaction,
  RepoRef,
} from "../../contracts/forge.js";
import { GhCheckRunList, GhCommentList, GhCommit, GhCreated, GhPermission, GhPullRequest } from "./schema.js";
import { GITHUB_LIMITS, type GitHubForgeOptions } from "./types.js";

export type { GitHubForgeOptions } from "./types.js";

type Octokit = ProbotOctokit;

const PERMISSIONS: readonly Permission[] = ["admin", "maintain", "write", "triage", "read", "none"];

/** Cuts markdown to `max` characters, saying so at the end. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = "\n\n… (cut to GitHub's size limit; the rest is in vh)";
  return text.slice(0, max - note.length) + note;
}

function parse<T extends z.ZodType>(schema: T, data: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(data);
  if (!r.success) throw new ForgeError(`GitHub answered ${what} with an unexpected shape: ${r.error.issues[0]?.message ?? "?"}`);
  return r.data;
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { status?: unknown }).status;
  return typeof s === "number" ? s : undefined;
}

/** A request to GitHub that got no answer, or stalled mid-answer, for VH_GITHUB_TIMEOUT_S. */
export class GitHubTimeoutError extends Error {
  constructor(readonly ms: number, phase: "answer" | "pause") {
    super(
      phase === "answer"
        ? `GitHub did not answer within ${ms / 1000} s (VH_GITHUB_TIMEOUT_S)`
        : `GitHub's answer stalled for ${ms / 1000} s (VH_GITHUB_TIMEOUT_S)`,
    );
    this.name = "GitHubTimeoutError";
  }
}

const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * `fetch` with a deadline: the answer's headers within `ms`, then no pause longer than `ms` in its
 * body (a 1 GB tarball may take longer than `ms` in all, but never stalls that long). The caller's
 * own signal still aborts it. `base` is looked up on each call (tests replace the global fetch).
 */
export function fetchWithTimeout(ms: number, base: () => typeof fetch = () => globalThis.fetch, onStall?: (url: string) => void): typeof fetch {
  return async (input, init = {}) => {
    const controller = new AbortController();
    const outer = init.signal;
    if (outer?.aborted) controller.abort(outer.reason);
    else outer?.addEventListener("abort", () => controller.abort(outer.reason), { once: true });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const err = new GitHubTimeoutError(ms, "answer");
        reject(err);
        controller.abort(err);
      }, ms);
    });
    let res: Response;
    try {
      res = await Promise.race([base()(input, { ...init, signal: controller.signal }), late]);
    } finally {
      clearTimeout(timer);
    }
    if (!res.body || NULL_BODY.has(res.status)) return res;
    const reader = res.body.getReader();
    const url = res.url;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        let idle: NodeJS.Timeout | undefined;
        const stalled = new Promise<never>((_resolve, reject) => {
          idle = setTimeout(() => reject(new GitHubTimeoutError(ms, "pause")), ms);
        });
        try {
          const next = await Promise.race([reader.read(), stalled]);
          if (next.done) ctrl.close();
          else ctrl.enqueue(next.value);
        } catch (err) {
          if (err instanceof GitHubTimeoutError) onStall?.(url);
          controller.abort(err);
          reader.cancel(err).catch(() => {});
          ctrl.error(err);
        } finally {
          clearTimeout(idle);
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    const wrapped = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    Object.defineProperty(wrapped, "url", { value: url });
    return wrapped;
  };
}

/** GitHub's failures as ForgeErrors whose message names what to fix. */
export function wrapGitHubError(err: unknown, what: string): ForgeError {
  if (err instanceof ForgeError) return err;
  const cause = (err as { cause?: unknown })?.cause;
  const timeout = err instanceof GitHubTimeoutError ? err : cause instanceof GitHubTimeoutError ? cause : null;
  if (timeout) return new ForgeError(`GitHub: ${what} failed: ${timeout.message}; the work is retried later.`);
  const status = statusOf(err);
  const msg = (err as Error)?.message ?? String(err);
  let hint = "";
  if (status === 401) hint = " GitHub refused the credentials: check APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH).";
  else if (status === 403 && /rate limit/i.test(msg)) hint = " GitHub's rate limit was hit; the work is retried later.";
  else if (status === 403) hint = " The App lacks a permission: compare its permissions with app.yml and accept the new permissions on the installation.";
  else if (status === 404) hint = " Not found, or not visible to the App: is the App installed on this repository?";
  return new ForgeError(`GitHub: ${what} failed${status ? ` (HTTP ${status})` : ""}: ${msg}.${hint}`, { status });
}

async function call<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw wrapGitHubError(err, what);
  }
}

function bodyHash(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

/** A rate limit is waited out (once) only when it clears within this; otherwise the job fails and the queue retries it. */
const RATE_LIMIT_WAIT_S = 10;

/**
 * The Octokit vh uses: Octokit's own retries off (the queue retries the job, with backoff, in the
 * forge pool), and a rate limit waited out only once and only when it clears within seconds.
 */
export function boundedOctokit(Base: typeof ProbotOctokit, log: GitHubForgeOptions["log"]): typeof ProbotOctokit {
  const onLimit = (kind: string) => (retryAfter: number, options: { method?: string; url?: string }, _octokit: unknown, retryCount: number) => {
    const wait = retryCount === 0 && retryAfter <= RATE_LIMIT_WAIT_S;
    log.warn(`GitHub ${kind} rate limit hit`, { request: `${options.method} ${options.url}`, retryAfter, waiting: wait });
    return wait;
  };
  return Base.defaults((o: Record<string, unknown>) => ({
    ...o,
    retry: { ...(o["retry"] as object | undefined), enabled: false },
    throttle: { ...(o["throttle"] as object | undefined), onRateLimit: onLimit("primary"), onSecondaryRateLimit: onLimit("secondary") },
  })) as typeof ProbotOctokit;
}

export function createGitHubProvider(opts: GitHubForgeOptions): ForgeProvider & { probot: Probot } {
  const timeoutMs = opts.config.requestTimeoutMs ?? 10_000;
  const probot = new Probot({
    appId: opts.config.appId,
    privateKey: opts.config.privateKey,
    secret: opts.config.webhookSecret,
    baseUrl: opts.config.baseUrl,
    Octokit: boundedOctokit(opts.Octokit ?? ProbotOctokit, opts.log),
    // both the installation-token requests and the API requests go through this fetch
    request: { fetch: fetchWithTimeout(timeoutMs, undefined, (url) => opts.log.warn("GitHub stalled mid-answer; gave up", { url, timeoutMs })) },
    logLevel: "warn",
  });
  const ttl = opts.permissionTtlMs ?? 60_000;
  const permissions = new Map<string, { value: Permission; until: number }>();
  return {
    kind: "github",
    probot,
    async forInstallation(installationId: number): Promise<Forge> {
      const octokit = (await call(`authenticating as installation ${installationId}`, () => probot.auth(installationId))) as Octokit;
      return githubForge(octokit, { permissions, ttl });
    },
  };
}

/** A GitHub Forge has every capability: comments, check runs (commit statuses are not used: check runs say more). */
type GitHubForge = Forge & Required<Pick<Forge, "addReaction" | "createComment" | "ensureComment" | "ensureCheckRun">>;

function githubForge(octokit: Octokit, cache: { permissions: Map<string, { value: Permission; until: number }>; ttl: number }): GitHubForge {
  const req = octokit.request.bind(octokit) as (route: string, params?: Record<string, unknown>) => Promise<{ data: unknown; status: number }>;
  const o = (repo: RepoRef) => ({ owner: repo.owner, repo: repo.name });

  async function findComment(repo: RepoRef, pr: number, marker: string): Promise<{ id: number; body: string } | null> {
    for (let page = 1; page <= 30; page++) {
      const { data } = await call("listing comments", () =>
        req("GET /repos/{owner}/{repo}/issues/{issue_number}/comments", { ...o(repo), issue_number: pr, per_page: 100, page }));
      const list = parse(GhCommentList, data, "the comment list");
      const hit = list.find((c) => (c.body ?? "").includes(marker));
      if (hit) return { id: hit.id, body: hit.body ?? "" };
      if (list.length < 100) return null;
    }
    return null;
  }

  function checkBody(spec: CheckRunSpec, annotations: Annotation[] | undefined): Record<string, unknown> {
    const output: Record<string, unknown> = {
      title: spec.title.slice(0, 255),
      summary: truncate(spec.summary, GITHUB_LIMITS.checkRunSummary),
    };
    if (spec.text) output["text"] = truncate(spec.text, GITHUB_LIMITS.checkRunText);
    if (annotations?.length) output["annotations"] = annotations.map(toGhAnnotation);
    return {
      name: spec.name,
      external_id: spec.externalId,
      status: spec.status,
      ...(spec.startedAt ? { started_at: spec.startedAt.toISOString() } : {}),
      ...(spec.status === "completed" && spec.conclusion ? { conclusion: spec.conclusion } : {}),
      ...(spec.status === "completed" && spec.completedAt ? { completed_at: spec.completedAt.toISOString() } : {}),
      ...(spec.detailsUrl ? { details_url: spec.detailsUrl } : {}),
      output,
      actions: (spec.actions ?? []).slice(0, GITHUB_LIMITS.actions),
    };
  }

  return {
    kind: "github",

    async getPermission(repo, login) {
      const key = `${repo.installationId}:${repo.id}:${login.toLowerCase()}`;
      const hit = cache.permissions.get(key);
      if (hit && hit.until > Date.now()) return hit.value;
      let value: Permission;
      try {
        const { data } = await req("GET /repos/{owner}/{repo}/collaborators/{username}/permission", { ...o(repo), username: login });
        const p = parse(GhPermission, data, "the permission lookup");
        const role = (p.role_name ?? p.permission) as Permission;
        value = PERMISSIONS.includes(role) ? role : PERMISSIONS.includes(p.permission as Permission) ? (p.permission as Permission) : "none";
      } catch (err) {
        if (statusOf(err) === 404) value = "none";
        else throw wrapGitHubError(err, `looking up ${login}'s permission on ${repo.fullName}`);
      }
      if (cache.permissions.size > 10_000) cache.permissions.clear();
      cache.permissions.set(key, { value, until: Date.now() + cache.ttl });
      return value;
    },

    async getPullRequest(repo, number): Promise<PullRequest> {
      const { data } = await call(`reading pull request #${number}`, () => req("GET /repos/{owner}/{repo}/pulls/{pull_number}", { ...o(repo), pull_number: number }));
      const pr = parse(GhPullRequest, data, "the pull request");
      return {
        number: pr.number,
        title: pr.title,
        state: pr.state,
        headSha: pr.head.sha,
        headRef: pr.head.ref,
        headRepo: pr.head.repo?.full_name ?? null,
        isFork: !pr.head.repo || pr.head.repo.id !== pr.base.repo.id,
        baseSha: pr.base.sha ?? null,
        author: { login: pr.user.login, id: pr.user.id, isBot: pr.user.type === "Bot" },
      };
    },

    async readFile(repo, sha, path) {
      try {
        const { data } = await req("GET /repos/{owner}/{repo}/contents/{path}", {
          ...o(repo),
          path,
          ref: sha,
          headers: { accept: "application/vnd.github.raw+json" },
        });
        if (typeof data === "string") return data;
        if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
        throw new ForgeError(`GitHub: ${path} at ${sha.slice(0, 7)} is not a file.`);
      } catch (err) {
        if (statusOf(err) === 404) return null;
        throw wrapGitHubError(err, `reading ${path} at ${sha.slice(0, 7)}`);
      }
    },

    async downloadArchive(repo, sha, maxBytes) {
      const { data } = await call(`downloading the tarball of ${sha.slice(0, 7)}`, () =>
        req("GET /repos/{owner}/{repo}/tarball/{ref}", { ...o(repo), ref: sha }));
      const buf = data instanceof ArrayBuffer ? Buffer.from(data) : Buffer.isBuffer(data) ? data : typeof data === "string" ? Buffer.from(data, "binary") : null;
      if (!buf) throw new ForgeError("GitHub: the tarball download did not return bytes.");
      // Octokit turns a body that broke off (a stall past VH_GITHUB_TIMEOUT_S, a reset) into no bytes
      if (buf.length === 0) throw new ForgeError(`GitHub: the tarball of ${sha.slice(0, 7)} came back empty (cut off?); the work is retried later.`);
      if (buf.length > maxBytes) {
        throw new ForgeError(`The repository at ${sha.slice(0, 7)} is ${Math.round(buf.length / 1048576)} MiB, over the ${Math.round(maxBytes / 1048576)} MiB limit (VH_MAX_CODE_MB).`);
      }
      return buf;
    },

    async resolveCommit(repo, ref) {
      try {
        const { data } = await req("GET /repos/{owner}/{repo}/commits/{ref}", { ...o(repo), ref });
        return parse(GhCommit, data, "the commit").sha;
      } catch (err) {
        // 404: no such ref; 422: not a valid ref (GitHub answers "No commit found for SHA")
        if (statusOf(err) === 404 || statusOf(err) === 422) return null;
        throw wrapGitHubError(err, `resolving ${ref}`);
      }
    },

    async addReaction(repo, { commentId }, reaction: Reaction) {
      await call("adding a reaction", () =>
        req("POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", { ...o(repo), comment_id: commentId, content: reaction }));
    },

    async createComment(repo, pr, body) {
      const { data } = await call(`commenting on #${pr}`, () =>
        req("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", { ...o(repo), issue_number: pr, body: truncate(body, GITHUB_LIMITS.commentBody) }));
      return parse(GhCreated, data, "the new comment").id;
    },

    async ensureComment({ repo, pr, marker, body, knownId }): Promise<EnsureResult> {
      const text = truncate(body, GITHUB_LIMITS.commentBody);
      if (!text.includes(marker)) throw new ForgeError("ensureComment: the body must contain its marker.");
      const update = (id: number) =>
        req("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", { ...o(repo), comment_id: id, body: text });
      if (knownId) {
        try {
          await update(knownId);
          return { id: knownId, action: "updated" };
        } catch (err) {
          if (statusOf(err) !== 404) throw wrapGitHubError(err, "updating the vh comment");
          // deleted by someone: find another with the marker, or create it again
        }
      }
      const found = await findComment(repo, pr, marker);
      if (found) {
        if (bodyHash(found.body) === bodyHash(text)) return { id: found.id, action: "unchanged" };
        await call("updating the vh comment", () => update(found.id));
        return { id: found.id, action: "updated" };
      }
      const { data } = await call(`commenting on #${pr}`, () =>
        req("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", { ...o(repo), issue_number: pr, body: text }));
      return { id: parse(GhCreated, data, "the new comment").id, action: "created" };
    },

    async ensureCheckRun({ repo, spec, knownId, annotations }): Promise<EnsureResult> {
      const batches: Annotation[][] = [];
      for (let i = 0; i < (annotations?.length ?? 0); i += GITHUB_LIMITS.annotationsPerRequest) {
        batches.push(annotations!.slice(i, i + GITHUB_LIMITS.annotationsPerRequest));
      }
      let id = knownId ?? null;
      let action: EnsureResult["action"] = "updated";
      if (!id) {
        const { data } = await call("listing check runs", () =>
          req("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", { ...o(repo), ref: spec.sha, check_name: spec.name, filter: "all", per_page: 100 }));
        id = parse(GhCheckRunList, data, "the check run list").check_runs.find((c) => c.external_id === spec.externalId)?.id ?? null;
      }
      const first = batches.shift();
      if (id) {
        const runId = id;
        await call("updating the check run", () =>
          req("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", { ...o(repo), check_run_id: runId, ...checkBody(spec, first) }));
      } else {
        const { data } = await call("creating the check run", () =>
          req("POST /repos/{owner}/{repo}/check-runs", { ...o(repo), head_sha: spec.sha, ...checkBody(spec, first) }));
        id = parse(GhCreated, data, "the new check run").id;
        action = "created";
      }
      for (const batch of batches) {
        const runId = id;
        await call("adding annotations", () =>
          req("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
            ...o(repo),
            check_run_id: runId,
            output: { title: spec.title.slice(0, 255), summary: truncate(spec.summary, GITHUB_LIMITS.checkRunSummary), annotations: batch.map(toGhAnnotation) },
          }));
      }
      return { id, action };
    },
  };
}

function toGhAnnotation(a: Annotation) {
  return {
    path: a.path,
    start_line: a.line,
    end_line: a.line,
    ...(a.column !== undefined ? { start_column: a.column, end_column: a.column } : {}),
    annotation_level: a.level,
    message: a.message,
  };
}
