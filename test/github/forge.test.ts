/** The GitHub forge against nock: idempotent ensure*, annotations in batches of 50, size limits, the permission cache, settings. */
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createGitHubProvider } from "../../app/forges/github/index.js";
import { loadConfig } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import { hasCheckRuns, hasComments, hasCommitStatuses, type Annotation, type CheckRuns, type Comments, type Forge, type RepoRef } from "../../app/contracts/forge.js";
import { normalizeGitHub } from "../../app/forges/github/normalize.js";
import { INSTALLATION, REPO_ID, TestOctokit, appKey, example, githubApi, githubEnv, repoPath } from "./helpers.js";

const repo: RepoRef = { forge: "github", id: REPO_ID, fullName: "Codertocat/Hello-World", owner: "Codertocat", name: "Hello-World", installationId: INSTALLATION };
const SHA = "1".repeat(40);

async function forge(): Promise<Forge & Comments & CheckRuns> {
  const config = loadConfig({ VH_DATA_DIR: "/tmp/x", ...githubEnv() });
  const f = await createGitHubProvider({ config: config.github!, log: createLogger("silent"), Octokit: TestOctokit }).forInstallation(INSTALLATION);
  if (!hasComments(f) || !hasCheckRuns(f) || hasCommitStatuses(f)) throw new Error("the GitHub forge has comments and check runs, and no commit statuses");
  return f;
}

describe("GitHub forge", () => {
  let gh: ReturnType<typeof githubApi>;
  beforeAll(() => nock.disableNetConnect());
  afterAll(() => nock.enableNetConnect());
  // every mock of the test was called, and no request went unmatched
  afterEach(() => gh.done());

  it("ensureComment finds the comment by its marker and edits it; an equal body is not written", async () => {
    gh = githubApi();
    const body = "<!-- m -->\nhello";
    gh.once()
      .get(`${repoPath}/issues/3/comments`).query(true).reply(200, [{ id: 5, body: "other" }, { id: 6, body: "<!-- m -->\nold" }])
      .patch(`${repoPath}/issues/comments/6`, { body }).reply(200, { id: 6 })
      .get(`${repoPath}/issues/3/comments`).query(true).reply(200, [{ id: 6, body }]);
    const f = await forge();
    expect(await f.ensureComment({ repo, pr: 3, marker: "<!-- m -->", body })).toEqual({ id: 6, action: "updated" });
    expect(await f.ensureComment({ repo, pr: 3, marker: "<!-- m -->", body })).toEqual({ id: 6, action: "unchanged" });
  });

  it("ensureComment creates the comment again when the known one was deleted", async () => {
    gh = githubApi();
    gh.once()
      .patch(`${repoPath}/issues/comments/6`).reply(404, { message: "Not Found" })
      .get(`${repoPath}/issues/3/comments`).query(true).reply(200, [])
      .post(`${repoPath}/issues/3/comments`, { body: "<!-- m -->x" }).reply(201, { id: 7 });
    const f = await forge();
    expect(await f.ensureComment({ repo, pr: 3, marker: "<!-- m -->", body: "<!-- m -->x", knownId: 6 })).toEqual({ id: 7, action: "created" });
  });

  it("ensureCheckRun sends 120 annotations as 50 + 50 + 20, and cuts the summary to 65,535 characters", async () => {
    gh = githubApi();
    const annotations: Annotation[] = Array.from({ length: 120 }, (_v, i) => ({ path: "valohai.yaml", line: i + 1, column: 3, level: "warning", message: `w${i}` }));
    gh.once()
      .get(`${repoPath}/commits/${SHA}/check-runs`).query(true).reply(200, { total_count: 1, check_runs: [{ id: 9, external_id: "other" }] })
      .post(`${repoPath}/check-runs`).reply(201, { id: 10 })
      .patch(`${repoPath}/check-runs/10`).reply(200, { id: 10 })
      .patch(`${repoPath}/check-runs/10`).reply(200, { id: 10 });
    const f = await forge();
    const r = await f.ensureCheckRun({
      repo,
      annotations,
      spec: { sha: SHA, name: "vh: train", externalId: "sweep-1", status: "queued", title: "t", summary: "x".repeat(70_000) },
    });
    expect(r).toEqual({ id: 10, action: "created" });
    const sent = gh.requests.filter((q) => q.path.includes("check-runs") && q.method !== "GET");
    expect(sent.map((q) => q.body.output.annotations.length)).toEqual([50, 50, 20]);
    expect(sent[0]!.body.output.summary.length).toBe(65_535);
    expect(sent[0]!.body.output.annotations[0]).toEqual({ path: "valohai.yaml", start_line: 1, end_line: 1, start_column: 3, end_column: 3, annotation_level: "warning", message: "w0" });
    expect(sent[0]!.body).toMatchObject({ head_sha: SHA, name: "vh: train", external_id: "sweep-1", status: "queued" });
  });

  it("caches permissions briefly and maps a 404 to none", async () => {
    gh = githubApi();
    gh.once()
      .get(`${repoPath}/collaborators/alice/permission`).reply(200, { permission: "write", role_name: "maintain" })
      .get(`${repoPath}/collaborators/bob/permission`).reply(404, { message: "Not Found" });
    const f = await forge();
    expect(await f.getPermission(repo, "alice")).toBe("maintain");
    expect(await f.getPermission(repo, "Alice")).toBe("maintain");
    expect(await f.getPermission(repo, "bob")).toBe("none");
  });

  it("wraps GitHub failures in errors that say what to fix", async () => {
    gh = githubApi();
    gh.once().get(`${repoPath}/pulls/4`).reply(403, { message: "Resource not accessible by integration" });
    const f = await forge();
    await expect(f.getPullRequest(repo, 4)).rejects.toThrow(/lacks a permission: compare its permissions with app.yml/);
  });
});

