/**
 * The local store: objects are plain files under `root`, so the tree can be browsed by hand.
 *
 * Layout:
 * - `<root>/<key>`: the object's bytes.
 * - `<root>/.vhstore/meta/<key>.json`: a sidecar `{ sha256, size, ino }` written by `put`.
 * - `<root>/.vhstore/tmp/`: temp files; `put` writes here, then renames into place (same file
 *   system, so the rename is atomic). Temp files left by a crash are swept after a day.
 *
 * Sidecars live in their own tree rather than next to the object (`<key>.vhmeta`) so that no user
 * file name is reserved; the one reserved name is a first key segment of `.vhstore`.
 * The object is renamed into place before its sidecar; between the two renames (or after a crash)
 * the sidecar does not match the file's inode and size, and `head`/`list` report sha256 as null
 * rather than a wrong hash.
 *
 * A filesystem cannot hold both `a` and `a/b`; putting one when the other exists fails with a
 * StoreError. Directories emptied by `delete` are left in place.
 */
import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ChecksumMismatch, StoreError } from "../../app/errors.js";
import { assertValidKey, assertValidPrefix, compareKeys } from "../../app/contracts/store-keys.js";
import type { PutResult, Store, StoredObject } from "../../app/contracts/store.js";

const RESERVED = ".vhstore";
const STALE_TEMP_MS = 24 * 60 * 60 * 1000;

interface Sidecar {
  sha256: string;
  size: number;
  ino: number;
}

