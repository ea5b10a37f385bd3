/**
 * Model approval through the pull request: a `/vh run train` whose training writes a model sidecar
 * ends → the sticky comment has the approval section and a check run "vh: approve model://churn/v1"
 * with the Approve model / Reject buttons → Reject (no reason) is refused with a pointer to
 * `/vh reject … REASON` → Approve model (a signed check_run.requested_action) by a write user
 * approves it; `/vh approve` from another repository is refused and recorded. GitHub is nock.
 */
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { waitFor, type Stack } from "../helpers/stack.js";
import { MODEL_CHECK_NAME, MODEL_EXTERNAL_ID, commentPayload, example, githubApi, mockModelRepoPr, pullRequest, repoPath, signedPost, startGithubStack } from "./helpers.js";

const HEAD = "5d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1d";
const CHECK_NAME = MODEL_CHECK_NAME;
const EXTERNAL = MODEL_EXTERNAL_ID;

describe("model approval on the pull request", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let gh: ReturnType<typeof githubApi>;
  let n = 0;

  beforeAll(async () => {
    ({ db, stack } = await startGithubStack());
    gh = githubApi();
    await mockModelRepoPr(gh, HEAD, 9001);
  });
  afterAll(async () => {
    await stack?.stop();
    gh?.reset();
    nock.enableNetConnect();
    await db?.drop();
  });

  async function send(event: string, payload: unknown): Promise<string> {
    const delivery = `approval-${++n}`;
    expect((await signedPost(stack.vh.url, event, payload, delivery)).status).toBe(202);
    return waitFor(`delivery ${delivery}`, async () => {
      const [row] = await db.sql<{ outcome: string | null; processed_at: Date | null }[]>`select outcome, processed_at from forge_deliveries where id = ${delivery}`;
      return row?.processed_at ? row.outcome ?? "" : undefined;
    }, 20_000, 20);
  }

  const trail = () => db.sql<{ kind: string; actor: string; source: string; reason: string | null }[]>`select kind, actor, source, reason from model_events where version_id is not null order by id`;

  it("asks for approval on the PR; Reject asks for a reason; Approve model approves; another repository's /vh approve is refused", async () => {
    onTestFailed(async () => {
      console.log("requests", JSON.stringify(gh.requests.map((r) => `${r.method} ${r.path}`), null, 1), "unmatched", gh.unmatched);
      console.log(await db.sql`select id, event, outcome from forge_deliveries`);
      console.log(await db.sql`select task_identifier, attempts, last_error from graphile_worker.jobs`);
      console.log(await db.sql`select counter, status, status_detail from executions`);
    });
    expect(await send("issue_comment", commentPayload("/vh run train", { commentId: 5001 }))).toMatch(/^created sweep .*: #1$/);

    // the approval check run: completed, asking for action with the two buttons
    const approvalRun = await waitFor("the approval check run", async () =>
      gh.requests.find((r) => r.method === "POST" && r.path === `${repoPath}/check-runs` && r.body.name === CHECK_NAME), 60_000, 50);
    expect(approvalRun.body).toMatchObject({
      head_sha: HEAD,
      name: CHECK_NAME,
      external_id: EXTERNAL,
      status: "completed",
      conclusion: "neutral",
      output: { title: "model://churn/v1 needs approval" },
      actions: [
        { label: "Approve model", description: "Approve this model version", identifier: "approve_model" },
        { label: "Reject", description: "Reject it (a reason is asked for)", identifier: "reject_model" },
      ],
    });
    expect(approvalRun.body.output.summary).toContain("/vh approve model://churn/v1");
    expect(approvalRun.body.output.summary).toContain("/vh reject model://churn/v1 REASON");

    // the sticky comment has the approval section
    const sticky = await waitFor("the sticky comment with the approval section", async () => {
      const writes = gh.requests.filter((r) => (r.method === "POST" && r.path === `${repoPath}/issues/1/comments`) || (r.method === "PATCH" && r.path === `${repoPath}/issues/comments/9001`));
      const last = writes.at(-1)?.body.body as string | undefined;
      return last?.includes("#### Model approval") ? last : undefined;
    }, 30_000, 50);
    expect(sticky).toContain("<!-- vh:sticky-comment -->");
    expect(sticky).toContain("### Model model://churn/v1");
    expect(sticky).toContain("⏳ **Waiting for approval.**");
    expect((await db.sql`select status from model_versions`)[0]!.status).toBe("pending");
    expect((await db.sql`select repo, pr_number, head_sha from model_approval_requests`)).toEqual([{ repo: "Codertocat/Hello-World", pr_number: 1, head_sha: HEAD }]);

    const button = (identifier: string) => {
      const p = example("check_run", "requested_action");
      p["check_run"]["id"] = 88;
      p["check_run"]["external_id"] = EXTERNAL;
      p["check_run"]["head_sha"] = HEAD;
      p["repository"] = example("push")["repository"];
      p["sender"]["login"] = "Codertocat";
      p["installation"] = { id: 42 };
      p["requested_action"] = { identifier };
      return p;
    };

    // Reject without a reason: refused, recorded, and the reply says how to give one
    const repliesBefore = gh.requests.filter((r) => r.method === "POST" && r.path === `${repoPath}/issues/1/comments`).length;
    expect(await send("check_run", button("reject_model"))).toBe("refused: bad_request");
    const replies = gh.requests.filter((r) => r.method === "POST" && r.path === `${repoPath}/issues/1/comments`);
    expect(replies).toHaveLength(repliesBefore + 1);
    expect(replies.at(-1)!.body.body).toContain("Comment `/vh reject model://churn/v1 REASON` instead");
    expect((await trail()).at(-1)).toMatchObject({ kind: "refused", actor: "Codertocat", source: "check_run" });

    // Approve model by a user with write permission
    expect(await send("check_run", button("approve_model"))).toBe("approved model://churn/v1");
    const [v] = await db.sql<{ status: string; status_by: string }[]>`select status, status_by from model_versions`;
    expect(v).toEqual({ status: "approved", status_by: "Codertocat" });
    expect((await trail()).find((e) => e.kind === "approved")).toMatchObject({ actor: "Codertocat", source: "check_run" });
    // the approval check run is updated: approved, no buttons
    const updated = await waitFor("the approved check run", async () =>
      gh.requests.filter((r) => r.method === "PATCH" && r.path === `${repoPath}/check-runs/88`).find((r) => r.body.conclusion === "success"), 20_000, 50);
    expect(updated.body).toMatchObject({ name: CHECK_NAME, status: "completed", conclusion: "success", output: { title: "model://churn/v1 approved" }, actions: [] });

    // an admin of another repository cannot approve (or reject) it
    await db.sql`update model_versions set status = 'pending', approved_sha256 = null`;
    const other = commentPayload("/vh approve model://churn/v1", { login: "mallory", commentId: 5002 });
    other["repository"] = { ...other["repository"], id: 999, name: "other", full_name: "evil/other", owner: { ...other["repository"]["owner"], login: "evil" } };
    gh.once()
      .get("/repos/evil/other/collaborators/mallory/permission").reply(200, { permission: "admin", role_name: "admin" })
      .get("/repos/evil/other/pulls/1").reply(200, { ...pullRequest(1, HEAD), base: { repo: { id: 999, full_name: "evil/other" } }, head: { sha: HEAD, ref: "x", repo: { id: 999, full_name: "evil/other" } } })
      .post("/repos/evil/other/issues/1/comments", (b) => /model:\/\/churn\/v1 was not produced by an execution of evil\/other/.test(b.body)).reply(201, { id: 9100 });
    expect(await send("issue_comment", other)).toBe("refused: forbidden");
    expect((await db.sql`select status from model_versions`)[0]!.status).toBe("pending");
    expect((await trail()).at(-1)).toMatchObject({ kind: "refused", actor: "mallory", source: "comment" });
    expect((await trail()).at(-1)!.reason).toContain("was not produced by an execution of evil/other");
    // every mock was called (the other repository's three included), nothing went unmatched
    gh.verify();
  }, 120_000);
});
