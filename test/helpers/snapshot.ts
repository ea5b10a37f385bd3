/** Makes a gzipped tarball of a directory and uploads it to a stack (tests don't depend on the CLI's packager). */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { create } from "tar";
import type { Stack } from "./stack.js";

export async function tarball(dir: string): Promise<{ body: Buffer; sha256: string }> {
  const files = fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)))
    .sort();
  const chunks: Buffer[] = [];
  for await (const c of create({ gzip: true, cwd: dir, portable: true }, files)) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  return { body, sha256: createHash("sha256").update(body).digest("hex") };
}

/** A forge's archive of `files`: every one under the single folder `top`, gzipped (as GitHub's tarball and GitLab's archive.tar.gz are). */
export async function wrappedTarball(files: Record<string, string>, top: string): Promise<Buffer> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vh-forge-tar-"));
  try {
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(tmp, top, name)), { recursive: true });
      fs.writeFileSync(path.join(tmp, top, name), text);
    }
    const chunks: Buffer[] = [];
    for await (const c of create({ gzip: true, cwd: tmp, portable: true }, [top])) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export async function uploadSnapshot(stack: Stack, dir: string): Promise<string> {
  const { body, sha256 } = await tarball(dir);
  const res = await stack.raw("PUT", `/api/v1/code/${sha256}`, body, { "content-type": "application/gzip" });
  if (![200, 201].includes(res.status)) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
  return sha256;
}

/** Uploads `files` (name → text) as one snapshot to the stack; its sha256. The files are written to a temp dir removed after. */
export async function uploadFiles(stack: Stack, files: Record<string, string>): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-upload-files-"));
  try {
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text);
    }
    return await uploadSnapshot(stack, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
