/**
 * `vh repo add|list|status|remove`: repositories on any Git host, linked by URL and polled
 * (docs/git-hosts.md). A new commit on a watched branch whose message has `/vh run …` lines runs
 * them, like a push to GitHub.
 *
 *   vh repo add ssh://git@git.example.com/team/model.git --key ~/.ssh/vh_deploy --branch main
 *   vh repo add https://git.example.com/team/model.git --token-env VH_GIT_TOKEN_EXAMPLE
 *   vh repo add git@git.example.com:team/model.git --key ./deploy_key --webhook-secret-env MY_SECRET
 *   vh repo status 3       last poll, last error, last commit seen, its valohai.yaml lint, next poll
 */
import fs from "node:fs";
import path from "node:path";
import type { Context } from "../context.js";
import { CliError } from "../errors.js";
import { formatTime, jsonText, printable, table } from "../format.js";
import { println } from "../io.js";

export interface RepoView {
  id: number;
  name: string;
  url: string;
  kind: string;
  project: string;
  branches: string[];
  watching: string[];
  defaultBranch: string | null;
  pollSeconds: number;
  credentials: string;
  tokenEnv: string | null;
  hostKeyPinned: boolean;
  webhook: { path: string } | null;
  lastPollAt: string | null;
  lastError: string | null;
  lastCommitSha: string | null;
  lastLint: string | null;
  failures: number;
  lastRun: { sha: string; at: string; outcome: string | null } | null;
  nextPollAt: string | null;
  createdAt: string;
}

export interface RepoAddOptions {
  project?: string;
  branch?: string[];
  poll?: string | number;
  key?: string;
  tokenEnv?: string;
  webhookSecretEnv?: string;
  json?: boolean;
}

function pollSeconds(v: string | number | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(String(v)) || !Number.isSafeInteger(n) || n < 1) throw new CliError(`--poll takes whole seconds, not "${v}".`);
  return n;
}

