/**
 * Hostile input, each refused with a clear reply and nothing created: a read-only commenter, a
 * fork PR, shell injection in a value, a bad signature, a 10,000-point sweep, an unknown step, a
 * broken valohai.yaml (a failing check run with annotations at line and column). valohai.yaml is
 * read from the commit's snapshot: its archive is downloaded once for the file (the first test
 * that needs it), and every later command on that commit uses the stored snapshot.
 * Also: `$(reboot)` in a string parameter runs as a literal string; bots' and edited comments are
 * ignored without a single GitHub request.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import nock from "nock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { waitFor, type Stack } from "../helpers/stack.js";
import { commentPayload, example, fixtureRepo, githubApi, pullRequest, repoPath, repoTarball, signedPost, startGithubStack } from "./helpers.js";

const HEAD = "5f1c2a0d2e9b4b7e8c1d3f4a5b6c7d8e9f0a1b2c";
const BROKEN = "b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9"; // a head commit whose valohai.yaml is invalid

describe("hostile input", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let gh: ReturnType<typeof githubApi>;
  let n = 0;

  beforeAll(async () => {
    ({ db, stack } = await startGithubStack());
  });
  beforeEach(() => {
    gh = githubApi();
    onTestFailed(async () => {
      console.log("requests", gh.requests.map((r) => `${r.method} ${r.path} ${JSON.stringify(r.body ?? "")}`), "unmatched", gh.unmatched);
      console.log(await db.sql`select task_identifier, attempts, last_error from graphile_worker.jobs`);
    });
  });
  // every GitHub mock a test set up was called, and no request to GitHub went unmatched
  afterEach(() => gh.done());
  afterAll(async () => {
    await stack?.stop();
    gh?.reset();
    nock.enableNetConnect();
    await db?.drop();
  });

  async function send(body: string, opts: Parameters<typeof commentPayload>[1] = {}): Promise<string> {
    const delivery = `hostile-${++n}`;
    const res = await signedPost(stack.vh.url, "issue_comment", commentPayload(body, { commentId: 6000 + n, ...opts }), delivery);
    expect(res.status).toBe(202);
    return waitFor(`delivery ${delivery} handled`, async () => {
      const [row] = await db.sql<{ outcome: string | null; processed_at: Date | null }[]>`select outcome, processed_at from forge_deliveries where id = ${delivery}`;
      return row?.processed_at ? row.outcome ?? "" : undefined;
    }, 20_000, 20);
  }
  // what starting a sweep writes (in one transaction): executions, the sweep, its check run row, the pull request row
  const counts = async () => {
    const [r] = await db.sql<{ e: number; s: number; c: number; p: number }[]>`
      select (select count(*)::int from executions) as e, (select count(*)::int from sweeps) as s,
        (select count(*)::int from sweep_reports) as c, (select count(*)::int from change_requests) as p`;
    return r!;
  };
  // HEAD's archive is downloaded by the first command that needs its code; after that it is stored.
  let downloaded = false;
  async function expectDownloadOnce() {
    if (downloaded) return;
    gh.once().get(`${repoPath}/tarball/${HEAD}`).reply(200, await repoTarball(HEAD), { "content-type": "application/x-gzip" });
    downloaded = true;
  }
  // vh caches a user's permission for 60 s (app/forges/github): the first command of a login in
  // this file must ask GitHub; later ones may (the cache expired on a slow machine) or may not.
  const askedPermission = new Set<string>();
  function expectStart(login: string, permission: string, pr = pullRequest(1, HEAD)) {
    const scope = gh.once()
      .post(`${repoPath}/issues/comments/${6000 + n + 1}/reactions`, { content: "eyes" })
      .reply(201, {})
      .get(`${repoPath}/collaborators/${login}/permission`)
      .optionally(askedPermission.has(login))
      .reply(200, { permission: permission === "maintain" ? "write" : permission, role_name: permission })
      .get(`${repoPath}/pulls/1`)
      .reply(200, pr);
    askedPermission.add(login);
    return scope;
  }
  function expectReply(body: string) {
    gh.once().post(`${repoPath}/issues/1/comments`, { body }).reply(201, { id: 1 });
  }

  it("a read-only commenter is refused", async () => {
    const before = await counts();
    expectStart("mallory", "read");
    expectReply("@mallory `/vh run` needs write permission on Codertocat/Hello-World; yours is `read`.\n\n<sub>vh runs code only for people with write permission on Codertocat/Hello-World.</sub>\n");
    expect(await send("/vh run train", { login: "mallory" })).toBe("refused: mallory has read");
    expect(await counts()).toEqual(before);
    expect(gh.unmatched).toEqual([]);
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toHaveLength(4);
  });

  it("a fork PR's author without write permission is refused, and told why", async () => {
    const before = await counts();
    expectStart("forker", "read", pullRequest(1, HEAD, { fork: true }));
    expectReply(
      "@forker this pull request comes from a fork (forker/Hello-World), and vh runs code from a fork only when someone with write permission on Codertocat/Hello-World asks. Your permission is `read`.\n\n<sub>vh runs code only for people with write permission on Codertocat/Hello-World.</sub>\n",
    );
    expect(await send("/vh run train lr=0.1", { login: "forker" })).toBe("refused: forker has read (fork)");
    expect(await counts()).toEqual(before);
    expect(gh.unmatched).toEqual([]);
  });

  it("a maintainer's plain /vh run on a fork PR is refused while the project does not run fork commands", async () => {
    const before = await counts();
    expectStart("Codertocat", "write", pullRequest(1, HEAD, { fork: true }));
    expectReply(
      "@Codertocat this pull request comes from a fork (forker/Hello-World), and project `Codertocat--Hello-World` does not run commands on fork pull requests. If you have read the fork's code at `5f1c2a0`, run it with `/vh run … --allow-fork`; a project admin can allow it for every command with `vh project set Codertocat--Hello-World --fork-commands on`.\n",
    );
    expect(await send("/vh run train lr=0.1")).toBe("refused: fork pull requests are not run in this project");
    expect(await counts()).toEqual(before);
  });

  it("a fork's push that vh saw arrive after the comment is not run for it: signed pull_request deliveries pin the head", async () => {
    const before = await counts();
    const pushed = "c0ffee0000000000000000000000000000000001";
    const sync = example("pull_request", "synchronize");
    sync["number"] = 1;
    sync["pull_request"]["number"] = 1;
    sync["pull_request"]["head"]["sha"] = pushed;
    sync["pull_request"]["updated_at"] = "2026-12-01T10:00:30Z";
    const delivery = `hostile-sync-${++n}`;
    expect((await signedPost(stack.vh.url, "pull_request", sync, delivery)).status).toBe(202);
    const outcome = await waitFor(`delivery ${delivery} handled`, async () => {
      const [row] = await db.sql<{ outcome: string | null; processed_at: Date | null }[]>`select outcome, processed_at from forge_deliveries where id = ${delivery}`;
      return row?.processed_at ? row.outcome ?? "" : undefined;
    }, 20_000, 20);
    expect(outcome).toBe("recorded: head of pull request #1 is c0ffee0 since 2026-12-01T10:00:30.000Z");
    // The comment was made at 10:00:00; by the time it is handled the fork's head is the later push.
    expectStart("Codertocat", "write", pullRequest(1, pushed, { fork: true }));
    expectReply(
      "@Codertocat The head of pull request #1 moved to `c0ffee0` at 2026-12-01T10:00:30.000Z, after your comment, and vh does not know which commit you commented on; comment again to run `c0ffee0`.\n",
    );
    const comment = commentPayload("/vh run train --allow-fork", { commentId: 6000 + n + 1 });
    comment["comment"]["created_at"] = "2026-12-01T10:00:00Z";
    const res = await signedPost(stack.vh.url, "issue_comment", comment, `hostile-${++n}`);
    expect(res.status).toBe(202);
    expect(await waitFor("the comment handled", async () => {
      const [row] = await db.sql<{ outcome: string | null; processed_at: Date | null }[]>`select outcome, processed_at from forge_deliveries where id = ${`hostile-${n}`}`;
      return row?.processed_at ? row.outcome ?? "" : undefined;
    }, 20_000, 20)).toBe("refused: conflict");
    expect(await counts()).toEqual(before);
    expect(await db.sql`select sha from change_request_heads where number = 1`).toEqual([{ sha: pushed }]);
  });

  it("shell injection in a float value is refused by type", async () => {
    const before = await counts();
    expectStart("Codertocat", "write");
    await expectDownloadOnce();
    expectReply("@Codertocat Parameter `lr`: $(reboot) is not a floating-point number\n\nUsage: `/vh run STEP name=value name=[v1,v2] --name=value` · `/vh help` lists every command.\n");
    expect(await send("/vh run train lr=$(reboot)")).toBe("refused: invalid_parameter");
    expect(await counts()).toEqual(before);
    // the code is stored (for the next command on this commit), nothing made from it
    expect(await db.sql`select commit_sha from forge_commit_snapshots where commit_sha = ${HEAD}`).toEqual([{ commit_sha: HEAD }]);
    expect(gh.unmatched).toEqual([]);
  });

  it("a 10,000-point sweep is refused with the number it would have made", async () => {
    const before = await counts();
    const vals = Array.from({ length: 100 }, (_v, i) => String(i + 1)).join(",");
    expectStart("Codertocat", "write");
    expectReply(
      "@Codertocat That sweep would make 10,000 executions; the limit is 100 (VH_SWEEP_CAP). Use fewer values, or split it into several commands.\n\nUsage: `/vh run STEP name=value name=[v1,v2] --name=value` · `/vh help` lists every command.\n",
    );
    expect(await send(`/vh run train epochs=[${vals}] note=[${vals}]`)).toBe("refused: too_large");
    expect(await counts()).toEqual(before);
    expect(gh.unmatched).toEqual([]);
  });

  it("an unknown step is refused with a did-you-mean and the steps at the PR head", async () => {
    const before = await counts();
    expectStart("Codertocat", "write");
    await expectDownloadOnce();
    expectReply(
      "@Codertocat `valohai.yaml` at 5f1c2a0 has no step `trian`. Did you mean `train`? Steps: `train`, `evaluate`.\n\nUsage: `/vh run STEP name=value name=[v1,v2] --name=value` · `/vh help` lists every command.\n",
    );
    expect(await send("/vh run trian lr=0.1")).toBe("refused: unknown_step");
    expect(await counts()).toEqual(before);
    expect(gh.unmatched).toEqual([]);
  });

  it("a broken valohai.yaml is refused with file:line:column, and its problems are annotations on a failing check run", async () => {
    const before = await counts();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-broken-yaml-"));
    fs.cpSync(fixtureRepo, dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, "valohai.yaml"),
      ["- step:", "    name: train", "    image: python:3.12", "    command: python3 train.py", "    parameters:", "      - name: lr", "        type: flaot", ""].join("\n"),
    );
    const problem = 'step "train": parameter "lr": "type" must be one of string, integer, float, flag (got "flaot"); did you mean "float"?';
    try {
      expectStart("Codertocat", "write", pullRequest(1, BROKEN));
      gh.once()
        .get(`${repoPath}/tarball/${BROKEN}`)
        .reply(200, await repoTarball(BROKEN, dir), { "content-type": "application/x-gzip" })
        .get(`${repoPath}/commits/${BROKEN}/check-runs`)
        .query({ check_name: "vh: valohai.yaml", filter: "all", per_page: "100" })
        .reply(200, { total_count: 0, check_runs: [] })
        .post(`${repoPath}/check-runs`)
        .reply(201, { id: 55 });
      expectReply(`@Codertocat \`valohai.yaml\` at b0c1d2e is invalid:\nvalohai.yaml:7:15: ${problem}\n`);
      expect(await send("/vh run train lr=0.1")).toBe("refused: invalid_config");
      const check = gh.requests.find((r) => r.method === "POST" && r.path === `${repoPath}/check-runs`);
      expect(check?.body).toEqual({
        head_sha: BROKEN,
        name: "vh: valohai.yaml",
        external_id: `lint:${BROKEN}`,
        status: "completed",
        conclusion: "failure",
        completed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        output: {
          title: "valohai.yaml has 1 error",
          summary: `- valohai.yaml:7:15: ${problem}`,
          annotations: [{ path: "valohai.yaml", start_line: 7, end_line: 7, start_column: 15, end_column: 15, annotation_level: "failure", message: problem }],
        },
        actions: [],
      });
      expect(await counts()).toEqual(before);
      expect(gh.unmatched).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a bad signature is refused before anything is parsed or stored", async () => {
    const res = await signedPost(stack.vh.url, "issue_comment", commentPayload("/vh run train"), "hostile-badsig", "not-the-secret");
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/WEBHOOK_SECRET/);
    const unsigned = await fetch(`${stack.vh.url}/api/github/webhooks`, {
      method: "POST",
      headers: { "x-github-event": "issue_comment", "x-github-delivery": "hostile-unsigned", "content-type": "application/json" },
      body: "{}",
    });
    expect(unsigned.status).toBe(401);
    const huge = await fetch(`${stack.vh.url}/api/github/webhooks`, {
      method: "POST",
      headers: { "x-github-event": "issue_comment", "x-github-delivery": "hostile-hugesig", "x-hub-signature-256": "sha256=00", "content-type": "application/json" },
      body: Buffer.alloc(26 * 1024 * 1024, 0x20),
    });
    expect(huge.status).toBe(413);
    expect((await db.sql`select count(*)::int as n from forge_deliveries where id like 'hostile-%sig%'`)[0]!.n).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(gh.requests).toEqual([]);
  });

  it("the bot's own comments and edited comments are ignored without a request", async () => {
    expect(await send("/vh run train", { login: "vh-app[bot]", type: "Bot" })).toBe("ignored: a bot's comment");
    expect(await send("/vh run train", { action: "edited" })).toBe("ignored: edited comment");
    expect(await send("Nice work! /vh run train is what I'd do")).toBe("ignored: not a command");
    expect(gh.requests).toEqual([]);
  });

  it("`$(reboot)` in a string parameter runs as a literal string", async () => {
    expectStart("Codertocat", "write");
    await expectDownloadOnce();
    gh.many()
      .get(/\/check-runs\?/)
      .reply(200, { total_count: 0, check_runs: [] })
      .post(`${repoPath}/check-runs`)
      .reply(201, { id: 1 })
      .patch(/\/check-runs\/1$/)
      .reply(200, { id: 1 })
      .get(/\/issues\/1\/comments\?/)
      .reply(200, [])
      .post(`${repoPath}/issues/1/comments`)
      .reply(201, { id: 2 })
      .patch(/\/issues\/comments\/2$/)
      .reply(200, { id: 2 });
    expect(await send("/vh run train note='$(reboot); rm -rf /' epochs=1")).toMatch(/^created sweep/);
    const [e] = await db.sql<{ id: string; command: string; parameters: Record<string, unknown> }[]>`select id, command, parameters from executions order by counter desc limit 1`;
    expect(e!.command).toBe("python3 train.py --lr=0.01 --epochs=1 '--note=$(reboot); rm -rf /'");
    const done = await waitFor("the execution", async () => {
      const [r] = await db.sql<{ status: string }[]>`select status from executions where id = ${e!.id}`;
      return ["completed", "failed", "error"].includes(r!.status) ? r!.status : undefined;
    }, 30_000);
    expect(done).toBe("completed");
    const lines = await db.sql<{ line: string }[]>`select line from log_lines where execution_id = ${e!.id} order by seq`;
    expect(lines.map((l) => l.line)).toContain("note $(reboot); rm -rf /");
    // the reports follow: the check run ends completed, the sticky comment is edited to say so
    await waitFor("the completed check run and sticky comment", async () => {
      const last = (method: string, re: RegExp) => gh.requests.filter((r) => r.method === method && re.test(r.path)).at(-1);
      const check = last("PATCH", /\/check-runs\/1$/);
      const sticky = last("PATCH", /\/issues\/comments\/2$/);
      return check?.body.status === "completed" && /✅ completed/.test(sticky?.body.body ?? "") ? true : undefined;
    }, 10_000);
  });
});
