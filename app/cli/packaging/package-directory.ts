/**
 * Ad-hoc code packaging for `vh`: the selected files of a directory as a deterministic .tgz,
 * identified by the sha256 of its bytes (valohai-cli's `~<sha256>` commit identifier, spec §4.5).
 *
 * Deterministic: the same files with the same contents and executable bits give the same bytes,
 * whatever their timestamps, owners, umask, hard links or the order the file system lists them in:
 * - files are added in sorted path order (only files: folders are implied by the paths);
 * - tar headers are node-tar's portable ones (its Header and Pax encoders: no uid/gid/uname/atime/
 *   ctime/dev/ino), with mtime 0 and mode 0644, or 0755 when any execute bit is set; hard links are
 *   stored as plain files;
 * - gzip at level 6 with a portable gzip header (mtime 0, OS byte "unknown"), as node-tar writes it.
 *   The compressed bytes depend on the zlib build, so two Node releases may in principle differ.
 *
 * The archive is kept in memory up to `inMemoryMaxBytes` (64 MiB); a bigger one is written to a
 * temp file, and `archive` is then its path. Call `disposePackage` when done with it.
 */
import { createHash } from "node:crypto";
import { closeSync, lstatSync, mkdtempSync, openSync, readSync, rmSync, writeSync, type Stats } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createGzip } from "node:zlib";
import { Header, Pax } from "tar";
import { VhError } from "../../errors.js";
import { IGNORE_FILES, selectFiles } from "./select.js";

const MiB = 1024 * 1024;

/** valohai-cli's limits (spec §4.5). */
export const LIMITS = {
  maxFiles: 10_000,
  maxBytes: 2000 * MiB,
  warnFileBytes: 50 * MiB,
  warnTotalBytes: 150 * MiB,
} as const;

export interface PackageOptions {
  /** More files than this is an error (default 10,000). */
  maxFiles?: number;
  /** A total uncompressed size of this or more is an error (default 2,000 MiB). */
  maxBytes?: number;
  /** Called as files are added to the archive. */
  onProgress?: (done: number, total: number) => void;
  /** Archives larger than this go to a temp file instead of memory (default 64 MiB). */
  inMemoryMaxBytes?: number;
}

export interface CodePackage {
  /** The .tgz bytes, or the path of a temp file holding them when large (see disposePackage). */
  archive: Buffer | string;
  /** Hex sha256 of the .tgz. */
  sha256: string;
  /** Size of the .tgz in bytes. */
  size: number;
  /** Packaged paths, relative and slash-separated, in archive order. */
  files: string[];
  /** Sum of the packaged files' sizes, uncompressed. */
  totalBytes: number;
  warnings: string[];
}

export async function packageDirectory(dir: string, opts: PackageOptions = {}): Promise<CodePackage> {
  const root = path.resolve(dir);
  const maxFiles = opts.maxFiles ?? LIMITS.maxFiles;
  const maxBytes = opts.maxBytes ?? LIMITS.maxBytes;
  const inMemoryMaxBytes = opts.inMemoryMaxBytes ?? 64 * MiB;

  const rootStat = await fs.stat(root).catch(() => null);
  if (!rootStat?.isDirectory()) throw new VhError("invalid_input", `Cannot package ${root}: it is not a directory.`);

  const { mode, files, warnings } = await selectFiles(root);
  if (files.length > maxFiles) throw tooManyFiles(root, files, maxFiles, mode === "vhignore");

  const stats = await statAll(root, files);
  let totalBytes = 0;
  for (const [i, rel] of files.entries()) {
    const st = stats[i];
    if (!st) continue;
    totalBytes += st.size;
    if (st.size >= LIMITS.warnFileBytes) {
      warnings.push(`Large file: ${rel} is ${mib(st.size)} (files of 50 MiB or more slow down every upload; ignore it or pass it as an input).`);
    }
  }
  if (totalBytes >= maxBytes) {
    throw new VhError(
      "too_large",
      `The files to package in ${root} add up to ${mib(totalBytes)}; the limit is ${mib(maxBytes)}. ` +
        `Leave data and build outputs out with a .vhignore at the root (gitignore syntax), and pass data as inputs.`,
      { totalBytes, limit: maxBytes },
    );
  }
  if (totalBytes >= LIMITS.warnTotalBytes) {
    warnings.push(`The package is ${mib(totalBytes)} before compression (150 MiB or more); a .vhignore can leave out what the execution does not need.`);
  }

  const archive = await writeArchive(root, files, stats, inMemoryMaxBytes, opts.onProgress);
  return { ...archive, files, totalBytes, warnings };
}

