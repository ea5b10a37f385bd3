/**
 * A forge's archive of a commit → a vh code snapshot. GitHub (and GitLab) wrap the tree in one
 * top-level folder (`owner-repo-<sha>/`): it is stripped, and the tree is packed again the way
 * ad-hoc snapshots are (sorted entries, portable headers, mtime 0 as the CLI's packager writes,
 * gzip) and stored content-addressed, so the runner needs nothing new, and two commits with one
 * tree are one snapshot whatever times the forge's archives carry (GitHub stamps each file with
 * its commit's time).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { create, extract } from "tar";
import type { Sql } from "../../db/client.js";
import type { Store } from "../contracts/store.js";
import { snapshotKey } from "../contracts/store-keys.js";
import { scanSnapshot, type SnapshotLimits } from "./files.js";
import { codeSnapshotSize, recordCodeSnapshot } from "../../db/queries/code-snapshots.js";

function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() || d.isSymbolicLink())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)))
    .sort();
}

/** Repacks `archive` (a gzipped tarball with one top-level folder) as a snapshot; returns its sha256. */
export async function snapshotFromArchive(deps: { sql: Sql; store: Store }, archive: Buffer, limits: SnapshotLimits): Promise<string> {
  // Counted before anything is written: the forge's archive is the repository's, not ours.
  await scanSnapshot(Readable.from([archive]), limits);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-archive-"));
  try {
    await pipeline(Readable.from([archive]), extract({ cwd: dir, strip: 1 }));
    return await storeTree(deps, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Packs the tree in `dir` as a snapshot (sorted, portable, mtime 0), stores it unless stored; its sha256. */
async function storeTree(deps: { sql: Sql; store: Store }, dir: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of create({ gzip: true, cwd: dir, portable: true, mtime: new Date(0) }, listFiles(dir))) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  const sha256 = createHash("sha256").update(body).digest("hex");
  if ((await codeSnapshotSize(deps.sql, sha256)) === null) {
    const put = await deps.store.put(snapshotKey(sha256), body, { contentType: "application/gzip" });
    await recordCodeSnapshot(deps.sql, sha256, put.size);
  }
  return sha256;
}

/**
 * Stored snapshot `code` with the file at `filePath` replaced by `text` (a fork's code with its
 * base branch's valohai.yaml: app/bot/fork-policy.ts): a snapshot of its own, content-addressed
 * like every other, so what ran is exactly what its sha256 names. The same inputs give the same one.
 */
export async function snapshotWithFile(deps: { sql: Sql; store: Store }, code: string, filePath: string, text: string): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-with-file-"));
  try {
    await pipeline(await deps.store.get(snapshotKey(code)), extract({ cwd: dir }));
    const target = path.resolve(dir, filePath);
    if (!target.startsWith(dir + path.sep)) throw new Error(`${filePath} is not a path inside a snapshot`);
    fs.rmSync(target, { force: true, recursive: true });
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, text);
    return await storeTree(deps, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
