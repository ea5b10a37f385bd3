/**
 * The GitHub App end to end: a signed `issue_comment.created` with `/vh run train lr=[0.01,0.001]`
 * POSTed to the real server → two executions on the local runner → the check run completes with
 * both runs' metrics → the sticky comment's final text; then a replay of the delivery creates
 * nothing. GitHub's API is nock; every request body is asserted.
 */
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { waitFor, type Stack } from "../helpers/stack.js";
import { OWNER, REPO, commentPayload, githubApi, pullRequest, repoPath, repoTarball, signedPost, startGithubStack } from "./helpers.js";
import { renderHelp } from "../../templates/github/render.js";

const HEAD = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";

/** Durations are real; everything else in the reports is exact. */
const norm = (s: string) => s.replace(/\| \d+s \|/g, "| Ns |");

describe("GitHub App end to end", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let gh: ReturnType<typeof githubApi>;

  beforeAll(async () => {
    ({ db, stack } = await startGithubStack());
    gh = githubApi();
  });

  afterAll(async () => {
    await stack?.stop();
    gh?.reset();
    nock.enableNetConnect();
    await db?.drop();
  });

  it("/vh run train lr=[0.01,0.001]: two executions, a completed check run, the sticky comment; a replay creates nothing", async () => {
    onTestFailed(async () => {
      console.log("requests", JSON.stringify(gh.requests.map((r) => `${r.method} ${r.path}`), null, 1), "unmatched", gh.unmatched);
      console.log(await db.sql`select id, event, processed_at, outcome from forge_deliveries`);
      console.log(await db.sql`select task_identifier, attempts, last_error, run_at from graphile_worker.jobs`);
    });
    const tarball = await repoTarball(HEAD);
    gh.once()
      .post(`${repoPath}/issues/comments/5001/reactions`, { content: "eyes" })
      .reply(201, { id: 1, content: "eyes" })
      .get(`${repoPath}/collaborators/Codertocat/permission`)
      .reply(200, { permission: "write", role_name: "write", user: { login: "Codertocat", id: 21031067 } })
      .get(`${repoPath}/pulls/1`)
      .reply(200, pullRequest(1, HEAD))
      // the code at the head commit, downloaded once: valohai.yaml is read from it, not through the contents API
      .get(`${repoPath}/tarball/${HEAD}`)
      .reply(302, "", { location: `https://codeload.github.com/${OWNER}/${REPO}/legacy.tar.gz/${HEAD}` })
      .get(`${repoPath}/commits/${HEAD}/check-runs`)
      .query({ check_name: "vh: train (sweep of 2)", filter: "all", per_page: "100" })
      .reply(200, { total_count: 0, check_runs: [] })
      .post(`${repoPath}/check-runs`)
      .reply(201, { id: 777 })
      .get(`${repoPath}/issues/1/comments`)
      .query({ per_page: "100", page: "1" })
      .reply(200, [{ id: 1, body: "Looks good", user: { login: "Codertocat", id: 1 } }])
      .post(`${repoPath}/issues/1/comments`)
      .reply(201, { id: 9001 });
    gh.once("https://codeload.github.com").get(`/${OWNER}/${REPO}/legacy.tar.gz/${HEAD}`).reply(200, tarball, { "content-type": "application/x-gzip" });
    gh.many().patch(`${repoPath}/check-runs/777`).reply(200, { id: 777 }).patch(`${repoPath}/issues/comments/9001`).reply(200, { id: 9001 });

    const payload = commentPayload("/vh run train lr=[0.01,0.001]\n\nTrying a smaller learning rate.");
    const t0 = Date.now();
    const res = await signedPost(stack.vh.url, "issue_comment", payload, "delivery-e2e-1");
    const answeredMs = Date.now() - t0;
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ ok: true, delivery: "delivery-e2e-1", queued: true });
    expect(answeredMs).toBeLessThan(1000);

    // the 👀 reaction comes first, within a second
    await waitFor("the reaction", async () => (gh.requests.some((r) => r.path.endsWith("/reactions")) ? true : undefined), 1000, 10);
    expect(gh.requests[0]).toEqual({ method: "POST", path: `${repoPath}/issues/comments/5001/reactions`, body: { content: "eyes" } });

    // both executions finish
    const execs = await waitFor("two completed executions", async () => {
      const rows = await db.sql<{ counter: number; status: string; commit_sha: string; triggered_by: string; parameters: Record<string, unknown>; command: string }[]>`
        select counter, status, commit_sha, triggered_by, parameters, command from executions order by counter`;
      return rows.length === 2 && rows.every((r) => ["completed", "failed", "error"].includes(r.status)) ? rows : undefined;
    }, 60_000);
    expect(execs.map((e) => e.status)).toEqual(["completed", "completed"]);
    expect(execs.map((e) => e.commit_sha)).toEqual([HEAD, HEAD]);
    expect(execs.map((e) => e.triggered_by)).toEqual(["Codertocat", "Codertocat"]);
    expect(execs.map((e) => e.command)).toEqual(["python3 train.py --lr=0.01 --epochs=2 --note=none", "python3 train.py --lr=0.001 --epochs=2 --note=none"]);
    const [sweep] = await db.sql<{ id: string; spec: unknown; commit_sha: string; code_sha256: string }[]>`select id, spec, commit_sha, code_sha256 from sweeps`;
    expect(sweep!.spec).toEqual({ lr: ["0.01", "0.001"] });
    // the commit's archive became one recorded snapshot, and that snapshot is what both executions run
    const snapshots = await db.sql<{ commit_sha: string; code_sha256: string }[]>`select commit_sha, code_sha256 from forge_commit_snapshots`;
    expect(snapshots).toEqual([{ commit_sha: HEAD, code_sha256: sweep!.code_sha256 }]);
    expect((await db.sql<{ code_sha256: string }[]>`select distinct code_sha256 from executions`).map((r) => r.code_sha256)).toEqual([sweep!.code_sha256]);

    // the check run is created as soon as the sweep exists (the executions may already be
    // starting by then: the status words follow them), and ends completed with both runs' metrics
    const create = gh.requests.find((r) => r.method === "POST" && r.path === `${repoPath}/check-runs`)!;
    // Which statuses the first render shows depends on how far the worker got (queued, starting,
    // a mix): the exact text of every variant is in the golden template tests.
    const { output, ...rest } = create.body as { output: { title: string; summary: string }; status: string };
    expect(rest).toEqual({
      head_sha: HEAD,
      name: "vh: train (sweep of 2)",
      external_id: sweep!.id,
      status: /^2 executions: 2 queued$/.test(output.title) ? "queued" : "in_progress",
      actions: [
        { label: "Stop", description: "Stop its running and queued executions", identifier: "stop" },
        { label: "Re-run", description: "Run this sweep again at this commit", identifier: "rerun" },
      ],
    });
    expect(output.title).toMatch(/^2 executions: \d (queued|starting|running)(, \d (queued|starting|running))*$/);
    expect(output.summary).toMatch(
      new RegExp(
        "^\\*\\*2 executions: .+\\*\\* · step `train` · `lr=\\[0\\.01,0\\.001\\]` · commit `0d1a26e`\n\n" +
          "\\| Execution \\| Parameters \\| Status \\| Duration \\|\n\\|---\\|---\\|---\\|---\\|\n" +
          "\\| #1 \\| `lr=0\\.01` \\| (⏳ queued|🏃 starting|🏃 running) \\| — \\|\n" +
          "\\| #2 \\| `lr=0\\.001` \\| (⏳ queued|🏃 starting|🏃 running) \\| — \\|\n\n" +
          "<sub>Started by @Codertocat</sub>\n$",
      ),
    );
    const lastCheck = await waitFor("the completed check run", async () => {
      const patches = gh.requests.filter((r) => r.method === "PATCH" && r.path === `${repoPath}/check-runs/777`);
      const last = patches[patches.length - 1];
      return last?.body.status === "completed" ? last : undefined;
    }, 30_000);
    expect(lastCheck.body.conclusion).toBe("success");
    expect(lastCheck.body.name).toBe("vh: train (sweep of 2)");
    expect(lastCheck.body.output.title).toBe("All 2 executions completed");
    expect(norm(lastCheck.body.output.summary)).toBe(
      "**All 2 executions completed** · step `train` · `lr=[0.01,0.001]` · commit `0d1a26e`\n\n" +
        "| Execution | Parameters | Status | loss | epoch | accuracy | Duration |\n|---|---|---|---:|---:|---:|---|\n" +
        "| #1 | `lr=0.01` | ✅ completed | 0.4333 | 1 | 0.5667 | Ns |\n" +
        "| #2 | `lr=0.001` | ✅ completed | 0.3433 | 1 | 0.6567 | Ns |\n\n" +
        "**Best:** #2 `lr=0.001`: loss 0.3433 (lowest)\n\n" +
        "<sub>Started by @Codertocat · best by loss (lowest)</sub>\n",
    );
    expect(lastCheck.body.actions).toEqual([{ label: "Re-run", description: "Run this sweep again at this commit", identifier: "rerun" }]);
    const statuses = gh.requests.filter((r) => r.path.startsWith(`${repoPath}/check-runs`)).map((r) => r.body.status);
    expect(statuses[0]).toBe(rest.status); // the creation, checked above
    expect(statuses[statuses.length - 1]).toBe("completed");

    // one sticky comment, created once and edited in place, found by its hidden marker
    const stickyFinal = await waitFor("the final sticky comment", async () => {
      const edits = gh.requests.filter((r) => r.method === "PATCH" && r.path === `${repoPath}/issues/comments/9001`);
      const last = edits[edits.length - 1];
      return last && /Best:/.test(last.body.body) ? last.body.body as string : undefined;
    }, 30_000);
    expect(gh.requests.filter((r) => r.method === "POST" && r.path === `${repoPath}/issues/1/comments`)).toHaveLength(1);
    expect(norm(stickyFinal)).toBe(
      "<!-- vh:sticky-comment -->\n### vh · pull request #1\n\n" +
        "#### `train` · grid sweep of 2\n" +
        "All 2 executions completed · commit `0d1a26e` · by @Codertocat (comment)\n\n" +
        "| Execution | Parameters | Status | loss | epoch | accuracy | Duration |\n|---|---|---|---:|---:|---:|---|\n" +
        "| #1 | `lr=0.01` | ✅ completed | 0.4333 | 1 | 0.5667 | Ns |\n" +
        "| #2 | `lr=0.001` | ✅ completed | 0.3433 | 1 | 0.6567 | Ns |\n\n" +
        "**Best:** #2 `lr=0.001`: loss 0.3433 (lowest)\n\n" +
        "<sub>`/vh run STEP name=[a,b]` starts a sweep · `/vh status` · `/vh stop N|all` · `/vh rerun N` · `/vh help`</sub>\n",
    );
    expect(gh.unmatched).toEqual([]);

    // a replay of the same delivery: answered, and nothing happens
    const before = gh.requests.length;
    await new Promise((r) => setTimeout(r, 500)); // any report already scheduled has run
    const settled = gh.requests.length;
    // what ran meanwhile can only be those reports: edits of the check run and the sticky comment
    expect(gh.requests.slice(before, settled).map((r) => `${r.method} ${r.path}`).filter((r) => r !== `PATCH ${repoPath}/check-runs/777` && r !== `PATCH ${repoPath}/issues/comments/9001`)).toEqual([]);
    const replay = await signedPost(stack.vh.url, "issue_comment", payload, "delivery-e2e-1");
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ ok: true, delivery: "delivery-e2e-1", duplicate: true });
    await new Promise((r) => setTimeout(r, 1000));
    expect((await db.sql`select count(*)::int as n from executions`)[0]!.n).toBe(2);
    expect((await db.sql`select count(*)::int as n from sweeps`)[0]!.n).toBe(1);
    expect(gh.requests.length).toBe(settled);
    expect(gh.unmatched).toEqual([]);

    // the same signed payload re-sent under a new delivery id (the header is not signed) finds the
    // sweep that comment already started: still two executions and one sweep
    gh.once()
      .post(`${repoPath}/issues/comments/5001/reactions`, { content: "eyes" })
      .reply(200, { id: 1, content: "eyes" })
      .get(`${repoPath}/pulls/1`)
      .reply(200, pullRequest(1, HEAD));
    const resent = await signedPost(stack.vh.url, "issue_comment", payload, "delivery-e2e-resent");
    expect(resent.status).toBe(202);
    await waitFor("the re-sent delivery handled", async () => {
      const [row] = await db.sql<{ processed_at: Date | null }[]>`select processed_at from forge_deliveries where id = 'delivery-e2e-resent'`;
      return row?.processed_at ? true : undefined;
    }, 20_000);
    expect((await db.sql`select count(*)::int as n from executions`)[0]!.n).toBe(2);
    expect((await db.sql`select count(*)::int as n from sweeps`)[0]!.n).toBe(1);
    // every mock above was called (the re-sent delivery's reaction and pull request included),
    // and no request to GitHub went unmatched
    gh.verify();
  });
  it("a second command and /vh help on the same commit use its stored snapshot: nothing is downloaded or read from GitHub again", async () => {
    const before = await db.sql`select (select count(*)::int from executions) as e, (select count(*)::int from sweeps) as s`;
    const reply = (commentId: number, body: string) =>
      gh.once()
        .post(`${repoPath}/issues/comments/${commentId}/reactions`, { content: "eyes" })
        .reply(201, { id: 1, content: "eyes" })
        .get(`${repoPath}/collaborators/Codertocat/permission`)
        .optionally() // cached for a minute since the first test
        .reply(200, { permission: "write", role_name: "write" })
        .get(`${repoPath}/pulls/1`)
        .reply(200, pullRequest(1, HEAD))
        .post(`${repoPath}/issues/1/comments`, { body })
        .reply(201, { id: 9100 + commentId });
    const handled = async (delivery: string) =>
      waitFor(`delivery ${delivery}`, async () => {
        const [row] = await db.sql<{ outcome: string | null; processed_at: Date | null }[]>`select outcome, processed_at from forge_deliveries where id = ${delivery}`;
        return row?.processed_at ? row.outcome : undefined;
      }, 20_000);

    // every point is checked against the snapshot's valohai.yaml: the bad one refuses the sweep, with one message
    reply(5101, "@Codertocat Parameter `epochs`: x is not an integer\n\nUsage: `/vh run STEP name=value name=[v1,v2] --name=value` · `/vh help` lists every command.\n");
    expect((await signedPost(stack.vh.url, "issue_comment", commentPayload("/vh run train epochs=[1,x]", { commentId: 5101 }), "delivery-e2e-2")).status).toBe(202);
    expect(await handled("delivery-e2e-2")).toBe("refused: invalid_parameter");

    reply(5102, renderHelp(100, ["train", "evaluate"]));
    expect((await signedPost(stack.vh.url, "issue_comment", commentPayload("/vh help", { commentId: 5102 }), "delivery-e2e-3")).status).toBe(202);
    expect(await handled("delivery-e2e-3")).toBe("replied: help");

    expect(await db.sql`select (select count(*)::int from executions) as e, (select count(*)::int from sweeps) as s`).toEqual(before);
    expect((await db.sql`select count(*)::int as n from forge_commit_snapshots`)[0]!.n).toBe(1);
    // no tarball and no contents request: a second download would have gone unmatched
    gh.verify("once");
  });
});