export function createLocalStore(root: string): Store {
  const base = path.resolve(root);
  const metaRoot = path.join(base, RESERVED, "meta");
  const tmpRoot = path.join(base, RESERVED, "tmp");
  let swept = false;

  function checkedKey(key: string): void {
    assertValidKey(key);
    if (key === RESERVED || key.startsWith(`${RESERVED}/`)) {
      throw new StoreError(`Invalid store key "${key}": the name ${RESERVED} is reserved by the local store.`);
    }
  }
  const fileOf = (key: string): string => path.join(base, ...key.split("/"));
  const metaOf = (key: string): string => `${path.join(metaRoot, ...key.split("/"))}.json`;

  async function sweepTemps(): Promise<void> {
    if (swept) return;
    swept = true;
    const now = Date.now();
    for (const name of await fs.readdir(tmpRoot).catch(() => [] as string[])) {
      const p = path.join(tmpRoot, name);
      const st = await fs.stat(p).catch(() => null);
      if (st && now - st.mtimeMs > STALE_TEMP_MS) await fs.rm(p, { force: true }).catch(() => {});
    }
  }

  async function readSidecar(key: string, ino: number, size: number): Promise<string | null> {
    try {
      const meta = JSON.parse(await fs.readFile(metaOf(key), "utf8")) as Partial<Sidecar>;
      if (meta.ino === ino && meta.size === size && typeof meta.sha256 === "string") return meta.sha256;
    } catch {
      // no sidecar (written by another tool, or lost in a crash): the hash is unknown
    }
    return null;
  }

  async function put(key: string, body: Readable | Buffer, opts?: { sha256?: string }): Promise<PutResult> {
    checkedKey(key);
    await fs.mkdir(tmpRoot, { recursive: true });
    void sweepTemps();
    const tmp = path.join(tmpRoot, randomUUID());
    const tmpMeta = `${tmp}.json`;
    const hash = createHash("sha256");
    let size = 0;
    const fh = await fs.open(tmp, "wx");
    try {
      const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
      await pipeline(
        source,
        async function* hashing(chunks: AsyncIterable<Buffer | string>) {
          for await (const chunk of chunks) {
            const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
            hash.update(buf);
            size += buf.length;
            yield buf;
          }
        },
        // Not fh.createWriteStream({ autoClose: false }): that stream never emits "close", and
        // pipeline waits for it, so the put never settled.
        async function write(chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            let off = 0;
            while (off < chunk.length) off += (await fh.write(chunk, off)).bytesWritten;
          }
        },
      );
      await fh.sync();
      const { ino } = await fh.stat();
      await fh.close();
      const sha256 = hash.digest("hex");
      if (opts?.sha256 !== undefined && opts.sha256 !== sha256) throw new ChecksumMismatch(key, opts.sha256, sha256);
      await fs.writeFile(tmpMeta, JSON.stringify({ sha256, size, ino } satisfies Sidecar));
      const target = fileOf(key);
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.mkdir(path.dirname(metaOf(key)), { recursive: true });
      await fs.rename(tmp, target);
      await fs.rename(tmpMeta, metaOf(key));
      return { key, size, sha256 };
    } catch (err) {
      await fh.close().catch(() => {});
      await fs.rm(tmp, { force: true }).catch(() => {});
      await fs.rm(tmpMeta, { force: true }).catch(() => {});
      throw wrap(err, `writing key "${key}"`);
    }
  }

  async function get(key: string): Promise<Readable> {
    checkedKey(key);
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(fileOf(key), "r");
    } catch (err) {
      if (isMissing(err)) throw missing(key);
      throw wrap(err, `reading key "${key}"`);
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw missing(key);
    }
    return fh.createReadStream();
  }

  async function head(key: string): Promise<StoredObject | null> {
    checkedKey(key);
    const st = await fs.stat(fileOf(key)).catch((err: unknown) => {
      if (isMissing(err)) return null;
      throw wrap(err, `reading key "${key}"`);
    });
    if (!st?.isFile()) return null;
    return { key, size: st.size, sha256: await readSidecar(key, st.ino, st.size) };
  }

  async function remove(key: string): Promise<void> {
    checkedKey(key);
    for (const p of [fileOf(key), metaOf(key)]) {
      await fs.unlink(p).catch((err: unknown) => {
        const code = (err as NodeJS.ErrnoException).code;
        // EISDIR/EPERM: the key names a directory of other keys, so there is no object to delete
        if (isMissing(err) || code === "EISDIR" || code === "EPERM") return;
        throw wrap(err, `deleting key "${key}"`);
      });
    }
  }

  async function list(prefix: string): Promise<StoredObject[]> {
    assertValidPrefix(prefix);
    // walk from the deepest whole directory the prefix names, then filter by the string prefix
    const dirPart = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
    const keys: string[] = [];
    async function walk(relDir: string): Promise<void> {
      const abs = relDir === "" ? base : path.join(base, ...relDir.split("/"));
      const entries = await fs.readdir(abs, { withFileTypes: true }).catch((err: unknown) => {
        if (isMissing(err)) return [];
        throw wrap(err, `listing prefix "${prefix}"`);
      });
      await Promise.all(
        entries.map(async (entry) => {
          const rel = relDir === "" ? entry.name : `${relDir}/${entry.name}`;
          if (relDir === "" && entry.name === RESERVED) return;
          if (entry.isDirectory()) {
            if (prefix.startsWith(`${rel}/`) || rel.startsWith(prefix)) await walk(rel);
          } else if (entry.isFile() && rel.startsWith(prefix)) {
            keys.push(rel);
          }
        }),
      );
    }
    if (dirPart !== RESERVED && !dirPart.startsWith(`${RESERVED}/`)) await walk(dirPart);
    keys.sort(compareKeys);
    const out: StoredObject[] = [];
    for (const key of keys) {
      const st = await fs.stat(fileOf(key)).catch(() => null);
      if (!st?.isFile()) continue; // deleted while listing
      out.push({ key, size: st.size, sha256: await readSidecar(key, st.ino, st.size) });
    }
    return out;
  }

  function missing(key: string): StoreError {
    return new StoreError(`The store has no object at key "${key}" (local store at ${base}).`, { key });
  }

  return {
    kind: "local",
    put,
    get,
    head,
    delete: remove,
    list,
    presignGet: async (key: string) => {
      checkedKey(key);
      return null;
    },
  };
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

function wrap(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new StoreError(`Local store failed ${what}: ${msg}`);
}
