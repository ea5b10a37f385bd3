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
 * - `s3/<sha256 of endpoint, bucket, key, version id, ETag>.json`: `{ sha256, size }` of an S3 object
 *   fetched before, pinned as it was (same version or ETag: same bytes), so it is not fetched again.
 * - `tmp/`: downloads in progress; moved into `sha256/` once their hash is known.
 *
 * S3 objects are read by this process (with the worker's endpoint settings: the host needs no
 * credentials) and streamed into the cache, hashed on the way, as store objects are.
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
import type { FetchedInput, InputFileSpec, InputSource } from "../../../app/contracts/runner.js";
import type { S3InputsConfig } from "../../../app/config.js";
import { openS3Object, S3FetchError, type S3Sender } from "../../../app/inputs/s3-client.js";
import { urlCredentials } from "../../../app/inputs/http.js";


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

/**
 * An http(s) download that receives nothing for this long (no answer, or no byte of the body) is
 * given up with a RunnerError saying so: a stalled server must not hold a start (and a queue slot)
 * for ever. A slow download that keeps receiving is never cut off.
 */
export const INPUT_STALL_SECONDS = 300;

export interface InputCacheOptions {
  cacheRoot: string;
  store: Store;
  fetch: typeof fetch;
  /** Tests: the stall limit of http(s) downloads (default INPUT_STALL_SECONDS). */
  stallMs?: number;
  /** Where `s3://` inputs are read from (Config.s3Inputs); absent: such inputs fail with a message saying so. */
  s3Inputs?: S3InputsConfig;
  /** Tests: the S3 client to send GetObject with, instead of the endpoint's. */
  s3Client?: S3Sender;
}

type S3InputSource = Extract<InputSource, { kind: "s3" }>;

/** The cache record's file name of a pinned S3 object (null when unpinned: nothing says two fetches give the same bytes). */
export function s3RecordName(source: S3InputSource): string | null {
  if (!source.versionId && !source.etag) return null;
  const id = JSON.stringify([source.endpoint ?? "default", source.bucket, source.key, source.versionId ?? null, source.etag ?? null]);
  return `${crypto.createHash("sha256").update(id).digest("hex")}.json`;
}

/**
 * Opens the S3 object of an input for a runner, or throws a RunnerError naming the input and saying
 * why (changed since creation, gone, denied, endpoint not configured on this worker).
 */
