/**
 * The HostShell (shared/host-shell.ts) of this machine: its file system and processes, directly.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { RunnerError } from "../../../app/errors.js";
import type { OutputFileInfo } from "../../../app/contracts/runner.js";
import { LOST_EXIT_CODE, type DetachedHandle } from "../shared/detached.js";
import { isInsideFolder, type HostShell, type JobState } from "../shared/host-shell.js";
import { parseIntFile, type WorkPaths } from "../shared/protocol.js";
import { groupAlive, pidRuns, readBootId, run, signalGroup } from "./host.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

export async function readText(p: string): Promise<string | null> {
  try {
    return await fsp.readFile(p, "utf8");
  } catch {
    return null;
  }
}

export async function readIntFile(p: string): Promise<number | null> {
  const text = await readText(p);
  return text === null ? null : parseIntFile(text);
}

export async function writeAtomic(p: string, data: string, mode = 0o644): Promise<void> {
  const tmp = `${p}.${crypto.randomUUID()}.tmp`;
  await fsp.writeFile(tmp, data, { mode });
  await fsp.rename(tmp, p);
}

/** rm -rf that also copes with directories the job made read-only. */
export async function forceRemove(dir: string): Promise<void> {
  try {
    await fsp.rm(dir, { recursive: true, force: true });
    return;
  } catch {
    // EACCES/EPERM below a read-only directory: make directories writable and try again
  }
  async function chmodDirs(d: string): Promise<void> {
    await fsp.chmod(d, 0o700).catch(() => undefined);
    const entries = await fsp.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) await chmodDirs(path.join(d, e.name));
  }
  await chmodDirs(dir);
  await fsp.rm(dir, { recursive: true, force: true });
}

async function sizeOf(file: string): Promise<number> {
  return (await fsp.stat(file).catch(() => null))?.size ?? 0;
}

export function createLocalShell(): HostShell {
  /** The wrapper or a member of the job's group lives (on this boot: after a reboot the pids mean nothing). */
  async function alive(p: WorkPaths, h: DetachedHandle): Promise<boolean> {
    if (h.bootId !== null && h.bootId !== (await readBootId())) return false;
    if (h.wrapperPid !== null && (await pidRuns(h.wrapperPid, p.wrapper))) return true;
    const pgid = h.pgid ?? (await readIntFile(p.pidFile));
    return pgid !== null && (await groupAlive(pgid));
  }

  async function dockerKill(h: DetachedHandle, signal: "TERM" | "KILL"): Promise<void> {
    if (h.mode !== "docker" || !h.container) return;
    await run("docker", ["kill", "--signal", signal, h.container], 15_000);
  }

  return {
    where: "",

    async run(script, what, timeoutMs = 30_000) {
      const r = await run("/bin/sh", ["-c", script], timeoutMs);
      if (!r.ok) throw new RunnerError(`${what} failed: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
      return r.stdout;
    },

    async probe(p, h): Promise<JobState> {
      if (!(await exists(p.vh))) return { state: "gone", exitCode: null, sizes: { stdout: 0, stderr: 0 } };
      let exitCode = await readIntFile(p.exitCodeFile);
      if (exitCode === null && !(await alive(p, h))) {
        // Wrapper and job are gone. Read again: the wrapper may have written it just before exiting.
        exitCode = await readIntFile(p.exitCodeFile);
        if (exitCode === null) {
          const sameBoot = h.bootId === null || h.bootId === (await readBootId());
          await writeAtomic(p.exitNote, sameBoot ? "The wrapper ended without recording an exit code (killed?).\n" : "The host rebooted while the execution ran.\n");
          await writeAtomic(p.exitCodeFile, `${LOST_EXIT_CODE}\n`);
          exitCode = LOST_EXIT_CODE;
        }
      }
      const sizes = { stdout: await sizeOf(p.stdoutLog), stderr: await sizeOf(p.stderrLog) };
      return { state: exitCode === null ? "running" : "ended", exitCode, sizes };
    },

    async readRange(file, offset, length) {
      const fh = await fsp.open(file, "r").catch(() => null);
      if (!fh) return Buffer.alloc(0);
      try {
        const buf = Buffer.alloc(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return got === length ? buf : buf.subarray(0, got);
      } finally {
        await fh.close();
      }
    },

    async signalJob(p, h, signal) {
      if ((await readIntFile(p.exitCodeFile)) !== null) return false;
      await dockerKill(h, signal);
      const pgid = h.pgid ?? (await readIntFile(p.pidFile));
      if (pgid !== null) signalGroup(pgid, signal === "TERM" ? "SIGTERM" : "SIGKILL");
      return true;
    },

    async waitEnded(p, h, ms) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if ((await readIntFile(p.exitCodeFile)) !== null) return true;
        if (!(await alive(p, h))) break;
        await sleep(25);
      }
      return (await readIntFile(p.exitCodeFile)) !== null;
    },

    async listFiles(dir) {
      const files: OutputFileInfo[] = [];
      async function walk(d: string, prefix: string): Promise<void> {
        let entries: fs.Dirent[];
        try {
          entries = await fsp.readdir(d, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          const rel = prefix ? `${prefix}/${e.name}` : e.name;
          const full = path.join(d, e.name);
          if (e.isDirectory()) await walk(full, rel);
          else if (e.isFile()) {
            const st = await fsp.lstat(full).catch(() => null);
            if (st?.isFile()) files.push({ path: rel, size: st.size, readOnly: (st.mode & 0o222) === 0 });
          }
        }
      }
      await walk(dir, "");
      return files;
    },

    realpath: (file) => fsp.realpath(file).catch(() => null),

    async openFile(file) {
      const fh = await fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW).catch(() => null);
      const st = await fh?.stat().catch(() => null);
      if (!fh || !st?.isFile()) {
        await fh?.close();
        return null;
      }
      return fh.createReadStream();
    },

    async removeFileIn(dir, name, root) {
      // Resolved again here, so a link swapped in since the caller's check is not followed.
      const real = await fsp.realpath(dir).catch(() => null);
      if (real === null || !isInsideFolder(real, root)) return;
      await fsp.unlink(path.join(real, name)).catch(() => undefined); // never recursive: only the file or link
    },

    removeTree: forceRemove,

    async readFingerprint(p, file, waitMs, maxBytes) {
      const deadline = Date.now() + waitMs;
      for (;;) {
        // The prologue runs before the step, so its file is there before the exit code: ask in that order.
        const ended = (await readIntFile(p.exitCodeFile)) !== null || !(await exists(p.vh));
        const fh = await fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW).catch(() => null);
        if (fh) {
          try {
            const buf = Buffer.alloc(maxBytes);
            const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
            return { state: "written", text: buf.subarray(0, bytesRead).toString("utf8") };
          } finally {
            await fh.close();
          }
        }
        if (ended) return { state: "ended" };
        if (Date.now() >= deadline) return { state: "pending" };
        await sleep(25);
      }
    },

    async mtime(file) {
      return (await fsp.stat(file).catch(() => null))?.mtime ?? null;
    },

    exists,
  };
}
