/** Makes a gzipped tarball of a directory and uploads it to a stack (tests don't depend on the CLI's packager). */
import fs from "node:fs";
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

export async function uploadSnapshot(stack: Stack, dir: string): Promise<string> {
  const { body, sha256 } = await tarball(dir);
  const res = await stack.raw("PUT", `/api/v1/code/${sha256}`, body, { "content-type": "application/gzip" });
  if (![200, 201].includes(res.status)) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
  return sha256;
}
