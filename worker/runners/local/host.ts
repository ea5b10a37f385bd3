/**
 * Facts about this machine (describeHost), the docker probe, and process liveness checks.
 */
import { execFile } from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import type { HostInfo } from "../../../app/contracts/runner.js";
import { NVIDIA_SMI_QUERY_ARGS, parseCudaVersion, parseGpuQuery } from "../shared/gpu.js";

export interface ExecResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Run a command without a shell; never throws (a missing binary is `ok: false`). */
export function run(cmd: string, args: string[], timeoutMs = 10_000, env?: NodeJS.ProcessEnv): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 << 20, encoding: "utf8", ...(env ? { env } : {}) }, (err, stdout, stderr) => {
      resolve({ ok: !err, stdout: String(stdout ?? ""), stderr: String(stderr ?? "") });
    });
  });
}

/** `docker info` succeeds: a daemon answers. */
export async function probeDocker(): Promise<boolean> {
  return (await run("docker", ["info", "--format", "{{.ServerVersion}}"], 15_000)).ok;
}

export async function readOsName(): Promise<string> {
  try {
    const text = await fsp.readFile("/etc/os-release", "utf8");
    const m = /^PRETTY_NAME=(.*)$/m.exec(text);
    if (m?.[1]) return m[1].trim().replace(/^(["'])(.*)\1$/, "$2");
  } catch {
    // not Linux, or a minimal image
  }
  return `${os.type()} ${os.release()}`;
}

/** GPUs and CUDA version from nvidia-smi on PATH; none when it is missing or fails. */
export async function detectNvidia(): Promise<Pick<HostInfo, "gpus" | "cudaVersion">> {
  const query = await run("nvidia-smi", NVIDIA_SMI_QUERY_ARGS);
  // A failing nvidia-smi prints its error on stdout: the parser skips such lines, so parse anyway.
  const gpus = parseGpuQuery(query.stdout);
  if (gpus.length === 0) return { gpus, cudaVersion: null };
  const banner = await run("nvidia-smi", []);
  return { gpus, cudaVersion: parseCudaVersion(banner.stdout) };
}

export async function describeThisHost(hostname: string, dockerAvailable: boolean): Promise<HostInfo> {
  const cpus = os.cpus();
  const nvidia = await detectNvidia();
  return {
    hostname,
    os: await readOsName(),
    kernel: os.release(),
    arch: os.machine(),
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cpuCount: cpus.length > 0 ? cpus.length : os.availableParallelism(),
    memoryBytes: os.totalmem(),
    gpus: nvidia.gpus,
    cudaVersion: nvidia.cudaVersion,
    dockerAvailable,
  };
}

/** Identifies this boot: a pid saved before a reboot means nothing after it. */
export async function readBootId(): Promise<string | null> {
  try {
    return (await fsp.readFile("/proc/sys/kernel/random/boot_id", "utf8")).trim();
  } catch {
    return null;
  }
}

/** A process exists and is not a zombie (a zombie has ended; it only waits to be reaped). */
export async function pidAlive(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = await fsp.readFile(`/proc/${pid}/stat`, "utf8");
    // Field 3, after the parenthesised command name (which may contain spaces and parentheses).
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** The pid runs a command line containing `needle` (e.g. the wrapper's path); true without /proc. */
export async function pidRuns(pid: number, needle: string): Promise<boolean> {
  if (!(await pidAlive(pid))) return false;
  try {
    const cmdline = await fsp.readFile(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.split("\0").some((arg) => arg.includes(needle));
  } catch {
    return true;
  }
}

/**
 * Some live (not zombie) process of the group exists. Zombies are skipped: an orphan is reaped by
 * pid 1, and some container inits never reap, which would make an ended group look alive forever.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  let entries: string[];
  try {
    entries = await fsp.readdir("/proc");
  } catch {
    return true; // no /proc: trust kill(0)
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await fsp.readFile(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // ended meanwhile
    }
    // After "pid (comm) ": state ppid pgrp …
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[2] === String(pgid) && fields[0] !== "Z" && fields[0] !== "X") return true;
  }
  return false;
}

/** Signal a process group; false when it does not exist. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}
