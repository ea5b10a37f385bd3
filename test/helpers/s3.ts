/**
 * An S3-compatible server (s3rver) on loopback, in a temp directory of its own and on a free port,
 * with a client for it. s3rver keeps no versions and ignores If-Match, which is what vh's own ETag
 * check is for.
 *
 * It runs as a child process with OpenSSL's legacy provider: s3rver makes ListObjectsV2
 * continuation tokens with DES, which Node 20's OpenSSL 3 refuses otherwise (every listing that
 * needs a second page would fail with HTTP 500 in-process).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { freePort } from "./net.js";

/** s3rver's own access key (it accepts only this one). */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface TestS3 {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  client: S3Client;
  createBucket(name: string): Promise<void>;
  put(bucket: string, key: string, body: string | Buffer): Promise<{ etag: string }>;
  /** The VH_S3_INPUT_ENDPOINTS / VH_S3_ENDPOINT_<NAME>_* settings that serve `buckets` from this server. */
  env(name: string, buckets: string[] | "*"): Record<string, string>;
  /** An outage: the server is killed (SIGKILL, mid-request if one is in flight); its objects stay. */
  stop(): Promise<void>;
  /** Back after stop(), on the same port with the same objects. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const s3rverBin = path.join(path.dirname(createRequire(import.meta.url).resolve("s3rver/package.json")), "bin", "s3rver.js");

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

async function spawnS3rver(dir: string, buckets: string[], fixedPort?: number): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = fixedPort ?? (await freePort());
    const args = ["--openssl-legacy-provider", s3rverBin, "-d", dir, "-a", "127.0.0.1", "-p", String(port), "-s", ...buckets.flatMap((b) => ["--configure-bucket", b])];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const until = Date.now() + 15_000;
    let gone = false;
    void exited.then(() => (gone = true));
    while (!gone && Date.now() < until) {
      if (await listening(port)) return { child, port };
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    // The port was taken between freePort and the listen: another try on another port.
    if (gone && /EADDRINUSE/.test(stderr) && attempt < 3 && fixedPort === undefined) continue;
    throw new Error(`s3rver did not start on 127.0.0.1:${port}: ${stderr.trim().slice(0, 500) || "no output"}`);
  }
}

export async function startS3(opts: { buckets?: string[] } = {}): Promise<TestS3> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "vh-s3rver-"));
  const first = await spawnS3rver(dir, opts.buckets ?? []);
  let child = first.child;
  const port = first.port;
  const exitOf = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once("exit", () => r())));
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return {
    endpoint,
    client,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async put(bucket, key, body) {
      const out = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: typeof body === "string" ? Buffer.from(body) : body }));
      return { etag: out.ETag ?? "" };
    },
    env(name, buckets) {
      const N = name.toUpperCase();
      return {
        VH_S3_INPUT_ENDPOINTS: name,
        [`VH_S3_ENDPOINT_${N}_URL`]: endpoint,
        [`VH_S3_ENDPOINT_${N}_REGION`]: "us-east-1",
        [`VH_S3_ENDPOINT_${N}_ACCESS_KEY_ID`]: S3RVER_CREDENTIALS.accessKeyId,
        [`VH_S3_ENDPOINT_${N}_SECRET_ACCESS_KEY`]: S3RVER_CREDENTIALS.secretAccessKey,
        [`VH_S3_ENDPOINT_${N}_BUCKETS`]: buckets === "*" ? "*" : buckets.join(","),
      };
    },
    async stop() {
      const gone = exitOf(child);
      child.kill("SIGKILL");
      await gone;
    },
    async start() {
      if (child.exitCode === null && child.signalCode === null) return;
      // The same port: a client that keeps its endpoint (vh's store) reaches it again.
      ({ child } = await spawnS3rver(dir, [], port));
    },
    async close() {
      client.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await gone;
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
