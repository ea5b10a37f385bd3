/**
 * Everything the CLI touches outside itself, injected so `main` runs in-process in tests:
 * the two output streams, the environment, the working directory, `fetch` and a sleep.
 */

export interface Writer {
  write(chunk: string): unknown;
  isTTY?: boolean;
  /** The terminal's width, when it is one (progress bars fit it). */
  columns?: number;
}

export interface Io {
  stdout: Writer;
  stderr: Writer;
  env: Record<string, string | undefined>;
  cwd: string;
  fetch: typeof fetch;
  sleep: (ms: number) => Promise<void>;
  /** Packages a directory for an ad-hoc run; tests inject one (default: app/cli/packaging). */
  packer?: Packer;
}

export type PartialIo = Partial<Io> & Pick<Partial<Io>, "stdout" | "stderr" | "env" | "cwd">;

export function completeIo(io: PartialIo = {}): Io {
  return {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
    fetch: io.fetch ?? globalThis.fetch,
    sleep: io.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    ...(io.packer ? { packer: io.packer } : {}),
  };
}

/** Writes one line (adds the newline). */
export function println(w: Writer, line = ""): void {
  w.write(`${line}\n`);
}

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
