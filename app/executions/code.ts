/**
 * Code snapshots: gzipped tarballs stored content-addressed (`code/<sha256>.tgz`). The server
 * reads valohai.yaml from the snapshot itself, so the execution is defined by the code it runs.
 */
import { Parser, type ReadEntry } from "tar";
import { pipeline } from "node:stream/promises";
import type { Store } from "../../worker/stores/types.js";
import { codeKey } from "../../worker/launch-spec.js";
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
        if (size > MAX_YAML_BYTES) return;
        found = Buffer.concat(chunks).toString("utf8");
      });
    },
  });
  let body;
  try {
    body = await store.get(codeKey(sha256));
  } catch {
    throw new VhError("not_found", `Code snapshot ${sha256} is not stored; upload it first (PUT /api/v1/code/${sha256}).`);
  }
  await pipeline(body, parser);
  if (yamlCache.size >= MAX_CACHE) yamlCache.delete(yamlCache.keys().next().value as string);
  yamlCache.set(cacheKey, found);
  return found;
}
