/**
 * Shared by the reproducibility tests: a launch spec, waiting for a job's end, reading its work dir.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { randomUUID } from "node:crypto";
import type { LaunchResult, LaunchSpec, Runner, RunnerHandle } from "../../app/contracts/runner.js";
import { fingerprintPatch, type FingerprintRecord } from "../../worker/launch-spec.js";
import type { ReadsFingerprint } from "../../worker/runners/shared/fingerprint.js";

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

export type RecordedFingerprint = Extract<FingerprintRecord, { status: "recorded" }>;

/** Launches `s`, waits for the job's fingerprint and parses it as the control plane does; throws unless it was recorded. */
export async function launchAndReadFingerprint(runner: Runner & ReadsFingerprint, s: LaunchSpec): Promise<{ result: LaunchResult; fp: RecordedFingerprint; raw: string }> {
  const result = await runner.launch(s);
  const got = await runner.fingerprint(result.handle, 15_000);
  if (got.state !== "written") throw new Error(`fingerprint ${got.state}`);
  const patch = fingerprintPatch(got.text, { command: s.script, image: s.image, mode: "process", env: s.env });
  if (patch.fingerprint.status !== "recorded") throw new Error(`fingerprint ${JSON.stringify(patch.fingerprint)}`);
  return { result, fp: patch.fingerprint, raw: got.text };
}
