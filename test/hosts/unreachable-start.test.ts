/**
 * An SSH host that stops answering just as an execution is placed on it (a real sshd on loopback,
 * killed; vh's own machine is not a host here). The start is not the step's error: the host is
 * marked down, the start is tried again on it, and
 * - back within VH_LOST_AFTER_S: the same attempt starts there and completes;
 * - still away after VH_LOST_AFTER_S: the attempt is `lost` and queued again (VH_LOST_RETRIES), and
 *   runs as attempt 2 once a host check reaches the host again.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { skipWithoutSshd, startSshd, type SshdHost } from "../helpers/sshd.js";

// Host checks far apart: the test decides when the host is seen again.
const ENV = { VH_LOCAL_HOST: "false", VH_HOST_CHECK_S: "3600", VH_LOST_AFTER_S: "3" };

type Exec = { counter: number; status: string; attempt: number; statusHistory: { status: string; reason: string | null }[] };
type HostView = { name: string; status: string; lastError: string | null };

describe.skipIf(skipWithoutSshd)("a host out of reach at the start", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let host: SshdHost;
  let code: string;
  const dir = tempDir("vh-unreachable-start-");

  beforeAll(async () => {
    db = await createTestDatabase();
    host = await startSshd("flaky");
    stack = await startStack({ databaseUrl: db.connectionString, env: ENV });
    await stack.api("POST", "/api/v1/projects", { name: "u" });
    fs.mkdirSync(path.join(dir, "code"));
    fs.writeFileSync(path.join(dir, "code", "valohai.yaml"), "- step: { name: hello, image: busybox, command: 'echo hello from attempt ${VH_RESUME_ATTEMPT:-1}' }\n");
    code = await uploadSnapshot(stack, path.join(dir, "code"));
    await stack.api("POST", "/api/v1/hosts", { name: host.name, url: host.url, privateKey: fs.readFileSync(host.keyFile, "utf8") });
    await stack.api("POST", `/api/v1/hosts/${host.name}/check`, {});
  });

  afterAll(async () => {
    await stack?.stop();
    await host?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const get = (n: number) => stack.api<Exec>("GET", `/api/v1/projects/u/executions/${n}?history=1`);
  const hostView = async () => (await stack.api<{ results: HostView[] }>("GET", "/api/v1/hosts")).results.find((h) => h.name === host.name)!;
  // A check that reaches the host marks it up (asked again: a start's retry may mark it down meanwhile).
  const hostUp = () => waitFor("the host checked up", async () => {
    await stack.api("POST", `/api/v1/hosts/${host.name}/check`, {});
    return (await hostView()).status === "up" ? true : undefined;
  }, 30_000);
  const ended = (n: number) => waitFor(`#${n} to end`, async () => {
    const e = await get(n);
    return ["completed", "failed", "error", "stopped"].includes(e.status) ? e : undefined;
  }, 60_000);

  it("tries the start again on the host and completes the same attempt when it is back in time", async () => {
    expect((await hostView()).status).toBe("up");
    host.kill();
    const e = await stack.api<Exec>("POST", "/api/v1/projects/u/executions", { step: "hello", code });
    await waitFor("the host marked down", async () => ((await hostView()).status === "down" ? true : undefined), 30_000);
    expect((await hostView()).lastError).toMatch(/ECONNREFUSED/);
    expect((await get(e.counter)).status).toBe("starting");
    await host.start();
    const done = await ended(e.counter);
    expect(done.status).toBe("completed");
    expect(done.attempt).toBe(1);
    expect(done.statusHistory.map((h) => h.status)).not.toContain("error");
  }, 90_000);

  it("makes the attempt lost after VH_LOST_AFTER_S and runs it again once the host is reached", async () => {
    await hostUp();
    host.kill();
    const e = await stack.api<Exec>("POST", "/api/v1/projects/u/executions", { step: "hello", code });
    const requeued = await waitFor("a second attempt queued", async () => {
      const x = await get(e.counter);
      return x.attempt === 2 ? x : undefined;
    }, 60_000);
    const lost = requeued.statusHistory.find((h) => h.status === "lost");
    expect(lost?.reason).toMatch(/^Host flaky did not answer for 3 s while the execution was starting: SSH to .* failed: connect ECONNREFUSED/);
    // Nowhere to run while the host is down; a check that reaches it places it there again.
    expect((await get(e.counter)).status).toBe("queued");
    await host.start();
    await hostUp();
    const done = await ended(e.counter);
    expect(done.status).toBe("completed");
    expect(done.attempt).toBe(2);
    expect(done.statusHistory.map((h) => h.status)).not.toContain("error");
  }, 90_000);
});
