/**
 * GitHub App test kit: a throwaway App key, Probot's Octokit with retry and throttling off
 * (toolchain-spikes §2), real payloads from @octokit/webhooks-examples, signed POSTs, the fixture
 * repository as GitHub's tarball, and a nock scope that records every request body.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { generateKeyPairSync } from "node:crypto";
import { create } from "tar";
import nock from "nock";
import { ProbotOctokit } from "probot";
import { sign } from "@octokit/webhooks-methods";
import { expect } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";

export const SECRET = "test-webhook-secret";
export const APP_ID = "123";
export const INSTALLATION = 42;
export const OWNER = "Codertocat";
export const REPO = "Hello-World";
export const REPO_ID = 186853002;
export const API = "https://api.github.com";
export const fixtureRepo = path.resolve(import.meta.dirname, "fixture-repo");

export const TestOctokit = ProbotOctokit.defaults((o: Record<string, unknown>) => ({
  ...o,
  retry: { enabled: false },
  throttle: { enabled: false },
})) as typeof ProbotOctokit;

let key: string | null = null;
export function appKey(): string {
  key ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  return key;
}

export function githubEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { APP_ID, PRIVATE_KEY: appKey(), WEBHOOK_SECRET: SECRET, VH_GITHUB_REPORT_INTERVAL_S: "0.2", ...extra };
}

const require = createRequire(import.meta.url);
type Example = { name: string; examples: Record<string, unknown>[] };
const examples = require("@octokit/webhooks-examples/api.github.com/index.json") as Example[];

/** A real payload of `event` (the first with `action`), copied, with the installation GitHub adds for Apps. */
export function example(event: string, action?: string): Record<string, any> {
  const group = examples.find((e) => e.name === event);
  const ex = group?.examples.find((e) => action === undefined || e["action"] === action);
  if (!ex) throw new Error(`no example ${event}.${action}`);
  const copy = structuredClone(ex) as Record<string, any>;
  copy["installation"] ??= { id: INSTALLATION };
  return copy;
}

/** An issue_comment.created on pull request #`pr` by `login`. */
export function commentPayload(body: string, opts: { login?: string; pr?: number; commentId?: number; type?: string; action?: string } = {}) {
  const p = example("issue_comment", "created");
  p["action"] = opts.action ?? "created";
  p["issue"]["number"] = opts.pr ?? 1;
  p["issue"]["pull_request"] = { url: `${API}/repos/${OWNER}/${REPO}/pulls/${opts.pr ?? 1}` };
  p["comment"]["body"] = body;
  p["comment"]["id"] = opts.commentId ?? 5001;
  p["comment"]["user"]["login"] = opts.login ?? "Codertocat";
  p["comment"]["user"]["type"] = opts.type ?? "User";
  return p;
}

