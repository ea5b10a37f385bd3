/**
 * The GitLab forge against a strict nock: the exact requests and bodies, pagination, limits, the
 * permission cache, error messages that name the fix, timeouts, settings.
 */
import { Readable } from "node:stream";
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.js";
import { ForgeError } from "../../app/errors.js";
import { createGitLabProvider, GITLAB_LIMITS } from "../../app/forges/gitlab/index.js";
import { createLogger } from "../../app/log.js";
import { API, GITLAB, SHA, TOKEN, archiveOf, gitlabApi, gitlabConfig, projectPath, repo, strictNet } from "./helpers.js";

const log = createLogger("silent");
const BOT = { id: 99, username: "vh-bot" };

function provider(extra: Parameters<typeof gitlabConfig>[0] = {}, permissionTtlMs?: number) {
  return createGitLabProvider({ config: gitlabConfig(extra), log, ...(permissionTtlMs !== undefined ? { permissionTtlMs } : {}) });
}
const forge = (extra: Parameters<typeof gitlabConfig>[0] = {}) => provider(extra).forInstallation(0);

const notesQuery = (page: number) => ({ sort: "asc", order_by: "created_at", per_page: "100", page: String(page) });
const note = (id: number, body: string, username = BOT.username, system = false) => ({ id, body, system, author: { id: 1, username } });

