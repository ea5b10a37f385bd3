/**
 * No code snapshot can exhaust the disk: a 3.7 MB upload once extracted to 3.1 GB (node-tar's own
 * ratio check did not stop it). What a snapshot unpacks to is counted from its headers at upload
 * (PUT /code), before a forge archive is repacked, and again while a runner extracts it.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { create } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snapshotFromArchive } from "../../app/snapshots/store.js";
import { createLocalRunner } from "../../worker/runners/local/runner.js";
import { createLocalStore } from "../../worker/stores/local.js";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";

const MB = 1024 * 1024;
const made: string[] = [];
function dir(prefix: string, mode = 0o711): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(d, mode);
  made.push(d);
  return d;
}
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

/** A gzipped tarball whose one file is `size` bytes of zeros (sparse on disk, a few KB gzipped). */
async function bomb(size: number, top?: string): Promise<Buffer> {
  const d = dir("vh-bomb-src-");
  const base = top ? path.join(d, top) : d;
  fs.mkdirSync(base, { recursive: true });
  fs.writeFileSync(path.join(base, "valohai.yaml"), "- step:\n    name: s\n    image: busybox\n    command: 'true'\n");
  const fd = fs.openSync(path.join(base, "zeros.bin"), "w");
  fs.ftruncateSync(fd, size);
  fs.closeSync(fd);
  const chunks: Buffer[] = [];
  for await (const c of create({ gzip: true, cwd: d, portable: true }, [top ?? "."])) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function manyFiles(n: number): Promise<Buffer> {
  const d = dir("vh-many-src-");
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(d, `f${i}.txt`), "x");
  const chunks: Buffer[] = [];
  for await (const c of create({ gzip: true, cwd: d, portable: true }, fs.readdirSync(d))) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("code bombs", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false, env: { VH_MAX_CODE_UNPACKED_MB: "16", VH_MAX_CODE_FILES: "200" } });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  it("PUT /code refuses a small upload that unpacks past the limit, and keeps nothing", async () => {
    const body = await bomb(64 * MB);
    expect(body.length).toBeLessThan(1 * MB); // the whole point: tiny on the wire
    const res = await stack.raw("PUT", `/api/v1/code/${sha(body)}`, body, { "content-type": "application/gzip" });
    expect(res.status).toBe(413);
    expect(await res.text()).toContain("unpacks to over 16 MiB (VH_MAX_CODE_UNPACKED_MB)");
    expect(await db.sql`select sha256 from code_snapshots`).toEqual([]);
    expect((await stack.raw("HEAD", `/api/v1/code/${sha(body)}`)).status).toBe(404);
    const storeRoot = path.join(stack.dataDir, "store", "code");
    const left = fs.existsSync(storeRoot) ? fs.readdirSync(storeRoot, { recursive: true }).filter((f) => String(f).endsWith(".tgz")) : [];
    expect(left).toEqual([]);
  });

  it("PUT /code refuses too many files, and takes one within both limits", async () => {
    const many = await manyFiles(201);
    const res = await stack.raw("PUT", `/api/v1/code/${sha(many)}`, many, { "content-type": "application/gzip" });
    expect(res.status).toBe(413);
    expect(await res.text()).toContain("over 200 files (VH_MAX_CODE_FILES)");
    const fine = await bomb(4 * MB);
    const ok = await stack.raw("PUT", `/api/v1/code/${sha(fine)}`, fine, { "content-type": "application/gzip" });
    expect(ok.status).toBe(201);
  });

  it("PUT /code refuses a body that is not a gzipped tarball", async () => {
    const junk = Buffer.from("this is not gzip at all");
    const res = await stack.raw("PUT", `/api/v1/code/${sha(junk)}`, junk, { "content-type": "application/gzip" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("not a readable gzipped tarball");
  });

  it("a forge archive (GitHub's tarball of a commit) is counted before it is unpacked to be repacked", async () => {
    const archive = await bomb(64 * MB, "owner-repo-abc1234");
    await expect(snapshotFromArchive({ sql: db.sql, store: stack.vh.worker?.deps.store ?? createLocalStore(dir("vh-st-")) }, archive, { maxBytes: 16 * MB, maxFiles: 1000 })).rejects.toMatchObject({
      code: "too_large",
      message: expect.stringContaining("unpacks to over 16 MiB"),
    });
  });
});

describe("the runner counts while it extracts", () => {
  it("stops extracting a stored bomb at the limit, fails the launch with a message and leaves no work dir", async () => {
    const root = dir("vh-bomb-run-");
    const store = createLocalStore(path.join(root, "store"));
    const body = await bomb(64 * MB);
    const s = sha(body);
    await store.put(`code/${s}.tgz`, body, { contentType: "application/gzip" });
    const runner = createLocalRunner({ workRoot: path.join(root, "runs"), cacheRoot: path.join(root, "cache"), store, docker: "never", codeLimits: { maxBytes: 16 * MB, maxFiles: 1000 } });
    await expect(
      runner.launch({ executionId: "bomb", script: "true", env: {}, image: "busybox", mode: "process", code: { key: `code/${s}.tgz`, sha256: s }, inputs: [], configFiles: {}, gpus: [] }),
    ).rejects.toThrow(/unpacks to over 16 MiB or 1000 files/);
    expect(fs.existsSync(path.join(root, "runs", "bomb"))).toBe(false);
  });
});
