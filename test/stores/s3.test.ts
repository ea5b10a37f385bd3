/**
 * The S3 store against s3rver on loopback (toolchain-spikes §7), in a temp directory per file.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { StoreError } from "../../app/errors.js";
import { createS3Store, PART_SIZE } from "../../worker/stores/s3.js";
import { createStore } from "../../worker/stores/index.js";
import { bigStream, readAll, sha256, storeContract } from "../contracts/store-contract.js";

const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
let server: S3rver;
let dir: string;
let endpoint: string;
let bucketNo = 0;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "vh-s3rver-"));
  server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: Array.from({ length: 4 }, (_, i) => ({ name: `vh-test-${i}` })),
  });
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await server?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

function makeStore(prefix: string) {
  const bucket = `vh-test-${bucketNo++}`;
  return {
    bucket,
    store: createS3Store({ bucket, prefix, region: "us-east-1", endpoint, forcePathStyle: true, credentials }),
  };
}

// ListObjectsV2 does not return user metadata, so list has no sha256; presigning is not built in (worker/stores/s3.ts).
const s3Facts = { listsSha256: false, presigns: false };
storeContract("s3 (bucket root)", async () => ({ store: makeStore("").store, ...s3Facts, cleanup: async () => {} }));
storeContract("s3 (with prefix)", async () => ({ store: makeStore("vh/data/").store, ...s3Facts, cleanup: async () => {} }));

describe("s3 store specifics", () => {
  it("uploads a body larger than one part as multipart and keeps its sha256 for head", async () => {
    const { store, bucket } = makeStore("mp");
    const total = 2 * PART_SIZE + 12345;
    const { stream, sha256: want } = bigStream(total);
    const send = vi.spyOn(S3Client.prototype, "send");
    let put;
    let sent: string[];
    try {
      put = await store.put("multi/part.bin", stream, { contentType: "application/octet-stream" });
    } finally {
      sent = send.mock.calls.map(([cmd]) => cmd.constructor.name);
      send.mockRestore();
    }
    expect(put).toEqual({ key: "multi/part.bin", size: total, sha256: want });
    expect(sent.filter((n) => n === "UploadPartCommand")).toHaveLength(3);
    expect(sent).toContain("CreateMultipartUploadCommand");
    expect(sent).toContain("CompleteMultipartUploadCommand");
    const raw = new S3Client({
      region: "us-east-1",
      endpoint,
      forcePathStyle: true,
      credentials,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const h = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: "mp/multi/part.bin" }));
    raw.destroy();
    expect(h.Metadata?.sha256).toBe(want);
    expect(h.ContentType).toBe("application/octet-stream");
    expect(await store.head("multi/part.bin")).toEqual({ key: "multi/part.bin", size: total, sha256: want });
    expect(sha256(await readAll(await store.get("multi/part.bin")))).toBe(want);
  });

  it("sha256 survives head for a single-part stream", async () => {
    const { store } = makeStore("");
    const { stream, sha256: want } = bigStream(3 * 1024 * 1024);
    await store.put("single.bin", stream);
    expect((await store.head("single.bin"))?.sha256).toBe(want);
  });

  it("wraps SDK errors in a StoreError naming the key and bucket, without credentials", async () => {
    const store = createS3Store({
      bucket: "no-such-bucket",
      prefix: "",
      region: "us-east-1",
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    });
    const err = await store.put("some/key", Buffer.from("x")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as Error).message).toContain('"some/key"');
    expect((err as Error).message).toContain('"no-such-bucket"');
    expect((err as Error).message).not.toContain("S3RVER");
  });

  it("createStore builds an S3 store from the config", () => {
    const store = createStore({ kind: "s3", bucket: "b", prefix: "", region: "us-east-1", endpoint, forcePathStyle: true });
    expect(store.kind).toBe("s3");
  });
});
