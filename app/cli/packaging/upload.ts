/**
 * Content-addressed upload of a code package: the server is asked first whether it already has
 * the sha256, so unchanged code uploads nothing.
 */
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import type { CodePackage } from "./package-directory.js";

export interface CodeUploader {
  has(sha256: string): Promise<boolean>;
  put(sha256: string, body: Buffer | Readable, size: number): Promise<void>;
}

export async function uploadIfMissing(
  pkg: Pick<CodePackage, "archive" | "sha256" | "size">,
  uploader: CodeUploader,
): Promise<{ uploadedBytes: number }> {
  if (await uploader.has(pkg.sha256)) return { uploadedBytes: 0 };
  const body = typeof pkg.archive === "string" ? createReadStream(pkg.archive) : pkg.archive;
  await uploader.put(pkg.sha256, body, pkg.size);
  return { uploadedBytes: pkg.size };
}
