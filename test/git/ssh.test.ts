/**
 * ssh:// repositories against the suite's real OpenSSH sshd on loopback (test/helpers/sshd.ts): a
 * deploy key stored 0600 and never shown, the host key pinned on first contact, a changed host key
 * failing the poll with a clear error, a refused key failing the link. vh's data dir has a space
 * and a quote in its path, so every token of GIT_SSH_COMMAND must be quoted for this to work.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { linkRepository, repositoryStatus } from "../../app/forges/git/repos.js";
import { repoPaths } from "../../app/forges/git/mirror.js";
import { createGitProvider } from "../../app/forges/git/index.js";
import { repoRefOf } from "../../app/forges/git/records.js";
import type { GitDeps } from "../../app/forges/git/types.js";
import { createTestDatabase } from "../helpers/db.js";
import { skipWithoutSshd, startSshd, type SshdHost } from "../helpers/sshd.js";
import { gitDeliveries, gitDeps, pollAsWorker, tempDir, TestRepo, VALID_YAML } from "./helpers.js";

describe.skipIf(skipWithoutSshd)("ssh:// repositories", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let host: SshdHost;
  let dataRoot: string;
  let deps: GitDeps;
  let repo: TestRepo;
  let url: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    host = await startSshd("gitremote");
    const served = path.join(host.dir, "repos");
    fs.mkdirSync(served);
    repo = new TestRepo(served, "model");
    repo.commit({ "valohai.yaml": VALID_YAML }, "first\n/vh run train");
    url = `ssh://${host.url.slice("ssh://".length).split("@")[0]}@127.0.0.1:${host.port}${repo.bare}`;
    dataRoot = tempDir("vh-git-ssh-");
    deps = gitDeps(db.sql, path.join(dataRoot, "data dir 'q'"));
  });
  afterAll(async () => {
    await host?.stop();
    await db?.drop();
    if (dataRoot) fs.rmSync(dataRoot, { recursive: true, force: true });
  });

  it("a key the server refuses fails the link, naming what to fix", async () => {
    const other = path.join(dataRoot, "other_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    await expect(linkRepository(deps, { url, keyPem: fs.readFileSync(other, "utf8") })).rejects.toThrow(/refused the deploy key.*Add the key's public half/);
    await expect(linkRepository(deps, { url, keyPem: fs.readFileSync(`${other}.pub`, "utf8") })).rejects.toThrow(/not a private key|public key/);
  });

  it("links with a deploy key, pins the host key, and polls new commits; a changed host key fails the poll clearly", async () => {
    const view = await linkRepository(deps, { url, keyPem: host.privateKey });
    expect(view).toMatchObject({ kind: "ssh", credentials: "deploy key", hostKeyPinned: true, defaultBranch: "main", watching: ["main"] });
    expect(JSON.stringify(view)).not.toContain("PRIVATE KEY");
    const keyFile = repoPaths(deps.git.dir, view.id).keyFile;
    expect(fs.readFileSync(keyFile, "utf8")).toBe(host.privateKey.endsWith("\n") ? host.privateKey : `${host.privateKey}\n`);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    const [row] = await db.sql<{ known_hosts: string }[]>`select known_hosts from git_repositories where id = ${view.id}`;
    const hostPub = fs.readFileSync(path.join(host.dir, "host_ed25519.pub"), "utf8").split(" ").slice(0, 2).join(" ");
    expect(row!.known_hosts).toContain(`[127.0.0.1]:${host.port} ${hostPub}`);

    const sha = repo.commit({ "train.py": "print(3)\n" }, "over ssh\n\n/vh run train lr=[0.1,0.2]");
    expect((await pollAsWorker(deps, view.id)).recorded).toBe(1);
    expect((await gitDeliveries(db.sql)).map((d) => d.id)).toEqual([`${view.id}:${sha}`]);

    // the forge reads through the same credentials
    const forge = await createGitProvider(deps).forInstallation(view.id);
    expect(await forge.readFile(repoRefOf(view), sha, "train.py")).toBe("print(3)\n");

    // the host comes back with another key: refused, and said why
    host.kill();
    fs.rmSync(path.join(host.dir, "host_ed25519"));
    fs.rmSync(path.join(host.dir, "host_ed25519.pub"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(host.dir, "host_ed25519")]);
    await host.start();
    repo.commit({}, "after the key change\n/vh run train");
    const r = await pollAsWorker(deps, view.id);
    expect(r.recorded).toBe(0);
    const s = await repositoryStatus(deps, String(view.id));
    expect(s.failures).toBe(1);
    expect(s.lastError).toMatch(/the SSH host key is not the one pinned when the repository was linked.*remove the repository \(vh repo remove\) and link it again/);
    // the pin itself is unchanged
    const [after] = await db.sql<{ known_hosts: string }[]>`select known_hosts from git_repositories where id = ${view.id}`;
    expect(after!.known_hosts).toBe(row!.known_hosts);
  });
});
