/**
 * A slow or unreachable GitHub must not stop scheduling (issue 20). GitHub's API is "down" here:
 * nock holds every answer for a minute (nothing leaves the machine: the network is closed but for
 * loopback), the installation token excepted (Probot caches it for an hour, so an outage usually
 * finds it cached). Six `/vh run` deliveries then each want the GitHub slots; an unrelated
 * execution started through the REST API must still reach `running` at once, while the deliveries
 * are being retried: each request gives up after VH_GITHUB_TIMEOUT_S, Octokit does not retry it
 * itself, and the queue retries the job with backoff, in the forge pool.
 *
 * The stack runs Probot's real Octokit (retry and throttling plugins as `npm start` has them), not
 * the tests' TestOctokit: what is under test is what vh does to it.
 * Before the fix, the deliveries held all 4 of VH_WORKER_CONCURRENCY's slots (shared with schedule
 * and start_execution) for as long as GitHub did not answer, and the execution stayed `queued`.
 * Last, the deadline itself (app/forges/github fetchWithTimeout): no answer, an answer that stalls
 * midway (a tarball), the caller's own abort.
 */
import path from "node:path";
import { Readable } from "node:stream";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { API, commentPayload, githubApi, githubEnv, INSTALLATION, REPO_ID, repoPath, signedPost, TestOctokit } from "../github/helpers.js";
import { createGitHubProvider, fetchWithTimeout, GitHubTimeoutError } from "../../app/forges/github/index.js";
import { loadConfig } from "../../app/config.js";
import { createLogger } from "../../app/log.js";

const fixture = path.resolve(import.meta.dirname, "../fixtures/projects/train-basic");
const HOLD_MS = 60_000; // GitHub "answers" after a minute: far past the timeout
const TIMEOUT_S = 1;
const DELIVERIES = 6;

describe("GitHub is unreachable", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let gh: ReturnType<typeof githubApi>;

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
    db = await createTestDatabase();
    stack = await startStack({
      databaseUrl: db.connectionString,
      env: githubEnv({ VH_WORKER_CONCURRENCY: "4", VH_FORGE_CONCURRENCY: "4", VH_GITHUB_TIMEOUT_S: String(TIMEOUT_S) }),
    });
  });
  afterAll(async () => {
    // let nothing wait on GitHub's held answers: they fail now, and no mock answers any more
    nock.abortPendingRequests();
    gh?.reset();
    await stack?.stop();
    nock.enableNetConnect();
    await db?.drop();
  });

  const jobs = () =>
    db.sql<{ key: string; attempts: number; last_error: string | null; locked_at: Date | null }[]>`
      select key, attempts, last_error, locked_at from graphile_worker.jobs where task_identifier = 'forge_event' order by key`;

  it("an unrelated execution starts at once while six deliveries wait on GitHub and are retried", async () => {
    gh = githubApi(); // the token endpoint answers; every other request is held
    gh.many()
      .intercept(/.*/, "GET")
      .delay(HOLD_MS)
      .reply(502, { message: "Bad Gateway" })
      .intercept(/.*/, "POST")
      .delay(HOLD_MS)
      .reply(502, { message: "Bad Gateway" })
      .intercept(/.*/, "PATCH")
      .delay(HOLD_MS)
      .reply(502, { message: "Bad Gateway" });
    onTestFailed(async () => {
      console.log("GitHub requests", gh.requests.map((r) => `${r.method} ${r.path}`));
      console.log(await db.sql`select task_identifier, attempts, locked_at, run_at, last_error from graphile_worker.jobs`);
    });
    await stack.api("POST", "/api/v1/projects", { name: "unrelated" });
    const code = await uploadSnapshot(stack, fixture);

    for (let i = 0; i < DELIVERIES; i++) {
      const res = await signedPost(stack.vh.url, "issue_comment", commentPayload("/vh run train", { commentId: 8000 + i }), `outage-${i}`);
      expect(res.status).toBe(202);
    }
    // the deliveries are being handled (as many at once as there are slots for them) and GitHub has been asked
    await waitFor("the deliveries to be taken by the queue", async () => ((await jobs()).filter((j) => j.attempts >= 1).length >= 4 ? true : undefined), 20_000);
    await waitFor("GitHub to be asked", async () => (gh.requests.some((r) => r.path.endsWith("/reactions")) ? true : undefined), 20_000);

    const t0 = Date.now();
    const e = await stack.api<{ id: string; counter: number }>("POST", "/api/v1/projects/unrelated/executions", { step: "sleepy", code });
    const running = await waitFor("the unrelated execution to run", async () => {
      const x = await stack.api<{ status: string }>("GET", `/api/v1/projects/unrelated/executions/${e.counter}`);
      return x.status === "running" ? Date.now() - t0 : undefined;
    }, 15_000, 50);
    console.log(`unrelated execution running ${running} ms after it was created, with GitHub down`);
    expect(running).toBeLessThan(10_000);

    // ...while the deliveries are still being retried by the queue, each attempt cut off by the timeout
    const retried = await waitFor("a delivery retried by the queue", async () => {
      const js = await jobs();
      return js.some((j) => j.attempts >= 2) ? js : undefined;
    }, 30_000, 100);
    expect(retried).toHaveLength(DELIVERIES);
    const [handled] = await db.sql<{ n: number }[]>`select count(*)::int as n from forge_deliveries where id like 'outage-%' and processed_at is not null`;
    expect(handled!.n).toBe(0);
    const errors = retried.map((j) => j.last_error).filter((x): x is string => !!x);
    expect(errors.length).toBeGreaterThan(0);
    for (const err of errors) expect(err).toMatch(/did not answer within 1 s \(VH_GITHUB_TIMEOUT_S\)/);

    // Octokit retried nothing itself: one 👀 reaction request per attempt of each delivery at most
    const js = await jobs();
    for (let i = 0; i < DELIVERIES; i++) {
      const job = js.find((j) => j.key === `forge_event:github:outage-${i}`);
      expect(job, `the job of outage-${i}`).toBeDefined();
      const reactions = gh.requests.filter((r) => r.method === "POST" && r.path === `${repoPath}/issues/comments/${8000 + i}/reactions`).length;
      expect(reactions, `reaction requests of outage-${i} (attempts ${job!.attempts})`).toBeLessThanOrEqual(job!.attempts);
    }
    await stack.api("POST", `/api/v1/projects/unrelated/executions/${e.counter}/stop`, {});
  }, 90_000);

  it("an installation token GitHub does not answer is cut off by the timeout too", async () => {
    nock.abortPendingRequests();
    gh.reset();
    // every token request is held (the token is fetched on the first API request, and again on the next)
    const held = nock(API).persist().post(`/app/installations/${INSTALLATION + 1}/access_tokens`).delay(HOLD_MS).reply(201, {});
    const payload = commentPayload("/vh run train", { commentId: 8100 });
    payload["installation"] = { id: INSTALLATION + 1 }; // a token Probot has not cached
    const t0 = Date.now();
    expect((await signedPost(stack.vh.url, "issue_comment", payload, "outage-token")).status).toBe(202);
    const job = await waitFor("the attempt to fail", async () => {
      const [j] = await db.sql<{ attempts: number; last_error: string | null }[]>`
        select attempts, last_error from graphile_worker.jobs where key = 'forge_event:github:outage-token'`;
      return j?.last_error ? j : undefined;
    }, 20_000, 50);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(job.last_error).toMatch(/did not answer within 1 s \(VH_GITHUB_TIMEOUT_S\)/);
    expect(held.isDone()).toBe(true);
    nock.abortPendingRequests();
    nock.cleanAll();
  }, 60_000);
});

