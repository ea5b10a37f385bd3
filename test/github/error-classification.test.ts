/**
 * Errors are classified by who can fix them. The artifact store (S3) is down while a `/vh run`
 * starts its sweep: that is vh's failure, not the user's. It is not answered as a mistake; the
 * queue retries it; on the last attempt the pull request is told that vh failed (naming only the
 * kind of part, not the bucket or endpoint), the delivery records it, and nothing was half made.
 * A user's mistake in the same flow is answered at once and never retried. (valohai.yaml is read
 * from the stored snapshot, so with the store down only the mistakes that need no valohai.yaml,
 * such as a sweep over the cap, can be told apart: an unknown step is then the store's failure too.)
 */
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { isUsersMistake, whoCanFix, ForgeError, RunnerError, StoreError, VhError } from "../../app/errors.js";
import { createTestDatabase } from "../helpers/db.js";
import { freePort } from "../helpers/net.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { TestOctokit, commentPayload, githubApi, githubEnv, pullRequest, repoPath, repoTarball, signedPost } from "./helpers.js";

const HEAD = "5c1b4ab1c9b0f7c0a5f8e1d2c3b4a5f6e7d8c9b0";

describe("who can fix it", () => {
  it.each([
    [new VhError("invalid_parameter", "x"), "user"],
    [new VhError("unknown_step", "x"), "user"],
    [new VhError("invalid_config", "x"), "user"],
    [new VhError("too_large", "x"), "user"],
    [new VhError("forbidden", "x"), "user"],
    [new StoreError("S3 is down"), "operator"],
    [new RunnerError("host unreachable"), "operator"],
    [new ForgeError("GitHub 502", { status: 502 }), "operator"],
    [new VhError("internal", "x"), "operator"],
    [new TypeError("cannot read properties of undefined"), "operator"],
    ["a thrown string", "operator"],
  ] as const)("%s → %s", (err, fixer) => {
    expect(whoCanFix(err)).toBe(fixer);
    expect(isUsersMistake(err)).toBe(fixer === "user");
  });
});