export async function signedPost(url: string, event: string, payload: unknown, delivery: string, secret = SECRET): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(`${url}/api/github/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": delivery,
      "x-hub-signature-256": await sign(secret, body),
    },
    body,
  });
}

/** GitHub's tarball of the fixture repository: everything under one `owner-repo-sha7/` folder. */
export async function repoTarball(sha: string, dir = fixtureRepo): Promise<Buffer> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vh-gh-tar-"));
  const top = `${OWNER}-${REPO}-${sha.slice(0, 7)}`;
  fs.cpSync(dir, path.join(tmp, top), { recursive: true });
  const chunks: Buffer[] = [];
  for await (const c of create({ gzip: true, cwd: tmp, portable: true }, [top])) chunks.push(c as Buffer);
  fs.rmSync(tmp, { recursive: true, force: true });
  return Buffer.concat(chunks);
}

export interface Recorded {
  method: string;
  path: string;
  body: any;
}

/**
 * nock on api.github.com. `once()` is a scope whose interceptors answer once, `many()` one whose
 * interceptors answer every time; both record each request (method, path, parsed body) in order.
 * The token endpoint always answers. Requests nothing matches land in `unmatched`.
 *
 * `verify()` fails unless every interceptor of every `once()` scope was used, every interceptor of
 * every `many()` scope was used at least once, and no request to GitHub went unmatched (the app
 * under test may swallow the error nock gives it, so a test could pass without it);
 * `verify("once")` leaves out the `many()` scopes (shared by several tests of a file).
 * `done()` is `verify()` and then `reset()`; `reset()` only removes the mocks (teardown).
 */
export function githubApi() {
  const requests: Recorded[] = [];
  const unmatched: string[] = [];
  const scopes: { scope: nock.Scope; many: boolean }[] = [];
  const record = (scope: nock.Scope, many: boolean) => {
    scopes.push({ scope, many });
    scope.on("request", (req: { method: string; path: string }, _i: unknown, body: string) => {
      let parsed: unknown = body;
      try {
        parsed = body ? JSON.parse(body) : undefined;
      } catch {
        // not JSON: keep the text
      }
      requests.push({ method: req.method, path: req.path, body: parsed });
    });
    return scope;
  };
  nock(API)
    .persist()
    .post(`/app/installations/${INSTALLATION}/access_tokens`)
    .reply(201, { token: "ghs_test", expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: {} });
  const onNoMatch = (req: { method?: string; path?: string; href?: string; options?: { href?: string } }) => {
    const where = `${req.method ?? "?"} ${req.href ?? req.options?.href ?? req.path ?? "?"}`;
    if (/\/\/(127\.0\.0\.1|localhost)[:/]/.test(where)) return; // our own server: allowed
    unmatched.push(where);
  };
  nock.emitter.on("no match", onNoMatch);
  const pending = (which: "all" | "once" = "all") => scopes.filter((s) => which === "all" || !s.many).flatMap((s) => s.scope.pendingMocks());
  const verify = (which: "all" | "once" = "all") => {
    expect(pending(which), "GitHub mocks that were never called").toEqual([]);
    expect(unmatched, "requests to GitHub that no mock answered").toEqual([]);
  };
  const reset = () => {
    nock.emitter.removeListener("no match", onNoMatch);
    nock.cleanAll();
  };
  return {
    requests,
    unmatched,
    once: (base = API) => record(nock(base), false),
    many: (base = API) => record(nock(base).persist(), true),
    pending,
    verify,
    reset,
    done() {
      try {
        verify();
      } finally {
        reset();
      }
    },
  };
}

export const repoPath = `/repos/${OWNER}/${REPO}`;

export function pullRequest(pr: number, headSha: string, opts: { fork?: boolean; state?: "open" | "closed" } = {}) {
  return {
    number: pr,
    title: "Try a smaller learning rate",
    state: opts.state ?? "open",
    user: { login: "Codertocat", id: 21031067, type: "User" },
    head: { sha: headSha, ref: "lr", repo: opts.fork ? { id: 999, full_name: "forker/Hello-World" } : { id: REPO_ID, full_name: `${OWNER}/${REPO}` } },
    base: { repo: { id: REPO_ID, full_name: `${OWNER}/${REPO}` } },
  };
}

/**
 * What every GitHub end-to-end file starts with: the network closed except loopback, a database of
 * its own, and a whole vh with the App configured and GitHub's throttling off.
 */
export async function startGithubStack(): Promise<{ db: Awaited<ReturnType<typeof createTestDatabase>>; stack: Stack }> {
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
  const db = await createTestDatabase();
  const stack = await startStack({ databaseUrl: db.connectionString, env: githubEnv(), github: { Octokit: TestOctokit } });
  return { db, stack };
}

export const modelRepo = path.resolve(import.meta.dirname, "fixture-model-repo");
export const MODEL_CHECK_NAME = "vh: approve model://churn/v1";
export const MODEL_EXTERNAL_ID = "vh-model:model://churn/v1";

/**
 * GitHub for pull request #1 on the model fixture repository at `head`, for model-approval tests:
 * its code comes as the tarball (valohai.yaml is read from the stored snapshot); Codertocat has write; the sweep's check run is #77 and the version's approval check run #88
 * (found by name once created); comments get ids from `firstCommentId` up, the first being the
 * sticky comment (edited in place).
 */
export async function mockModelRepoPr(gh: ReturnType<typeof githubApi>, head: string, firstCommentId: number): Promise<void> {
  let approvalCreated = false;
  let nextComment = firstCommentId;
  gh.many()
    .post(/\/reactions$/).reply(201, { id: 1, content: "eyes" })
    .get(`${repoPath}/collaborators/Codertocat/permission`).reply(200, { permission: "write", role_name: "write" })
    .get(`${repoPath}/pulls/1`).reply(200, pullRequest(1, head))
    .get(`${repoPath}/tarball/${head}`).reply(200, await repoTarball(head, modelRepo), { "content-type": "application/x-gzip" })
    .get(/\/check-runs\?/).reply((uri) => {
      const name = new URL(uri, "https://api.github.com").searchParams.get("check_name");
      const runs = name === MODEL_CHECK_NAME && approvalCreated ? [{ id: 88, external_id: MODEL_EXTERNAL_ID }] : [];
      return [200, { total_count: runs.length, check_runs: runs }];
    })
    .post(`${repoPath}/check-runs`).reply((_uri, body) => {
      if ((body as { name: string }).name === MODEL_CHECK_NAME) {
        approvalCreated = true;
        return [201, { id: 88 }];
      }
      return [201, { id: 77 }];
    })
    .patch(/\/check-runs\/(77|88)$/).reply(200, { id: 77 })
    .get(`${repoPath}/issues/1/comments`).query(true).reply(200, [])
    .post(`${repoPath}/issues/1/comments`).reply(() => [201, { id: nextComment++ }])
    .patch(new RegExp(`/issues/comments/${firstCommentId}$`)).reply(200, { id: firstCommentId });
}
