/**
 * `s3://bucket/key` and `s3://bucket/prefix/<glob>` inputs (valohai-spec §1.6), resolved at creation
 * into one file per object, each pinned to what the bucket said then: its ETag, and its version id
 * where the bucket keeps versions (a single key's HEAD says it; ListObjectsV2 does not, so a glob's
 * files are pinned by ETag). The host fetches exactly those bytes or fails (./s3-client.ts).
 *
 * Wildcards: `*` matches within one folder level, `**` across levels (`**\/` also matches no folder).
 * The file's name under inputs/NAME/ follows the input's `keep-directories`: `none` its base name,
 * `full` the whole key, `suffix` the key after the folder the first wildcard is in
 * (`s3://b/foo/bar/**.jpg`: `foo/bar/set1/a.jpg` → `set1/a.jpg`).
 *
 * Which endpoint serves the bucket, and with what credentials: app/config.ts (S3InputsConfig).
 */
import path from "node:path";
import { HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, type ListObjectsV2CommandOutput } from "@aws-sdk/client-s3";
import type { RequestedInput } from "../../db/schema/executions.js";
import type { S3InputEndpoint } from "../config.js";
import { VhError } from "../errors.js";
import type { KeepDirectories } from "../valohai/objects.js";
import { describeS3Failure, endpointForBucket, endpointLabel, s3ClientFor, type S3Source } from "./s3-client.js";
import type { InputResolver } from "./types.js";

export interface S3Uri {
  bucket: string;
  key: string;
  /** The key up to the first wildcard (the listing's prefix); the whole key when there is none. */
  literalPrefix: string;
  /** The folder the first wildcard is in (`foo/bar/` for `foo/bar/**.jpg`); a plain key's own folder. */
  root: string;
  /** Matches the keys the glob names; null for a plain key. */
  glob: RegExp | null;
}

/** Splits an `s3://` URI; a VhError (invalid_input) when it names no object or glob. */
export function parseS3Uri(input: string, uri: string): S3Uri {
  const m = /^s3:\/\/([^/]*)\/?(.*)$/is.exec(uri);
  const bucket = m?.[1] ?? "";
  const key = m?.[2] ?? "";
  const bad = (why: string) => new VhError("invalid_input", `Input "${input}": ${uri} ${why}`, { input, uri });
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(bucket)) throw bad(`has no valid bucket name: an S3 input is s3://BUCKET/KEY or s3://BUCKET/PREFIX/* (** for sub-folders too).`);
  if (key === "") throw bad(`names a bucket, not an object: give a key (s3://${bucket}/data.csv) or a glob (s3://${bucket}/*, s3://${bucket}/**).`);
  const star = key.indexOf("*");
  if (star < 0 && key.endsWith("/")) {
    throw bad(`names a folder, not an object: use s3://${bucket}/${key}* for its files, or s3://${bucket}/${key}** for those of its sub-folders too.`);
  }
  const literalPrefix = star < 0 ? key : key.slice(0, star);
  const root = literalPrefix.slice(0, literalPrefix.lastIndexOf("/") + 1);
  return { bucket, key, literalPrefix, root, glob: star < 0 ? null : globRegExp(key) };
}

/** `*`: any characters but `/`; `**`: any characters; `**\/`: zero or more whole folders. Everything else is literal. */
export function globRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; ) {
    if (glob.startsWith("**/", i)) {
      re += "(?:.*/)?";
      i += 3;
    } else if (glob.startsWith("**", i)) {
      re += ".*";
      i += 2;
    } else if (glob[i] === "*") {
      re += "[^/]*";
      i += 1;
    } else {
      re += glob[i]!.replace(/[.+?^${}()|[\]\\/-]/g, "\\$&");
      i += 1;
    }
  }
  return new RegExp(`^${re}$`, "s");
}

/** The file's path under inputs/NAME/ for `key`, as `keep-directories` says. */
export function fileNameOf(u: S3Uri, key: string, keep: KeepDirectories): string {
  if (keep === "full") return key;
  if (keep === "suffix" && key.startsWith(u.root)) return key.slice(u.root.length);
  return path.posix.basename(key);
}

export interface Found {
  key: string;
  etag?: string;
  versionId?: string;
  size?: number;
}

function failure(input: string, uri: string, ep: S3InputEndpoint, err: unknown, what: string): VhError {
  const f = describeS3Failure(err, ep);
  const where = endpointLabel(ep);
  let why: string;
  if (f.code === "NoSuchBucket") why = `the bucket does not exist on ${where}. Fix the bucket name, or serve it from another endpoint (VH_S3_ENDPOINT_<NAME>_BUCKETS).`;
  else if (f.code === "AccessDenied" || f.code === "Forbidden" || f.status === 403) {
    why = `access denied by ${where}: its credentials may not ${what}. Grant them s3:ListBucket and s3:GetObject on the bucket, or serve it from another endpoint.`;
  } else if (f.code === "PermanentRedirect" || f.status === 301) why = `the bucket is in another region than ${where} is set to (VH_S3_ENDPOINT_<NAME>_REGION, or AWS_REGION).`;
  else if (/credential/i.test(f.code) || /credential/i.test(f.detail)) why = `no credentials for ${where}: ${f.detail}. Set its VH_S3_ENDPOINT_<NAME>_ACCESS_KEY_ID and _SECRET_ACCESS_KEY, or the AWS SDK's (AWS_ACCESS_KEY_ID, a profile, a role).`;
  else why = `could not ${what} on ${where}: ${f.detail}${f.status ? ` (HTTP ${f.status})` : ""}.`;
  return new VhError("invalid_input", `Input "${input}": ${uri}: ${why}`, { input, uri, endpoint: ep.name, code: f.code });
}