describe("the store is down while a sweep starts", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let gh: ReturnType<typeof githubApi>;
  const saved = { id: process.env["AWS_ACCESS_KEY_ID"], secret: process.env["AWS_SECRET_ACCESS_KEY"], imds: process.env["AWS_EC2_METADATA_DISABLED"] };

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
    // Static credentials, so the SDK's chain never looks for an instance role off this machine.
    process.env["AWS_ACCESS_KEY_ID"] = "test";
    process.env["AWS_SECRET_ACCESS_KEY"] = "test";
    process.env["AWS_EC2_METADATA_DISABLED"] = "true";
    db = await createTestDatabase();
    const deadS3 = `http://127.0.0.1:${await freePort()}`; // nothing listens there: S3 is down
    stack = await startStack({
      databaseUrl: db.connectionString,
      env: githubEnv({ VH_STORE: "s3", VH_S3_BUCKET: "vh-private-bucket", VH_S3_ENDPOINT: deadS3, VH_S3_FORCE_PATH_STYLE: "true" }),
      github: { Octokit: TestOctokit },
    });
    gh = githubApi();
  });

  afterAll(async () => {
    await stack?.stop();
    gh?.done();
    nock.enableNetConnect();
    await db?.drop();
    for (const [k, v] of [["AWS_ACCESS_KEY_ID", saved.id], ["AWS_SECRET_ACCESS_KEY", saved.secret], ["AWS_EC2_METADATA_DISABLED", saved.imds]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it("is retried by the queue, then reported as vh's failure, never as the user's mistake", async () => {
    onTestFailed(async () => {
      console.log("requests", JSON.stringify(gh.requests.map((r) => `${r.method} ${r.path}`), null, 1), "unmatched", gh.unmatched);
      console.log(await db.sql`select id, processed_at, outcome from forge_deliveries`);
      console.log(await db.sql`select task_identifier, attempts, max_attempts, last_error from graphile_worker.jobs`);
    });
    const tarball = await repoTarball(HEAD);
    gh.many()
      .post(/\/issues\/comments\/700[12]\/reactions$/, { content: "eyes" })
      .reply(201, { id: 1, content: "eyes" })
      .get(`${repoPath}/collaborators/Codertocat/permission`)
      .reply(200, { permission: "write", role_name: "write", user: { login: "Codertocat", id: 21031067 } })
      .get(`${repoPath}/pulls/1`)
      .reply(200, pullRequest(1, HEAD))
      // downloaded on each attempt: a snapshot that could not be stored is not recorded
      .get(`${repoPath}/tarball/${HEAD}`)
      .reply(200, tarball, { "content-type": "application/x-gzip" });
    // The only comment vh may post: the failure reply on the last attempt.
    gh.once()
      .post(`${repoPath}/issues/1/comments`)
      .reply(201, { id: 9001 });

    const res = await signedPost(stack.vh.url, "issue_comment", commentPayload("/vh run train lr=[0.01]", { commentId: 7001 }), "store-down-1");
    expect(res.status).toBe(202);

    // First attempt: thrown for the queue (graphile records the error and schedules a retry).
    const first = await waitFor("the first attempt to fail", async () => {
      const [j] = await db.sql<{ attempts: number; last_error: string | null }[]>`
        select attempts, last_error from graphile_worker.jobs where task_identifier = 'forge_event'`;
      return j?.last_error ? j : undefined;
    }, 30_000);
    expect(first.attempts).toBe(1);
    expect(first.last_error).toMatch(/^S3 upload of key "code\/[0-9a-f]{64}\.tgz" in bucket "vh-private-bucket" failed: .*ECONNREFUSED/);
    expect(gh.requests.filter((r) => r.method === "POST" && r.path.endsWith("/issues/1/comments"))).toEqual([]);
    const [pending] = await db.sql<{ processed_at: Date | null }[]>`select processed_at from forge_deliveries where id = 'store-down-1'`;
    expect(pending!.processed_at).toBeNull();

    // Make the next attempt the last one (the queue's own backoff runs it a few seconds later).
    await db.sql`update graphile_worker._private_jobs set max_attempts = 2 where task_id = (
      select id from graphile_worker._private_tasks where identifier = 'forge_event')`;
    const done = await waitFor("the last attempt to be recorded", async () => {
      const [d] = await db.sql<{ outcome: string | null; processed_at: Date | null }[]>`select outcome, processed_at from forge_deliveries where id = 'store-down-1'`;
      return d?.processed_at ? d : undefined;
    }, 30_000);
    expect(done.outcome).toMatch(/^failed after 2 attempts: store_error: /);

    const replies = gh.requests.filter((r) => r.method === "POST" && r.path.endsWith("/issues/1/comments"));
    expect(replies).toHaveLength(1);
    expect(replies[0]!.body.body).toBe(
      "@Codertocat vh could not run `/vh run`: its artifact store failed.\n\n" +
        "This went wrong on vh's side (its connection to the Git host, its artifact store, its runners, or a bug), not in your command, " +
        "and it was tried 2 times. Nothing was started. Ask whoever runs vh to look at its log for delivery `store-down-1`; " +
        "the same comment can be posted again once it is fixed.\n",
    );
    // Operator details stay in the log: the bucket and the endpoint are not on the pull request.
    expect(replies[0]!.body.body).not.toContain("vh-private-bucket");
    expect(replies[0]!.body.body).not.toContain("127.0.0.1");

    // Nothing half made: no sweep, no execution, and no snapshot recorded for the commit.
    const [counts] = await db.sql<{ sweeps: number; executions: number; snapshots: number }[]>`
      select (select count(*)::int from sweeps) as sweeps, (select count(*)::int from executions) as executions,
        (select count(*)::int from forge_commit_snapshots) as snapshots`;
    expect(counts).toEqual({ sweeps: 0, executions: 0, snapshots: 0 });
    expect(gh.requests.filter((r) => r.method === "GET" && r.path === `${repoPath}/tarball/${HEAD}`)).toHaveLength(2);
    await waitFor("the job to complete (the outcome is recorded, not left failing)", async () => {
      const [job] = await db.sql<{ n: number }[]>`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'forge_event'`;
      return job!.n === 0 ? true : undefined;
    }, 10_000);
    expect(gh.unmatched).toEqual([]);
  });

  it("a user's mistake in the same flow is answered at once and not retried", async () => {
    gh.once()
      .post(`${repoPath}/issues/1/comments`)
      .reply(201, { id: 9002 });
    const tarballs = gh.requests.filter((r) => r.path.includes("/tarball/")).length;
    const values = Array.from({ length: 101 }, (_v, i) => String(i + 1)).join(",");
    const res = await signedPost(stack.vh.url, "issue_comment", commentPayload(`/vh run train epochs=[${values}]`, { commentId: 7002 }), "typo-1");
    expect(res.status).toBe(202);
    const done = await waitFor("the reply", async () => {
      const [d] = await db.sql<{ outcome: string | null; processed_at: Date | null }[]>`select outcome, processed_at from forge_deliveries where id = 'typo-1'`;
      return d?.processed_at ? d : undefined;
    }, 30_000);
    expect(done.outcome).toBe("refused: too_large");
    const reply = gh.requests.filter((r) => r.method === "POST" && r.path.endsWith("/issues/1/comments")).pop();
    expect(reply!.body.body).toContain("That sweep would make 101 executions; the limit is 100 (VH_SWEEP_CAP).");
    // refused before the code was asked for
    expect(gh.requests.filter((r) => r.path.includes("/tarball/")).length).toBe(tarballs);
    const [job] = await db.sql<{ attempts: number }[]>`
      select coalesce(max(attempts), 0)::int as attempts from graphile_worker.jobs where task_identifier = 'forge_event'`;
    expect(job!.attempts).toBeLessThanOrEqual(1); // answered on the first attempt (the job row may not be deleted yet)
    const [handled] = await db.sql<{ n: number }[]>`select count(*)::int as n from forge_deliveries where id = 'typo-1' and outcome like 'refused:%'`;
    expect(handled!.n).toBe(1);
  });
});
