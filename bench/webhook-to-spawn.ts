/**
 * webhook-to-spawn: a signed `issue_comment` with `/vh run mark i=[1..100]` POSTed to the real
 * server → all 100 executions queued (one transaction) and the first process spawned (it stamps
 * `date +%s%N`), p50 and p99 over BENCH_N sweeps — against raw graphile-worker add_job → task
 * start in the same run. GitHub's API is nock (in-process), so GitHub's own latency is not in it.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import nock from "nock";
import { stopExecution } from "../app/executions/stop.js";
import { startStack, tempDir, waitFor } from "../test/helpers/stack.js";
import { TestOctokit, commentPayload, githubApi, githubEnv, pullRequest, repoPath, repoTarball, signedPost } from "../test/github/helpers.js";
import { benchPostgres, percentile, rawGraphileDispatch, round, size } from "./support.js";

const N = size("BENCH_N", 10, 1);
const POINTS = size("BENCH_POINTS", 100, 5);
const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/github-sweep");
const HEAD = "b".repeat(40);

export async function run(): Promise<Record<string, number>> {
  const pg = await benchPostgres();
  const marks = tempDir("vh-bench-gh-");
  // Jobs write their start stamps here; as root each runs as an OS user of its own (docs/threat-model.md).
  fs.chmodSync(marks, 0o1777);
  nock.disableNetConnect();
  nock.enableNetConnect((h) => h.startsWith("127.0.0.1") || h.startsWith("localhost"));
  const gh = githubApi();
  try {
    // raw graphile-worker: add_job → task start
    const raw = await rawGraphileDispatch(pg.connectionString, size("BENCH_RAW_N", 50, 5), 0);

    const stack = await startStack({ databaseUrl: pg.connectionString, env: githubEnv({ VH_GITHUB_REPORT_INTERVAL_S: "5" }), github: { Octokit: TestOctokit } });
    const yaml = fs.readFileSync(path.join(fixture, "valohai.yaml"), "utf8");
    const tarball = await repoTarball(HEAD, fixture);
    gh.many()
      .post(/\/reactions$/).reply(201, {})
      .get(`${repoPath}/collaborators/Codertocat/permission`).reply(200, { permission: "write", role_name: "write" })
      .get(`${repoPath}/pulls/1`).reply(200, pullRequest(1, HEAD))
      .get(`${repoPath}/contents/valohai.yaml`).query(true).reply(200, yaml)
      .get(`${repoPath}/tarball/${HEAD}`).reply(200, tarball, { "content-type": "application/x-gzip" })
      .get(/\/check-runs\?/).reply(200, { total_count: 0, check_runs: [] })
      .post(`${repoPath}/check-runs`).reply(201, { id: 1 })
      .patch(/\/check-runs\/1$/).reply(200, { id: 1 })
      .get(/\/issues\/1\/comments\?/).reply(200, [])
      .post(`${repoPath}/issues/1/comments`).reply(201, { id: 2 })
      .patch(/\/issues\/comments\/2$/).reply(200, { id: 2 });
    const times: number[] = [];
    try {
      const list = Array.from({ length: POINTS }, (_v, i) => i + 1).join(",");
      for (let k = 0; k < N + 1; k++) {
        const marker = path.join(marks, `s${k}`);
        const t0 = BigInt(Date.now()) * 1_000_000n;
        const res = await signedPost(stack.vh.url, "issue_comment", commentPayload(`/vh run mark marker=${marker} i=[${list}]`, { commentId: 100 + k }), `bench-${k}`);
        if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
        const first = await waitFor("the first process", async () => {
          const files = fs.readdirSync(marks).filter((f) => f.startsWith(`s${k}-`));
          const stamps = files.map((f) => fs.readFileSync(path.join(marks, f), "utf8").trim()).filter(Boolean).map(BigInt);
          return stamps.length ? stamps.reduce((a, b) => (a < b ? a : b)) : undefined;
        }, 60_000, 2);
        // Sweeps run one after another: this comment's sweep is the newest, and there is one per comment so far.
        const sweeps = await stack.vh.database.sql<{ n: number }[]>`
          select count(se.*)::int as n from sweeps s left join sweep_executions se on se.sweep_id = s.id group by s.id order by min(s.created_at) desc`;
        if (sweeps.length !== k + 1) throw new Error(`expected ${k + 1} sweeps after ${k + 1} comments, found ${sweeps.length}`);
        if (sweeps[0]!.n !== POINTS) throw new Error(`expected ${POINTS} executions in the sweep, got ${sweeps[0]!.n}`);
        if (k > 0) times.push(Number(first - t0) / 1e6); // the first sweep also fetches and repacks the tarball
        const active = await stack.vh.database.sql<{ id: string }[]>`select id from executions where status in ('queued', 'starting', 'running')`;
        for (const a of active) await stopExecution(stack.vh.database.sql, a.id);
        await waitFor("the sweep to end", async () => {
          const [r] = await stack.vh.database.sql<{ n: number }[]>`select count(*)::int as n from executions where status not in ('completed', 'failed', 'error', 'stopped', 'lost')`;
          return r!.n === 0 ? true : undefined;
        }, 120_000, 50);
      }
    } finally {
      await stack.stop();
    }
    return { p50_ms: round(percentile(times, 50)), p99_ms: round(percentile(times, 99)), raw_p50_ms: round(percentile(raw, 50)) };
  } finally {
    gh.reset(); // the report writes may or may not happen within a short run: not asserted here
    fs.rmSync(marks, { recursive: true, force: true });
    await pg.stop();
  }
}
