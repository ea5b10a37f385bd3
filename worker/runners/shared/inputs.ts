/**
 * Input fetching for a host with a local file system: a content cache keyed by sha256, linked into
 * the work dir.
 *
 * Cache layout under `cacheRoot`:
 * - `sha256/<hex>`: one read-only file per content; inputs are hard links to it (copies across
 *   file systems).
 * - `urls/<sha256 of the URL>.json`: `{ url, sha256, size, etag, lastModified }` of the last
 *   download of an http(s) URL, for a conditional request next time (one file per URL: concurrent
 *   launches never rewrite each other's records).
 * - `tmp/`: downloads in progress; moved into `sha256/` once their hash is known.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { RunnerError } from "../../../app/errors.js";
import { displayUrl } from "./detached.js";
import type { Store } from "../../../app/contracts/store.js";
import type { FetchedInput, InputFileSpec } from "../../../app/contracts/runner.js";


/**
 * How a failed download of input `input` from `url` is said (the URL shown without credentials),
 * after checking that `url` is one the runners can download: an http(s) URL, else a RunnerError.
 */
export function downloadLabel(input: string, url: string): string {
  const label = `Input "${input}": could not download ${displayUrl(url)}`;
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new RunnerError(`${label}: not a valid URL.`);
  }
  if (protocol !== "http:" && protocol !== "https:") throw new RunnerError(`${label}: only http and https URLs can be downloaded.`);
  return label;
}

export interface InputCacheOptions {
  cacheRoot: string;
  store: Store;
  fetch: typeof fetch;
}

interface UrlRecord {
  url: string;
  sha256: string;
  size: number;
  etag: string | null;
  lastModified: string | null;
}

/** A Transform that counts and hashes what passes through. */
export function hashingStream(): Transform & { digest(): { sha256: string; size: number } } {
  const hash = crypto.createHash("sha256");
  let size = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  let result: { sha256: string; size: number } | null = null;
  return Object.assign(t, {
    digest() {
      result ??= { sha256: hash.digest("hex"), size };
      return result;
    },
  });
}

/** Throws unless `name` is a relative path of plain segments (no `.`, `..`, empty or absolute). */
export function assertRelativePath(name: string, what: string): void {
  const segments = name.split("/");
  const bad = name === "" || name.includes("\\") || name.includes("\0") || segments.some((s) => s === "" || s === "." || s === "..");
  if (bad) throw new RunnerError(`${what} "${name}" is not a relative path of plain names.`);
}


function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) return `${err.message} (${(cause as NodeJS.ErrnoException).code ?? cause.message})`;
  return err.message;
}

