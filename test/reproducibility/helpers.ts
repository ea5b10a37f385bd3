/**
 * Shared by the reproducibility tests: a launch spec, waiting for a job's end, reading its work dir.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { randomUUID } from "node:crypto";
import type { LaunchSpec, Runner, RunnerHandle } from "../../app/contracts/runner.js";

export function spec(over: Partial<LaunchSpec> & { script: string }): LaunchSpec {
  return {
    executionId: `fp-${randomUUID()}`,
    env: {},
    image: "busybox",
    mode: "process",
    code: null,
    inputs: [],
    configFiles: {},
    gpus: [],
    ...over,
  };
}

/** Poll until the job ended; returns its exit code and the whole stdout/stderr. */
export async function waitEnd(runner: Runner, handle: RunnerHandle, ms = 30_000): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const offsets = { stdout: 0, stderr: 0 };
  const out: Record<"stdout" | "stderr", Buffer[]> = { stdout: [], stderr: [] };
  const until = Date.now() + ms;
  for (;;) {
    const r = await runner.poll(handle, offsets);
    for (const c of r.chunks) {
      out[c.stream].push(c.data);
      offsets[c.stream] += c.data.length;
    }
    if (r.finished) return { exitCode: r.exitCode!, stdout: Buffer.concat(out.stdout).toString(), stderr: Buffer.concat(out.stderr).toString() };
    if (Date.now() > until) throw new Error(`job did not end within ${ms} ms`);
    await new Promise((res) => setTimeout(res, 30));
  }
}

/** A directory with executables `name` → sh script body, for a fake program on PATH. */
export async function fakeBin(dir: string, programs: Record<string, string>): Promise<string> {
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  for (const [name, body] of Object.entries(programs)) {
    await fs.writeFile(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  return dir;
}
