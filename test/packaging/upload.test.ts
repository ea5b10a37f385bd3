/**
 * The CLI's one code upload path (app/cli/snapshot-upload.ts: defaultPacker, fromPackage, uploadIfMissing)
 * against a real vh server through the real ApiClient: upload once, unchanged code not stored
 * again, streaming from a temp file, the HEAD/PUT race, and the server's refusal of wrong bytes.
 * Skipping the PUT when the server has the snapshot (HEAD /code answered by the GET route).
 * The bytes sent show as progress (app/cli/transfer-progress.ts) on the writer given.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ApiClient } from "../../app/cli/api.js";
import { defaultPacker, fromPackage, uploadIfMissing, type CodeServer } from "../../app/cli/snapshot-upload.js";
import { packageDirectory } from "../../app/cli/packaging/index.js";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("uploading code snapshots (app/cli/snapshot-upload.ts)", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let client: ApiClient;
  const sent: { method: string; path: string; streamed: boolean }[] = [];
  const temps: string[] = [];
  const quiet = { stderr: { write: () => true, isTTY: false } };

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
    const recording: typeof fetch = (input, init) => {
      const body = init?.body as { getReader?: unknown } | null | undefined;
      sent.push({ method: init?.method ?? "GET", path: new URL(String(input)).pathname, streamed: typeof body?.getReader === "function" });
      return fetch(input, init);
    };
    client = new ApiClient({ url: stack.vh.url, token: stack.vh.token, source: "flags" }, recording);
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    await Promise.all(temps.map((d) => fs.rm(d, { recursive: true, force: true })));
  });
  beforeEach(() => {
    sent.length = 0;
  });

  async function tree(files: Record<string, string>): Promise<string> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "vh-upload-test-"));
    temps.push(dir);
    for (const [rel, content] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await fs.writeFile(path.join(dir, rel), content);
    }
    return dir;
  }
  /** The snapshot as the server stored it (the local store under the data dir). */
  const stored = (sha: string) => fs.readFile(path.join(stack.dataDir, "store", "code", `${sha}.tgz`));
  const calls = () => sent.map((r) => `${r.method} ${r.path}`);

  it("uploads once; unchanged code is the same snapshot and is not stored again; changed code uploads again", async () => {
    const dir = await tree({ "train.py": "print(1)\n", "lib/util.py": "X = 1\n", ".gitignore": "*.log\n", "run.log": "not packaged" });
    const first = await defaultPacker(dir, quiet);
    expect(first.fileCount).toBe(3);
    expect(first.warnings).toEqual([]);
    expect(await uploadIfMissing(client, first)).toEqual({ uploaded: true, bytes: first.size });
    expect(calls()).toEqual([`HEAD /api/v1/code/${first.sha256}`, `PUT /api/v1/code/${first.sha256}`]);
    expect(sha256(await stored(first.sha256))).toBe(first.sha256);

    // new timestamps, same content: the same snapshot, which the server does not store again
    await fs.utimes(path.join(dir, "train.py"), new Date("2031-01-01"), new Date("2031-01-01"));
    const again = await defaultPacker(dir, quiet);
    expect(again.sha256).toBe(first.sha256);
    expect((await uploadIfMissing(client, again)).uploaded).toBe(false);

    sent.length = 0;
    await fs.writeFile(path.join(dir, "train.py"), "print(2)\n");
    const changed = await defaultPacker(dir, quiet);
    expect(changed.sha256).not.toBe(first.sha256);
    expect(await uploadIfMissing(client, changed)).toEqual({ uploaded: true, bytes: changed.size });
    expect(calls()).toEqual([`HEAD /api/v1/code/${changed.sha256}`, `PUT /api/v1/code/${changed.sha256}`]);
    await Promise.all([first, again, changed].map((p) => p.dispose?.()));
  });

  // Hono answers a HEAD request with the GET routes, so a separate HEAD route never ran and HEAD
  // was 404 for every snapshot: each ad-hoc run re-sent its whole code. The GET route answers it now.
  it("sends no PUT for code the server already has (HEAD /code/:sha256 answers 200)", async () => {
    const dir = await tree({ "known.py": "print('known')\n" });
    const pkg = await defaultPacker(dir, quiet);
    await uploadIfMissing(client, pkg);
    expect(await client.hasCode(pkg.sha256)).toBe(true);
    sent.length = 0;
    expect(await uploadIfMissing(client, pkg)).toEqual({ uploaded: false, bytes: 0 });
    expect(calls()).toEqual([`HEAD /api/v1/code/${pkg.sha256}`]);
  });

  it("streams a package kept in a temp file, and dispose removes the file", async () => {
    const dir = await tree({ "a.py": "print('streamed')\n", "b.txt": "x".repeat(5000) });
    const pkg = fromPackage(await packageDirectory(dir, { inMemoryMaxBytes: 10 }));
    expect(typeof pkg.data).toBe("string");
    const file = pkg.data as string;
    expect(await uploadIfMissing(client, pkg)).toEqual({ uploaded: true, bytes: pkg.size });
    const put = sent.find((r) => r.method === "PUT");
    expect(put).toMatchObject({ path: `/api/v1/code/${pkg.sha256}`, streamed: true });
    expect(await stored(pkg.sha256)).toEqual(await fs.readFile(file));
    await pkg.dispose!();
    await expect(fs.stat(file)).rejects.toThrow(/ENOENT/);
  });

  it("shows the bytes going up (plain lines off a terminal, a bar on one) and stores exactly them", async () => {
    const dir = await tree({ "train.py": "print('progress')\n" });
    await fs.writeFile(path.join(dir, "weights.bin"), randomBytes(512 * 1024)); // does not compress
    const pkg = fromPackage(await packageDirectory(dir, { inMemoryMaxBytes: 1024 }));
    expect(typeof pkg.data).toBe("string");
    expect(pkg.size).toBeGreaterThan(256 * 1024);
    let t = 0;
    const log = { text: "", isTTY: false, write: (s: string) => ((log.text += s), true) };
    // a clock that moves a second each time it is read: every 10 % step is said
    expect(await uploadIfMissing(client, pkg, { progress: log, now: () => (t += 1000) })).toEqual({ uploaded: true, bytes: pkg.size });
    expect(sha256(await stored(pkg.sha256))).toBe(pkg.sha256);
    const lines = log.text.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/^Uploading code: \d+% \([\d.]+ KiB of [\d.]+ KiB, [\d.]+ (B|KiB)\/s, ETA [\d.ms]+\)$/);
    expect(lines.at(-1)).toMatch(/^Uploading code: 100% \([\d.]+ KiB in \d/);
    expect(log.text).not.toContain("\u001b");

    const dir2 = await tree({ "train.py": "print('tty')\n" });
    await fs.writeFile(path.join(dir2, "weights.bin"), randomBytes(300 * 1024));
    const pkg2 = await defaultPacker(dir2, quiet);
    const tty = { text: "", isTTY: true, columns: 100, write: (s: string) => ((tty.text += s), true) };
    expect((await uploadIfMissing(client, pkg2, { progress: tty })).uploaded).toBe(true);
    expect(tty.text).toMatch(/Uploading code .* 100% \| [\d.]+ KiB \/ [\d.]+ KiB \| .*\/s \| ETA 0s/);
    expect(sha256(await stored(pkg2.sha256))).toBe(pkg2.sha256);
    await Promise.all([pkg, pkg2].map((p) => p.dispose?.()));
  });

  it("reports nothing uploaded when another upload won the race between HEAD and PUT", async () => {
    const dir = await tree({ "race.py": "print('race')\n" });
    const pkg = await defaultPacker(dir, quiet);
    expect((await uploadIfMissing(client, pkg)).uploaded).toBe(true);
    // the server has it, but this client asked before it did
    const late: CodeServer = { hasCode: async () => false, putCode: (sha, body) => client.putCode(sha, body) };
    expect(await uploadIfMissing(late, pkg)).toEqual({ uploaded: false, bytes: pkg.size });
  });

  it("fails with the server's message when the bytes do not match the sha256", async () => {
    const dir = await tree({ "ok.py": "print('ok')\n" });
    const pkg = await defaultPacker(dir, quiet);
    const wrong = { ...pkg, sha256: "0".repeat(64) };
    await expect(uploadIfMissing(client, wrong)).rejects.toThrow(/has sha256 [0-9a-f]{64}, not 0{64}/);
    expect(await client.hasCode(wrong.sha256)).toBe(false);
  });
});