export function createInputCache(opts: InputCacheOptions) {
  const shaDir = path.join(opts.cacheRoot, "sha256");
  const urlDir = path.join(opts.cacheRoot, "urls");
  const tmpDir = path.join(opts.cacheRoot, "tmp");

  function cachePath(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RunnerError(`Invalid sha256 "${sha256}".`);
    return path.join(shaDir, sha256);
  }

  /** The cached file for a sha256 when present (and of the expected size, when known). */
  async function cached(sha256: string, size?: number): Promise<string | null> {
    const file = cachePath(sha256);
    try {
      const st = await fsp.stat(file);
      if (size !== undefined && st.size !== size) return null;
      return file;
    } catch {
      return null;
    }
  }

  /** Stream `body` into the cache; returns its hash and size. Verifies `expected` when given. */
  async function ingest(body: Readable, expected: string | undefined, what: string): Promise<{ sha256: string; size: number }> {
    await fsp.mkdir(tmpDir, { recursive: true });
    await fsp.mkdir(shaDir, { recursive: true });
    const tmp = path.join(tmpDir, `${crypto.randomUUID()}.part`);
    const hasher = hashingStream();
    try {
      await pipeline(body, hasher, fs.createWriteStream(tmp, { mode: 0o644 }));
      const { sha256, size } = hasher.digest();
      if (expected && expected !== sha256) {
        throw new RunnerError(`${what}: checksum mismatch: expected sha256 ${expected}, got ${sha256}.`);
      }
      await fsp.chmod(tmp, 0o444);
      const dest = cachePath(sha256);
      // Same content already cached (a concurrent download): keep the existing file.
      if (await cached(sha256, size)) await fsp.rm(tmp, { force: true });
      else await fsp.rename(tmp, dest);
      return { sha256, size };
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  }

  async function linkInto(src: string, dest: string): Promise<void> {
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await fsp.rm(dest, { force: true });
    try {
      await fsp.link(src, dest);
    } catch {
      // Another file system (EXDEV) or no hard links: a copy.
      await fsp.copyFile(src, dest);
    }
    await fsp.chmod(dest, 0o444);
  }

  function urlRecordPath(url: string): string {
    return path.join(urlDir, `${crypto.createHash("sha256").update(url).digest("hex")}.json`);
  }

  async function readUrlRecord(url: string): Promise<UrlRecord | null> {
    try {
      const rec = JSON.parse(await fsp.readFile(urlRecordPath(url), "utf8")) as UrlRecord;
      return rec.url === url && typeof rec.sha256 === "string" ? rec : null;
    } catch {
      return null;
    }
  }

  async function writeUrlRecord(rec: UrlRecord): Promise<void> {
    await fsp.mkdir(urlDir, { recursive: true });
    const file = urlRecordPath(rec.url);
    const tmp = `${file}.${crypto.randomUUID()}.tmp`;
    await fsp.writeFile(tmp, JSON.stringify(rec));
    await fsp.rename(tmp, file);
  }

  async function fetchHttp(spec: InputFileSpec, url: string): Promise<{ sha256: string; size: number; cached: boolean }> {
    const label = downloadLabel(spec.input, url);
    const rec = await readUrlRecord(url);
    const recFile = rec ? await cached(rec.sha256, rec.size) : null;
    const headers: Record<string, string> = {};
    if (rec && recFile) {
      if (rec.etag) headers["if-none-match"] = rec.etag;
      if (rec.lastModified) headers["if-modified-since"] = rec.lastModified;
    }
    let res: Response;
    try {
      res = await opts.fetch(url, { headers, redirect: "follow" });
    } catch (err) {
      throw new RunnerError(`${label}: ${describeError(err)}`);
    }
    if (res.status === 304 && rec && recFile) {
      await res.body?.cancel();
      return { sha256: rec.sha256, size: rec.size, cached: true };
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new RunnerError(`${label}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`);
    }
    let got: { sha256: string; size: number };
    try {
      got = await ingest(Readable.fromWeb(res.body as unknown as NodeReadableStream<Uint8Array>), spec.sha256, label);
    } catch (err) {
      if (err instanceof RunnerError) throw err;
      throw new RunnerError(`${label}: ${describeError(err)}`);
    }
    await writeUrlRecord({
      url,
      sha256: got.sha256,
      size: got.size,
      etag: res.headers.get("etag"),
      lastModified: res.headers.get("last-modified"),
    });
    return { ...got, cached: false };
  }

  async function fetchStore(spec: InputFileSpec, key: string): Promise<{ sha256: string; size: number; cached: boolean }> {
    const label = `Input "${spec.input}": could not read ${spec.uri} from the store`;
    let body: Readable;
    try {
      body = await opts.store.get(key);
    } catch (err) {
      throw new RunnerError(`${label}: ${describeError(err)}`);
    }
    try {
      return { ...(await ingest(body, spec.sha256, label)), cached: false };
    } catch (err) {
      if (err instanceof RunnerError) throw err;
      throw new RunnerError(`${label}: ${describeError(err)}`);
    }
  }

  /** Fetch every input file into `inputsDir/<input>/<name>` (read-only). */
  async function fetchInputs(specs: InputFileSpec[], inputsDir: string): Promise<FetchedInput[]> {
    const fetched: FetchedInput[] = [];
    for (const spec of specs) {
      assertRelativePath(spec.input, "Input name");
      if (spec.input.includes("/")) throw new RunnerError(`Input name "${spec.input}" cannot contain "/".`);
      assertRelativePath(spec.name, `Input "${spec.input}": file name`);
      let got: { sha256: string; size: number; cached: boolean };
      const hit = spec.sha256 ? await cached(spec.sha256, spec.size) : null;
      if (hit && spec.sha256) {
        got = { sha256: spec.sha256, size: (await fsp.stat(hit)).size, cached: true };
      } else if (spec.source.kind === "store") {
        got = await fetchStore(spec, spec.source.key);
      } else {
        got = await fetchHttp(spec, spec.source.url);
      }
      await linkInto(cachePath(got.sha256), path.join(inputsDir, spec.input, ...spec.name.split("/")));
      fetched.push({ input: spec.input, name: spec.name, uri: spec.uri, sha256: got.sha256, size: got.size, cached: got.cached });
    }
    return fetched;
  }

  return { fetchInputs, ingest, cached };
}
