/**
 * The forge contract against GitHub faked strictly at the HTTP layer (nock): every request the
 * suite's checks make, in order, answered once; an unmatched request, or one left unmade, fails.
 * A repository whose commit holds CONTRACT_FILES (the tarball wraps them in `owner-repo-sha7/`),
 * its default branch, a writer and an outsider, and a pull request whose head is the commit.
 */
import nock from "nock";
import { wrappedTarball } from "../helpers/snapshot.js";
import { createGitHubProvider } from "../../app/forges/github/index.js";
import { loadConfig } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import type { RepoRef } from "../../app/contracts/forge.js";
import { INSTALLATION, OWNER, REPO, REPO_ID, TestOctokit, githubApi, githubEnv, pullRequest, repoPath } from "../github/helpers.js";
import { CONTRACT_FILES, forgeContract, type ContractWorld } from "./forge-contract.js";

const SHA = "c0".repeat(20);
const MARKER = "<!-- vh:contract -->";
const repo: RepoRef = { forge: "github", id: REPO_ID, fullName: `${OWNER}/${REPO}`, owner: OWNER, name: REPO, installationId: INSTALLATION };


forgeContract({
  name: "github (nock)",
  async setup(): Promise<ContractWorld> {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    const gh = githubApi();
    const reads = gh.once();
    reads
      // readFile: the file, then one the commit lacks
      .get(`${repoPath}/contents/valohai.yaml`).query({ ref: SHA }).reply(200, CONTRACT_FILES["valohai.yaml"], { "content-type": "application/vnd.github.raw+json" })
      .get(`${repoPath}/contents/no%2Fsuch%2Ffile.txt`).query({ ref: SHA }).reply(404, { message: "Not Found" })
      // downloadArchive
      .get(`${repoPath}/tarball/${SHA}`).reply(200, await wrappedTarball(CONTRACT_FILES, `${OWNER}-${REPO}-${SHA.slice(0, 7)}`), { "content-type": "application/x-gzip" })
      // resolveCommit: branch, HEAD, sha, nothing
      .get(`${repoPath}/commits/master`).reply(200, { sha: SHA })
      .get(`${repoPath}/commits/HEAD`).reply(200, { sha: SHA })
      .get(`${repoPath}/commits/${SHA}`).reply(200, { sha: SHA })
      .get(`${repoPath}/commits/no-such-branch-anywhere`).reply(422, { message: "No commit found for SHA: no-such-branch-anywhere" })
      // getPermission: a writer, an outsider
      .get(`${repoPath}/collaborators/writer/permission`).reply(200, { permission: "write", role_name: "write" })
      .get(`${repoPath}/collaborators/outsider/permission`).reply(404, { message: "Not Found" })
      // getPullRequest
      .get(`${repoPath}/pulls/1`).reply(200, pullRequest(1, SHA));
    // the sticky comment: created, written by its known id, edited in place when found again
    const comments = gh.once();
    comments
      .get(`${repoPath}/issues/1/comments`).query({ per_page: "100", page: "1" }).reply(200, [])
      .post(`${repoPath}/issues/1/comments`, { body: `${MARKER}\none` }).reply(201, { id: 701 })
      .patch(`${repoPath}/issues/comments/701`, { body: `${MARKER}\none` }).reply(200, { id: 701 })
      .get(`${repoPath}/issues/1/comments`).query({ per_page: "100", page: "1" }).reply(200, [{ id: 701, body: `${MARKER}\none` }])
      .patch(`${repoPath}/issues/comments/701`, { body: `${MARKER}\ntwo` }).reply(200, { id: 701 });
    // the check run: created (none found by its name), then updated by its id
    const checks = gh.once();
    checks
      .get(`${repoPath}/commits/${SHA}/check-runs`).query({ check_name: "vh: train", filter: "all", per_page: "100" }).reply(200, { total_count: 0, check_runs: [] })
      .post(`${repoPath}/check-runs`, (b: Record<string, unknown>) => b["head_sha"] === SHA && b["external_id"] === "contract-1" && b["status"] === "in_progress")
      .reply(201, { id: 801 })
      .patch(`${repoPath}/check-runs/801`, (b: Record<string, unknown>) => b["status"] === "completed" && b["conclusion"] === "success")
      .reply(200, { id: 801 });

    const config = loadConfig({ VH_DATA_DIR: "/tmp/x", ...githubEnv() });
    const forge = await createGitHubProvider({ config: config.github!, log: createLogger("silent"), Octokit: TestOctokit }).forInstallation(INSTALLATION);
    let writes = 0;
    return {
      forge,
      repo,
      sha: SHA,
      branch: "master",
      writer: "writer",
      outsider: "outsider",
      pr: { number: 1 },
      capabilities: { comments: true, checkRuns: true, commitStatuses: false },
      done() {
        writes++;
        // after the comment's check every read and comment request was made; after the check run's, all of them
        const expectDone = writes === 1 ? [reads, comments] : [reads, comments, checks];
        for (const s of expectDone) s.done();
      },
      async close() {
        gh.done();
        nock.enableNetConnect();
      },
    };
  },
});
