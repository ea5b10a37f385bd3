/**
 * The code snapshot of an ad-hoc run: package the directory (app/cli/packaging, another module),
 * then upload it only when the server does not have it (`HEAD` / `PUT /code/:sha256`). This is the
 * CLI's one upload path: a package kept in a temp file is streamed, never read into memory, and
 * the bytes show on stderr as they go (app/cli/transfer-progress.ts: a bar on a terminal, plain
 * lines in a log).
 *
 * Packaging is behind the `Packer` function type so tests inject a small one, and so this file
 * is the one place that knows the packaging module's shape.
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { ApiClient } from "./api.js";
import type { CodePackage, Packer, Writer } from "./io.js";
import { trackedBody } from "./transfer-progress.js";

export type { CodePackage, Packer } from "./io.js";
import type { CodePackage as PackagedDirectory } from "./packaging/index.js";

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
  return fromPackage(pkg);
};

/** A package made by app/cli/packaging's `packageDirectory`, as a CodePackage (`dispose` removes its temp file). */
export function fromPackage(pkg: PackagedDirectory): CodePackage {
  return {
    sha256: pkg.sha256,
    data: pkg.archive,
    size: pkg.size,
    fileCount: pkg.files.length,
    warnings: pkg.warnings,
    dispose: async () => (await import("./packaging/index.js")).disposePackage(pkg),
  };
}

/** What uploading needs of the server: the ApiClient's two code-snapshot calls. */
export type CodeServer = Pick<ApiClient, "hasCode"> & {
  /** `created: false`: the server already had it (another upload won the race since `hasCode`). */
  putCode(sha256: string, body: Uint8Array | ReadableStream): Promise<{ created?: boolean }>;
};

/**
 * Uploads the snapshot unless the server already has it. `uploaded` says whether the server
 * stored it now; `bytes` is what was sent (0 when the server already had it at `hasCode`).
 * With `progress`, the bytes sent show on that writer as they go.
 */
export async function uploadIfMissing(
  server: CodeServer,
  pkg: Pick<CodePackage, "sha256" | "data" | "size">,
  opts: { progress?: Writer; now?: () => number } = {},
): Promise<{ uploaded: boolean; bytes: number }> {
  if (await server.hasCode(pkg.sha256)) return { uploaded: false, bytes: 0 };
  const raw = typeof pkg.data === "string" ? (Readable.toWeb(createReadStream(pkg.data)) as ReadableStream<Uint8Array>) : pkg.data;
  const body = opts.progress
    ? trackedBody(opts.progress, raw, { label: "Uploading code", total: pkg.size, ...(opts.now ? { now: opts.now } : {}) })
    : raw;
  const res = await server.putCode(pkg.sha256, body);
  return { uploaded: res.created !== false, bytes: typeof pkg.data === "string" ? pkg.size : pkg.data.length };
}