/** Removes the temp file of a package whose archive was too large for memory; a no-op otherwise. */
export async function disposePackage(pkg: Pick<CodePackage, "archive">): Promise<void> {
  if (typeof pkg.archive === "string") await fs.rm(path.dirname(pkg.archive), { recursive: true, force: true });
}

/** The commit identifier of an ad-hoc package, as valohai-cli writes it. */
export function adhocCommitId(pkg: Pick<CodePackage, "sha256">): string {
  return `~${pkg.sha256}`;
}

/** lstat of every file; synchronous calls in batches, faster than one thread-pool trip each. */
async function statAll(root: string, files: readonly string[]): Promise<Stats[]> {
  const out: Stats[] = [];
  for (const [i, rel] of files.entries()) {
    try {
      out.push(lstatSync(path.join(root, rel)));
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new VhError("invalid_input", `Packaging ${root} failed: ${rel} changed or disappeared while packaging (${msg}).`);
    }
    if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
  }
  return out;
}

async function writeArchive(
  root: string,
  files: readonly string[],
  stats: readonly Stats[],
  inMemoryMaxBytes: number,
  onProgress?: (done: number, total: number) => void,
): Promise<Pick<CodePackage, "archive" | "sha256" | "size">> {
  // The tar stream is written here into 1 MiB batches (each file's headers, its bytes read with
  // synchronous calls straight into the batch, its padding), and each batch is compressed by
  // Node's zlib stream, which deflates on the thread pool: reading the next files overlaps
  // compressing the last ones, where node-tar's Pack deflates on the main thread between reads.
  // The bytes are node-tar's portable output exactly (its Header and Pax encoders;
  // test/packaging checks the two agree).
  const gzip = createGzip({ level: 6 });
  const sink = new ArchiveSink(inMemoryMaxBytes);
  let failure: unknown = null;
  let first = true;
  gzip.on("data", (chunk: Buffer) => {
    try {
      if (first) chunk[9] = 255; // the gzip header's OS byte: "unknown", as node-tar's portable mode writes it
      first = false;
      sink.write(chunk);
    } catch (err) {
      failure ??= err;
    }
  });
  const ended = new Promise<void>((resolve, reject) => {
    gzip.on("end", resolve);
    gzip.on("error", reject);
  });
  const tar = new TarBatches(async (buf) => {
    if (!gzip.write(buf)) await new Promise<void>((resolve) => gzip.once("drain", resolve));
  });
  try {
    for (const [i, rel] of files.entries()) {
      const st = stats[i]!;
      await tar.addFile(root, rel, st.size, st.mode & 0o111 ? 0o755 : 0o644);
      if (failure) throw failure;
      onProgress?.(i + 1, files.length);
      if (i % 200 === 199) await new Promise((resolve) => setImmediate(resolve));
    }
    await tar.end();
    gzip.end();
    await ended;
    if (failure) throw failure;
    return sink.finish();
  } catch (err) {
    gzip.destroy();
    sink.abort();
    const msg = err instanceof Error ? err.message : String(err);
    throw new VhError("invalid_input", `Packaging ${root} failed while reading its files (did one change or disappear?): ${msg}`);
  }
}

const BLOCK = 512;
const BATCH = MiB;
const EPOCH = new Date(0);

/** A tar stream of files, handed on in batches of about `BATCH` bytes (a fresh buffer each: the consumer keeps it). */
class TarBatches {
  private buf = Buffer.alloc(BATCH);
  private used = 0;
  private readonly header = new Header({ path: "", mode: 0o644, size: 0, mtime: EPOCH, type: "File" });
  constructor(private readonly out: (batch: Buffer) => Promise<void>) {}

