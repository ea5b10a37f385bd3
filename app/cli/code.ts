/**
 * The code snapshot of an ad-hoc run: package the directory (app/cli/packaging, another module),
 * then upload it only when the server does not have it (`HEAD` / `PUT /code/:sha256`).
 *
 * Packaging is behind the `Packer` function type so tests inject a small one, and so this file
 * is the one place that knows the packaging module's shape.
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { ApiClient } from "./api.js";
import type { Writer } from "./io.js";

export interface CodePackage {
  /** sha256 (hex) of the gzipped tarball: the snapshot's content address. */
  sha256: string;
  /** The gzipped tarball in memory, or the path of a temp file holding it (large trees). */
  data: Uint8Array | string;
  size: number;
  fileCount: number;
  warnings: string[];
  /** Removes the temp file, if any. */
  dispose?: () => Promise<void>;
}

export type Packer = (dir: string, opts: { stderr: Writer }) => Promise<CodePackage>;

/** The packaging module (app/cli/packaging), loaded on first use so --dry-run never loads it. */
export const defaultPacker: Packer = async (dir, { stderr }) => {
  const mod = await import("./packaging/index.js");
  let bar: { update(n: number): void; stop(): void } | null = null;
  const pkg = await mod.packageDirectory(dir, {
    onProgress(done, total) {
      if (!bar && total >= mod.PROGRESS_BAR_MIN_FILES && stderr.isTTY) bar = mod.progressBar(total);
      bar?.update(done);
    },
  });
  (bar as { stop(): void } | null)?.stop();
  return {
    sha256: pkg.sha256,
    data: pkg.archive,
    size: pkg.size,
    fileCount: pkg.files.length,
    warnings: pkg.warnings,
    dispose: () => mod.disposePackage(pkg),
  };
};

/** Uploads the snapshot unless the server already has it. */
export async function uploadIfMissing(client: ApiClient, pkg: CodePackage): Promise<{ uploaded: boolean; bytes: number }> {
  if (await client.hasCode(pkg.sha256)) return { uploaded: false, bytes: 0 };
  const body = typeof pkg.data === "string" ? (Readable.toWeb(createReadStream(pkg.data)) as ReadableStream) : pkg.data;
  const res = await client.putCode(pkg.sha256, body);
  return { uploaded: res.created !== false, bytes: typeof pkg.data === "string" ? pkg.size : pkg.data.length };
}
