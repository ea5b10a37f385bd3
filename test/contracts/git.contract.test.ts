/**
 * The forge contract for plain Git: a repository served by a real `git daemon` on loopback, linked
 * as vh links any (a real Postgres holds the link), read through vh's own mirror. A plain Git host
 * has no pull requests and no capabilities. Everyone may run (linking is the authorisation); the
 * contract's outsider is the empty login, an actor with no identity at all.
 */
import fs from "node:fs";
import { forgeContract, CONTRACT_FILES } from "./forge-contract.js";
import { createGitProvider } from "../../app/forges/git/index.js";
import { linkRepository } from "../../app/forges/git/repos.js";
import { repoRefOf } from "../../app/forges/git/records.js";
import { createTestDatabase } from "../helpers/db.js";
import { gitDeps, startGitDaemon, tempDir, TestRepo } from "../git/helpers.js";

forgeContract({
  name: "git (git daemon on loopback)",
  async setup() {
    const db = await createTestDatabase();
    const served = tempDir("vh-git-contract-served-");
    const data = tempDir("vh-git-contract-data-");
    const daemon = await startGitDaemon(served);
    const repo = new TestRepo(served, "contract");
    const sha = repo.commit(CONTRACT_FILES, "the contract's files");
    const deps = gitDeps(db.sql, data);
    const view = await linkRepository(deps, { url: daemon.url("contract") });
    const forge = await createGitProvider(deps).forInstallation(view.id);
    return {
      forge,
      repo: repoRefOf(view),
      sha,
      branch: "main",
      writer: "ada@example.com",
      outsider: "",
      capabilities: { comments: false, checkRuns: false, commitStatuses: false },
      async close() {
        await daemon.stop();
        await db.drop();
        fs.rmSync(served, { recursive: true, force: true });
        fs.rmSync(data, { recursive: true, force: true });
      },
    };
  },
});