  /** One file: a pax header when the path needs one, the ustar header, the bytes, padding to a block. */
  async addFile(root: string, rel: string, size: number, mode: number): Promise<void> {
    // one Header, encoded straight into the batch: no allocation per file
    const h = this.header;
    h.path = rel;
    h.size = size;
    h.mode = mode;
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const fd = openSync(path.join(root, rel), "r");
    try {
      if (this.used + BLOCK > BATCH) await this.flush();
      if (h.encode(this.buf, this.used)) {
        // a long or non-ASCII path: its pax header goes first
        this.buf.fill(0, this.used, this.used + BLOCK);
        await this.put(new Pax({ mtime: EPOCH, path: rel, size }).encode());
        if (this.used + BLOCK > BATCH) await this.flush();
        h.encode(this.buf, this.used);
      }
      this.used += BLOCK;
      // one byte more than listed is asked for, to see a file that grew
      if (this.used + padded + 1 > BATCH) await this.flush();
      if (padded + 1 <= BATCH) {
        const got = readFull(fd, this.buf, this.used, size + 1);
        if (got !== size) throw new Error(`${rel} was ${size} bytes when listed and is ${got > size ? "longer" : `${got} bytes`} now`);
        this.used += padded; // the batch is zeroed: the padding is there already
        return;
      }
      let done = 0;
      while (done < size) {
        const piece = Buffer.alloc(Math.min(BATCH, padded - done));
        const want = Math.min(piece.length, size - done);
        const got = readFull(fd, piece, 0, want, done);
        if (got !== want) throw new Error(`${rel} was ${size} bytes when listed and ended at ${done + got} now`);
        done += got;
        await this.out(piece);
      }
    } finally {
      closeSync(fd);
    }
  }

  /** The two zero blocks that end a tar archive, and what is left of the batch. */
  async end(): Promise<void> {
    await this.put(Buffer.alloc(2 * BLOCK));
    await this.flush();
  }

  private async put(bytes: Buffer): Promise<void> {
    if (this.used + bytes.length > BATCH) await this.flush();
    bytes.copy(this.buf, this.used);
    this.used += bytes.length;
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    const full = this.buf.subarray(0, this.used);
    this.buf = Buffer.alloc(BATCH);
    this.used = 0;
    await this.out(full);
  }
}

/** Reads up to `length` bytes into `buf` at `offset` (from file position `position`, else the current one); the count read. */
function readFull(fd: number, buf: Buffer, offset: number, length: number, position: number | null = null): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, offset + got, length - got, position === null ? null : position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Hashes the archive and keeps it in memory, or in a temp file once it outgrows `inMemoryMaxBytes`. */
class ArchiveSink {
  private readonly hash = createHash("sha256");
  private size = 0;
  private chunks: Buffer[] = [];
  private fd: number | null = null;
  private dir: string | null = null;
  constructor(private readonly inMemoryMaxBytes: number) {}

  write(chunk: Buffer): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (this.fd !== null) {
      writeAllSync(this.fd, chunk);
      return;
    }
    this.chunks.push(chunk);
    if (this.size > this.inMemoryMaxBytes) {
      this.dir = mkdtempSync(path.join(os.tmpdir(), "vh-package-"));
      this.fd = openSync(path.join(this.dir, "code.tgz"), "wx");
      for (const c of this.chunks) writeAllSync(this.fd, c);
      this.chunks = [];
    }
  }

  finish(): Pick<CodePackage, "archive" | "sha256" | "size"> {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    return {
      archive: this.dir ? path.join(this.dir, "code.tgz") : Buffer.concat(this.chunks),
      sha256: this.hash.digest("hex"),
      size: this.size,
    };
  }

  abort(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function writeAllSync(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
}

function tooManyFiles(root: string, files: readonly string[], limit: number, hasVhignore: boolean): VhError {
  const byTop = new Map<string, number>();
  for (const f of files) {
    const slash = f.indexOf("/");
    const top = slash === -1 ? "(files at the top level)" : `${f.slice(0, slash)}/`;
    byTop.set(top, (byTop.get(top) ?? 0) + 1);
  }
  const biggest = [...byTop.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3);
  const where = biggest.map(([name, n]) => `${name} (${n.toLocaleString("en-US")})`).join(", ");
  const hint = hasVhignore
    ? "Add the folders the execution does not need (data, dependencies, build outputs) to the .vhignore at the root."
    : `Add a .vhignore at the root (gitignore syntax) listing the folders the execution does not need; ` +
      `note that when a .vhignore exists, ${IGNORE_FILES.git.join(" and ")} files are no longer read.`;
  return new VhError(
    "too_large",
    `${root} has ${files.length.toLocaleString("en-US")} files to package; the limit is ${limit.toLocaleString("en-US")}. ` +
      `Most are in ${where}. ${hint}`,
    { files: files.length, limit, biggest: Object.fromEntries(biggest) },
  );
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
