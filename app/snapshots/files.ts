/**
 * Code snapshots: gzipped tarballs stored content-addressed (`code/<sha256>.tgz`). The server
 * reads valohai.yaml from the snapshot itself, so the execution is defined by the code it runs.
 */
import { Parser, type ReadEntry } from "tar";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Store } from "../contracts/store.js";
import { snapshotKey } from "../contracts/store-keys.js";
import { VhError } from "../errors.js";

const yamlCache = new Map<string, string | null>();
const MAX_CACHE = 200;
const MAX_YAML_BYTES = 5 * 1024 * 1024;

function normalise(p: string): string {
  return p.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
}

/** Text of one file of a snapshot, or null when the snapshot has no such file. */
export async function readSnapshotFile(store: Store, sha256: string, filePath: string): Promise<string | null> {
  const cacheKey = `${sha256}:${filePath}`;
  if (yamlCache.has(cacheKey)) return yamlCache.get(cacheKey) ?? null;
  const want = normalise(filePath);
  let found: string | null = null;
  let tooLarge = 0;
  const parser = new Parser({
    filter: (p: string) => normalise(p) === want,
    onReadEntry: (entry: ReadEntry) => {
      const chunks: Buffer[] = [];
      let size = 0;
      entry.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= MAX_YAML_BYTES) chunks.push(c);
      });
      entry.on("end", () => {
        if (size > MAX_YAML_BYTES) tooLarge = size;
        else found = Buffer.concat(chunks).toString("utf8");
      });
    },
  });
  let body;
  try {
    body = await store.get(snapshotKey(sha256));
  } catch (err) {
    // "Not stored" only when the store says so: a store that failed is its operator's to fix, not the user's.
    const there = await store.head(snapshotKey(sha256)).catch(() => undefined);
    if (there === null) throw new VhError("not_found", `Code snapshot ${sha256} is not stored; upload it first (PUT /api/v1/code/${sha256}).`);
    throw err;
  }
  await pipeline(body, parser);
  // Said as it is: a file too big to read is not "no such file".
  if (tooLarge) throw new VhError("too_large", `${want} in the code snapshot is ${Math.round(tooLarge / 1048576)} MB; vh reads it only up to ${MAX_YAML_BYTES / 1048576} MB.`);
  if (yamlCache.size >= MAX_CACHE) yamlCache.delete(yamlCache.keys().next().value as string);
  yamlCache.set(cacheKey, found);
  return found;
}

/** How big a code snapshot may be once unpacked (a small gzip can expand a thousandfold). */
export interface SnapshotLimits {
  /** Sum of the files' sizes as the archive declares them (a sparse file counts in full). */
  maxBytes: number;
  maxFiles: number;
}

/**
 * Reads a gzipped tarball's headers without writing anything and refuses it, as soon as it is
 * over a limit, with a `too_large` VhError that names the limit's setting; a damaged archive is a
 * `bad_request`. Returns what it counted.
 */
export async function scanSnapshot(body: Readable, limits: SnapshotLimits): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  let over: VhError | null = null;
  let entries = 0;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      entries++;
      files++;
      bytes += entry.size ?? 0;
      if (!over && bytes > limits.maxBytes) {
        over = new VhError("too_large", `The code snapshot unpacks to over ${Math.round(limits.maxBytes / 1048576)} MiB (VH_MAX_CODE_UNPACKED_MB); leave data files out of the code (.vhignore) and pass them as inputs.`, { bytes, limit: limits.maxBytes });
      } else if (!over && files > limits.maxFiles) {
        over = new VhError("too_large", `The code snapshot has over ${limits.maxFiles.toLocaleString("en-US")} files (VH_MAX_CODE_FILES); leave generated or data files out (.vhignore).`, { files, limit: limits.maxFiles });
      }
      if (over) parser.abort(over);
      else entry.resume();
    },
  });
  try {
    await pipeline(body, parser);
  } catch (err) {
    if (over) throw over;
    throw new VhError("bad_request", `The code snapshot is not a readable gzipped tarball: ${(err as Error).message}`);
  }
  if (over) throw over;
  // A body that is not an archive at all parses as an empty one: an empty snapshot is refused too.
  if (entries === 0) throw new VhError("bad_request", "The code snapshot is not a readable gzipped tarball (no entries in it).");
  return { bytes, files };
}
