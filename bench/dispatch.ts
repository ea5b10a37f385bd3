/**
 * dispatch: from the moment a client sends "create execution" to the moment the execution's
 * process is running (it stamps its own start time with `date +%s%N`), p50 and p99 over sequential
 * executions — against raw graphile-worker: add_job → task function entered, in the same run, on
 * the same Postgres.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startStack, tempDir, waitFor } from "../test/helpers/stack.js";
import { uploadSnapshot } from "../test/helpers/snapshot.js";
import { benchPostgres, percentile, rawGraphileDispatch, round, size, SMOKE } from "./support.js";

const N = size("BENCH_N", 100, 3);
const WARMUP = SMOKE ? 1 : 5;
const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/noop");

export async function run(): Promise<Record<string, number>> {
  const pg = await benchPostgres();
  const marks = tempDir("vh-bench-marks-");
  // Jobs write their start stamps here; as root each runs as an OS user of its own (docs/threat-model.md).
  fs.chmodSync(marks, 0o1777);
  try {
    // raw graphile-worker: add_job → task start
    const raw = await rawGraphileDispatch(pg.connectionString, N);

    // vh: POST /executions → process running
    const stack = await startStack({ databaseUrl: pg.connectionString });
    const vhTimes: number[] = [];
    try {
      await stack.api("POST", "/api/v1/projects", { name: "bench" });
      const code = await uploadSnapshot(stack, fixture);
      for (let i = 0; i < N + WARMUP; i++) {
        const marker = path.join(marks, `m${i}`);
        const t0 = BigInt(Date.now()) * 1_000_000n;
        const e = await stack.api<{ counter: number }>("POST", "/api/v1/projects/bench/executions", {
          step: "mark",
          code,
          parameters: { marker },
        });
        const ns = await waitFor("marker", async () => {
          const s = fs.existsSync(marker) ? fs.readFileSync(marker, "utf8").trim() : "";
          return s ? BigInt(s) : undefined;
        }, 30_000, 2);
        if (i >= WARMUP) vhTimes.push(Number(ns - t0) / 1e6);
        await waitFor("end", async () => {
          const x = await stack.api<{ status: string }>("GET", `/api/v1/projects/bench/executions/${e.counter}`);
          return ["completed", "failed", "error"].includes(x.status) ? true : undefined;
        }, 30_000, 10);
      }
    } finally {
      await stack.stop();
    }
    return {
      dispatch_p50_ms: round(percentile(vhTimes, 50)),
      dispatch_p99_ms: round(percentile(vhTimes, 99)),
      raw_p50_ms: round(percentile(raw, 50)),
      raw_p99_ms: round(percentile(raw, 99)),
    };
  } finally {
    fs.rmSync(marks, { recursive: true, force: true });
    await pg.stop();
  }
}
