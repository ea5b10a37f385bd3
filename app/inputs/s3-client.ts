/**
 * S3 access for `s3://` inputs, shared by the resolver (./s3.ts, at creation) and the runners (at
 * launch, worker/runners/shared/inputs.ts and ssh/runner.ts), so both pick the same endpoint for a
 * bucket, build the same client and say a failure the same way.
 *
 * Which endpoint serves a bucket (app/config.ts, S3InputsConfig): the named endpoint that lists it;
 * else the named one with BUCKETS=*; else `default`, the AWS SDK's own settings. A record holds the
 * endpoint's NAME only; the worker looks it up in its own configuration when it fetches.
 *
 * Pinning: a fetch asks for the version id when the bucket gave one, else for the ETag seen at
 * creation (If-Match), and checks the answer's ETag / version id itself too: some S3-compatible
 * servers ignore If-Match, and a changed object must fail loudly, never give other bytes.
 */
import type { Readable } from "node:stream";
import { GetObjectCommand, S3Client, type GetObjectCommandInput } from "@aws-sdk/client-s3";
import type { S3InputEndpoint, S3InputsConfig } from "../config.js";
import type { InputSource } from "../contracts/runner.js";

export type S3Source = Extract<InputSource, { kind: "s3" }>;

/** The endpoint that serves `bucket`. */
export function endpointForBucket(cfg: S3InputsConfig, bucket: string): S3InputEndpoint {
  const listed = cfg.endpoints.find((ep) => ep.buckets !== "*" && ep.buckets.includes(bucket));
  return listed ?? cfg.endpoints.find((ep) => ep.buckets === "*") ?? cfg.sdkDefault;
}

/** The endpoint a record names (absent: `default`), or null when this configuration has none of that name. */
export function endpointNamed(cfg: S3InputsConfig, name: string | undefined): S3InputEndpoint | null {
  if (name === undefined || name === cfg.sdkDefault.name) return cfg.sdkDefault;
  return cfg.endpoints.find((ep) => ep.name === name) ?? null;
}

/** What a record says of the endpoint: its name, and its URL when it has one (no credentials). */
export function endpointLabel(ep: S3InputEndpoint): string {
  return ep.url ? `S3 endpoint "${ep.name}" (${ep.url})` : `S3 endpoint "${ep.name}" (AWS, region ${ep.region})`;
}

const clients = new WeakMap<S3InputEndpoint, S3Client>();

/** One client per endpoint (kept: its sockets are reused across inputs and executions). */
export function s3ClientFor(ep: S3InputEndpoint): S3Client {
  let client = clients.get(ep);
  if (!client) {
    client = new S3Client({
      region: ep.region,
      forcePathStyle: ep.forcePathStyle,
      ...(ep.url ? { endpoint: ep.url } : {}),
      ...(ep.credentials ? { credentials: ep.credentials } : {}),
      // As worker/stores/s3.ts: several S3-compatible servers mishandle the SDK's default checksums;
      // vh checks integrity with its own sha256.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    clients.set(ep, client);
  }
  return client;
}

/** The ETag without quotes or a weak marker, for comparing (servers differ in how they quote it). */
export function normalEtag(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  return etag.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

export interface S3Failure {
  /** The S3 error code or HTTP reason, e.g. NoSuchKey, AccessDenied, PreconditionFailed, ECONNREFUSED. */
  code: string;
  status?: number;
  /** One line, with the endpoint's credentials masked. */
  detail: string;
}

/** What went wrong in an S3 call, in one line, never with a credential in it. */
export function describeS3Failure(err: unknown, ep: S3InputEndpoint): S3Failure {
  const e = err as { name?: string; Code?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number }; cause?: { code?: string; message?: string } };
  const status = e.$metadata?.httpStatusCode;
  const byStatus: Record<number, string> = { 301: "PermanentRedirect", 403: "AccessDenied", 404: "NotFound", 412: "PreconditionFailed" };
  let code = e.Code ?? (e.name && e.name !== "Error" && e.name !== "S3ServiceException" && e.name !== "Unknown" ? e.name : undefined) ?? e.code ?? e.cause?.code ?? (status ? byStatus[status] : undefined) ?? "Error";
  if (code === "UnknownError" && status && byStatus[status]) code = byStatus[status]!;
  let detail = e.message && e.message !== "UnknownError" ? e.message : code;
  if (e.cause?.code && !detail.includes(e.cause.code)) detail += ` (${e.cause.code})`;
  for (const s of [ep.credentials?.accessKeyId, ep.credentials?.secretAccessKey, ep.credentials?.sessionToken]) {
    if (s) detail = detail.split(s).join("***");
  }
  detail = detail.replace(/\s+/g, " ").trim().slice(0, 300);
  return { code, ...(status ? { status } : {}), detail };
}

/** The request a pinned fetch of `source` sends: by version id when known, else If-Match on the ETag. */
export function pinnedGet(source: S3Source): GetObjectCommandInput {
  return {
    Bucket: source.bucket,
    Key: source.key,
    ...(source.versionId ? { VersionId: source.versionId } : source.etag ? { IfMatch: source.etag } : {}),
  };
}

/** A fetch of an S3 input that did not give the pinned bytes; `message` is written for the execution's record. */
export class S3FetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "S3FetchError";
  }
}

