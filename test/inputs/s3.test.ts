/**
 * `s3://` inputs: the endpoint settings, the URI and glob rules, resolution against s3rver on
 * loopback (single keys, `*` and `**` globs, keep-directories, what is missing or denied, the cap,
 * paging), and the host's pinned fetch (ETag against s3rver; version ids through a fake client,
 * since s3rver keeps no versions).
 */
import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { DeleteObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type Config } from "../../app/config.js";
import { VhError } from "../../app/errors.js";
import type { InputFileSpec } from "../../app/contracts/runner.js";
import { resolveInputUri, type ResolveContext } from "../../app/inputs/resolve.js";
import { fileNameOf, globRegExp, listGlob, parseS3Uri } from "../../app/inputs/s3.js";
import { describeS3Failure, endpointForBucket, openS3Object, pinnedGet, type S3Sender } from "../../app/inputs/s3-client.js";
import type { RequestedInput } from "../../db/schema/executions.js";
import { createInputCache } from "../../worker/runners/shared/inputs.js";
import { createTempStore } from "../runners/temp-store.js";
import { startS3, type TestS3 } from "../helpers/s3.js";

const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

function config(env: Record<string, string>): Config {
  return loadConfig({ VH_DATA_DIR: path.join(os.tmpdir(), "vh-s3-inputs-config"), ...env });
}

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error");
}

