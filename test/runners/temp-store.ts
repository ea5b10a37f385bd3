/**
 * A tiny Store over a temp dir for the runner tests, so they do not depend on the state of
 * worker/stores/local.ts. Not for production: no atomic replace, no sidecars.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { StoreError } from "../../app/errors.js";
import type { PutResult, Store, StoredObject } from "../../app/contracts/store.js";

export function createTempStore(root: string): Store {
  const fileOf = (key: string) => path.join(root, ...key.split("/"));
  const sums = new Map<string, string>();
  async function put(key: string, body: Readable | Buffer): Promise<PutResult> {
    const chunks: Buffer[] = [];
    if (Buffer.isBuffer(body)) chunks.push(body);
    else for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
    const data = Buffer.concat(chunks);
    await fsp.mkdir(path.dirname(fileOf(key)), { recursive: true });
    await fsp.writeFile(fileOf(key), data);
    const sha256 = createHash("sha256").update(data).digest("hex");
    sums.set(key, sha256);
    return { key, size: data.length, sha256 };
  }
  async function head(key: string): Promise<StoredObject | null> {
    const st = await fsp.stat(fileOf(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "ENOTDIR") return null; // missing; anything else is a real failure
      throw err;
    });
    return st?.isFile() ? { key, size: st.size, sha256: sums.get(key) ?? null } : null;
  }
  return {
    kind: "local",
    put,
    async get(key) {
      if (!(await head(key))) throw new StoreError(`No object "${key}" in the store.`);
      return fs.createReadStream(fileOf(key));
    },
    head,
    async delete(key) {
      await fsp.rm(fileOf(key), { force: true });
      sums.delete(key);
    },
    async list(prefix) {
      const out: StoredObject[] = [];
      for (const key of [...sums.keys()].filter((k) => k.startsWith(prefix)).sort()) {
        const h = await head(key);
        if (h) out.push(h);
      }
      return out;
    },
    async presignGet() {
      return null;
    },
  };
}
