/** Shared by benches: an embedded Postgres in a temp dir, and percentiles. */
import path from "node:path";
import fs from "node:fs";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../db/embedded.js";
import { tempDir } from "../test/helpers/stack.js";
import { run as runGraphile } from "graphile-worker";
import { migrateDatabase, openDatabase, silentGraphileLogger } from "../db/client.js";
import { freePort } from "../test/helpers/net.js";
export { freePort };

/**
 * Smoke mode (`npm run bench -- --smoke`, or BENCH_SMOKE=1): every bench runs with tiny sizes, so
 * CI proves each one still runs and prints its figures. Smoke figures are not comparable.
 */
export const SMOKE = process.env["BENCH_SMOKE"] === "1";

/** A bench size: the environment variable when set, else the full size, or the smoke size in smoke mode. */
export function size(envName: string, full: number, smoke: number): number {
  const raw = process.env[envName];
  if (raw !== undefined && raw !== "") {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${envName} must be a positive number, not ${JSON.stringify(raw)}`);
    return n;
  }
  return SMOKE ? smoke : full;
}

export async function benchPostgres(): Promise<EmbeddedDatabase & { dir: string }> {
  const dir = tempDir("vh-bench-pg-");
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, "data"), port: await freePort(), database: "bench", ephemeral: true });
  return {
    ...pg,
    dir,
    async stop() {
      await pg.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx]!;
}

export const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * The raw engine's dispatch latency: graphile-worker `addJob` → the task function entered, `n`
 * times after `warmup` runs, in ms, on the given (migrated here) database.
 */
export async function rawGraphileDispatch(connectionString: string, n: number, warmup = 5): Promise<number[]> {
  const database = openDatabase(connectionString);
  await migrateDatabase(database);
  let resolveStart: ((t: bigint) => void) | null = null;
  const runner = await runGraphile({
    connectionString,
    concurrency: 4,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: silentGraphileLogger(),
    taskList: { raw_noop: async () => resolveStart?.(process.hrtime.bigint()) },
  });
  const times: number[] = [];
  try {
    for (let i = 0; i < n + warmup; i++) {
      const started = new Promise<bigint>((r) => (resolveStart = r));
      const t0 = process.hrtime.bigint();
      await runner.addJob("raw_noop", {});
      const t1 = await started;
      if (i >= warmup) times.push(Number(t1 - t0) / 1e6);
    }
  } finally {
    await runner.stop();
    await database.close();
  }
  return times;
}
