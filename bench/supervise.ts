/**
 * supervise: one worker supervising `BENCH_EXECUTIONS` running executions at once (500; 4 in smoke
 * mode), each a plain process printing one metadata line a second, for `BENCH_WINDOW_S` seconds
 * (60; 3 in smoke mode) once all of them run. Figures: the vh process's CPU seconds (user + system,
 * HTTP server, worker, scheduler and supervisor together) per execution-minute of supervision, its
 * peak RSS over the window, and how many were running. For planning scale-out by more workers
 * (issue 16); there is no raw engine to compare with.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startStack, waitFor } from "../test/helpers/stack.js";
import { uploadSnapshot } from "../test/helpers/snapshot.js";
import { benchPostgres, round, size } from "./support.js";

const N = size("BENCH_EXECUTIONS", 500, 4);
const WINDOW_S = size("BENCH_WINDOW_S", 60, 3);
const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/ticker");

export async function run(): Promise<Record<string, number>> {
  const pg = await benchPostgres();
  const stack = await startStack({ databaseUrl: pg.connectionString, env: { VH_SUPERVISOR_CAPACITY: String(N + 16) } });
  const count = async (status: string) =>
    Number((await stack.vh.database.sql<{ n: string }[]>`select count(*) as n from executions where status = ${status}`)[0]!.n);
  try {
    await stack.api("POST", "/api/v1/projects", { name: "bench" });
    const code = await uploadSnapshot(stack, fixture);
    // They run until stopped after the window (starting 500 on a small machine takes minutes).
    const seconds = 3600;
    for (let i = 0; i < N; i++) await stack.api("POST", "/api/v1/projects/bench/executions", { step: "tick", code, parameters: { seconds } });
    const t0 = Date.now();
    await waitFor(`${N} executions running`, async () => ((await count("running")) >= N ? true : undefined), 600_000, 250);
    console.log(`${N} running after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
    const cpu0 = process.cpuUsage();
    const w0 = Date.now();
    await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
    const cpu = process.cpuUsage(cpu0);
    const windowS = (Date.now() - w0) / 1000;
    clearInterval(sampler);
    const running = await count("running");
    // A machine that cannot hold them all shows it here (and in not_running), rather than a crash.
    const statuses = await stack.vh.database.sql<{ status: string; n: string }[]>`select status, count(*) as n from executions group by status order by status`;
    console.log(`at the end of the window: ${statuses.map((x) => `${x.n} ${x.status}`).join(", ")}`);
    const metadata = Number((await stack.vh.database.sql<{ n: string }[]>`select count(*) as n from metadata_events`)[0]!.n);
    if (metadata < N) throw new Error(`only ${metadata} metadata events were stored for ${N} executions`);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    return {
      cpu_s_per_exec_min: round(cpuS / ((N * windowS) / 60), 4),
      cpu_percent_of_one_core: round((cpuS / windowS) * 100, 1),
      peak_rss_mb: round(peak / 1048576, 1),
      executions: N,
      not_running: N - running,
      window_s: round(windowS, 1),
    };
  } finally {
    // Stop them all, whatever happened: their processes are detached and would outlive the stack.
    const live = await stack.vh.database.sql<{ counter: number }[]>`select counter from executions where status in ('queued', 'starting', 'running')`.catch(() => []);
    for (let i = 0; i < live.length; i += 50) {
      await Promise.all(live.slice(i, i + 50).map(({ counter }) => stack.api("POST", `/api/v1/projects/bench/executions/${counter}/stop`, {}).catch(() => {})));
    }
    await waitFor("every execution to end", async () => ((await count("running")) + (await count("stopping")) + (await count("starting")) === 0 ? true : undefined), 300_000, 500).catch(
      (err: unknown) => console.log(`not every execution ended: ${String(err)}`),
    );
    await stack.stop();
    await pg.stop();
  }
}
