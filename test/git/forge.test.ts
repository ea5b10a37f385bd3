/**
 * The plain-Git forge beyond the contract (test/contracts/git.contract.test.ts): refs of every kind
 * resolved, commits fetched into the mirror on demand, the archive's size limit, no pull requests,
 * and a provider that refuses a repository that is not linked.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGitProvider } from "../../app/forges/git/index.js";
import { linkRepository } from "../../app/forges/git/repos.js";
import { repoRefOf } from "../../app/forges/git/records.js";
import type { Forge, RepoRef } from "../../app/contracts/forge.js";
import type { GitDeps } from "../../app/forges/git/types.js";
import { createTestDatabase } from "../helpers/db.js";
import { git, gitDeps, startGitDaemon, tempDir, TestRepo, VALID_YAML, type GitDaemon } from "./helpers.js";

describe("the plain-Git forge", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let served: string;
  let data: string;
  let daemon: GitDaemon;
  let repo: TestRepo;
  let deps: GitDeps;
  let forge: Forge;
  let ref: RepoRef;
  let first: string;
  let second: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    served = tempDir("vh-git-forge-served-");
    data = tempDir("vh-git-forge-data-");
    daemon = await startGitDaemon(served);
    repo = new TestRepo(served, "forge");
    first = repo.commit({ "valohai.yaml": VALID_YAML, "big.bin": "x".repeat(1) }, "first");
    git(repo.work, "tag", "v1");
    git(repo.work, "tag", "-a", "-m", "annotated", "v1-annotated");
    git(repo.work, "push", "-q", "origin", "v1", "v1-annotated");
    second = repo.commit({ "train.py": "print(2)\n", "data/notes.txt": "n\n" }, "second");
    deps = gitDeps(db.sql, data);
    const view = await linkRepository(deps, { url: daemon.url("forge") });
    ref = repoRefOf(view);
    forge = await createGitProvider(deps).forInstallation(view.id);
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
    fs.rmSync(served, { recursive: true, force: true });
    fs.rmSync(data, { recursive: true, force: true });
  });

  it("resolves branches, tags (annotated ones to their commit), full and abbreviated shas; null for nothing", async () => {
    expect(await forge.resolveCommit(ref, "main")).toBe(second);
    // HEAD: the default branch's tip (what `vh exec run STEP` without --commit runs)
    expect(await forge.resolveCommit(ref, "HEAD")).toBe(second);
    expect(await forge.resolveCommit(ref, "refs/heads/main")).toBe(second);
    expect(await forge.resolveCommit(ref, "v1")).toBe(first);
    expect(await forge.resolveCommit(ref, "v1-annotated")).toBe(first);
    expect(await forge.resolveCommit(ref, first)).toBe(first);
    // an abbreviated sha: one the mirror has, or a watched branch's head
    expect(await forge.resolveCommit(ref, second.slice(0, 10))).toBe(second);
    expect(await forge.resolveCommit(ref, "0".repeat(40))).toBeNull();
    expect(await forge.resolveCommit(ref, "no-such-branch")).toBeNull();
    expect(await forge.resolveCommit(ref, "--upload-pack=touch /tmp/x")).toBeNull();
  });

  it("reads files at any commit the remote has, fetching it into the mirror; null for paths it lacks", async () => {
    expect(await forge.readFile(ref, first, "valohai.yaml")).toBe(VALID_YAML);
    expect(await forge.readFile(ref, first, "train.py")).toBeNull();
    expect(await forge.readFile(ref, second, "data/notes.txt")).toBe("n\n");
    expect(await forge.readFile(ref, second, "data")).toBeNull();
    expect(await forge.readFile(ref, second, "../../etc/passwd")).toBeNull();
    expect(await forge.readFile(ref, "f".repeat(40), "valohai.yaml")).toBeNull();
  });

  it("archives a commit, and fails clearly above the size limit", async () => {
    const gz = await forge.downloadArchive(ref, second, 10 * 1024 * 1024);
    expect(gz.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    await expect(forge.downloadArchive(ref, second, 64)).rejects.toThrow(/over the 64-byte limit \(VH_MAX_CODE_MB\)/);
    await expect(forge.downloadArchive(ref, "e".repeat(40), 1024)).rejects.toThrow(/has no commit eeeeeeeeeeee/);
  });

  it("has no pull requests, and everyone with an identity may run", async () => {
    await expect(forge.getPullRequest(ref, 1)).rejects.toMatchObject({ code: "not_found", message: expect.stringMatching(/plain Git hosts have no pull requests/) });
    expect(await forge.getPermission(ref, "anyone@example.com")).toBe("write");
    expect(await forge.getPermission(ref, "")).toBe("none");
  });

  it("refuses another repository's ref, and a repository that is not linked", async () => {
    await expect(forge.readFile({ ...ref, id: ref.id + 1 }, second, "valohai.yaml")).rejects.toThrow(/was asked about git repository/);
    const removed = await createGitProvider(deps).forInstallation(999);
    await expect(removed.readFile({ ...ref, id: 999 }, second, "valohai.yaml")).rejects.toThrow(/no linked Git repository with id 999/);
  });
});
