/**
 * The pull request tells the truth after an approval made anywhere: a version put up for approval
 * on a PR, then approved, rejected and reset through the REST API (as the CLI does) — each change
 * rewrites the sticky comment's approval section and the version's check run, instead of leaving
 * "Waiting for approval". GitHub is nock; every write is recorded and asserted.
 */
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { waitFor, type Stack } from "../helpers/stack.js";
import { MODEL_CHECK_NAME, commentPayload, githubApi, mockModelRepoPr, repoPath, signedPost, startGithubStack, type Recorded } from "./helpers.js";

const HEAD = "6e2b37f78e9f6fb0f2c6b6d68fd4d8e02bd1fe2e";
const CHECK_NAME = MODEL_CHECK_NAME;

describe("the PR after a state change made outside it", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let gh: ReturnType<typeof githubApi>;

  beforeAll(async () => {
    ({ db, stack } = await startGithubStack());
    gh = githubApi();
    await mockModelRepoPr(gh, HEAD, 9301);
  });
  afterAll(async () => {
    await stack?.stop();
    gh?.done();
    nock.enableNetConnect();
    await db?.drop();
  });

  const stickyWrites = () =>
    gh.requests.filter((r) => (r.method === "POST" && r.path === `${repoPath}/issues/1/comments`) || (r.method === "PATCH" && r.path === `${repoPath}/issues/comments/9301`));
  const approvalRunWrites = () =>
    gh.requests.filter((r) => (r.method === "POST" && r.path === `${repoPath}/check-runs` && r.body.name === CHECK_NAME) || (r.method === "PATCH" && r.path === `${repoPath}/check-runs/88`));

  /** Waits for a new sticky write and a new approval check-run write after `since`, and returns both. */
  async function nextWrites(since: { sticky: number; run: number }, what: string): Promise<{ sticky: string; run: Recorded }> {
    return waitFor(what, async () => {
      const s = stickyWrites();
      const r = approvalRunWrites();
      if (s.length <= since.sticky || r.length <= since.run) return undefined;
      return { sticky: s.at(-1)!.body.body as string, run: r.at(-1)! };
    }, 20_000, 50);
  }
  const counts = () => ({ sticky: stickyWrites().length, run: approvalRunWrites().length });

  it("approve, reject and reset through the API each rewrite the sticky comment and the version's check run", async () => {
    onTestFailed(async () => {
      console.log("requests", JSON.stringify(gh.requests.map((r) => `${r.method} ${r.path}`), null, 1), "unmatched", gh.unmatched);
      console.log(await db.sql`select task_identifier, attempts, last_error from graphile_worker.jobs`);
    });
    const delivery = "approval-report-1";
    expect((await signedPost(stack.vh.url, "issue_comment", commentPayload("/vh run train", { commentId: 6001 }), delivery)).status).toBe(202);

    const pending = await waitFor("the approval request on the PR", async () => {
      const last = stickyWrites().at(-1)?.body.body as string | undefined;
      return last?.includes("#### Model approval") && approvalRunWrites().length > 0 ? last : undefined;
    }, 60_000, 50);
    expect(pending).toContain("⏳ **Waiting for approval.**");
    expect(approvalRunWrites().at(-1)!.body).toMatchObject({ conclusion: "neutral", output: { title: "model://churn/v1 needs approval" } });
    // Let the sweep's own reporting settle, so what follows is caused by the state changes alone.
    await waitFor("reports to settle", async () => {
      const [r] = await db.sql<{ n: number }[]>`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'forge_report'`;
      return r!.n === 0 ? true : undefined;
    }, 30_000, 50);

    let before = counts();
    await stack.api("POST", "/api/v1/models/churn/versions/v1/approve", {});
    let w = await nextWrites(before, "the PR after an API approval");
    expect(w.sticky).not.toContain("Waiting for approval");
    expect(w.sticky).toContain("✅ **Approved** by admin (first start) for files");
    expect(w.run.body).toMatchObject({ name: CHECK_NAME, conclusion: "success", output: { title: "model://churn/v1 approved" }, actions: [] });

    before = counts();
    await stack.api("POST", "/api/v1/models/churn/versions/v1/reject", { reason: "AUC below v0 on the holdout" });
    w = await nextWrites(before, "the PR after an API rejection");
    expect(w.sticky).toContain("❌ **Rejected** by admin (first start): AUC below v0 on the holdout");
    expect(w.run.body).toMatchObject({ conclusion: "failure", output: { title: "model://churn/v1 rejected" }, actions: [] });

    before = counts();
    await stack.api("POST", "/api/v1/models/churn/versions/v1/reset", { reason: "new holdout" });
    w = await nextWrites(before, "the PR after a reset");
    expect(w.sticky).toContain("⏳ **Waiting for approval.**");
    expect(w.run.body).toMatchObject({ conclusion: "neutral" });
    expect(w.run.body.actions.map((a: { identifier: string }) => a.identifier)).toEqual(["approve_model", "reject_model"]);
    expect(gh.unmatched).toEqual([]);
  }, 120_000);
});