describe("every request to GitHub has a deadline", () => {
  const never = () => async () => new Promise<Response>(() => {});
  const stalling = () => async () =>
    new Response(new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new TextEncoder().encode('{"half":')) }), { status: 200, headers: { "content-type": "application/json" } });

  it("no answer within the timeout: the request fails with a message naming VH_GITHUB_TIMEOUT_S", async () => {
    const t0 = Date.now();
    await expect(fetchWithTimeout(200, never)("https://api.github.com/x")).rejects.toThrow(GitHubTimeoutError);
    await expect(fetchWithTimeout(200, never)("https://api.github.com/x")).rejects.toThrow(/did not answer within 0.2 s \(VH_GITHUB_TIMEOUT_S\)/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("an answer that stalls midway is cut off after the timeout; a steady one is not", async () => {
    const res = await fetchWithTimeout(200, stalling)("https://api.github.com/x");
    const t0 = Date.now();
    await expect(res.text()).rejects.toThrow(/stalled for 0.2 s/);
    expect(Date.now() - t0).toBeLessThan(2000);
    // 5 chunks 100 ms apart: 500 ms in all, more than the timeout, but never a pause of 200 ms
    const steady = () => async () => {
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          await new Promise((r) => setTimeout(r, 100));
          if (i++ < 5) c.enqueue(new TextEncoder().encode("x"));
          else c.close();
        },
      });
      return new Response(body, { status: 200 });
    };
    expect(await (await fetchWithTimeout(200, steady)("https://api.github.com/x")).text()).toBe("xxxxx");
  });

  it("the caller's own signal still aborts", async () => {
    const ac = new AbortController();
    const slow = () => async (_i: unknown, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal!.reason)));
    const p = fetchWithTimeout(10_000, slow as never)("https://api.github.com/x", { signal: ac.signal });
    ac.abort(new Error("caller gave up"));
    await expect(p).rejects.toThrow(/caller gave up/);
  });

  it("a tarball download that stalls midway fails the attempt in seconds, with a message", async () => {
    nock.disableNetConnect();
    const gh = githubApi();
    const sha = "2".repeat(40);
    gh.once()
      .get(`${repoPath}/tarball/${sha}`)
      .reply(200, () => new Readable({ read() { this.push(Buffer.alloc(1024)); this.pause(); } }), { "content-type": "application/x-gzip" });
    try {
      const config = loadConfig({ VH_DATA_DIR: "/tmp/x", ...githubEnv({ VH_GITHUB_TIMEOUT_S: "0.5" }) });
      const forge = await createGitHubProvider({ config: config.github!, log: createLogger("silent"), Octokit: TestOctokit }).forInstallation(INSTALLATION);
      const t0 = Date.now();
      const repo = { forge: "github" as const, id: REPO_ID, fullName: "Codertocat/Hello-World", owner: "Codertocat", name: "Hello-World", installationId: INSTALLATION };
      await expect(forge.downloadArchive(repo, sha, 100 * 1024 * 1024)).rejects.toThrow(/tarball of 2222222 came back empty/);
      expect(Date.now() - t0).toBeLessThan(5000);
      gh.verify();
    } finally {
      nock.abortPendingRequests();
      gh.reset();
      nock.enableNetConnect();
    }
  });
});
