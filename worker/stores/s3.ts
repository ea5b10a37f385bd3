/**
 * The S3 store (AWS S3 or a compatible server: MinIO, R2, s3rver in tests).
 *
 * Objects live at `<prefix>/<key>` in the bucket, with the sha256 of their bytes in the object
 * metadata (`x-amz-meta-sha256`), which `head` reads back. `list` uses ListObjectsV2, which
 * returns no metadata, so its entries have sha256 null (one HEAD per key would be too slow).
 *
 * How `put` gets the sha256 into the metadata of a streamed body: metadata is sent with the first
 * request (PutObject or CreateMultipartUpload), before any byte, so the hash must be known first.
 * We read up to one part (8 MiB) into memory; a body that ends there is hashed and sent in one
 * PutObject. A longer stream is spooled to a temp file while it is hashed, then uploaded from
 * that file with lib-storage's multipart Upload (8 MiB parts, 4 at a time), and the file removed.
 * Why not upload first and then CopyObject with MetadataDirective=REPLACE: CopyObject stops at
 * 5 GB, it leaves a window in which the new bytes are readable with no (or the previous) sha256,
 * and a failure between the two calls leaves a replaced object with no hash. Spooling costs local
 * disk and one extra local read, but the object appears once, atomically, with its metadata, and
 * a body stream that fails half-way never touches the bucket.
 *
 * presignGet returns null: @aws-sdk/s3-request-presigner is not a dependency of this project, so
 * callers stream through `get`.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type ListObjectsV2CommandOutput,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { ChecksumMismatch, StoreError, StoreUnavailable } from "../../app/errors.js";
import { assertValidKey, assertValidPrefix, compareKeys } from "../../app/contracts/store-keys.js";
import type { PutResult, Store, StoredObject } from "../../app/contracts/store.js";

export interface S3StoreOptions {
  bucket: string;
  /** Folder inside the bucket that holds every key; "" for the bucket root. */
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  /** Absent: the AWS SDK's default credential chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export const PART_SIZE = 8 * 1024 * 1024;
/** The spool is written (and read back) in batches of this size, not per stream chunk. */
const SPOOL_WRITE = 1024 * 1024;
const QUEUE_SIZE = 4;

type Spooled = { kind: "buffer"; body: Buffer; size: number; sha256: string } | { kind: "file"; file: string; size: number; sha256: string };

