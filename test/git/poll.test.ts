/**
 * Linking and polling against a real `git daemon` on loopback (git://) and file:// repositories, on
 * a real Postgres: the baseline, exactly one delivery (and one forge_event job) per new commit with
 * `/vh run`, lint kept with its line:column, backoff on an unreachable remote, removal stopping the
 * polls. `pollRepository` is called directly: no worker runs.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from "vitest";
import { linkRepository, listRepositories, removeRepository, repositoryStatus } from "../../app/forges/git/repos.js";
import { nextPollDelayMs, ensurePolls } from "../../app/forges/git/poll.js";
import { normalizeGit } from "../../app/forges/git/normalize.js";
import { repoPaths } from "../../app/forges/git/mirror.js";
import type { GitDeps } from "../../app/forges/git/types.js";
import { VhError } from "../../app/errors.js";
import { markDeliveryHandled } from "../../db/queries/deliveries.js";
import { createTestDatabase } from "../helpers/db.js";
import { BROKEN_YAML, git, gitDeliveries, gitDeps, pollAsWorker, queuedJobs, startGitDaemon, tempDir, TestRepo, VALID_YAML, type GitDaemon } from "./helpers.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let root: string;
let daemon: GitDaemon;
let dir: string;
let deps: GitDeps;

beforeAll(async () => {
  root = tempDir("vh-git-served-");
  daemon = await startGitDaemon(root);
});
afterAll(async () => {
  await daemon?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});
beforeEach(async () => {
  db = await createTestDatabase();
  dir = tempDir("vh-git-data-");
  deps = gitDeps(db.sql, dir);
});
afterEach(async () => {
  await db.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function newRepo(): { repo: TestRepo; name: string } {
  const name = `model${++n}`;
  const repo = new TestRepo(root, name);
  repo.commit({ "valohai.yaml": VALID_YAML, "train.py": "print(1)\n" }, "first\n\n/vh run train lr=0.5");
  return { repo, name };
}

describe("linking", () => {
  it("reaches the remote, takes its branches as the baseline, makes the project and forge row, and queues the first poll", async () => {
    const { repo, name } = newRepo();
    const view = await linkRepository(deps, { url: daemon.url(name), pollSeconds: 30 });
    expect(view).toMatchObject({
      name: `127.0.0.1/${name}`,
      kind: "git",
      project: name,
      branches: [],
      watching: ["main"],
      defaultBranch: "main",
      pollSeconds: 30,
      credentials: "none",
      webhook: null,
      lastPollAt: null,
      lastError: null,
      failures: 0,
    });
    const [row] = await db.sql<{ refs: Record<string, string> }[]>`select refs from git_repositories where id = ${view.id}`;
    expect(row!.refs).toEqual({ "refs/heads/main": repo.head() });
    const [forgeRow] = await db.sql`select forge, id::int, installation_id::int, full_name, removed_at from forge_repositories`;
    expect(forgeRow).toMatchObject({ forge: "git", id: view.id, installation_id: view.id, full_name: `127.0.0.1/${name}`, removed_at: null });
    const jobs = await queuedJobs(db.sql, "git_poll");
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ key: `git_poll:${view.id}`, queue: `git_poll:${view.id}`, payload: { repositoryId: view.id } });
    expect(jobs[0]!.inS).toBeGreaterThan(25);
    expect(jobs[0]!.inS).toBeLessThanOrEqual(30);
    expect(view.nextPollAt).not.toBeNull();
  });

  it("takes a project name, branches and a webhook secret; refuses the same URL twice", async () => {
    const { name } = newRepo();
    const view = await linkRepository(deps, { url: daemon.url(name), project: "vision", branches: ["refs/heads/main", "dev", "dev"], webhookSecret: "s".repeat(20) });
    expect(view).toMatchObject({ project: "vision", branches: ["main", "dev"], watching: ["main", "dev"], webhook: { path: `/api/git/webhooks/${view.id}` } });
    expect(JSON.stringify(view)).not.toContain("s".repeat(20));
    await expect(linkRepository(deps, { url: daemon.url(name) })).rejects.toMatchObject({ code: "conflict" });
  });

  it("fails at once for a repository that is not there, storing nothing", async () => {
    await expect(linkRepository(deps, { url: daemon.url("no-such-repo") })).rejects.toThrow(/git:\/\/127\.0\.0\.1:\d+\/no-such-repo\.git/);
    expect(await listRepositories(deps)).toEqual([]);
    expect(await queuedJobs(db.sql)).toEqual([]);
  });

  it("refuses URL kinds it does not link, passwords in URLs, and file:// without an admin", async () => {
    const refused = async (url: string, re: RegExp, opts = {}) => {
      const err = await linkRepository(deps, { url }, opts).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VhError);
      expect((err as Error).message).toMatch(re);
    };
    await refused("http://git.example.com/r.git", /plain http:\/\/ is refused/);
    await refused("ftp://git.example.com/r.git", /ftp:\/\/ is not a URL kind vh links/);
    await refused("https://me:hunter2@git.example.com/r.git", /password in it.*VH_GIT_TOKEN_/);
    await refused("/srv/git/r.git", /file:\/\/\/srv\/git\/r\.git/);
    await refused("ext::sh -c touch% /tmp/pwned", /spaces or control characters|not a URL kind/);
    await refused("ssh://git@git.example.com/r.git", /needs a deploy key/);
    const { repo } = newRepo();
    await expect(linkRepository(deps, { url: repo.fileUrl })).rejects.toMatchObject({ code: "forbidden" });
  });

  it("refuses a token variable outside VH_GIT_TOKEN_*, and one that is not set", async () => {
    await expect(linkRepository(deps, { url: "https://git.example.com/r.git", tokenEnv: "DATABASE_URL" })).rejects.toThrow(/VH_GIT_TOKEN_<NAME>/);
    await expect(linkRepository(deps, { url: "https://git.example.com/r.git", tokenEnv: "VH_GIT_TOKEN_NOPE" })).rejects.toThrow(/VH_GIT_TOKEN_NOPE is not set on the vh server/);
  });
});

describe("polling", () => {
  it("runs nothing for the baseline; one new commit with /vh run records exactly one delivery and one forge_event job; a second poll nothing", async () => {
    const { repo, name } = newRepo();
    const view = await linkRepository(deps, { url: daemon.url(name) });

    const quiet = await pollAsWorker(deps, view.id);
    expect(quiet).toMatchObject({ recorded: 0, outcome: "no new commits on the watched branches" });
    expect(await gitDeliveries(db.sql)).toEqual([]);

    const sha = repo.commit({ "train.py": "print(2)\n" }, "Try two rates\n\n/vh run train lr=[0.1,0.2]\n");
    const first = await pollAsWorker(deps, view.id);
    expect(first.recorded).toBe(1);
    const deliveries = await gitDeliveries(db.sql);
    expect(deliveries).toEqual([
      {
        id: `${view.id}:${sha}`,
        event: "push",
        installation_id: String(view.id),
        payload: {
          repositoryId: view.id,
          name: `127.0.0.1/${name}`,
          ref: "refs/heads/main",
          sha,
          message: "Try two rates\n\n/vh run train lr=[0.1,0.2]",
          author: { name: "Ada Lovelace", email: "ada@example.com" },
        },
      },
    ]);
    const events = await queuedJobs(db.sql, "forge_event");
    expect(events.map((j) => j.payload)).toEqual([{ forge: "git", deliveryId: `${view.id}:${sha}` }]);

    // the bot's view of it
    expect(normalizeGit("push", deliveries[0]!.payload)).toEqual({
      kind: "push",
      repo: { forge: "git", id: view.id, fullName: `127.0.0.1/${name}`, owner: "127.0.0.1", name, installationId: view.id },
      ref: "refs/heads/main",
      headSha: sha,
      message: "Try two rates\n\n/vh run train lr=[0.1,0.2]",
      pusher: { login: "ada@example.com", id: 0, isBot: false },
    });

    const second = await pollAsWorker(deps, view.id);
    expect(second.recorded).toBe(0);
    expect(await gitDeliveries(db.sql)).toHaveLength(1);
    expect(await queuedJobs(db.sql, "forge_event")).toHaveLength(1);

    const status = await repositoryStatus(deps, String(view.id));
    expect(status).toMatchObject({ lastCommitSha: sha, lastError: null, lastLint: null, failures: 0, lastRun: { sha, outcome: null } });
    // what the bot made of it shows there (a plain Git host has nowhere else to say it)
    await markDeliveryHandled(db.sql, "git", `${view.id}:${sha}`, "created #1, #2");
    expect((await repositoryStatus(deps, String(view.id))).lastRun).toMatchObject({ sha, outcome: "created #1, #2" });
    expect(status.lastPollAt).not.toBeNull();
    // the poll re-added itself, once, at the interval
    const polls = await queuedJobs(db.sql, "git_poll");
    expect(polls).toHaveLength(1);
    expect(polls[0]!.inS).toBeGreaterThan(55);
  });

  it("records no delivery for a commit without /vh run, but still lints it", async () => {
    const { repo, name } = newRepo();
    const view = await linkRepository(deps, { url: daemon.url(name) });
    const sha = repo.commit({ "valohai.yaml": BROKEN_YAML }, "Tweak the step");
    const r = await pollAsWorker(deps, view.id);
    expect(r.recorded).toBe(0);
    expect(r.outcome).toContain("no /vh run");
    expect(await gitDeliveries(db.sql)).toEqual([]);
    const status = await repositoryStatus(deps, `127.0.0.1/${name}`);
    expect(status.lastCommitSha).toBe(sha);
    expect(status.lastLint).toMatch(/^valohai\.yaml:7:15: step "train": parameter "lr": "type" must be one of .*did you mean "float"\?$/);

    // fixed: the lint clears
    repo.commit({ "valohai.yaml": VALID_YAML }, "Fix the type");
    await pollAsWorker(deps, view.id);
    expect((await repositoryStatus(deps, String(view.id))).lastLint).toBeNull();

    // gone: said so
    repo.commit({ "valohai.yaml": null }, "drop it");
    await pollAsWorker(deps, view.id);
    expect((await repositoryStatus(deps, String(view.id))).lastLint).toMatch(/^valohai\.yaml: no such file at [0-9a-f]{7}/);
  });

  it("watches only its branches: a new branch is handled from its first commit, others are not", async () => {
    const { repo, name } = newRepo();
    const view = await linkRepository(deps, { url: daemon.url(name), branches: ["main", "exp"] });
    repo.commit({}, "/vh run train", "other");
    const exp = repo.commit({}, "on exp\n/vh run train lr=0.3", "exp");
    const r = await pollAsWorker(deps, view.id);
    expect(r.recorded).toBe(1);
    expect((await gitDeliveries(db.sql)).map((d) => d.id)).toEqual([`${view.id}:${exp}`]);
  });

  it("a watched branch created later at a commit that was already there runs nothing (the baseline rule)", async () => {
    const { repo, name } = newRepo();
    const view = await linkRepository(deps, { url: daemon.url(name), branches: ["main", "release"] });
    const old = repo.head("main");
    // `release` appears, pointing at main's old head, whose message has /vh run
    git(repo.work, "push", "-q", "origin", `${old}:refs/heads/release`);
    const r = await pollAsWorker(deps, view.id);
    expect(r.recorded).toBe(0);
    expect(r.outcome).toBe(`release ${old.slice(0, 7)}: new branch at a commit seen before, not run`);
    expect((await gitDeliveries(db.sql)).filter((d) => d.id.startsWith(`${view.id}:`))).toEqual([]);
  });

  it("a file:// repository polls like any other (an admin linked it)", async () => {
    const { repo } = newRepo();
    const view = await linkRepository(deps, { url: repo.fileUrl }, { allowFile: true });
    expect(view.kind).toBe("file");
    const sha = repo.commit({}, "/vh run train");
    expect((await pollAsWorker(deps, view.id)).recorded).toBe(1);
    expect((await gitDeliveries(db.sql)).map((d) => d.id)).toEqual([`${view.id}:${sha}`]);
    expect(fs.existsSync(path.join(repoPaths(dir, view.id).mirror, "HEAD"))).toBe(true);
  });

  it("an unreachable remote records the error, counts failures and backs off; a good poll clears them", async () => {
    const own = tempDir("vh-git-flaky-");
    const flaky = await startGitDaemon(own);
    try {
      const repo = new TestRepo(own, "flaky");
      repo.commit({ "valohai.yaml": VALID_YAML }, "first");
      const view = await linkRepository(deps, { url: flaky.url("flaky"), pollSeconds: 10 });
      await flaky.stop();

      const a = await pollAsWorker(deps, view.id);
      expect(a.outcome).toMatch(/^failed \(1 in a row\): git:\/\/127\.0\.0\.1:\d+\/flaky\.git: the Git host is unreachable from the vh server/);
      expect(a.nextDelayMs).toBe(20_000);
      let s = await repositoryStatus(deps, String(view.id));
      expect(s).toMatchObject({ failures: 1 });
      expect(s.lastError).toMatch(/unreachable.*Connection refused|unreachable.*unable to connect/);
      const b = await pollAsWorker(deps, view.id);
      expect(b.nextDelayMs).toBe(40_000);
      const polls = await queuedJobs(db.sql, "git_poll");
      expect(polls).toHaveLength(1);
      expect(polls[0]!.inS).toBeGreaterThan(35);

      await flaky.start();
      const c = await pollAsWorker(deps, view.id);
      expect(c.nextDelayMs).toBe(10_000);
      s = await repositoryStatus(deps, String(view.id));
      expect(s).toMatchObject({ failures: 0, lastError: null });
    } finally {
      await flaky.stop();
      fs.rmSync(own, { recursive: true, force: true });
    }
  });

  it("backs off by 2^failures, capped at 10 minutes (or the interval when longer), jittered ±10 %", () => {
    expect(nextPollDelayMs(60, 0, () => 0.5)).toBe(60_000);
    expect(nextPollDelayMs(60, 3, () => 0.5)).toBe(480_000);
    expect(nextPollDelayMs(60, 4, () => 0.5)).toBe(600_000);
    expect(nextPollDelayMs(60, 40, () => 0.5)).toBe(600_000);
    expect(nextPollDelayMs(3600, 2, () => 0.5)).toBe(3_600_000);
    expect(nextPollDelayMs(60, 0, () => 0)).toBe(54_000);
    expect(nextPollDelayMs(60, 0, () => 0.999999)).toBeLessThanOrEqual(66_000);
  });

  it("removal stops polling: the pending poll goes, a poll in flight does not re-add, files go; the project stays", async () => {
    const { repo, name } = newRepo();
    const view = await linkRepository(deps, { url: daemon.url(name) });
    repo.commit({}, "more");
    await pollAsWorker(deps, view.id);
    expect(await queuedJobs(db.sql, "git_poll")).toHaveLength(1);
    expect(fs.existsSync(repoPaths(dir, view.id).mirror)).toBe(true);

    expect(await removeRepository(deps, String(view.id))).toEqual({ id: view.id, name: `127.0.0.1/${name}` });
    expect(await queuedJobs(db.sql, "git_poll")).toEqual([]);
    expect(fs.existsSync(repoPaths(dir, view.id).mirror)).toBe(false);
    const [fr] = await db.sql<{ removed_at: Date | null }[]>`select removed_at from forge_repositories where forge = 'git' and id = ${view.id}`;
    expect(fr!.removed_at).not.toBeNull();
    expect(await db.sql`select 1 from projects where name = ${name}`).toHaveLength(1);

    // the poll that was already running when it was removed
    const late = await pollAsWorker(deps, view.id);
    expect(late).toMatchObject({ recorded: 0, nextDelayMs: null });
    expect(await queuedJobs(db.sql, "git_poll")).toEqual([]);
    await expect(repositoryStatus(deps, String(view.id))).rejects.toMatchObject({ code: "not_found" });
    await expect(removeRepository(deps, String(view.id))).rejects.toMatchObject({ code: "not_found" });
  });

  it("ensurePolls queues a poll for each repository that lost its own", async () => {
    const { name } = newRepo();
    const view = await linkRepository(deps, { url: daemon.url(name) });
    expect(await ensurePolls(deps)).toBe(0);
    await db.sql`delete from graphile_worker._private_jobs`;
    expect(await ensurePolls(deps)).toBe(1);
    expect((await queuedJobs(db.sql, "git_poll")).map((j) => j.key)).toEqual([`git_poll:${view.id}`]);
  });
});
