/**
 * The forge contract against GitLab faked strictly at the HTTP layer: every request the suite's
 * checks make, in order, answered once; an unmatched request, or one left unmade, fails. A project
 * whose commit holds CONTRACT_FILES (archive.tar.gz wraps them in `<project>-<sha>-<sha>/`), a
 * branch on it, a Developer and a non-member, and a merge request whose head is the commit.
 */
import nock from "nock";
import { createGitLabProvider } from "../../app/forges/gitlab/index.js";
import { createLogger } from "../../app/log.js";
import { API, GITLAB, SHA, TOKEN, archiveOf, gitlabApi, gitlabConfig, projectPath, repo, strictNet } from "../gitlab/helpers.js";
import { CONTRACT_FILES, forgeContract, type ContractWorld } from "./forge-contract.js";

const BOT = { id: 99, username: "vh-bot" };
const MARKER = "<!-- vh:contract -->";

forgeContract({
  name: "gitlab (nock)",
  async setup(): Promise<ContractWorld> {
    strictNet();
    const tgz = await archiveOf(CONTRACT_FILES, SHA);
    const gl = gitlabApi();
    const s = gl.scope;
    const notes = `${projectPath}/merge_requests/1/notes`;
    const listed = { sort: "asc", order_by: "created_at", per_page: "100", page: "1" };
    const statuses = `${projectPath}/repository/commits/${SHA}/statuses`;
    s
      // readFile: the file, then one the commit lacks
      .get(`${projectPath}/repository/files/valohai.yaml/raw`).query({ ref: SHA }).reply(200, CONTRACT_FILES["valohai.yaml"], { "content-type": "text/plain; charset=utf-8" })
      .get(`${projectPath}/repository/files/no%2Fsuch%2Ffile.txt/raw`).query({ ref: SHA }).reply(404, { message: "404 File Not Found" })
      // downloadArchive
      .get(`${projectPath}/repository/archive.tar.gz`).query({ sha: SHA }).reply(200, tgz, { "content-type": "application/x-gzip" })
      // resolveCommit: branch, HEAD (GitLab resolves it to the default branch), sha, nothing
      .get(`${projectPath}/repository/commits/main`).reply(200, { id: SHA })
      .get(`${projectPath}/repository/commits/HEAD`).reply(200, { id: SHA })
      .get(`${projectPath}/repository/commits/${SHA}`).reply(200, { id: SHA })
      .get(`${projectPath}/repository/commits/no-such-branch-anywhere`).reply(404, { message: "404 Commit Not Found" })
      // getPermission: a Developer, a non-member
      .get(`${API}/users`).query({ username: "dev" }).reply(200, [{ id: 7, username: "dev" }])
      .get(`${projectPath}/members/all/7`).reply(200, { id: 7, username: "dev", access_level: 30, state: "active" })
      .get(`${API}/users`).query({ username: "outsider" }).reply(200, [{ id: 8, username: "outsider" }])
      .get(`${projectPath}/members/all/8`).reply(404, { message: "404 Not found" })
      // getPullRequest
      .get(`${projectPath}/merge_requests/1`)
      .reply(200, { iid: 1, title: "Contract", state: "opened", sha: SHA, source_branch: "main", source_project_id: repo.id, target_project_id: repo.id, author: { id: 7, username: "dev" } });

    // the sticky note: created, unchanged by its known id, edited in place when found again
    s
      .get(`${API}/user`).reply(200, BOT)
      .get(notes).query(listed).reply(200, [], { "x-next-page": "" })
      .post(notes, { body: `${MARKER}\none` }).reply(201, { id: 501, body: `${MARKER}\none`, author: BOT })
      .get(`${notes}/501`).reply(200, { id: 501, body: `${MARKER}\none`, author: BOT })
      .get(notes).query(listed).reply(200, [{ id: 501, body: `${MARKER}\none`, system: false, author: BOT }], { "x-next-page": "" })
      .put(`${notes}/501`, { body: `${MARKER}\ntwo` }).reply(200, { id: 501, body: `${MARKER}\ntwo`, author: BOT });
    // the commit status: running (none yet), then success
    const later = nock(GITLAB, { reqheaders: { "private-token": TOKEN } })
      .get(statuses).query({ name: "vh: train" }).reply(200, [])
      .post(`${projectPath}/statuses/${SHA}`, { state: "running", name: "vh: train", description: "1 running" }).reply(201, { id: 900, name: "vh: train", status: "running" })
      .get(statuses).query({ name: "vh: train" }).reply(200, [{ id: 900, name: "vh: train", status: "running", description: "1 running" }])
      .post(`${projectPath}/statuses/${SHA}`, { state: "success", name: "vh: train", description: "1 completed" }).reply(201, { id: 900, name: "vh: train", status: "success" });

    const forge = await createGitLabProvider({ config: gitlabConfig(), log: createLogger("silent") }).forInstallation(0);
    let writes = 0;
    return {
      forge,
      repo,
      sha: SHA,
      branch: "main",
      writer: "dev",
      outsider: "outsider",
      pr: { number: 1 },
      capabilities: { comments: true, checkRuns: false, commitStatuses: true },
      done() {
        // after the sticky note's check, every request up to it was made; after the status's, all of them
        writes++;
        (writes === 1 ? gl.scope : later).done();
      },
      async close() {
        try {
          later.done();
        } finally {
          gl.done();
          nock.enableNetConnect();
        }
      },
    };
  },
});