export function createS3Store(opts: S3StoreOptions): Store {
  const { bucket } = opts;
  const root = opts.prefix.replace(/^\/+|\/+$/g, "");
  const client = new S3Client({
    region: opts.region,
    forcePathStyle: opts.forcePathStyle,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    // Default checksums send stream bodies `aws-chunked` with a CRC32 trailer, which several
    // S3-compatible servers (s3rver among them) store literally, corrupting the object. We check
    // integrity with our own sha256 instead.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const objectKey = (key: string): string => (root ? `${root}/${key}` : key);
  const secrets = [opts.credentials?.accessKeyId, opts.credentials?.secretAccessKey].filter(
    (s): s is string => typeof s === "string" && s.length > 0,
  );

  function fail(err: unknown, op: string, key: string): StoreError {
    if (err instanceof StoreError) return err;
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    let detail = `${e.name ?? "Error"}: ${e.message ?? String(err)}`;
    for (const s of secrets) detail = detail.split(s).join("***");
    const status = e.$metadata?.httpStatusCode;
    // No answer, or the service's own failure: it may work later. A 4xx (access denied, a bad request) will not.
    const Kind = status === undefined || status >= 500 || status === 429 ? StoreUnavailable : StoreError;
    return new Kind(
      `S3 ${op} of key "${key}" in bucket "${bucket}" failed${status ? ` (HTTP ${status})` : ""}: ${detail}`,
      { key, bucket, op },
    );
  }

  function missing(key: string): StoreError {
    return new StoreError(`The store has no object at key "${key}" (S3 bucket "${bucket}", object "${objectKey(key)}").`, {
      key,
      bucket,
    });
  }

  async function put(key: string, body: Readable | Buffer, putOpts?: { contentType?: string; sha256?: string }): Promise<PutResult> {
    assertValidKey(key);
    if (putOpts?.sha256 !== undefined && !Buffer.isBuffer(body)) return putKnown(key, body, putOpts.sha256, putOpts.contentType);
    let spooled: Spooled;
    try {
      spooled = Buffer.isBuffer(body)
        ? { kind: "buffer", body, size: body.length, sha256: createHash("sha256").update(body).digest("hex") }
        : await spool(body);
    } catch (err) {
      throw new StoreError(`Reading the body for key "${key}" failed: ${err instanceof Error ? err.message : String(err)}`, { key });
    }
    if (putOpts?.sha256 !== undefined && putOpts.sha256 !== spooled.sha256) {
      // A Buffer with a wrong claim: refused before anything is sent.
      throw new ChecksumMismatch(key, putOpts.sha256, spooled.sha256);
    }
    try {
      const upload = new Upload({
        client,
        params: {
          Bucket: bucket,
          Key: objectKey(key),
          // Read back in 1 MiB chunks: lib-storage assembles its parts from them (64 KiB reads cost ~10 % here).
          Body: spooled.kind === "buffer" ? spooled.body : createReadStream(spooled.file, { highWaterMark: SPOOL_WRITE }),
          ContentLength: spooled.size,
          Metadata: { sha256: spooled.sha256 },
          ...(putOpts?.contentType ? { ContentType: putOpts.contentType } : {}),
        },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      });
      await upload.done();
    } catch (err) {
      throw fail(err, "upload", key);
    } finally {
      if (spooled.kind === "file") await fs.rm(path.dirname(spooled.file), { recursive: true, force: true });
    }
    return { key, size: spooled.size, sha256: spooled.sha256 };
  }

  /**
   * The sender said what the bytes are: stream them straight into the upload (no spool) with that
   * sha256 in the metadata, hashing as they pass. The hash is compared when the body ends, before
   * the last part (or the only PutObject) is sent, so a body that is not what was said fails the
   * upload and lib-storage aborts it: the object never appears.
   */
  async function putKnown(key: string, body: Readable, expected: string, contentType?: string): Promise<PutResult> {
    if (!/^[0-9a-f]{64}$/.test(expected)) throw new StoreError(`"${expected}" is not a sha256 (64 lowercase hex digits); nothing was stored for key "${key}".`, { key });
    const hash = createHash("sha256");
    let size = 0;
    let actual = "";
    let refused: StoreError | null = null;
    const checked = new Transform({
      transform(chunk: Buffer | string, _enc, cb) {
        const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        hash.update(buf);
        size += buf.length;
        cb(null, buf);
      },
      flush(cb) {
        actual = hash.digest("hex");
        if (actual !== expected) refused = new ChecksumMismatch(key, expected, actual);
        cb(refused);
      },
    });
    body.on("error", (err) => checked.destroy(err));
    try {
      await new Upload({
        client,
        params: { Bucket: bucket, Key: objectKey(key), Body: body.pipe(checked), Metadata: { sha256: expected }, ...(contentType ? { ContentType: contentType } : {}) },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      }).done();
    } catch (err) {
      // The refusal is the answer, whatever aborting the multipart upload then said (a server
      // without AbortMultipartUpload leaves its parts, never an object; S3 lifecycle rules clear them).
      if (refused) throw refused;
      throw fail(err, "upload", key);
    }
    // The upload completed, so the body ended and flush found the bytes to be what was said.
    return { key, size, sha256: actual };
  }

  async function get(key: string): Promise<Readable> {
    assertValidKey(key);
    try {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      if (!(res.Body instanceof Readable)) throw new Error("the response has no readable body");
      return res.Body;
    } catch (err) {
      if (isNotFound(err)) throw missing(key);
      throw fail(err, "GetObject", key);
    }
  }

  async function head(key: string): Promise<StoredObject | null> {
    assertValidKey(key);
    try {
      const res = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      const sha = res.Metadata?.sha256;
      return { key, size: res.ContentLength ?? 0, sha256: sha && /^[0-9a-f]{64}$/.test(sha) ? sha : null };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw fail(err, "HeadObject", key);
    }
  }

  async function remove(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw fail(err, "DeleteObject", key);
    }
  }

  async function list(prefix: string): Promise<StoredObject[]> {
    assertValidPrefix(prefix);
    const strip = root ? `${root}/` : "";
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            ...(strip + prefix ? { Prefix: strip + prefix } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (err) {
        throw fail(err, "ListObjectsV2", prefix);
      }
      for (const obj of page.Contents ?? []) {
        if (!obj.Key?.startsWith(strip)) continue;
        out.push({ key: obj.Key.slice(strip.length), size: obj.Size ?? 0, sha256: null });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  return {
    kind: "s3",
    put,
    get,
    head,
    delete: remove,
    list,
    presignGet: async (key: string) => {
      assertValidKey(key);
      return null;
    },
  };
}

/** Hashes a stream; keeps it in memory when it fits in one part, else writes it to a temp file. */
async function spool(body: Readable): Promise<Spooled> {
  const hash = createHash("sha256");
  let size = 0;
  let chunks: Buffer[] = [];
  let fh: fs.FileHandle | null = null;
  let dir: string | null = null;
  try {
    // Once spooling, chunks are gathered to SPOOL_WRITE bytes and written with one writev.
    let pending = 0;
    for await (const chunk of body as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      hash.update(buf);
      size += buf.length;
      chunks.push(buf);
      pending += buf.length;
      if (!fh && size > PART_SIZE) {
        dir = await fs.mkdtemp(path.join(os.tmpdir(), "vh-s3-put-"));
        fh = await fs.open(path.join(dir, "body"), "wx");
      }
      if (fh && pending >= SPOOL_WRITE) {
        await writeAll(fh, chunks);
        chunks = [];
        pending = 0;
      }
    }
    const sha256 = hash.digest("hex");
    if (!fh || !dir) return { kind: "buffer", body: Buffer.concat(chunks), size, sha256 };
    if (chunks.length) await writeAll(fh, chunks);
    await fh.close();
    fh = null;
    return { kind: "file", file: path.join(dir, "body"), size, sha256 };
  } catch (err) {
    await fh?.close().catch(() => {});
    if (dir) await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** writev until every byte is written (a short write continues where it stopped). */
async function writeAll(fh: fs.FileHandle, chunks: Buffer[]): Promise<void> {
  let rest = chunks;
  while (rest.length) {
    const { bytesWritten } = await fh.writev(rest);
    let n = bytesWritten;
    const next: Buffer[] = [];
    for (const c of rest) {
      if (n >= c.length) n -= c.length;
      else {
        next.push(n > 0 ? c.subarray(n) : c);
        n = 0;
      }
    }
    rest = next;
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  if (e?.name === "NoSuchBucket") return false; // a setup problem, not a missing key
  return e?.name === "NoSuchKey" || e?.name === "NotFound" || e?.$metadata?.httpStatusCode === 404;
}
