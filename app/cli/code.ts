/**
 * The code snapshot of an ad-hoc run: package the directory (app/cli/packaging, another module),
 * then upload it only when the server does not have it (`HEAD` / `PUT /code/:sha256`).
 *
 * Packaging is behind the `Packer` function type so tests inject a small one, and so this file
 * is the one place that knows the packaging module's shape.
 */
import type { ApiClient } from "./api.js";
import { CliError } from "./errors.js";
import type { Writer } from "./io.js";

export interface CodePackage {
  /** sha256 (hex) of the gzipped tarball: the snapshot's content address. */
  sha256: string;
  /** The gzipped tarball. */
  data: Uint8Array;
  fileCount: number;
  warnings: string[];
}

export type Packer = (dir: string, opts: { stderr: Writer }) => Promise<CodePackage>;

interface PackagingModule {
  packageDirectory(dir: string, opts?: Record<string, unknown>): Promise<Record<string, unknown>>;
  progressBar?: (...args: unknown[]) => unknown;
}

/** The packaging module, loaded on first use (so --dry-run never loads it). */
export const defaultPacker: Packer = async (dir, { stderr }) => {
  const specifier = "./packaging/index.js";
  let mod: PackagingModule;
  try {
    mod = (await import(specifier)) as PackagingModule;
  } catch (err) {
    throw new CliError(`The ad-hoc packager (app/cli/packaging) could not be loaded: ${(err as Error).message}`);
  }
  const progress = mod.progressBar ? mod.progressBar(stderr) : undefined;
  const pkg = await mod.packageDirectory(dir, progress ? { progress } : {});
  const data = (pkg["data"] ?? pkg["tarball"] ?? pkg["bytes"] ?? pkg["buffer"]) as Uint8Array | undefined;
  const sha256 = pkg["sha256"];
  if (!(data instanceof Uint8Array) || typeof sha256 !== "string") {
    throw new CliError("The ad-hoc packager returned no tarball and sha256: app/cli/code.ts needs updating to its API.");
  }
  const files = pkg["fileCount"] ?? (Array.isArray(pkg["files"]) ? pkg["files"].length : 0);
  const warnings = Array.isArray(pkg["warnings"]) ? pkg["warnings"].map(String) : [];
  return { sha256, data, fileCount: Number(files), warnings };
};

/** Uploads the snapshot unless the server already has it. */
export async function uploadIfMissing(client: ApiClient, pkg: CodePackage): Promise<{ uploaded: boolean; bytes: number }> {
  if (await client.hasCode(pkg.sha256)) return { uploaded: false, bytes: 0 };
  const res = await client.putCode(pkg.sha256, pkg.data);
  return { uploaded: res.created !== false, bytes: pkg.data.length };
}