export async function repoAddCommand(ctx: Context, url: string, opts: RepoAddOptions = {}): Promise<number> {
  let key: string | undefined;
  if (opts.key) {
    const file = path.resolve(ctx.io.cwd, opts.key);
    try {
      key = fs.readFileSync(file, "utf8");
    } catch (err) {
      throw new CliError(`--key ${opts.key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}).`);
    }
  }
  let webhookSecret: string | undefined;
  if (opts.webhookSecretEnv) {
    webhookSecret = ctx.io.env[opts.webhookSecretEnv];
    if (!webhookSecret) throw new CliError(`--webhook-secret-env ${opts.webhookSecretEnv}: that environment variable is not set here (it holds the webhook's secret, 16 characters or more).`);
  }
  const poll = pollSeconds(opts.poll);
  // The key's content, not its path: the server never reads a path an API caller names. The token
  // stays on the server: only its variable's name is sent.
  const json = {
    url,
    ...(opts.project ? { project: opts.project } : {}),
    ...(opts.branch?.length ? { branches: opts.branch } : {}),
    ...(poll !== undefined ? { pollSeconds: poll } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(opts.tokenEnv ? { tokenEnv: opts.tokenEnv } : {}),
    ...(webhookSecret !== undefined ? { webhookSecret } : {}),
  };
  const repo = await ctx.client().json<RepoView>("POST", "/repos", { json });
  if (opts.json) {
    ctx.io.stdout.write(jsonText(repo));
    return 0;
  }
  const watching = repo.watching.length ? repo.watching.join(", ") : "the default branch, once it has one";
  ctx.info(
    `Repository ${printable(repo.name)} linked (id ${repo.id}, project ${repo.project}); watching ${watching}, polled every ${repo.pollSeconds} s. ` +
      "Commits already there are not run; a new commit whose message has a `/vh run STEP …` line runs it.",
  );
  if (repo.webhook) ctx.info(`Webhook: POST ${ctx.server().url}${repo.webhook.path} signed with HMAC-SHA256 of the body (X-Hub-Signature-256: sha256=…) polls at once.`);
  return 0;
}

function since(iso: string | null): string {
  return iso ? formatTime(iso) : "never";
}

function state(r: RepoView): string {
  if (r.lastError) return `failing (${r.failures}x)`;
  if (!r.lastPollAt) return "not polled yet";
  return r.lastLint ? "ok, lint problems" : "ok";
}

export function formatRepos(repos: RepoView[]): string {
  return table(
    ["ID", "NAME", "PROJECT", "WATCHING", "LAST POLL", "STATE"],
    repos.map((r) => [String(r.id), r.name, r.project, r.watching.join(",") || "-", since(r.lastPollAt), state(r)]),
  );
}

export function formatRepoStatus(r: RepoView): string {
  const lines: [string, string][] = [
    ["Repository", `${r.name} (id ${r.id})`],
    ["URL", r.url],
    ["Project", r.project],
    ["Watching", r.watching.join(", ") || "the default branch (none yet)"],
    ["Default branch", r.defaultBranch ?? "-"],
    ["Credentials", r.credentials === "token" && r.tokenEnv ? `token from ${r.tokenEnv} on the server` : r.credentials],
    ...(r.kind === "ssh" ? ([["Host key", r.hostKeyPinned ? "pinned" : "not pinned yet"]] as [string, string][]) : []),
    ["Webhook", r.webhook ? r.webhook.path : "none"],
    ["Poll every", `${r.pollSeconds} s`],
    ["Last poll", since(r.lastPollAt)],
    ["Next poll", r.nextPollAt ? formatTime(r.nextPollAt) : "none queued"],
    ["Last commit", r.lastCommitSha ?? "-"],
    ["Last /vh run", r.lastRun ? `${r.lastRun.sha.slice(0, 7)} at ${formatTime(r.lastRun.at)}: ${r.lastRun.outcome ?? "waiting to be handled"}` : "-"],
    ["Failures", String(r.failures)],
    ["Last error", r.lastError ?? "-"],
  ];
  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  let out = lines.map(([k, v]) => `${`${k}:`.padEnd(width)}${printable(v)}\n`).join("");
  out += r.lastLint ? `valohai.yaml at ${r.lastCommitSha?.slice(0, 7) ?? "the last commit"}:\n${r.lastLint.split("\n").map((l) => `  ${printable(l)}\n`).join("")}` : "";
  return out;
}

export async function repoListCommand(ctx: Context, opts: { json?: boolean } = {}): Promise<number> {
  const { results } = await ctx.client().json<{ results: RepoView[] }>("GET", "/repos");
  if (opts.json) {
    ctx.io.stdout.write(jsonText(results));
    return 0;
  }
  if (results.length === 0) {
    println(ctx.io.stdout, "No repositories linked. Link one: vh repo add URL [--key FILE | --token-env VH_GIT_TOKEN_…]");
    return 0;
  }
  ctx.io.stdout.write(formatRepos(results));
  return 0;
}

/** Exit code 1 while the repository's polls fail (its last error is shown). */
export async function repoStatusCommand(ctx: Context, repo: string, opts: { json?: boolean } = {}): Promise<number> {
  const r = await ctx.client().json<RepoView>("GET", `/repos/${encodeURIComponent(repo)}`);
  if (opts.json) ctx.io.stdout.write(jsonText(r));
  else ctx.io.stdout.write(formatRepoStatus(r));
  return r.lastError ? 1 : 0;
}

/** `--json`: the API's answer, `{"removed": {"id": N, "name": NAME}}`. */
export async function repoRemoveCommand(ctx: Context, repo: string, opts: { json?: boolean } = {}): Promise<number> {
  const res = await ctx.client().json<{ removed: { id: number; name: string } }>("DELETE", `/repos/${encodeURIComponent(repo)}`);
  if (opts.json) ctx.io.stdout.write(jsonText(res));
  else ctx.info(`Repository ${printable(res.removed.name)} (id ${res.removed.id}) removed: it is no longer polled.`);
  return 0;
}