async function headKey(input: string, uri: string, ep: S3InputEndpoint, u: S3Uri): Promise<Found> {
  const client = s3ClientFor(ep);
  try {
    const out = await client.send(new HeadObjectCommand({ Bucket: u.bucket, Key: u.key }));
    return {
      key: u.key,
      ...(out.ETag ? { etag: out.ETag } : {}),
      ...(out.VersionId && out.VersionId !== "null" ? { versionId: out.VersionId } : {}),
      ...(out.ContentLength !== undefined ? { size: out.ContentLength } : {}),
    };
  } catch (err) {
    const f = describeS3Failure(err, ep);
    if (f.status !== 404 && f.code !== "NotFound" && f.code !== "NoSuchKey") throw failure(input, uri, ep, err, "read the object");
  }
  // A HEAD's 404 has no body: ask the bucket, to say which of the two is missing.
  try {
    await client.send(new HeadBucketCommand({ Bucket: u.bucket }));
  } catch (err) {
    const f = describeS3Failure(err, ep);
    if (f.status === 404 || f.code === "NotFound" || f.code === "NoSuchBucket") throw failure(input, uri, ep, Object.assign(new Error("NoSuchBucket"), { Code: "NoSuchBucket" }), "find the bucket");
    throw failure(input, uri, ep, err, "read the bucket");
  }
  throw new VhError("invalid_input", `Input "${input}": ${uri}: there is no object at key "${u.key}" in bucket "${u.bucket}" (${endpointLabel(ep)}).`, { input, uri, endpoint: ep.name });
}

/** The objects a glob names, listed page by page (`pageSize` keys a page: S3's most, 1000, but in tests). */
export async function listGlob(input: string, uri: string, ep: S3InputEndpoint, u: S3Uri, maxFiles: number, pageSize = 1000): Promise<Found[]> {
  if (!u.glob) throw new Error(`listGlob: ${uri} has no wildcard`);
  const client = s3ClientFor(ep);
  const found: Found[] = [];
  let token: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await client.send(new ListObjectsV2Command({ Bucket: u.bucket, Prefix: u.literalPrefix, MaxKeys: pageSize, ...(token ? { ContinuationToken: token } : {}) }));
    } catch (err) {
      throw failure(input, uri, ep, err, "list the bucket");
    }
    for (const o of page.Contents ?? []) {
      // Keys ending in "/" are the folder markers consoles make, not files.
      if (!o.Key || o.Key.endsWith("/") || !u.glob.test(o.Key)) continue;
      if (found.length >= maxFiles) {
        throw new VhError(
          "invalid_input",
          `Input "${input}": ${uri} matches more than ${maxFiles} files, the most one S3 input may have (VH_S3_INPUT_MAX_FILES): narrow the glob, or split it into several inputs.`,
          { input, uri, maxFiles },
        );
      }
      found.push({ key: o.Key, ...(o.ETag ? { etag: o.ETag } : {}), ...(o.Size !== undefined ? { size: o.Size } : {}) });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (found.length === 0) {
    throw new VhError(
      "invalid_input",
      `Input "${input}": ${uri} matches no file in bucket "${u.bucket}" (${endpointLabel(ep)}; listed the keys under "${u.literalPrefix}"). Fix the glob, or mark the input optional.`,
      { input, uri, endpoint: ep.name },
    );
  }
  return found;
}

export const resolveS3: InputResolver = async (ctx, input, uri, options): Promise<RequestedInput[]> => {
  const u = parseS3Uri(input, uri);
  const cfg = ctx.config.s3Inputs;
  // vh's own artifact store holds every project's outputs, uploads and code: it is read through
  // datum://, dataset:// and model://, which check the project, never as raw s3:// keys.
  const store = ctx.config.store;
  if (store.kind === "s3" && store.bucket === u.bucket) {
    throw new VhError(
      "invalid_input",
      `Input "${input}": ${uri} is in vh's own artifact store (bucket "${u.bucket}"); name its files as datum://, dataset:// or model:// inputs instead.`,
      { input, uri },
    );
  }
  const ep = endpointForBucket(cfg, u.bucket);
  const keep = options?.keepDirectories ?? "none";
  const found = u.glob ? await listGlob(input, uri, ep, u, cfg.maxFiles) : [await headKey(input, uri, ep, u)];
  return found.map((f) => {
    const source: S3Source = {
      kind: "s3",
      bucket: u.bucket,
      key: f.key,
      ...(ep.name !== cfg.sdkDefault.name ? { endpoint: ep.name } : {}),
      ...(f.versionId ? { versionId: f.versionId } : {}),
      ...(f.etag ? { etag: f.etag } : {}),
    };
    return {
      name: input,
      uri,
      source,
      file: fileNameOf(u, f.key, keep),
      ...(f.size !== undefined ? { size: f.size } : {}),
      ...(f.etag ? { etag: f.etag } : {}),
      ...(f.versionId ? { versionId: f.versionId } : {}),
    };
  });
};
