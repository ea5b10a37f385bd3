/**
 * GPU hosts end to end, through the REST API: two real sshd "hosts" on loopback, each with a fake
 * nvidia-smi (h1: 2 GPUs, h2: 4 GPUs), vh with its own machine turned off as a host. Checks GPU
 * discovery, placement and CUDA_VISIBLE_DEVICES, the refusal of an impossible request, a host that
 * dies mid-run (lost → GPUs released once → retried elsewhere), and a control-plane restart in the
 * middle of an SSH run (complete, in-order, duplicate-free log).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { skipWithoutSshd, startSshd, type SshdHost } from "../helpers/sshd.js";

const fixture = path.resolve(import.meta.dirname, "../fixtures/projects/gpu-hosts");
const ENV = { VH_LOCAL_HOST: "false", VH_HOST_CHECK_S: "1", VH_LOST_AFTER_S: "3" };

type Exec = { id: string; counter: number; status: string; statusDetail: string | null; statusHistory: { status: string; reason: string | null }[]; runtime: { hostName: string } | null };
type HostView = { name: string; status: string; hostKeySha256: string | null; lastError: string | null; gpus: { index: number; name: string; execution: { counter: number } | null }[]; executions: { counter: number; gpus: number[] }[] };

describe.skipIf(skipWithoutSshd)("GPU hosts over SSH (REST API)", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let h1: SshdHost;
  let h2: SshdHost;
  let code: string;
  const dataDir = tempDir("vh-gpu-hosts-");

  beforeAll(async () => {
    db = await createTestDatabase();
    [h1, h2] = await Promise.all([startSshd("h1", [{ index: 0 }, { index: 1 }]), startSshd("h2", [{ index: 0 }, { index: 1 }, { index: 2 }, { index: 3 }])]);
    stack = await startStack({ databaseUrl: db.connectionString, dataDir, env: ENV });
    await stack.api("POST", "/api/v1/projects", { name: "g" });
    code = await uploadSnapshot(stack, fixture);
    for (const h of [h1, h2]) await stack.api("POST", "/api/v1/hosts", { name: h.name, url: h.url, privateKey: fs.readFileSync(h.keyFile, "utf8"), labels: { test: "yes" } });
    await waitFor("hosts up with their GPUs", async () => {
      const { results } = await stack.api<{ results: HostView[] }>("GET", "/api/v1/hosts");
      const up = results.filter((h) => h.status === "up" && (h.name === "h1" || h.name === "h2"));
      return up.length === 2 && up.find((h) => h.name === "h2")?.gpus.length === 4 ? true : undefined;
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await Promise.all([h1?.stop(), h2?.stop()]);
    await db?.drop();
  });

  const create = (body: Record<string, unknown>) => stack.api<Exec>("POST", "/api/v1/projects/g/executions", { code, ...body });
  const get = (n: number) => stack.api<Exec>("GET", `/api/v1/projects/g/executions/${n}`);
  const until = (n: number, statuses: string[], ms = 60_000) =>
    waitFor(`#${n} to reach ${statuses.join("|")}`, async () => {
      const e = await get(n);
      return statuses.includes(e.status) ? e : undefined;
    }, ms);
  const logOf = async (n: number) =>
    (await stack.api<{ lines: { line: string }[] }>("GET", `/api/v1/projects/g/executions/${n}/logs`)).lines.map((l) => l.line);

  it("discovers each host's GPUs", async () => {
    const h = await stack.api<HostView>("GET", "/api/v1/hosts/h2");
    expect(h.gpus.map((g) => [g.index, g.name])).toEqual([0, 1, 2, 3].map((i) => [i, "NVIDIA A100-SXM4-80GB"]));
  });

  it("pins each host's key on its first check, and refuses a host whose key differs from the pinned one", async () => {
    const fp = (h: SshdHost) => /SHA256:[A-Za-z0-9+/]+/.exec(execFileSync("ssh-keygen", ["-lf", path.join(h.dir, "host_ed25519.pub")]).toString())![0];
    for (const h of [h1, h2]) expect((await stack.api<HostView>("GET", `/api/v1/hosts/${h.name}`)).hostKeySha256).toBe(fp(h));
    // Bad fingerprints are refused at registration.
    await expect(stack.api("POST", "/api/v1/hosts", { name: "h3", url: h1.url, privateKey: fs.readFileSync(h1.keyFile, "utf8"), hostKey: "not-a-key" })).rejects.toThrow(/fingerprint/);
    // h1's address under another name, pinned to h2's key: the check refuses it, naming both keys.
    await stack.api("POST", "/api/v1/hosts", { name: "h1-wrong", url: h1.url, privateKey: fs.readFileSync(h1.keyFile, "utf8"), hostKey: fp(h2) });
    try {
      const h = await stack.api<HostView>("POST", "/api/v1/hosts/h1-wrong/check");
      expect(h.status).toBe("down");
      expect(h.hostKeySha256).toBe(fp(h2));
      expect(h.lastError).toContain("Host key verification failed for host h1-wrong");
      expect(h.lastError).toContain(fp(h1));
      expect(h.lastError).toContain(fp(h2));
      expect(h.lastError).toMatch(/remove the host and add it again/);
    } finally {
      await stack.api("DELETE", "/api/v1/hosts/h1-wrong");
    }
  });

  it("places by size on the best-fitting host, in device order, and sets CUDA_VISIBLE_DEVICES", async () => {
    const big = await create({ step: "probe", gpus: 4, parameters: { sleep: 2 } });
    const running = await until(big.counter, ["running", "completed"]);
    expect(running.runtime?.hostName).toBe("h2");
    // While it runs, the host list shows which execution holds which GPU.
    const h2view = await stack.api<HostView>("GET", "/api/v1/hosts/h2");
    expect(h2view.gpus.map((g) => g.execution?.counter ?? null)).toEqual([big.counter, big.counter, big.counter, big.counter]);
    // VH_GPUS from the step's environment-variables default (1): best fit is h1 (h2 is full).
    const one = await create({ step: "probe" });
    const cpu = await create({ step: "probe", gpus: 0 });
    for (const e of [big, one, cpu]) expect((await until(e.counter, ["completed", "failed", "error"])).status).toBe("completed");
    expect((await logOf(big.counter))[0]).toBe("cvd=0,1,2,3 host=h2 gpus=4");
    expect((await logOf(one.counter))[0]).toBe("cvd=0 host=h1 gpus=1");
    expect((await logOf(cpu.counter))[0]).toMatch(/^cvd=none host=h[12] gpus=0$/);
    // GPUs are released by the supervisor right after the final status (settleEnded), not in
    // the same statement: wait for it, briefly.
    await waitFor("every GPU released", async () => {
      const held = await db.sql<{ n: number }[]>`select count(*)::int as n from gpu_allocations where released_at is null`;
      return held[0]!.n === 0 ? true : undefined;
    }, 5_000);
  });

  it("refuses at creation a request larger than any host, leaving nothing behind", async () => {
    const before = await db.sql<{ n: number }[]>`select count(*)::int as n from executions`;
    const err = (await create({ step: "probe", gpus: 5 }).catch((e: unknown) => e)) as { status: number; body: string };
    expect(err.status).toBe(400);
    expect(JSON.parse(err.body).error.message).toMatch(/VH_GPUS=5: no host has that many GPUs \(the largest, h2, has 4\)/);
    expect((await db.sql<{ n: number }[]>`select count(*)::int as n from executions`)[0]!.n).toBe(before[0]!.n);
  });

  it("a host that stops answering: lost, its GPUs released exactly once, retried on another host", async () => {
    const e = await create({ step: "slow-on-h1", gpus: 2 });
    const r = await until(e.counter, ["running"]);
    expect(r.runtime?.hostName).toBe("h1");
    await waitFor("a line from h1", async () => ((await logOf(e.counter)).some((l) => l.startsWith("start host=h1")) ? true : undefined));
    h1.kill();
    const done = await until(e.counter, ["completed", "failed", "error", "stopped"], 90_000);
    expect(done.status).toBe("completed");
    expect(done.runtime?.hostName).toBe("h2");
    const statuses = done.statusHistory.map((s) => s.status);
    expect(statuses).toEqual(["created", "queued", "starting", "running", "lost", "queued", "starting", "running", "uploading", "completed"]);
    const retry = done.statusHistory[5]!;
    expect(retry.reason).toMatch(/^Retry 1 of 1: Host h1 did not answer for 3 s/);
    await waitFor("GPUs released", async () => {
      const [r] = await db.sql<{ n: number }[]>`select count(*)::int as n from gpu_allocations where execution_id = ${e.id} and released_at is null`;
      return r!.n === 0 ? true : undefined;
    });
    const allocs = await db.sql<{ host: string; gpu_index: number; released_at: Date | null; release_reason: string | null }[]>`
      select h.name as host, a.gpu_index, a.released_at, a.release_reason from gpu_allocations a join hosts h on h.id = a.host_id
      where a.execution_id = ${e.id} order by a.id`;
    expect(allocs.map((a) => [a.host, a.gpu_index, a.release_reason])).toEqual([
      ["h1", 0, "lost"],
      ["h1", 1, "lost"],
      ["h2", 0, "completed"],
      ["h2", 1, "completed"],
    ]);
    const log = await logOf(e.counter);
    expect(log[0]).toBe("start host=h1 cvd=0,1");
    expect(log.slice(-2)).toEqual(["start host=h2 cvd=0,1", "end host=h2"]);
    const hosts = await stack.api<{ results: HostView[] }>("GET", "/api/v1/hosts");
    expect(hosts.results.find((h) => h.name === "h1")?.status).toBe("down");
    await h1.start();
    await waitFor("h1 back up", async () => ((await stack.api<HostView>("GET", "/api/v1/hosts/h1")).status === "up" ? true : undefined));
  });

  it("survives a control-plane restart mid-run: the log is complete, in order, without duplicates", async () => {
    const N = 60;
    const e = await create({ step: "counter", gpus: 1, parameters: { n: N } });
    await waitFor("some lines stored", async () => {
      const [r] = await db.sql<{ log_seq: number }[]>`select log_seq from executions where id = ${e.id}`;
      return r && r.log_seq >= 10 ? true : undefined;
    });
    await stack.stop();
    const [mid] = await db.sql<{ status: string; runner: string }[]>`select status, runner from executions where id = ${e.id}`;
    expect(mid).toEqual({ status: "running", runner: "ssh" });
    await new Promise((r) => setTimeout(r, 700));
    stack = await startStack({ databaseUrl: db.connectionString, dataDir, env: ENV });
    const done = await until(e.counter, ["completed", "failed", "error"]);
    expect(done.status).toBe("completed");
    const lines = await stack.api<{ lines: { seq: number; line: string }[] }>("GET", `/api/v1/projects/g/executions/${e.counter}/logs`);
    expect(lines.lines.map((l) => l.line)).toEqual(Array.from({ length: N }, (_, i) => `line ${i}`));
    expect(lines.lines.map((l) => l.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
  });
});
