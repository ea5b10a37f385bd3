/**
 * S3 upload benchmark: one file of `BENCH_S3_MB` MiB (256; 12 in smoke mode, still more than one
 * part) put to an S3-compatible server on loopback (s3rver, the test suite's: test/helpers/s3.ts),
 * the same bytes each time, alternating between:
 * - vh: the S3 store's `put` of a read stream of the file (worker/stores/s3.ts: hashed while it is
 *   spooled, then a multipart upload with the sha256 in the object's metadata), as the worker puts
 *   an output it streams from a host;
 * - vh_known_sha: the same put with the sha256 given ahead (`vh data upload` sends it): streamed
 *   straight into the multipart upload, hashed as it passes, no spool;
 * - raw: @aws-sdk/lib-storage's multipart Upload of a read stream of the file, with the same part
 *   size and concurrency, no hashing.
 * Figures: `vh_mb_s`, `vh_known_sha_mb_s` and `raw_mb_s` (MiB/s, the median of `BENCH_S3_ROUNDS`
 * rounds) and `ratio` (vh ÷ raw). Goal (issue 16): vh_mb_s ≥ 70 % of raw_mb_s. Every object is read back by HEAD: its size
 * must be the file's, and vh's must carry the file's sha256.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createS3Store, PART_SIZE } from "../worker/stores/s3.js";
import { startS3, S3RVER_CREDENTIALS } from "../test/helpers/s3.js";
import { size } from "./support.js";

const BUCKET = "bench";

export async function run(): Promise<Record<string, number>> {
  const mib = size("BENCH_S3_MB", 256, 12);
  const rounds = size("BENCH_S3_ROUNDS", 3, 1);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "vh-bench-s3-"));
  const s3 = await startS3({ buckets: [BUCKET] });
  try {
    const file = path.join(dir, "payload.bin");
    const fh = await fs.open(file, "w");
    const hash = createHash("sha256");
    // Incompressible bytes, written 1 MiB at a time.
    for (let i = 0; i < mib; i++) {
      const chunk = randomBytes(1024 * 1024);
      hash.update(chunk);
      await fh.write(chunk);
    }
    await fh.close();
    const sha256 = hash.digest("hex");
    const bytes = mib * 1024 * 1024;
    const store = createS3Store({ bucket: BUCKET, prefix: "vh", region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });

    const speeds: Record<"vh" | "known" | "raw", number[]> = { vh: [], known: [], raw: [] };
    for (let r = 0; r < rounds; r++) {
      // Rotate which goes first, so none always meets a warm (or a busy) server.
      const order = (["vh", "known", "raw"] as const).map((_, i, a) => a[(i + r) % a.length]!);
      for (const which of order) {
        const key = `${which}-${r}.bin`;
        const t0 = performance.now();
        if (which !== "raw") {
          const put = await store.put(key, createReadStream(file), which === "known" ? { sha256 } : {});
          if (put.sha256 !== sha256 || put.size !== bytes) throw new Error(`${which} stored ${put.size} bytes with sha256 ${put.sha256}, not ${bytes} with ${sha256}`);
        } else {
          await new Upload({ client: s3.client, params: { Bucket: BUCKET, Key: `raw/${key}`, Body: createReadStream(file), ContentLength: bytes }, partSize: PART_SIZE, queueSize: 4 }).done();
        }
        const s = (performance.now() - t0) / 1000;
        speeds[which].push(mib / s);
        const head = await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: which === "raw" ? `raw/${key}` : `vh/${key}` }));
        if (head.ContentLength !== bytes) throw new Error(`${which}: the object has ${head.ContentLength} bytes, not ${bytes}`);
        if (which !== "raw" && head.Metadata?.["sha256"] !== sha256) throw new Error(`${which}: the object's sha256 metadata is ${head.Metadata?.["sha256"]}, not ${sha256}`);
        console.log(`${which} round ${r + 1}: ${(mib / s).toFixed(1)} MiB/s`);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const vh_mb_s = median(speeds.vh);
    const raw_mb_s = median(speeds.raw);
    const known = median(speeds.known);
    return {
      vh_mb_s: round(vh_mb_s),
      vh_known_sha_mb_s: round(known),
      raw_mb_s: round(raw_mb_s),
      ratio: Math.round((vh_mb_s / raw_mb_s) * 1000) / 1000,
      known_sha_ratio: Math.round((known / raw_mb_s) * 1000) / 1000,
      mib,
    };
  } finally {
    await s3.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