describe("s3 input endpoint settings", () => {
  it("reads named endpoints, their buckets and credentials, and the AWS SDK default", () => {
    const c = config({
      VH_S3_INPUT_ENDPOINTS: "Lake, minio",
      VH_S3_ENDPOINT_LAKE_URL: "https://lake.example:9000/",
      VH_S3_ENDPOINT_LAKE_BUCKETS: "raw, curated",
      VH_S3_ENDPOINT_LAKE_ACCESS_KEY_ID: "AKIA1",
      VH_S3_ENDPOINT_LAKE_SECRET_ACCESS_KEY: "shh",
      VH_S3_ENDPOINT_MINIO_URL: "http://127.0.0.1:9000",
      VH_S3_ENDPOINT_MINIO_BUCKETS: "*",
      VH_S3_ENDPOINT_MINIO_PATH_STYLE: "false",
      VH_S3_ENDPOINT_MINIO_REGION: "eu-north-1",
      AWS_REGION: "eu-west-1",
      VH_S3_INPUT_MAX_FILES: "50",
    });
    expect(c.s3Inputs.maxFiles).toBe(50);
    expect(c.s3Inputs.endpoints).toEqual([
      { name: "lake", url: "https://lake.example:9000", region: "eu-west-1", forcePathStyle: true, credentials: { accessKeyId: "AKIA1", secretAccessKey: "shh" }, buckets: ["raw", "curated"] },
      { name: "minio", url: "http://127.0.0.1:9000", region: "eu-north-1", forcePathStyle: false, buckets: "*" },
    ]);
    expect(c.s3Inputs.sdkDefault).toEqual({ name: "default", region: "eu-west-1", forcePathStyle: false, buckets: "*" });
    expect(endpointForBucket(c.s3Inputs, "curated").name).toBe("lake");
    // BUCKETS=* takes every bucket no other endpoint lists, before the SDK default.
    expect(endpointForBucket(c.s3Inputs, "anything").name).toBe("minio");
  });

  it("without named endpoints every bucket goes to the SDK default, which honours AWS_ENDPOINT_URL_S3", () => {
    const c = config({ AWS_ENDPOINT_URL_S3: "http://127.0.0.1:4566" });
    expect(c.s3Inputs.endpoints).toEqual([]);
    expect(c.s3Inputs.maxFiles).toBe(10_000);
    expect(endpointForBucket(c.s3Inputs, "b")).toEqual({ name: "default", url: "http://127.0.0.1:4566", region: "us-east-1", forcePathStyle: true, buckets: "*" });
  });

  it("names every mistake at once, and never a secret", () => {
    const err = errorOf(() =>
      config({
        VH_S3_INPUT_ENDPOINTS: "a,b,default,c,c",
        VH_S3_ENDPOINT_A_URL: "ftp://x",
        VH_S3_ENDPOINT_A_BUCKETS: "shared",
        VH_S3_ENDPOINT_A_ACCESS_KEY_ID: "AKIAHALF",
        VH_S3_ENDPOINT_B_BUCKETS: "shared",
        VH_S3_ENDPOINT_B_PATH_STYLE: "maybe",
        VH_S3_ENDPOINT_C_BUCKETS: "x",
        VH_S3_ENDPOINT_TYPO_SECRET_ACCESS_KEY: "very-secret-value",
      }),
    );
    expect(err).toBeInstanceOf(VhError);
    expect((err as VhError).code).toBe("invalid_config");
    const m = err.message;
    expect(m).toContain(`VH_S3_ENDPOINT_A_URL: "ftp://x" is not an http:// or https:// URL.`);
    expect(m).toContain("VH_S3_ENDPOINT_A_ACCESS_KEY_ID and VH_S3_ENDPOINT_A_SECRET_ACCESS_KEY go together");
    expect(m).toContain(`VH_S3_ENDPOINT_B_PATH_STYLE: expected true/false, got "maybe".`);
    expect(m).toContain(`Bucket "shared" is served by two S3 input endpoints ("a" and "b")`);
    expect(m).toContain(`"default" is the AWS SDK's own endpoint`);
    expect(m).toContain(`VH_S3_INPUT_ENDPOINTS names "c" twice.`);
    expect(m).toContain(`VH_S3_ENDPOINT_TYPO_SECRET_ACCESS_KEY is set, but "typo" is not in VH_S3_INPUT_ENDPOINTS`);
    expect(m).not.toContain("very-secret-value");
    expect(m).not.toContain("AKIAHALF");
  });

  it("requires BUCKETS, and allows one BUCKETS=* only", () => {
    expect(errorOf(() => config({ VH_S3_INPUT_ENDPOINTS: "x" })).message).toContain("VH_S3_ENDPOINT_X_BUCKETS is required");
    const m = errorOf(() => config({ VH_S3_INPUT_ENDPOINTS: "x,y", VH_S3_ENDPOINT_X_BUCKETS: "*", VH_S3_ENDPOINT_Y_BUCKETS: "*" })).message;
    expect(m).toContain("Only one S3 input endpoint may serve every other bucket (BUCKETS=*): x, y do.");
  });

  it("masks an endpoint's credentials in what an S3 failure says", () => {
    const ep = { name: "x", region: "us-east-1", forcePathStyle: true, buckets: "*" as const, credentials: { accessKeyId: "AKIAXYZ", secretAccessKey: "s3cret" } };
    const f = describeS3Failure(Object.assign(new Error("The AWS Access Key Id AKIAXYZ does not exist (secret s3cret)"), { name: "InvalidAccessKeyId", $metadata: { httpStatusCode: 403 } }), ep);
    expect(f).toEqual({ code: "InvalidAccessKeyId", status: 403, detail: "The AWS Access Key Id *** does not exist (secret ***)" });
  });
});