describe("GitHub settings", () => {
  it("reads Probot's names, GHE, and refuses a partial configuration", () => {
    const c = loadConfig({ VH_DATA_DIR: "/tmp/x", ...githubEnv({ GHE_HOST: "ghe.example.com", VH_SWEEP_CAP: "7" }) });
    expect(c.github).toMatchObject({ appId: 123, webhookSecret: "test-webhook-secret", baseUrl: "https://ghe.example.com/api/v3" });
    expect(c.sweepCap).toBe(7);
    expect(loadConfig({ VH_DATA_DIR: "/tmp/x" }).sweepCap).toBe(100);
    expect(loadConfig({ VH_DATA_DIR: "/tmp/x", ...githubEnv({ PRIVATE_KEY: appKey().replace(/\n/g, "\\n") }) }).github?.privateKey).toBe(appKey().trim());
    expect(() => loadConfig({ VH_DATA_DIR: "/tmp/x", APP_ID: "1" })).toThrow(/PRIVATE_KEY or PRIVATE_KEY_PATH[\s\S]*WEBHOOK_SECRET/);
    expect(() => loadConfig({ VH_DATA_DIR: "/tmp/x", APP_ID: "1", WEBHOOK_SECRET: "s", PRIVATE_KEY_PATH: "/nope.pem" })).toThrow(/PRIVATE_KEY_PATH: cannot read/);
  });
});

describe("normalising real payloads (@octokit/webhooks-examples)", () => {
  it("maps each event we subscribe to onto our own types", () => {
    const c = normalizeGitHub("issue_comment", example("issue_comment", "created"));
    expect(c).toMatchObject({ kind: "comment", action: "created", pr: null, issue: 1, repo: { fullName: "Codertocat/Hello-World", installationId: 42 }, comment: { author: { login: "Codertocat", isBot: false } } });
    expect(normalizeGitHub("push", example("push"))).toMatchObject({ kind: "push", headSha: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", pusher: { login: "Codertocat" } });
    expect(normalizeGitHub("check_run", example("check_run", "requested_action"))).toMatchObject({ kind: "check_run", action: "requested_action", identifier: "lgtm|26764" });
    expect(normalizeGitHub("check_suite", example("check_suite", "rerequested"))).toMatchObject({ kind: "check_suite", action: "rerequested" });
    expect(normalizeGitHub("pull_request_review", example("pull_request_review", "submitted"))).toMatchObject({ kind: "review", state: "commented", pr: 2 });
    expect(normalizeGitHub("installation", example("installation", "created"))).toMatchObject({ kind: "installation", action: "created" });
    expect(normalizeGitHub("installation_repositories", example("installation_repositories", "removed"))).toMatchObject({ kind: "installation", action: "repositories_removed" });
    const noInstallation = example("issue_comment", "created");
    delete noInstallation["installation"];
    expect(normalizeGitHub("issue_comment", noInstallation).kind).toBe("ignore");
    expect(normalizeGitHub("star", {}).kind).toBe("ignore");
  });

  it("a comment carries when it was made; a pull request's new head carries when it moved, closing or labelling does not", () => {
    const c = normalizeGitHub("issue_comment", example("issue_comment", "created"));
    expect(c).toMatchObject({ kind: "comment", commentedAt: new Date("2019-05-15T15:20:21Z"), headSha: null });
    for (const action of ["opened", "synchronize", "reopened"]) {
      expect(normalizeGitHub("pull_request", example("pull_request", action))).toMatchObject({
        kind: "pr_head", pr: example("pull_request", action)["number"], sha: example("pull_request", action)["pull_request"]["head"]["sha"],
        at: new Date(example("pull_request", action)["pull_request"]["updated_at"]), repo: { fullName: "Codertocat/Hello-World", installationId: example("pull_request", action)["installation"]["id"] },
      });
    }
    for (const action of ["closed", "labeled", "assigned"]) expect(normalizeGitHub("pull_request", example("pull_request", action))).toMatchObject({ kind: "ignore", reason: `pull_request: action ${action} does not move the head` });
    const noTime = example("pull_request", "synchronize");
    noTime["pull_request"]["updated_at"] = "not a time";
    expect(normalizeGitHub("pull_request", noTime)).toMatchObject({ kind: "ignore", reason: "pull_request: a pull request without its updated_at" });
  });
});