export async function openS3Input(
  spec: InputFileSpec,
  source: S3InputSource,
  cfg: S3InputsConfig | undefined,
  client?: S3Sender,
): Promise<{ body: Readable; size: number | undefined; label: string }> {
  const label = `Input "${spec.input}": could not fetch s3://${source.bucket}/${source.key}`;
  if (!cfg) throw new RunnerError(`${label}: this runner was not given the S3 input settings (Config.s3Inputs).`);
  try {
    const got = await openS3Object(cfg, source, client);
    return { body: got.body, size: got.size, label };
  } catch (err) {
    if (err instanceof S3FetchError) throw new RunnerError(`Input "${spec.input}": ${err.message}`);
    throw new RunnerError(`${label}: ${describeError(err)}`);
  }
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
    // A user and password in the URL go as Basic auth (fetch refuses them in a URL).
    const plain = urlCredentials(url);
    const headers: Record<string, string> = { ...plain.headers };
    if (rec && recFile) {
      if (rec.etag) headers["if-none-match"] = rec.etag;
      if (rec.lastModified) headers["if-modified-since"] = rec.lastModified;
    }
    // The watchdog: aborted when nothing arrives for the stall limit (re-armed by every chunk).
    const stallMs = opts.stallMs ?? INPUT_STALL_SECONDS * 1000;
    const ctl = new AbortController();
    let timer: NodeJS.Timeout | null = null;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => ctl.abort(new Error(`nothing received for ${stallMs >= 1000 ? `${Math.round(stallMs / 1000)} s` : `${stallMs} ms`}: the server stalled`)), stallMs);
      timer.unref();
    };
    const stalled = () => (ctl.signal.aborted ? `${label}: ${(ctl.signal.reason as Error).message}.` : null);
    arm();
    try {
      return await download();
    } finally {
      if (timer) clearTimeout(timer);
    }

    async function download(): Promise<{ sha256: string; size: number; cached: boolean }> {
      let res: Response;
      try {
        res = await opts.fetch(plain.url, { headers, redirect: "follow", signal: ctl.signal });
      } catch (err) {
        throw new RunnerError(stalled() ?? `${label}: ${describeError(err)}`);
      }
      arm();
      if (res.status === 304 && rec && recFile) {
        await res.body?.cancel();
        return { sha256: rec.sha256, size: rec.size, cached: true };
      }
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        throw new RunnerError(`${label}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`);
      }
      let got: { sha256: string; size: number };
      const body = Readable.fromWeb(res.body as unknown as NodeReadableStream<Uint8Array>);
      async function* watched(): AsyncGenerator<Buffer> {
        for await (const chunk of body) {
          arm();
          yield chunk as Buffer;
        }
      }
      try {
        got = await ingest(Readable.from(watched(), { objectMode: false }), spec.sha256, label);
      } catch (err) {
        const why = stalled();
        if (why) throw new RunnerError(why);
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
  }

  /** An S3 object: a pinned one seen before is a cache hit; otherwise GetObject (pinned) streamed into the cache. */
  async function fetchS3(spec: InputFileSpec, source: S3InputSource): Promise<{ sha256: string; size: number; cached: boolean }> {
    const recName = s3RecordName(source);
    const recFile = recName ? path.join(opts.cacheRoot, "s3", recName) : null;
    if (recFile) {
      try {
        const rec = JSON.parse(await fsp.readFile(recFile, "utf8")) as { sha256?: unknown; size?: unknown };
        const agrees = typeof rec.sha256 === "string" && typeof rec.size === "number" && (!spec.sha256 || spec.sha256 === rec.sha256);
        if (agrees && (await cached(rec.sha256 as string, rec.size as number))) return { sha256: rec.sha256 as string, size: rec.size as number, cached: true };
      } catch {
        // no record (or a damaged one): fetch
      }
    }
    const { body, size: told, label } = await openS3Input(spec, source, opts.s3Inputs, opts.s3Client);
    let got: { sha256: string; size: number };
    try {
      got = await ingest(body, spec.sha256, label);
    } catch (err) {
      body.destroy();
      if (err instanceof RunnerError) throw err;
      throw new RunnerError(`${label}: ${describeError(err)}`);
    }
    const expected = told ?? spec.size;
    if (expected !== undefined && expected !== got.size) throw new RunnerError(`${label}: got ${got.size} bytes, expected ${expected}: the transfer was cut short.`);
    if (recFile) {
      await fsp.mkdir(path.dirname(recFile), { recursive: true });
      const tmp = `${recFile}.${crypto.randomUUID()}.tmp`;
      await fsp.writeFile(tmp, JSON.stringify({ sha256: got.sha256, size: got.size }));
      await fsp.rename(tmp, recFile);
    }
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

  /** One file into the host's checksum cache (a hit when its sha256 is known and cached). */
  async function fetchOne(spec: InputFileSpec): Promise<{ sha256: string; size: number; cached: boolean }> {
    const hit = spec.sha256 ? await cached(spec.sha256, spec.size) : null;
    if (hit && spec.sha256) return { sha256: spec.sha256, size: (await fsp.stat(hit)).size, cached: true };
    if (spec.source.kind === "store") return fetchStore(spec, spec.source.key);
    if (spec.source.kind === "s3") return fetchS3(spec, spec.source);
    return fetchHttp(spec, spec.source.url);
  }

  /** Fetch every input file into `inputsDir/<input>/<name>` (read-only). */
  async function fetchInputs(specs: InputFileSpec[], inputsDir: string): Promise<FetchedInput[]> {
    const fetched: FetchedInput[] = [];
    for (const spec of specs) {
      assertRelativePath(spec.input, "Input name");
      if (spec.input.includes("/")) throw new RunnerError(`Input name "${spec.input}" cannot contain "/".`);
      assertRelativePath(spec.name, `Input "${spec.input}": file name`);
      const got = await fetchOne(spec);
      await linkInto(cachePath(got.sha256), path.join(inputsDir, spec.input, ...spec.name.split("/")));
      fetched.push({ input: spec.input, name: spec.name, uri: spec.uri, sha256: got.sha256, size: got.size, cached: got.cached });
    }
    return fetched;
  }

  /**
   * A later attempt's saved outputs (LaunchSpec.restoreOutputs) into `outputsDir/<name>`: fetched and
   * checked like inputs, then copied (never linked: the step may rewrite its checkpoint in place, and
   * the cache's copy must stay what its checksum says).
   */
  async function restoreOutputs(specs: readonly InputFileSpec[], outputsDir: string): Promise<number> {
    for (const spec of specs) {
      assertRelativePath(spec.name, "Saved output");
      const got = await fetchOne(spec);
      const dest = path.join(outputsDir, ...spec.name.split("/"));
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      await fsp.copyFile(cachePath(got.sha256), dest);
      await fsp.chmod(dest, 0o644);
    }
    return specs.length;
  }

  return { fetchInputs, restoreOutputs, ingest, cached };
}
