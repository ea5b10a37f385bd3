/**
 * When a job ended, by the host's own record (worker/runners/shared/detached.ts `endedAt`): the
 * wrapper's exit-code file's mtime, read any time later (the supervisor uses it for an execution
 * that ended while vh was down); unknown (null) while it runs and when vh made the exit code up.
 */
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLocalRunner } from "../../worker/runners/local/runner.js";
import { knowsEndTime } from "../../worker/runners/shared/detached.js";
import type { LaunchSpec } from "../../app/contracts/runner.js";
import { drain } from "../contracts/runner-contract.js";
import { createTempStore } from "./temp-store.js";

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await fs.rm(r, { recursive: true, force: true });
});

describe("the local runner's end time", async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "vh-end-"));
  await fs.chmod(root, 0o711);
  roots.push(root);
  const runner = createLocalRunner({ workRoot: path.join(root, "runs"), cacheRoot: path.join(root, "cache"), store: createTempStore(path.join(root, "store")), docker: "never" });
  const spec = (script: string): LaunchSpec => ({ executionId: `et-${randomUUID()}`, script, env: {}, image: "x", mode: "process", code: null, inputs: [], configFiles: {}, gpus: [] });
  if (!knowsEndTime(runner)) throw new Error("the local runner must say when a job ended");

  it("is the exit-code file's time, the same when read later; null while it runs", async () => {
    const res = await runner.launch(spec("echo ready\nread x < /dev/null; sleep 0.3\n"));
    await drain(runner, res.handle, { until: (d) => d.stdout.includes("ready") });
    expect(await runner.endedAt(res.handle)).toBeNull();
    const d = await drain(runner, res.handle);
    expect(d.exitCode).toBe(0);
    const mtime = (await fs.stat(path.join(res.handle.workDir, ".vh", "exit_code"))).mtime;
    await new Promise((r) => setTimeout(r, 300));
    expect(await runner.endedAt(res.handle)).toEqual(mtime);
  });

  it("is null when the wrapper vanished and vh made up the exit code (the time would be when it noticed)", async () => {
    const res = await runner.launch(spec("echo ready\nsleep 300\n"));
    const h = res.handle;
    await drain(runner, h, { until: (d) => d.stdout.includes("ready") });
    process.kill(h["wrapperPid"] as number, "SIGKILL");
    process.kill(-(h["pgid"] as number), "SIGKILL");
    expect((await drain(runner, h)).exitCode).toBe(137);
    expect(await runner.endedAt(h)).toBeNull();
  });
});
