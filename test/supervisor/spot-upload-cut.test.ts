/**
 * A spot instance taken back while the supervisor was still reading the interrupted attempt's last
 * outputs (the host's SSH answers "connection refused"): the attempt ends `lost` — interrupted, not
 * broken — and the execution is queued again as its next attempt, instead of ending in `error`.
 * Without a notice, a failed read is tried again: one that works later ends the execution as it
 * would have (its outputs stored); one that keeps failing for VH_UPLOAD_GIVE_UP_S is an error.
 *
 * The local runner, wrapped so that reading outputs fails as an unreachable host's does once the
 * test says the instance is gone; the notice is recorded as worker/compute/spot.ts records it.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HostUnreachable, RunnerError } from "../../app/errors.js";
import type { Runner } from "../../app/contracts/runner.js";
import { transition } from "../../app/executions/state.js";
import { recordStopCause } from "../../db/queries/executions.js";
import { createTestDatabase } from "../helpers/db.js";
import { tempDir, waitFor } from "../helpers/stack.js";
import { tarball } from "../helpers/snapshot.js";
import { startVhWithRunner, type VhWithRunner } from "../helpers/vh-with-runner.js";

describe("a spot instance gone before the interrupted attempt's outputs were read", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let vh: VhWithRunner;
  let gone = false;
  /** Reading outputs fails as a broken host's does (not out of reach: the give-up time applies). */
  let broken = false;
  let failedReads = 0;
  const dir = tempDir("vh-spot-cut-");
  const project = path.join(dir, "project");

  beforeAll(async () => {
    db = await createTestDatabase();
    vh = await startVhWithRunner({
      databaseUrl: db.connectionString,
      dir,
      logLevel: "silent",
      env: { VH_UPLOAD_GIVE_UP_S: "3" },
      // Reading outputs fails as an unreachable host's does, once the test says the instance is gone.
      local: (real): Runner => ({
        ...real,
        async listOutputs(h) {
          if (gone) throw new HostUnreachable("SSH to root@127.0.0.9:22 failed: connect ECONNREFUSED 127.0.0.9:22");
          if (broken) {
            failedReads++;
            throw new RunnerError("Listing outputs on root@127.0.0.9:22 failed (exit 1): find: permission denied");
          }
          return real.listOutputs(h);
        },
      }),
    });
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, "valohai.yaml"), "- step: { name: long, image: busybox, command: 'echo started; sleep 60' }\n");
  });

  afterAll(async () => {
    await vh?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const api = <T>(method: string, p: string, body?: unknown, raw?: Buffer) => vh.api<T>(method, p, body, raw);
  type Exec = { id: string; counter: number; status: string; attempt: number; statusHistory: { status: string; reason: string | null }[] };

  it("ends the attempt lost and queues the next one; the same failure without a notice is an error", async () => {
    await api("POST", "/api/v1/projects", { name: "p" });
    const snap = await tarball(project);
    await api("PUT", `/api/v1/code/${snap.sha256}`, undefined, snap.body);
    const running = async () => {
      const e = await api<Exec>("POST", "/api/v1/projects/p/executions", { step: "long", code: snap.sha256 });
      await waitFor("it to run", async () => ((await api<Exec>("GET", `/api/v1/projects/p/executions/${e.counter}`)).status === "running" ? true : undefined), 60_000);
      return e;
    };
    const a = await running();
    gone = true;
    await db.sql.begin(async (tx) => {
      await transition(tx as never, a.id, "stopping", { from: ["running"], reason: "Spot interruption notice for instance i-cut (t3.medium): terminate." });
      await recordStopCause(tx, a.id, "spot-interruption");
    });
    const next = await waitFor("the next attempt", async () => {
      const x = await api<Exec>("GET", `/api/v1/projects/p/executions/${a.counter}?history=1`);
      return x.attempt === 2 || ["error", "failed", "completed"].includes(x.status) ? x : undefined;
    }, 60_000);
    expect(next.attempt).toBe(2);
    const lost = next.statusHistory.find((h) => h.status === "lost");
    expect(lost?.reason).toMatch(/^Interrupted on spot before its last outputs could be read \(HostUnreachable: SSH to root@127\.0\.0\.9:22 failed: connect ECONNREFUSED 127\.0\.0\.9:22\); it resumes from the outputs saved before\.$/);
    expect(next.statusHistory.map((h) => h.status)).not.toContain("error");
    gone = false;
    await api("POST", `/api/v1/projects/p/executions/${a.counter}/stop`, {});

    // A user's stop whose outputs cannot be read for a moment (the store or the host away): tried
    // again, and it ends as it would have.
    const c = await running();
    broken = true;
    failedReads = 0;
    await api("POST", `/api/v1/projects/p/executions/${c.counter}/stop`, {});
    await waitFor("reads to fail", async () => (failedReads >= 2 ? true : undefined), 30_000);
    broken = false;
    const stopped = await waitFor("it to end", async () => {
      const x = await api<Exec>("GET", `/api/v1/projects/p/executions/${c.counter}?history=1`);
      return ["error", "stopped", "lost"].includes(x.status) ? x : undefined;
    }, 60_000);
    expect(stopped.status).toBe("stopped");
    expect(stopped.statusHistory.map((h) => h.status)).not.toContain("error");

    // Reads that keep failing: an error after VH_UPLOAD_GIVE_UP_S, said so.
    const b = await running();
    broken = true;
    failedReads = 0;
    await api("POST", `/api/v1/projects/p/executions/${b.counter}/stop`, {});
    const ended = await waitFor("it to end", async () => {
      const x = await api<Exec>("GET", `/api/v1/projects/p/executions/${b.counter}?history=1`);
      return ["error", "stopped", "lost"].includes(x.status) ? x : undefined;
    }, 60_000);
    broken = false;
    expect(ended.status).toBe("error");
    expect(ended.attempt).toBe(1);
    expect(failedReads).toBeGreaterThan(1);
    expect(ended.statusHistory.at(-1)!.reason).toMatch(/^Uploading outputs failed for 3 s: RunnerError: Listing outputs on/);
  }, 150_000);
});