describe("s3 URIs and globs", () => {
  it("splits bucket, key, the listing prefix and the wildcard's folder", () => {
    expect(parseS3Uri("d", "s3://b/foo/bar/**.jpg")).toMatchObject({ bucket: "b", key: "foo/bar/**.jpg", literalPrefix: "foo/bar/", root: "foo/bar/" });
    expect(parseS3Uri("d", "s3://b/foo/ba*/x")).toMatchObject({ literalPrefix: "foo/ba", root: "foo/" });
    expect(parseS3Uri("d", "s3://b/data.csv")).toMatchObject({ key: "data.csv", literalPrefix: "data.csv", root: "", glob: null });
  });

  it("matches * within one level, ** across levels, **/ across zero or more folders", () => {
    const one = globRegExp("data/*.csv");
    expect(["data/a.csv", "data/.csv"].every((k) => one.test(k))).toBe(true);
    expect(["data/sub/a.csv", "data/a.csvx", "xdata/a.csv"].some((k) => one.test(k))).toBe(false);
    const deep = globRegExp("data/**.csv");
    expect(["data/a.csv", "data/s/t/a.csv"].every((k) => deep.test(k))).toBe(true);
    const folders = globRegExp("data/**/b.csv");
    expect(["data/b.csv", "data/x/b.csv", "data/x/y/b.csv"].every((k) => folders.test(k))).toBe(true);
    expect(folders.test("data/xb.csv")).toBe(false);
    // Regular-expression characters in keys are literal.
    expect(globRegExp("a+b(1).[x]/*").test("a+b(1).[x]/f")).toBe(true);
    expect(globRegExp("a.b/*").test("aXb/f")).toBe(false);
  });

  it("names files as keep-directories says", () => {
    const u = parseS3Uri("d", "s3://b/foo/bar/**.jpg");
    expect(fileNameOf(u, "foo/bar/set1/a.jpg", "none")).toBe("a.jpg");
    expect(fileNameOf(u, "foo/bar/set1/a.jpg", "suffix")).toBe("set1/a.jpg");
    expect(fileNameOf(u, "foo/bar/set1/a.jpg", "full")).toBe("foo/bar/set1/a.jpg");
  });

  it("refuses URIs that name no object, saying what to write instead", () => {
    expect(errorOf(() => parseS3Uri("data", "s3://b")).message).toBe(`Input "data": s3://b names a bucket, not an object: give a key (s3://b/data.csv) or a glob (s3://b/*, s3://b/**).`);
    expect(errorOf(() => parseS3Uri("data", "s3://b/dir/")).message).toContain("names a folder, not an object: use s3://b/dir/* for its files");
    expect(errorOf(() => parseS3Uri("data", "s3:///key")).message).toContain("has no valid bucket name");
  });
});

