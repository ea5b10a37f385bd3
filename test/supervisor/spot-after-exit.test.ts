/**
 * A spot notice that comes after the step had already exited 0 (the supervisor had not polled it
 * yet): the execution completes, with the reason, instead of being resumed as a new attempt. The
 * host's own record of the end (the exit-code file's time) is what decides. A notice on a step
 * still running is the resume path (test/compute/ec2.test.ts).
 *
 * Played with the local runner and a control plane that is away while the step ends, so the order
 * is fixed: the step exits, then the notice is recorded as the spot watch records it, then a new
 * control plane settles the execution.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { transition } from "../../app/executions/state.js";
import { recordStopCause } from "../../db/queries/executions.js";

describe("a spot notice after the step exited 0", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const base = tempDir("vh-spot-exit-");
  const dataDir = path.join(base, "data");
  const code = path.join(base, "code");

  beforeAll(async () => {
    db = await createTestDatabase();
    fs.mkdirSync(code);
    fs.writeFileSync(path.join(code, "valohai.yaml"), "- step:\n    name: quick\n    image: busybox\n    command: sleep 1; echo done\n");
  });
  afterAll(async () => {
    await db?.drop();
    fs.rmSync(base, { recursive: true, force: true });
  });

  it("completes it, saying why, instead of resuming it", async () => {
    let stack: Stack = await startStack({ databaseUrl: db.connectionString, dataDir });
    await stack.api("POST", "/api/v1/projects", { name: "p" });
    const sha = await uploadSnapshot(stack, code);
    const e = await stack.api<{ id: string; counter: number }>("POST", "/api/v1/projects/p/executions", { step: "quick", code: sha });
    const handle = await waitFor("running", async () => {
      const [r] = await db.sql<{ status: string; runner_handle: { workDir: string } | null }[]>`select status, runner_handle from executions where id = ${e.id}`;
      return r?.status === "running" && r.runner_handle ? r.runner_handle : undefined;
    });
    await stack.stop(); // away while the step ends
    await waitFor("the step's exit code on the host", async () => (fs.existsSync(path.join(handle.workDir, ".vh", "exit_code")) ? true : undefined), 20_000);
    await new Promise((r) => setTimeout(r, 50));
    // The notice, as worker/compute/spot.ts records it.
    await db.sql.begin(async (tx) => {
      expect(await transition(tx as never, e.id, "stopping", { from: ["running"], reason: "Spot interruption notice for instance i-test (t3.medium): terminate." })).toBe("running");
      await recordStopCause(tx, e.id, "spot-interruption");
    });
    stack = await startStack({ databaseUrl: db.connectionString, dataDir });
    try {
      const done = await waitFor("it to settle", async () => {
        const x = await stack.api<{ status: string; attempt: number; statusHistory: { status: string; reason: string | null }[] }>("GET", `/api/v1/projects/p/executions/${e.counter}`);
        return ["completed", "lost", "queued", "failed", "error"].includes(x.status) ? x : undefined;
      }, 60_000);
      expect(done.status).toBe("completed");
      expect(done.attempt).toBe(1);
      expect(done.statusHistory.at(-1)!.reason).toBe("The command exited with code 0 before its spot instance's interruption notice: nothing to resume.");
      const logs = await stack.api<{ lines: { line: string }[] }>("GET", `/api/v1/projects/p/executions/${e.counter}/logs`);
      expect(logs.lines.map((l) => l.line)).toContain("done");
    } finally {
      await stack.stop();
    }
  }, 120_000);
});