describe("GitLab forge", () => {
  let gl: ReturnType<typeof gitlabApi>;
  beforeAll(() => strictNet());
  afterAll(() => nock.enableNetConnect());
  afterEach(() => gl.done());

  describe("permissions", () => {
    it("maps access levels to roles: the user's id by username, then the project's members with inherited ones", async () => {
      gl = gitlabApi();
      const levels: [number, string][] = [[50, "admin"], [40, "maintain"], [30, "write"], [20, "triage"], [15, "read"], [10, "read"], [5, "none"]];
      levels.forEach(([level], i) => {
        gl.scope
          .get(`${API}/users`).query({ username: `u${i}` }).reply(200, [{ id: 100 + i, username: `u${i}`, state: "active" }])
          .get(`${projectPath}/members/all/${100 + i}`).reply(200, { id: 100 + i, username: `u${i}`, access_level: level, state: "active", expires_at: null });
      });
      const f = await forge();
      for (const [i, [, role]] of levels.entries()) expect(await f.getPermission(repo, `u${i}`)).toBe(role);
    });

    it("none for a user who is not a member, one who does not exist, a blocked or expired member", async () => {
      gl = gitlabApi();
      gl.scope
        .get(`${API}/users`).query({ username: "outsider" }).reply(200, [{ id: 8, username: "outsider" }])
        .get(`${projectPath}/members/all/8`).reply(404, { message: "404 Not found" })
        .get(`${API}/users`).query({ username: "ghost" }).reply(200, [])
        .get(`${API}/users`).query({ username: "blocked" }).reply(200, [{ id: 9, username: "blocked" }])
        .get(`${projectPath}/members/all/9`).reply(200, { id: 9, access_level: 30, state: "blocked" })
        .get(`${API}/users`).query({ username: "expired" }).reply(200, [{ id: 10, username: "expired" }])
        .get(`${projectPath}/members/all/10`).reply(200, { id: 10, access_level: 40, state: "active", expires_at: "2000-01-01" });
      const f = await forge();
      expect(await f.getPermission(repo, "outsider")).toBe("none");
      expect(await f.getPermission(repo, "ghost")).toBe("none");
      expect(await f.getPermission(repo, "blocked")).toBe("none");
      expect(await f.getPermission(repo, "expired")).toBe("none");
    });

    it("is cached for a minute per project and login (any case), then asked again", async () => {
      gl = gitlabApi();
      gl.scope
        .get(`${API}/users`).query({ username: "alice" }).reply(200, [{ id: 7, username: "alice" }])
        .get(`${projectPath}/members/all/7`).reply(200, { id: 7, access_level: 30 });
      const f = await forge();
      expect(await f.getPermission(repo, "alice")).toBe("write");
      expect(await f.getPermission(repo, "Alice")).toBe("write");
      gl.done();

      gl = gitlabApi();
      gl.scope
        .get(`${API}/users`).query({ username: "alice" }).reply(200, [{ id: 7, username: "alice" }])
        .get(`${projectPath}/members/all/7`).reply(200, { id: 7, access_level: 40 })
        .get(`${API}/users`).query({ username: "alice" }).reply(200, [{ id: 7, username: "alice" }])
        .get(`${projectPath}/members/all/7`).reply(200, { id: 7, access_level: 50 });
      const uncached = await provider({}, 0).forInstallation(0);
      expect(await uncached.getPermission(repo, "alice")).toBe("maintain");
      expect(await uncached.getPermission(repo, "alice")).toBe("admin");
    });

    it("a failing lookup throws (and is not cached as none)", async () => {
      gl = gitlabApi();
      gl.scope
        .get(`${API}/users`).query({ username: "alice" }).reply(200, [{ id: 7, username: "alice" }])
        .get(`${projectPath}/members/all/7`).reply(500, { message: "500 Internal Server Error" })
        .get(`${API}/users`).query({ username: "alice" }).reply(200, [{ id: 7, username: "alice" }])
        .get(`${projectPath}/members/all/7`).reply(200, { id: 7, access_level: 30 });
      const f = await forge();
      await expect(f.getPermission(repo, "alice")).rejects.toThrow(/HTTP 500/);
      expect(await f.getPermission(repo, "alice")).toBe("write");
    });
  });

  describe("merge requests", () => {
    const mr = { iid: 3, title: "Tune", state: "opened", sha: SHA, source_branch: "tune", source_project_id: 5, target_project_id: 5, author: { id: 4, username: "jsmith" } };

    it("a merge request from the project itself", async () => {
      gl = gitlabApi();
      const base = "b".repeat(40);
      gl.scope.get(`${projectPath}/merge_requests/3`).reply(200, { ...mr, diff_refs: { base_sha: base, head_sha: SHA, start_sha: base } });
      const f = await forge();
      expect(await f.getPullRequest(repo, 3)).toEqual({
        number: 3,
        title: "Tune",
        state: "open",
        headSha: SHA,
        headRef: "tune",
        headRepo: "gitlab-org/gitlab-test",
        isFork: false,
        baseSha: base,
        author: { login: "jsmith", id: 4, isBot: false },
      });
    });

    it("one from a fork names the fork; a fork the token cannot see (or that was deleted) is null", async () => {
      gl = gitlabApi();
      gl.scope
        .get(`${projectPath}/merge_requests/3`).reply(200, { ...mr, state: "merged", source_project_id: 40 })
        .get(`${API}/projects/40`).reply(200, { id: 40, path_with_namespace: "jsmith/gitlab-test" })
        .get(`${projectPath}/merge_requests/4`).reply(200, { ...mr, iid: 4, source_project_id: 41 })
        .get(`${API}/projects/41`).reply(404, { message: "404 Project Not Found" })
        .get(`${projectPath}/merge_requests/5`).reply(200, { ...mr, iid: 5, source_project_id: null });
      const f = await forge();
      expect(await f.getPullRequest(repo, 3)).toMatchObject({ state: "closed", isFork: true, headRepo: "jsmith/gitlab-test" });
      expect(await f.getPullRequest(repo, 4)).toMatchObject({ isFork: true, headRepo: null });
      expect(await f.getPullRequest(repo, 5)).toMatchObject({ isFork: true, headRepo: null });
    });

    it("one whose source branch is gone has no head: not found, the user's to fix", async () => {
      gl = gitlabApi();
      gl.scope.get(`${projectPath}/merge_requests/3`).reply(200, { ...mr, state: "closed", sha: null });
      const f = await forge();
      const err = await f.getPullRequest(repo, 3).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "not_found", message: "Merge request !3 has no head commit: was its source branch tune deleted?" });
    });
  });

  describe("files and commits", () => {
    it("reads a file's text at a commit (nested paths encoded as GitLab wants), null when absent", async () => {
      gl = gitlabApi();
      gl.scope
        .get(`${projectPath}/repository/files/valohai.yaml/raw`).query({ ref: SHA }).reply(200, "- step: {}\n", { "content-type": "text/plain; charset=utf-8" })
        .get(`${projectPath}/repository/files/conf%2Fdata%20set.yaml/raw`).query({ ref: SHA }).reply(200, Buffer.from("äö\n"), { "content-type": "application/octet-stream" })
        .get(`${projectPath}/repository/files/missing.txt/raw`).query({ ref: SHA }).reply(404, { message: "404 File Not Found" });
      const f = await forge();
      expect(await f.readFile(repo, SHA, "valohai.yaml")).toBe("- step: {}\n");
      expect(await f.readFile(repo, SHA, "conf/data set.yaml")).toBe("äö\n");
      expect(await f.readFile(repo, SHA, "missing.txt")).toBeNull();
    });

    it("resolves a branch (slashes encoded), a short sha; null for nothing", async () => {
      gl = gitlabApi();
      gl.scope
        .get(`${projectPath}/repository/commits/feature%2Fx`).reply(200, { id: SHA, short_id: SHA.slice(0, 8) })
        .get(`${projectPath}/repository/commits/a1a1a1a`).reply(200, { id: SHA })
        .get(`${projectPath}/repository/commits/nope`).reply(404, { message: "404 Commit Not Found" });
      const f = await forge();
      expect(await f.resolveCommit(repo, "feature/x")).toBe(SHA);
      expect(await f.resolveCommit(repo, "a1a1a1a")).toBe(SHA);
      expect(await f.resolveCommit(repo, "nope")).toBeNull();
      expect(await f.resolveCommit(repo, "")).toBeNull();
    });

    it("downloads the archive at a sha", async () => {
      gl = gitlabApi();
      const tgz = await archiveOf({ "train.py": "print(1)\n" });
      gl.scope.get(`${projectPath}/repository/archive.tar.gz`).query({ sha: SHA }).reply(200, tgz, { "content-type": "application/x-gzip" });
      const f = await forge();
      expect((await f.downloadArchive(repo, SHA, 1024 * 1024)).equals(tgz)).toBe(true);
    });

    it("refuses an archive over the cap: by its Content-Length, or once the bytes read pass it", async () => {
      gl = gitlabApi();
      const big = Buffer.alloc(3 * 1024 * 1024, 1);
      gl.scope
        .get(`${projectPath}/repository/archive.tar.gz`).query({ sha: SHA }).reply(200, big, { "content-length": String(big.length) })
        .get(`${projectPath}/repository/archive.tar.gz`).query({ sha: SHA }).reply(200, () => Readable.from([big.subarray(0, 1024 * 1024), big.subarray(1024 * 1024)]));
      const f = await forge();
      for (let i = 0; i < 2; i++) {
        await expect(f.downloadArchive(repo, SHA, 2 * 1024 * 1024)).rejects.toMatchObject({
          code: "too_large",
          message: `The repository at ${SHA.slice(0, 7)} is 3 MiB or more, over the 2 MiB limit (VH_MAX_CODE_MB).`,
        });
      }
    });

    it("gives up on an archive that stalls mid-answer, and on one that never answers", async () => {
      gl = gitlabApi();
      const stalled = new Readable({ read() {} });
      stalled.push(Buffer.alloc(1000, 1));
      gl.scope
        .get(`${projectPath}/repository/archive.tar.gz`).query({ sha: SHA }).reply(200, () => stalled)
        .get(`${projectPath}/repository/archive.tar.gz`).query({ sha: SHA }).delay(1_000).reply(200, "late");
      const f = await forge({ requestTimeoutMs: 150 });
      await expect(f.downloadArchive(repo, SHA, 1024 * 1024)).rejects.toThrow(/stalled for 0.15 s \(VH_GITLAB_TIMEOUT_S\); the work is retried later/);
      await expect(f.downloadArchive(repo, SHA, 1024 * 1024)).rejects.toThrow(/did not answer within 0.15 s/);
      stalled.destroy();
    });
  });

  describe("notes", () => {
    it("ensureComment reads the pages of notes in order, finds the bot's note by its marker (not someone's quote of it) and edits it", async () => {
      gl = gitlabApi();
      const body = "<!-- vh:sticky -->\nnew";
      const page1 = Array.from({ length: 100 }, (_v, i) => note(i + 1, `chatter ${i}`, "alice"));
      page1[50] = note(51, "<!-- vh:sticky --> quoted by a person", "alice");
      gl.scope
        .get(`${API}/user`).reply(200, BOT)
        .get(`${projectPath}/merge_requests/3/notes`).query(notesQuery(1)).reply(200, page1, { "x-next-page": "2", "x-page": "1" })
        .get(`${projectPath}/merge_requests/3/notes`).query(notesQuery(2)).reply(200, [note(150, "<!-- vh:sticky -->\nold"), note(151, "added 1 commit", "alice", true)], { "x-next-page": "", "x-page": "2" })
        .put(`${projectPath}/merge_requests/3/notes/150`, { body }).reply(200, note(150, body));
      const f = await forge();
      expect(await f.ensureComment({ repo, pr: 3, marker: "<!-- vh:sticky -->", body })).toEqual({ id: 150, action: "updated" });
    });

    it("ensureComment with a known id: unchanged when equal, edited when not; created again when it was deleted", async () => {
      gl = gitlabApi();
      const marker = "<!-- vh:sticky -->";
      gl.scope
        .get(`${projectPath}/merge_requests/3/notes/150`).reply(200, note(150, `${marker}\nsame\n`))
        .get(`${projectPath}/merge_requests/3/notes/150`).reply(200, note(150, `${marker}\nsame`))
        .put(`${projectPath}/merge_requests/3/notes/150`, { body: `${marker}\nother` }).reply(200, note(150, `${marker}\nother`))
        .get(`${projectPath}/merge_requests/3/notes/150`).reply(404, { message: "404 Not found" })
        .get(`${API}/user`).reply(200, BOT)
        .get(`${projectPath}/merge_requests/3/notes`).query(notesQuery(1)).reply(200, [note(1, "hi", "alice")], { "x-next-page": "" })
        .post(`${projectPath}/merge_requests/3/notes`, { body: `${marker}\nback` }).reply(201, note(160, `${marker}\nback`));
      const f = await forge();
      expect(await f.ensureComment({ repo, pr: 3, marker, body: `${marker}\nsame`, knownId: 150 })).toEqual({ id: 150, action: "unchanged" });
      expect(await f.ensureComment({ repo, pr: 3, marker, body: `${marker}\nother`, knownId: 150 })).toEqual({ id: 150, action: "updated" });
      expect(await f.ensureComment({ repo, pr: 3, marker, body: `${marker}\nback`, knownId: 150 })).toEqual({ id: 160, action: "created" });
    });

    it("asks who the bot is once per provider", async () => {
      gl = gitlabApi();
      const marker = "<!-- m -->";
      gl.scope
        .get(`${API}/user`).reply(200, BOT)
        .get(`${projectPath}/merge_requests/3/notes`).query(notesQuery(1)).reply(200, [note(5, `${marker}x`)], { "x-next-page": "" })
        .get(`${projectPath}/merge_requests/4/notes`).query(notesQuery(1)).reply(200, [note(6, `${marker}x`)], { "x-next-page": "" });
      const p = provider();
      const f = await p.forInstallation(0);
      expect(await f.ensureComment({ repo, pr: 3, marker, body: `${marker}x` })).toEqual({ id: 5, action: "unchanged" });
      expect(await f.ensureComment({ repo, pr: 4, marker, body: `${marker}x` })).toEqual({ id: 6, action: "unchanged" });
      expect(await p.botUser()).toEqual({ id: 99, username: "vh-bot" });
    });

    it("a failed look-up of the bot is not remembered", async () => {
      gl = gitlabApi();
      gl.scope
        .get(`${API}/user`).reply(401, { message: "401 Unauthorized" })
        .get(`${API}/user`).reply(200, BOT);
      const p = provider();
      await expect(p.botUser()).rejects.toThrow(/looking up GITLAB_TOKEN's user failed \(HTTP 401\).*GITLAB_TOKEN/);
      expect(await p.botUser()).toEqual(BOT);
    });

    it("cuts a body to GitLab's 1,000,000 characters, saying so; refuses a body without its marker", async () => {
      gl = gitlabApi();
      gl.scope.post(`${projectPath}/merge_requests/3/notes`).reply(201, { id: 9 });
      const f = await forge();
      expect(await f.createComment(repo, 3, "<!-- m -->" + "x".repeat(1_200_000))).toBe(9);
      const sent = gl.requests[0]!.body.body as string;
      expect(sent.length).toBe(GITLAB_LIMITS.noteBody);
      expect(sent.endsWith("… (cut to GitLab's size limit; the rest is in vh)")).toBe(true);
      await expect(f.ensureComment({ repo, pr: 3, marker: "<!-- m -->", body: "no marker" })).rejects.toThrow(/must contain its marker/);
    });

    it("award emoji: vh's reactions by GitLab's names; awarding one twice is no error", async () => {
      gl = gitlabApi();
      const path = `${projectPath}/merge_requests/3/notes/1244/award_emoji`;
      gl.scope
        .post(path, { name: "eyes" }).reply(201, { id: 1, name: "eyes" })
        .post(path, { name: "thumbsup" }).reply(201, { id: 2, name: "thumbsup" })
        .post(path, { name: "thumbsdown" }).reply(201, { id: 3, name: "thumbsdown" })
        .post(path, { name: "rocket" }).reply(201, { id: 4, name: "rocket" })
        .post(path, { name: "confused" }).reply(201, { id: 5, name: "confused" })
        .post(path, { name: "eyes" }).reply(404, { message: "404 Award Emoji Name has already been taken Not Found" })
        .post(path, { name: "eyes" }).reply(400, { message: { name: ["has already been taken"] } })
        .post(path, { name: "eyes" }).reply(403, { message: "403 Forbidden" });
      const f = await forge();
      for (const r of ["eyes", "+1", "-1", "rocket", "confused", "eyes", "eyes"] as const) await f.addReaction(repo, { pr: 3, commentId: 1244 }, r);
      await expect(f.addReaction(repo, { pr: 3, commentId: 1244 }, "eyes")).rejects.toThrow(/HTTP 403.*api scope/);
    });
  });

  describe("commit statuses", () => {
    const statuses = `${projectPath}/repository/commits/${SHA}/statuses`;

    it("creates the named status, updates it on a new state, and leaves an equal one alone", async () => {
      gl = gitlabApi();
      gl.scope
        .get(statuses).query({ name: "vh: train" }).reply(200, [{ id: 3, name: "vh: other", status: "pending" }])
        .post(`${projectPath}/statuses/${SHA}`, { state: "running", name: "vh: train", description: "2 running", target_url: "https://vh.example/sweeps/1" })
        .reply(201, { id: 10, name: "vh: train", status: "running" })
        .get(statuses).query({ name: "vh: train" }).reply(200, [{ id: 10, name: "vh: train", status: "running", description: "2 running", target_url: "https://vh.example/sweeps/1" }])
        .get(statuses).query({ name: "vh: train" }).reply(200, [{ id: 10, name: "vh: train", status: "running", description: "2 running", target_url: "https://vh.example/sweeps/1" }])
        .post(`${projectPath}/statuses/${SHA}`, { state: "success", name: "vh: train", description: "2 completed", target_url: "https://vh.example/sweeps/1" })
        .reply(201, { id: 10, name: "vh: train", status: "success" });
      const f = await forge();
      const status = { sha: SHA, name: "vh: train", state: "running" as const, description: "2 running", targetUrl: "https://vh.example/sweeps/1" };
      expect(await f.ensureCommitStatus({ repo, status })).toEqual({ id: 10, action: "created" });
      expect(await f.ensureCommitStatus({ repo, status })).toEqual({ id: 10, action: "unchanged" });
      expect(await f.ensureCommitStatus({ repo, status: { ...status, state: "success", description: "2 completed" } })).toEqual({ id: 10, action: "updated" });
    });

    it("a new description in the same state: GitLab refuses the transition, and the status stays as it is", async () => {
      gl = gitlabApi();
      gl.scope
        .get(statuses).query({ name: "vh: train" }).reply(200, [{ id: 9, name: "vh: train", status: "running", description: "1 running" }, { id: 10, name: "vh: train", status: "running", description: "2 running" }])
        .post(`${projectPath}/statuses/${SHA}`, { state: "running", name: "vh: train", description: "3 running" })
        .reply(400, { message: "Cannot transition status via :run from :running" });
      const f = await forge();
      expect(await f.ensureCommitStatus({ repo, status: { sha: SHA, name: "vh: train", state: "running", description: "3 running" } })).toEqual({ id: 10, action: "unchanged" });
    });

    it("cuts the description to one line of 255 characters", async () => {
      gl = gitlabApi();
      gl.scope
        .get(statuses).query({ name: "vh: train" }).reply(200, [])
        .post(`${projectPath}/statuses/${SHA}`).reply(201, { id: 11, status: "failed" });
      const f = await forge();
      await f.ensureCommitStatus({ repo, status: { sha: SHA, name: "vh: train", state: "failed", description: "bad\nthing " + "x".repeat(400) } });
      const sent = gl.requests[1]!.body as { description: string };
      expect(sent.description.length).toBe(255);
      expect(sent.description.startsWith("bad thing x")).toBe(true);
      expect(sent.description.endsWith("…")).toBe(true);
    });
  });

  describe("errors name what to fix", () => {
    it.each([
      [401, { message: "401 Unauthorized" }, /HTTP 401\): 401 Unauthorized\. GitLab refused GITLAB_TOKEN: the token is wrong, expired or revoked/],
      [403, { error: "insufficient_scope", error_description: "The request requires higher privileges than provided by the access token.", scope: "api" }, /HTTP 403\): insufficient_scope\. The token lacks the api scope, or access to this project/],
      [404, { message: "404 Project Not Found" }, /HTTP 404\): 404 Project Not Found\. Not found, or not visible to GITLAB_TOKEN: is its user a member of the project/],
    ])("HTTP %i", async (status, answer, message) => {
      gl = gitlabApi();
      gl.scope.get(`${projectPath}/merge_requests/3`).reply(status, answer);
      const f = await forge();
      const err = await f.getPullRequest(repo, 3).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ForgeError);
      expect((err as ForgeError).status).toBe(status);
      expect((err as ForgeError).message).toMatch(/^GitLab: reading merge request !3 failed/);
      expect((err as ForgeError).message).toMatch(message);
    });

    it("a GitLab that does not answer in time, one that cannot be reached, one that keeps failing", async () => {
      gl = gitlabApi();
      gl.scope
        .get(`${projectPath}/merge_requests/3`).delay(1_000).reply(200, {})
        .get(`${projectPath}/merge_requests/4`).replyWithError({ code: "ECONNREFUSED", message: "connect ECONNREFUSED" })
        .get(`${projectPath}/merge_requests/5`).times(10).reply(502, "Bad Gateway");
      const f = await forge({ requestTimeoutMs: 150 });
      await expect(f.getPullRequest(repo, 3)).rejects.toThrow(/did not answer within 0.15 s \(VH_GITLAB_TIMEOUT_S\); the work is retried later/);
      await expect(f.getPullRequest(repo, 4)).rejects.toThrow(/https:\/\/gitlab\.example\.com could not be reached .*check GITLAB_URL/);
      // gitbeaker retries a 502 (and a 429) ten times within a quarter of a second, inside the same deadline
      const patient = await forge();
      await expect(patient.getPullRequest(repo, 5)).rejects.toThrow(/last status code: 502.*the work is retried later/);
    });

    it("an answer of an unexpected shape", async () => {
      gl = gitlabApi();
      gl.scope.get(`${projectPath}/merge_requests/3`).reply(200, { iid: 3 });
      const f = await forge();
      await expect(f.getPullRequest(repo, 3)).rejects.toThrow(/GitLab answered the merge request with an unexpected shape/);
    });
  });

  describe("settings", () => {
    it("GITLAB_URL may be any self-managed root, also under a path; the token goes in PRIVATE-TOKEN", async () => {
      const config = loadConfig({ VH_DATA_DIR: "/tmp/x", GITLAB_URL: "https://git.example.org/gitlab/", GITLAB_TOKEN: TOKEN, GITLAB_WEBHOOK_SECRET: "s" });
      expect(config.gitlab).toMatchObject({ url: "https://git.example.org/gitlab", token: TOKEN, webhookSecret: "s", requestTimeoutMs: 10_000 });
      gl = gitlabApi();
      const scope = nock("https://git.example.org", { reqheaders: { "private-token": TOKEN } })
        .get("/gitlab/api/v4/projects/5/repository/commits/main").reply(200, { id: SHA });
      const f = await createGitLabProvider({ config: config.gitlab!, log }).forInstallation(0);
      expect(await f.resolveCommit(repo, "main")).toBe(SHA);
      scope.done();
      expect(loadConfig({ VH_DATA_DIR: "/tmp/x", GITLAB_TOKEN: TOKEN }).gitlab).toMatchObject({ url: "https://gitlab.com", webhookSecret: null });
      expect(GITLAB).toBe("https://gitlab.example.com");
    });
  });
});
