/**
 * webhook-throughput: signed webhooks (real issue_comment payloads) POSTed by BENCH_CONCURRENCY
 * clients; accepted per second, p99 of the answer, and how many were lost (answered 2xx but never
 * recorded and handled by the worker). Comments without `/vh` are handled without a GitHub call,
 * so this measures vh's own path: verify → record once → queue → handle.
 */
import nock from "nock";
import { startStack, waitFor } from "../test/helpers/stack.js";
import { TestOctokit, commentPayload, githubEnv, signedPost } from "../test/github/helpers.js";
import { benchPostgres, percentile, round, size } from "./support.js";

const TOTAL = size("BENCH_N", 2000, 40);
const CONCURRENCY = size("BENCH_CONCURRENCY", 32, 4);

export async function run(): Promise<Record<string, number>> {
  const pg = await benchPostgres();
  nock.disableNetConnect();
  nock.enableNetConnect((h) => h.startsWith("127.0.0.1") || h.startsWith("localhost"));
  const stack = await startStack({ databaseUrl: pg.connectionString, env: githubEnv({ VH_WORKER_CONCURRENCY: "8" }), github: { Octokit: TestOctokit } });
  try {
    const latencies: number[] = [];
    let accepted = 0;
    let next = 0;
    const payload = commentPayload("Looks good to me; the numbers in the table match.");
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (;;) {
          const i = next++;
          if (i >= TOTAL) return;
          const s = performance.now();
          const res = await signedPost(stack.vh.url, "issue_comment", payload, `tp-${i}`);
          await res.arrayBuffer();
          latencies.push(performance.now() - s);
          if (res.status === 202) accepted++;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    await waitFor("every delivery handled", async () => {
      const [r] = await stack.vh.database.sql<{ n: number }[]>`select count(*)::int as n from forge_deliveries where processed_at is not null`;
      return r!.n >= accepted ? true : undefined;
    }, 120_000, 100).catch(() => undefined);
    const [handled] = await stack.vh.database.sql<{ n: number }[]>`select count(*)::int as n from forge_deliveries where processed_at is not null and id like 'tp-%'`;
    return { per_s: round(accepted / seconds, 1), p99_ms: round(percentile(latencies, 99)), lost: TOTAL - handled!.n };
  } finally {
    await stack.stop();
    await pg.stop();
  }
}