/** The part of an S3 client a fetch uses (tests pass a fake to see the request). */
export interface S3Sender {
  send(command: GetObjectCommand): Promise<{ Body?: unknown; ETag?: string; VersionId?: string; ContentLength?: number }>;
}

/**
 * Opens the object `source` names, pinned as resolved at creation. Throws S3FetchError saying what
 * happened (the object changed, is gone, access denied, the endpoint is not configured here).
 */
export async function openS3Object(
  cfg: S3InputsConfig,
  source: S3Source,
  client?: S3Sender,
): Promise<{ body: Readable; size: number | undefined; etag: string | undefined }> {
  const uri = `s3://${source.bucket}/${source.key}`;
  const ep = endpointNamed(cfg, source.endpoint);
  if (!ep) {
    throw new S3FetchError(
      `${uri} was resolved through S3 endpoint "${source.endpoint}", which this worker does not have: add it to VH_S3_INPUT_ENDPOINTS (with its VH_S3_ENDPOINT_${source.endpoint!.toUpperCase()}_* settings) on every worker.`,
    );
  }
  const sender = client ?? s3ClientFor(ep);
  const pin = source.versionId ? `version ${source.versionId}` : source.etag ? `ETag ${source.etag}` : null;
  let out: Awaited<ReturnType<S3Sender["send"]>>;
  try {
    out = await sender.send(new GetObjectCommand(pinnedGet(source)));
  } catch (err) {
    const f = describeS3Failure(err, ep);
    if (f.code === "PreconditionFailed" || f.status === 412) {
      throw new S3FetchError(`${uri} changed after the execution was created: it no longer has ${pin} (${endpointLabel(ep)}). Create the execution again to use the object as it is now.`);
    }
    if (f.code === "NoSuchKey" || f.code === "NotFound" || f.code === "NoSuchVersion") {
      throw new S3FetchError(`${uri}${pin ? ` (${pin})` : ""} no longer exists (${endpointLabel(ep)}).`);
    }
    throw new S3FetchError(`${uri} could not be read from ${endpointLabel(ep)}: ${f.detail}${f.status ? ` (HTTP ${f.status})` : ""}.`);
  }
  const body = out.Body as Readable | undefined;
  const drop = () => body?.destroy?.();
  if (!body || typeof (body as Readable).pipe !== "function") {
    drop();
    throw new S3FetchError(`${uri}: ${endpointLabel(ep)} answered without a body.`);
  }
  // Checked here too: a server that ignores If-Match (s3rver, some gateways) would give the new bytes.
  if (source.versionId && out.VersionId && out.VersionId !== source.versionId) {
    drop();
    throw new S3FetchError(`${uri} changed after the execution was created: asked for version ${source.versionId}, got ${out.VersionId} (${endpointLabel(ep)}).`);
  }
  if (!source.versionId && source.etag && out.ETag && normalEtag(out.ETag) !== normalEtag(source.etag)) {
    drop();
    throw new S3FetchError(
      `${uri} changed after the execution was created: its ETag was ${source.etag} then and is ${out.ETag} now (${endpointLabel(ep)}). Create the execution again to use the object as it is now.`,
    );
  }
  return { body, size: out.ContentLength, etag: out.ETag };
}
