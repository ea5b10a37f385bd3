/**
 * Who a plain-process job runs as (worker/runners/local/runner.ts, docs/threat-model.md): as root
 * a user of its own per execution, with its tree handed over and setuid bits cleared; a private
 * work root is refused with a message; `refuse` isolation fails the launch with its reason.
 */
import fs from "node:fs/promises";
import { constants as fsc } from "node:fs";
import os from "node:os";
import path from "node:path";
import { create } from "tar";
import { createHash } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { createLocalRunner, JOB_UID_BASE } from "../../worker/runners/local/runner.js";
import type { LaunchSpec, Runner, RunnerHandle } from "../../app/contracts/runner.js";
import { createTempStore } from "./temp-store.js";

const isRoot = process.getuid?.() === 0;
const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await fs.rm(r, { recursive: true, force: true });
});

async function root(mode = 0o711): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), "vh-iso-"));
  await fs.chmod(d, mode);
  roots.push(d);
  return d;
}

function spec(executionId: string, script: string, code: LaunchSpec["code"] = null): LaunchSpec {
  return { executionId, script, env: {}, image: "busybox", mode: "process", code, inputs: [], configFiles: {}, gpus: [] };
}

async function finish(runner: Runner, handle: RunnerHandle): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  let stdout = "";
  let stderr = "";
  const offsets = { stdout: 0, stderr: 0 };
  for (let i = 0; i < 400; i++) {
    const p = await runner.poll(handle, offsets);
    for (const c of p.chunks) {
      if (c.stream === "stdout") stdout += c.data.toString();
      else stderr += c.data.toString();
      offsets[c.stream] += c.data.length;
    }
    if (p.finished) return { stdout, stderr, exitCode: p.exitCode! };
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("the job did not finish");
}

describe.skipIf(!isRoot)("jobs as users of their own (root)", () => {
  it("gives each execution its own uid, hands it the repository with setuid bits cleared, and keeps .vh and other executions out of reach", async () => {
    const r = await root();
    const store = createTempStore(path.join(r, "store"));
    // A code archive with a setuid file, as an attacker could upload.
    const src = path.join(r, "src");
    await fs.mkdir(src);
    await fs.writeFile(path.join(src, "suid.sh"), "#!/bin/sh\necho hi\n", { mode: 0o4755 });
    const chunks: Buffer[] = [];
    for await (const c of create({ gzip: true, cwd: src, portable: false }, ["suid.sh"])) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const sha256 = createHash("sha256").update(body).digest("hex");
    await store.put(`code/${sha256}.tgz`, body, { contentType: "application/gzip" });

    const runner = createLocalRunner({ workRoot: path.join(r, "runs"), cacheRoot: path.join(r, "cache"), store, docker: "never" });
    const a = await runner.launch(spec("exec-a", "id -u; echo secret > mine.txt; stat -c %a suid.sh; sleep 30", { key: `code/${sha256}.tgz`, sha256 }));
    const aDir = a.handle.workDir;
    // wait for A to have written its file
    for (let i = 0; i < 200 && !(await fs.stat(path.join(aDir, "repository", "mine.txt")).catch(() => null)); i++) await new Promise((x) => setTimeout(x, 25));
    const b = await runner.launch(spec("exec-b", `id -u; cat ${aDir}/repository/mine.txt; echo rc=$?; ls ${aDir}; echo rc=$?; echo 0 > ../.vh/exit_code; echo rc=$?`));
    const rb = await finish(runner, b.handle);
    await runner.terminate(a.handle, 0);
    const ra = await finish(runner, a.handle);

    const uidA = Number(ra.stdout.split("\n")[0]);
    const uidB = Number(rb.stdout.split("\n")[0]);
    expect(uidA).toBeGreaterThanOrEqual(JOB_UID_BASE);
    expect(uidB).toBeGreaterThanOrEqual(JOB_UID_BASE);
    expect(uidA).not.toBe(uidB);
    expect(ra.stdout.split("\n")[1]).toBe("755"); // the setuid bit is gone
    expect(rb.stdout).toContain("rc=1\n");
    expect(rb.stdout).not.toContain("secret");
    expect(rb.stdout.match(/rc=\d+/g)).toEqual(["rc=1", "rc=2", "rc=2"]);
    expect(rb.stderr).toContain("Permission denied");
    expect(rb.exitCode).toBe(0); // the job's own code, not a forged one
    const st = await fs.stat(aDir);
    expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o777 }).toEqual({ uid: 0, gid: uidA, mode: 0o750 });
    expect((await fs.stat(path.join(aDir, "repository"))).uid).toBe(uidA);
    expect((await fs.stat(path.join(aDir, ".vh"))).uid).toBe(0);
    await runner.cleanup(a.handle);
    await runner.cleanup(b.handle);
  }, 60_000);

  it("refuses a work root the jobs' users cannot enter, and says where to put it", async () => {
    const r = await root(0o700);
    const runner = createLocalRunner({ workRoot: path.join(r, "runs"), cacheRoot: path.join(r, "cache"), store: createTempStore(path.join(r, "store")), docker: "never" });
    await expect(runner.launch(spec("exec-c", "true"))).rejects.toThrow(/cannot enter the work root .*\/runs \(a folder above it is private/);
    await expect(fs.access(path.join(r, "runs", "exec-c"), fsc.F_OK)).rejects.toThrow(); // nothing left behind
  });
});

describe("refused isolation", () => {
  it("fails a plain-process launch with the reason and leaves no work dir", async () => {
    const r = await root();
    const runner = createLocalRunner({
      workRoot: path.join(r, "runs"),
      cacheRoot: path.join(r, "cache"),
      store: createTempStore(path.join(r, "store")),
      docker: "never",
      isolation: { kind: "refuse", reason: "no isolation possible here" },
    });
    await expect(runner.launch(spec("exec-d", "true"))).rejects.toThrow("no isolation possible here");
    expect(await fs.readdir(path.join(r, "runs"))).toEqual([]);
  });
});
