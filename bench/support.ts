/** Shared by benches: an embedded Postgres in a temp dir, and percentiles. */
import path from "node:path";
import fs from "node:fs";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../db/embedded.js";
import { tempDir } from "../test/helpers/stack.js";
import { freePort } from "../test/helpers/net.js";
export { freePort };

export async function benchPostgres(): Promise<EmbeddedDatabase & { dir: string }> {
  const dir = tempDir("vh-bench-pg-");
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, "data"), port: await freePort(), database: "bench" });
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
