/**
 * log-ingest: a script prints 1,000,000 short lines (10 % JSON metrics); how many lines per second
 * vh stores (log lines + metadata events, committed to Postgres), against `cat > file` of the same
 * output in the same run; and the peak RSS of the vh process (server + worker + supervisor).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startStack, tempDir, waitFor } from "../test/helpers/stack.js";
import { uploadSnapshot } from "../test/helpers/snapshot.js";
import { benchPostgres, round, size } from "./support.js";

const LINES = size("BENCH_LINES", 1_000_000, 2_000);
// The test suite's fixture project: its `spam` step is the script measured here.
const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), "../test/fixtures/projects/train-basic");

export async function run(): Promise<Record<string, number>> {
  const pg = await benchPostgres();
  const tmp = tempDir("vh-bench-logs-");
  try {
    // baseline: the same program's output through `cat > file`
    const t0 = process.hrtime.bigint();
    execFileSync("/bin/sh", ["-c", `python3 spam.py --lines=${LINES} | cat > ${JSON.stringify(path.join(tmp, "out.txt"))}`], { cwd: fixture });
    const catS = Number(process.hrtime.bigint() - t0) / 1e9;
    const produced = fs.readFileSync(path.join(tmp, "out.txt"), "utf8").split("\n").length - 1;
    if (produced !== LINES) throw new Error(`baseline produced ${produced} lines`);

    const stack = await startStack({ databaseUrl: pg.connectionString });
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    try {
      await stack.api("POST", "/api/v1/projects", { name: "bench" });
      const code = await uploadSnapshot(stack, fixture);
      const e = await stack.api<{ id: string; counter: number }>("POST", "/api/v1/projects/bench/executions", {
        step: "spam",
        code,
        parameters: { lines: LINES },
      });
      const done = await waitFor("ingest", async () => {
        const [r] = await stack.vh.database.sql<{ status: string; started_at: Date | null; ended_at: Date | null; log_seq: number; metadata_seq: number }[]>`
          select status, started_at, ended_at, log_seq, metadata_seq from executions where id = ${e.id}`;
        return r && ["completed", "failed", "error"].includes(r.status) ? r : undefined;
      }, 600_000, 100);
      if (done.status !== "completed") throw new Error(`execution ended ${done.status}`);
      if (done.log_seq !== LINES) throw new Error(`stored ${done.log_seq} lines, expected ${LINES}`);
      if (done.metadata_seq !== LINES / 10) throw new Error(`stored ${done.metadata_seq} metadata events, expected ${LINES / 10}`);
      const vhS = (done.ended_at!.getTime() - done.started_at!.getTime()) / 1000;
      return {
        lines_per_s: Math.round(LINES / vhS),
        cat_lines_per_s: Math.round(LINES / catS),
        peak_rss_mb: round(peak / 1048576, 1),
      };
    } finally {
      clearInterval(sampler);
      await stack.stop();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    await pg.stop();
  }
}