describe("s3 inputs against s3rver", () => {
  let s3: TestS3;
  let cfg: Config;
  let ctx: ResolveContext;
  const etags: Record<string, string> = {};
  const body = (key: string) => `contents of ${key}\n`;
  const keys = ["data/train.csv", "data/test.csv", "data/readme.txt", "data/sub/a.csv", "data/sub/deep/b.csv", "elsewhere/train.csv"];

  beforeAll(async () => {
    s3 = await startS3({ buckets: ["lake", "many"] });
    for (const k of keys) etags[k] = (await s3.put("lake", k, body(k))).etag;
    // A console's folder marker: not a file.
    await s3.put("lake", "data/sub/", "");
    cfg = config({ ...s3.env("lake", ["lake", "many", "nosuchbucket"]), VH_S3_INPUT_MAX_FILES: "2000" });
    ctx = { config: cfg } as unknown as ResolveContext;
  }, 60_000);

  afterAll(async () => {
    await s3?.close();
  });

  const resolve = (uri: string, keep: "none" | "suffix" | "full" = "none", c: ResolveContext = ctx) => resolveInputUri(c, "data", uri, { keepDirectories: keep });
  const refusal = async (p: Promise<unknown>) => {
    const err = (await p.catch((e: unknown) => e)) as VhError;
    expect(err).toBeInstanceOf(VhError);
    expect(err.code).toBe("invalid_input");
    return err.message;
  };

  it("resolves a single key to one file pinned by its ETag, with its size", async () => {
    const got = await resolve("s3://lake/data/train.csv");
    expect(got).toEqual([
      {
        name: "data",
        uri: "s3://lake/data/train.csv",
        source: { kind: "s3", bucket: "lake", key: "data/train.csv", endpoint: "lake", etag: etags["data/train.csv"] },
        file: "train.csv",
        size: body("data/train.csv").length,
        etag: etags["data/train.csv"],
      },
    ] satisfies RequestedInput[]);
    expect(etags["data/train.csv"]).toMatch(/^"[0-9a-f]{32}"$/);
    expect((await resolve("s3://lake/data/train.csv", "full"))[0]!.file).toBe("data/train.csv");
  });

  it("* takes the files of one folder level only", async () => {
    const got = await resolve("s3://lake/data/*.csv");
    expect(got.map((g) => g.source)).toEqual([
      { kind: "s3", bucket: "lake", key: "data/test.csv", endpoint: "lake", etag: etags["data/test.csv"] },
      { kind: "s3", bucket: "lake", key: "data/train.csv", endpoint: "lake", etag: etags["data/train.csv"] },
    ]);
    expect(got.map((g) => g.file)).toEqual(["test.csv", "train.csv"]);
    expect(got.map((g) => g.size)).toEqual([body("data/test.csv").length, body("data/train.csv").length]);
  });

  it("** takes every level, and keep-directories none | suffix | full names the files", async () => {
    const uri = "s3://lake/data/**.csv";
    expect((await resolve(uri, "none")).map((g) => g.file)).toEqual(["a.csv", "b.csv", "test.csv", "train.csv"]);
    expect((await resolve(uri, "suffix")).map((g) => g.file)).toEqual(["sub/a.csv", "sub/deep/b.csv", "test.csv", "train.csv"]);
    expect((await resolve(uri, "full")).map((g) => g.file)).toEqual(["data/sub/a.csv", "data/sub/deep/b.csv", "data/test.csv", "data/train.csv"]);
    expect((await resolve("s3://lake/**/train.csv", "full")).map((g) => g.file)).toEqual(["data/train.csv", "elsewhere/train.csv"]);
    // The folder marker "data/sub/" is not a file.
    expect((await resolve("s3://lake/data/sub/**", "suffix")).map((g) => g.file)).toEqual(["a.csv", "deep/b.csv"]);
  });

  it("refuses a glob that matches nothing, naming the input and the URI", async () => {
    expect(await refusal(resolve("s3://lake/data/*.parquet"))).toBe(
      `Input "data": s3://lake/data/*.parquet matches no file in bucket "lake" (S3 endpoint "lake" (${s3.endpoint}); listed the keys under "data/"). Fix the glob, or mark the input optional.`,
    );
  });

  it("refuses a missing key and a missing bucket, saying which", async () => {
    expect(await refusal(resolve("s3://lake/data/nope.csv"))).toBe(
      `Input "data": s3://lake/data/nope.csv: there is no object at key "data/nope.csv" in bucket "lake" (S3 endpoint "lake" (${s3.endpoint})).`,
    );
    const single = await refusal(resolve("s3://nosuchbucket/x.csv"));
    expect(single).toMatch(/^Input "data": s3:\/\/nosuchbucket\/x.csv: the bucket does not exist on S3 endpoint "lake"/);
    expect(await refusal(resolve("s3://nosuchbucket/*"))).toMatch(/^Input "data": s3:\/\/nosuchbucket\/\*: the bucket does not exist on S3 endpoint "lake"/);
  });

  it("refuses keys in vh's own artifact store, which is read through datum://, dataset:// and model://", async () => {
    const own = config({ ...s3.env("lake", ["lake", "many"]), VH_STORE: "s3", VH_S3_BUCKET: "many", VH_S3_ENDPOINT: s3.endpoint, VH_S3_FORCE_PATH_STYLE: "true" });
    const c = { config: own } as unknown as ResolveContext;
    for (const uri of ["s3://many/data/x/out.bin", "s3://many/**"]) {
      expect(await refusal(resolve(uri, "none", c))).toBe(`Input "data": ${uri} is in vh's own artifact store (bucket "many"); name its files as datum://, dataset:// or model:// inputs instead.`);
    }
    // other buckets of the same server are read as before
    expect((await resolve("s3://lake/data/train.csv", "none", c)).map((g) => g.file)).toEqual(["train.csv"]);
  });

  it("refuses when the endpoint's credentials are refused, without showing them", async () => {
    const bad = config({ ...s3.env("lake", ["lake"]), VH_S3_ENDPOINT_LAKE_SECRET_ACCESS_KEY: "wrong-secret-123", VH_S3_ENDPOINT_LAKE_ACCESS_KEY_ID: "WRONGKEYID" });
    const c = { config: bad } as unknown as ResolveContext;
    for (const uri of ["s3://lake/data/train.csv", "s3://lake/data/*"]) {
      const m = await refusal(resolve(uri, "none", c));
      expect(m).toContain(`Input "data": ${uri}: access denied by S3 endpoint "lake"`);
      expect(m).not.toContain("wrong-secret-123");
      expect(m).not.toContain("WRONGKEYID");
    }
  });

  it("refuses a glob past VH_S3_INPUT_MAX_FILES", async () => {
    const small = { config: { ...cfg, s3Inputs: { ...cfg.s3Inputs, maxFiles: 3 } } } as unknown as ResolveContext;
    expect(await refusal(resolve("s3://lake/data/**", "none", small))).toBe(
      `Input "data": s3://lake/data/** matches more than 3 files, the most one S3 input may have (VH_S3_INPUT_MAX_FILES): narrow the glob, or split it into several inputs.`,
    );
    expect(await resolve("s3://lake/data/*.csv", "none", small)).toHaveLength(2);
  });

  it("follows the listing over several pages", async () => {
    const n = 23;
    await Promise.all(Array.from({ length: n }, (_, i) => s3.put("many", `p/${String(i).padStart(3, "0")}.txt`, `${i}`)));
    // Keys between the pages that the glob does not take must not stop the paging.
    await Promise.all(["p/005.skip", "p/010.skip", "p/zzz.skip"].map((k) => s3.put("many", k, "x")));
    const ep = endpointForBucket(cfg.s3Inputs, "many");
    const u = parseS3Uri("data", "s3://many/p/*.txt");
    for (const pageSize of [1, 4, 1000]) {
      const got = await listGlob("data", "s3://many/p/*.txt", ep, u, 100, pageSize);
      expect(got.map((g) => g.key)).toEqual(Array.from({ length: n }, (_, i) => `p/${String(i).padStart(3, "0")}.txt`));
      expect(new Set(got.map((g) => g.etag)).size).toBe(n);
    }
    await expect(listGlob("data", "s3://many/p/*.txt", ep, u, 22, 4)).rejects.toThrow("matches more than 22 files");
  });

  it("lists s3:// among the schemes it accepts", async () => {
    expect(await refusal(resolveInputUri(ctx, "data", "gs://b/k"))).toMatch(/inputs may be .*s3:\/\//);
  });

  describe("the host's fetch", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), "vh-s3-fetch-"));
    });
    afterAll(async () => {
      await fs.rm(dir, { recursive: true, force: true });
    });

    const specsOf = (got: RequestedInput[]): InputFileSpec[] =>
      got.map((g) => ({ input: g.name, name: g.file, uri: g.uri, source: g.source, ...(g.size !== undefined ? { size: g.size } : {}) }));
    const cache = (c: Config = cfg) => createInputCache({ cacheRoot: path.join(dir, "cache"), store: createTempStore(path.join(dir, "store")), fetch, s3Inputs: c.s3Inputs });
    const work = () => path.join(dir, `run-${randomUUID()}`, "inputs");

    it("fetches each file into inputs/NAME/, hashes it, and hits the cache the second time", async () => {
      const specs = specsOf(await resolve("s3://lake/data/**.csv", "suffix"));
      const inputs = work();
      const fetched = await cache().fetchInputs(specs, inputs);
      expect(fetched.map((f) => [f.name, f.sha256, f.size, f.cached])).toEqual(
        ["data/sub/a.csv", "data/sub/deep/b.csv", "data/test.csv", "data/train.csv"].map((k) => [k.slice(5), sha(body(k)), body(k).length, false]),
      );
      expect(await fs.readFile(path.join(inputs, "data", "sub", "deep", "b.csv"), "utf8")).toBe(body("data/sub/deep/b.csv"));
      const again = await cache().fetchInputs(specs, work());
      expect(again.every((f) => f.cached)).toBe(true);
    });

    it("fails loudly when the object changed after creation, and links nothing", async () => {
      const key = `changing/${randomUUID()}.csv`;
      await s3.put("lake", key, "version one\n");
      const specs = specsOf(await resolve(`s3://lake/${key}`));
      const before = specs[0]!.source.kind === "s3" ? specs[0]!.source.etag : undefined;
      const now = (await s3.put("lake", key, "version two, other bytes\n")).etag;
      const inputs = work();
      const err = (await cache().fetchInputs(specs, inputs).catch((e: unknown) => e)) as Error;
      expect(err.message).toBe(
        `Input "data": s3://lake/${key} changed after the execution was created: its ETag was ${before} then and is ${now} now (S3 endpoint "lake" (${s3.endpoint})). Create the execution again to use the object as it is now.`,
      );
      await expect(fs.stat(path.join(inputs, "data", path.basename(key)))).rejects.toThrow();
      // Nothing half-written is left in the cache's temp folder.
      expect(await fs.readdir(path.join(dir, "cache", "tmp"))).toEqual([]);
    });

    it("fails when the object is gone, or its endpoint is not configured on this worker", async () => {
      const key = `gone/${randomUUID()}.csv`;
      await s3.put("lake", key, "here for now\n");
      const specs = specsOf(await resolve(`s3://lake/${key}`));
      await s3.client.send(new DeleteObjectCommand({ Bucket: "lake", Key: key }));
      const err = (await cache().fetchInputs(specs, work()).catch((e: unknown) => e)) as Error;
      expect(err.message).toMatch(new RegExp(`^Input "data": s3://lake/${key} \\(ETag "[0-9a-f]+"\\) no longer exists \\(S3 endpoint "lake"`));
      const other = config({ VH_DATA_DIR: dir });
      const err2 = (await cache(other).fetchInputs(specs, work()).catch((e: unknown) => e)) as Error;
      expect(err2.message).toContain(`was resolved through S3 endpoint "lake", which this worker does not have: add it to VH_S3_INPUT_ENDPOINTS`);
    });

    it("pins by version id when the bucket gave one, by If-Match otherwise, and checks the answer itself", async () => {
      const sent: Record<string, unknown>[] = [];
      const fake = (answer: { ETag?: string; VersionId?: string }): S3Sender => ({
        async send(cmd: GetObjectCommand) {
          sent.push({ ...cmd.input });
          return { Body: Readable.from([Buffer.from("bytes")]), ContentLength: 5, ...answer };
        },
      });
      const versioned = { kind: "s3" as const, bucket: "lake", key: "k", endpoint: "lake", versionId: "v-1", etag: '"e1"' };
      expect(pinnedGet(versioned)).toEqual({ Bucket: "lake", Key: "k", VersionId: "v-1" });
      const ok = await openS3Object(cfg.s3Inputs, versioned, fake({ VersionId: "v-1", ETag: '"e1"' }));
      ok.body.destroy();
      await expect(openS3Object(cfg.s3Inputs, versioned, fake({ VersionId: "v-2" }))).rejects.toThrow(
        `s3://lake/k changed after the execution was created: asked for version v-1, got v-2`,
      );
      const byEtag = { kind: "s3" as const, bucket: "lake", key: "k", endpoint: "lake", etag: '"e1"' };
      expect(pinnedGet(byEtag)).toEqual({ Bucket: "lake", Key: "k", IfMatch: '"e1"' });
      // A weak or unquoted ETag in the answer is the same ETag.
      (await openS3Object(cfg.s3Inputs, byEtag, fake({ ETag: 'W/"e1"' }))).body.destroy();
      expect(sent.map((s) => s["VersionId"] ?? s["IfMatch"])).toEqual(["v-1", "v-1", '"e1"']);
      // A server that honours If-Match answers 412.
      const refusing: S3Sender = {
        async send() {
          throw Object.assign(new Error("At least one of the pre-conditions you specified did not hold"), { name: "PreconditionFailed", $metadata: { httpStatusCode: 412 } });
        },
      };
      await expect(openS3Object(cfg.s3Inputs, byEtag, refusing)).rejects.toThrow(`s3://lake/k changed after the execution was created: it no longer has ETag "e1"`);
    });

    it("checks the fetched bytes against a known sha256", async () => {
      const specs = specsOf(await resolve("s3://lake/data/test.csv")).map((s) => ({ ...s, sha256: sha("something else") }));
      const err = (await cache().fetchInputs(specs, work()).catch((e: unknown) => e)) as Error;
      expect(err.message).toContain(`checksum mismatch: expected sha256 ${sha("something else")}, got ${sha(body("data/test.csv"))}`);
    });
  });
});
