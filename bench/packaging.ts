/**
 * Packaging benchmark: a tree of 11,000 small files in nested folders, of which a .gitignore
 * leaves out 1,000, so exactly 10,000 (the limit) are packaged (`BENCH_FILES` packaged files; 1,000
 * in smoke mode).
 * - vh_s: seconds for packageDirectory (walk, ignore rules, deterministic tar.gz, sha256);
 * - tar_s: seconds for `tar czf` of the same file list, for comparison;
 * - second_run_bytes: bytes uploaded when the unchanged tree is packaged and uploaded again
 *   through the CLI's uploadIfMissing (app/cli/snapshot-upload.ts) to a local store (must be 0).
 */
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { disposePackage, packageDirectory } from "../app/cli/packaging/index.js";
import { fromPackage, uploadIfMissing, type CodeServer } from "../app/cli/snapshot-upload.js";
import { createLocalStore } from "../worker/stores/local.js";
import { size } from "./support.js";

const run$ = promisify(execFile);
const PACKAGED = size("BENCH_FILES", 10_000, 1_000);
if (PACKAGED % 10 !== 0) throw new Error("BENCH_FILES must be a multiple of 10");
const DATA_FILES = PACKAGED + PACKAGED / 10 - 1; // + the .gitignore = 11,000 files for 10,000
const IGNORED_EVERY = 11; // i % 11 === 0 → 1,000 ignored, 9,999 + .gitignore = 10,000 packaged

async function buildTree(root: string): Promise<void> {
  await fs.writeFile(path.join(root, ".gitignore"), "*.log\n");
  const dirs = new Set<string>();
  const writes: [string, string][] = [];
  for (let i = 0; i < DATA_FILES; i++) {
    const dir = path.join(root, `pkg${i % 10}`, `mod${Math.floor(i / 10) % 11}`, `part${Math.floor(i / 110) % 10}`);
    dirs.add(dir);
    const name = i % IGNORED_EVERY === 0 ? `run${i}.log` : `file${i}.py`;
    writes.push([path.join(dir, name), `# file ${i}\n${"x = 1\n".repeat(20 + (i % 50))}`]);
  }
  for (const d of dirs) await fs.mkdir(d, { recursive: true });
  for (let i = 0; i < writes.length; i += 500) {
    await Promise.all(writes.slice(i, i + 500).map(([p, c]) => fs.writeFile(p, c)));
  }
}

export async function run(): Promise<Record<string, number>> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "vh-bench-packaging-"));
  try {
    const tree = path.join(work, "tree");
    await fs.mkdir(tree);
    await buildTree(tree);

    let t0 = performance.now();
    const first = await packageDirectory(tree);
    const vh_s = (performance.now() - t0) / 1000;
    if (first.files.length !== PACKAGED) throw new Error(`expected ${PACKAGED} packaged files, got ${first.files.length}`);

    const list = path.join(work, "files.txt");
    await fs.writeFile(list, `${first.files.join("\n")}\n`);
    t0 = performance.now();
    await run$("tar", ["czf", path.join(work, "out.tgz"), "-T", list], { cwd: tree });
    const tar_s = (performance.now() - t0) / 1000;

    const store = createLocalStore(path.join(work, "store"));
    // The server side of HEAD/PUT /code/:sha256, on a local store.
    const server: CodeServer = {
      hasCode: async (sha) => (await store.head(`code/${sha}.tgz`)) !== null,
      putCode: async (sha, body) => {
        const data = body instanceof Uint8Array ? Buffer.from(body) : Readable.fromWeb(body as WebReadableStream<Uint8Array>);
        await store.put(`code/${sha}.tgz`, data, { contentType: "application/gzip" });
        return { created: true };
      },
    };
    const firstUpload = await uploadIfMissing(server, fromPackage(first));
    if (firstUpload.bytes !== first.size) throw new Error("the first upload should send the whole package");
    await disposePackage(first);

    const second = await packageDirectory(tree);
    const { bytes: second_run_bytes } = await uploadIfMissing(server, fromPackage(second));
    await disposePackage(second);

    return { vh_s: round(vh_s), tar_s: round(tar_s), second_run_bytes };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

function round(s: number): number {
  return Math.round(s * 1000) / 1000;
}
