/**
 * The other triggers: `/vh run` in a pushed head commit's message, the check run's Stop and
 * Re-run buttons (requested_action), GitHub's re-run (rerequested), and a refused pusher.
 */
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { waitFor, type Stack } from "../helpers/stack.js";
import { example, githubApi, repoPath, repoTarball, signedPost, startGithubStack } from "./helpers.js";

const SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"; // the push example's head commit

describe("commit messages and check run buttons", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let gh: ReturnType<typeof githubApi>;
  let n = 0;

  beforeAll(async () => {
    ({ db, stack } = await startGithubStack());
    gh = githubApi();
    // The commit's code is downloaded once, by the push: the buttons' reruns use its stored snapshot
    // (a second download would go unmatched), and valohai.yaml is read from it, not through the contents API.
    gh.once().get(`${repoPath}/tarball/${SHA}`).reply(200, await repoTarball(SHA), { "content-type": "application/x-gzip" });
    gh.many()
      .get(`${repoPath}/collaborators/Codertocat/permission`).reply(200, { permission: "write", role_name: "write" })
      .get(/\/check-runs\?/).reply(200, { total_count: 0, check_runs: [] })
      .post(`${repoPath}/check-runs`).reply(201, { id: 31 })
      .patch(/\/check-runs\/31$/).reply(200, { id: 31 });
  });
  // After each test: its once() mocks were all called, and no request to GitHub went unmatched.
  afterEach(() => gh.verify("once"));
  afterAll(async ({}, suite) => {
    await stack?.stop();
    // The tests run in order on one sweep and share the many() mocks of beforeAll: when all of
    // them ran, each of those mocks was called at least once.
    try {
      if (suite.tasks.every((t) => t.mode === "run")) gh?.verify();
    } finally {
      gh?.reset();
    }
    nock.enableNetConnect();
    await db?.drop();
  });

  async function send(event: string, payload: unknown): Promise<string> {
    const delivery = `trigger-${++n}`;
    expect((await signedPost(stack.vh.url, event, payload, delivery)).status).toBe(202);
    return waitFor(`delivery ${delivery}`, async () => {
      const [row] = await db.sql<{ outcome: string | null; processed_at: Date | null }[]>`select outcome, processed_at from forge_deliveries where id = ${delivery}`;
      return row?.processed_at ? row.outcome ?? "" : undefined;
    }, 20_000, 20);
  }

  it("a `/vh run` line in the head commit's message runs on that commit, with a check run", async () => {
    const push = example("push");
    push["ref"] = "refs/heads/lr";
    push["head_commit"]["message"] = "Smaller learning rate\n\n/vh run train lr=[0.5,0.25] epochs=1\n";
    expect(await send("push", push)).toMatch(/^created sweep [0-9a-f-]{36}: #1, #2$/);
    const rows = await db.sql<{ commit_sha: string; triggered_by: string }[]>`select commit_sha, triggered_by from executions order by counter`;
    expect(rows).toEqual([{ commit_sha: SHA, triggered_by: "Codertocat" }, { commit_sha: SHA, triggered_by: "Codertocat" }]);
    const created = await waitFor("the check run", async () => gh.requests.find((r) => r.method === "POST" && r.path === `${repoPath}/check-runs`), 10_000, 20);
    expect(created.body).toMatchObject({ head_sha: SHA, name: "vh: train (sweep of 2)" });
    // created while the executions are queued, or already starting (then in_progress)
    expect(["queued", "in_progress"]).toContain(created.body.status);
    await waitFor("completed", async () => {
      const last = gh.requests.filter((r) => r.path.endsWith("/check-runs/31")).pop();
      return last?.body.status === "completed" ? true : undefined;
    }, 30_000);
  });

  it("Re-run (requested_action) and rerequested start the sweep again; Stop stops it", async () => {
    onTestFailed(async () => {
      console.log("unmatched", gh.unmatched);
      console.log(await db.sql`select task_identifier, attempts, last_error from graphile_worker.jobs`);
    });
    const [sweep] = await db.sql<{ id: string }[]>`select id from sweeps order by created_at limit 1`;
    const button = (action: string, identifier?: string) => {
      const p = example("check_run", action);
      p["check_run"]["external_id"] = sweep!.id;
      p["check_run"]["head_sha"] = SHA;
      p["repository"] = example("push")["repository"]; // the example comes from another repository
      p["sender"]["login"] = "Codertocat";
      p["installation"] = { id: 42 };
      if (identifier) p["requested_action"] = { identifier };
      return p;
    };
    expect(await send("check_run", button("requested_action", "rerun"))).toBe("rerun: #3, #4");
    expect(await send("check_run", button("rerequested"))).toBe("rerun: #5, #6");
    const sweeps = await db.sql<{ code_sha256: string }[]>`select code_sha256 from sweeps order by created_at`;
    const [snap] = await db.sql<{ code_sha256: string }[]>`select code_sha256 from forge_commit_snapshots where commit_sha = ${SHA}`;
    expect(sweeps.map((s) => s.code_sha256)).toEqual([snap!.code_sha256, snap!.code_sha256, snap!.code_sha256]);
    const [rerun] = await db.sql<{ id: string }[]>`select s.id from sweeps s join sweep_executions se on se.sweep_id = s.id join executions e on e.id = se.execution_id where e.counter = 5`;
    const stopPayload = button("requested_action", "stop");
    stopPayload["check_run"]["external_id"] = rerun!.id;
    const out = await send("check_run", stopPayload);
    expect(out).toMatch(/^stopped \d$/);
    expect(await send("check_run", { ...button("requested_action", "rerun"), check_run: { id: 1, external_id: "not-ours", head_sha: SHA } })).toBe("ignored: not a vh sweep's check run");
    expect(gh.unmatched).toEqual([]);
  }, 40_000);

  it("a pusher without write permission gets a failing check run, and nothing runs", async () => {
    const before = (await db.sql`select count(*)::int as n from executions`)[0]!.n;
    const requestsBefore = gh.requests.length;
    // The check-run lookup and creation are answered by the many() scope of beforeAll (registered
    // first, so it would shadow any interceptor added here): the body is checked below instead.
    gh.once().get(`${repoPath}/collaborators/mallory/permission`).reply(200, { permission: "read", role_name: "read" });
    const push = example("push");
    push["ref"] = "refs/heads/x";
    push["sender"]["login"] = "mallory";
    push["head_commit"]["message"] = "/vh run train";
    expect(await send("push", push)).toBe("refused: mallory has read");
    expect((await db.sql`select count(*)::int as n from executions`)[0]!.n).toBe(before);
    const created = gh.requests.slice(requestsBefore).filter((r) => r.method === "POST" && r.path === `${repoPath}/check-runs`);
    expect(created).toHaveLength(1);
    expect(created[0]!.body).toMatchObject({ head_sha: SHA, status: "completed", conclusion: "failure" });
    expect(created[0]!.body.output.summary).toMatch(/has `read` permission/);
    expect(gh.unmatched).toEqual([]);
  });
});
