/**
 * The SSH runner against a real OpenSSH sshd on loopback: the runner contract, GPU discovery with a
 * fake nvidia-smi, re-discovery, CUDA_VISIBLE_DEVICES, and re-attaching after the connection drops.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSshRunner } from "../../worker/runners/ssh/runner.js";
import { parseSshUrl, SshClient } from "../../worker/runners/ssh/client.js";
import type { LaunchSpec } from "../../app/contracts/runner.js";
import { drain, runnerContract } from "../contracts/runner-contract.js";
import { skipWithoutSshd, startSshd, type SshdHost } from "../helpers/sshd.js";
import { createTempStore } from "./temp-store.js";

function targetOf(host: SshdHost, hostKeySha256: string | null = null) {
  const t = parseSshUrl(host.url);
  return { host: t.host, port: t.port, username: t.username, privateKey: host.privateKey, hostKeySha256, ...(t.root ? { root: t.root } : {}) };
}

function runnerFor(host: SshdHost, store = createTempStore(path.join(host.dir, "store")), client?: SshClient) {
  return createSshRunner({ name: host.name, target: targetOf(host), store, docker: "never", ...(client ? { client } : {}) });
}

/** The host key's fingerprint as `ssh-keygen -lf` prints it. */
function sshKeygenFingerprint(host: SshdHost): string {
  const out = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", path.join(host.dir, "host_ed25519.pub")]).toString();
  return /SHA256:[A-Za-z0-9+/]+/.exec(out)![0];
}

describe.skipIf(skipWithoutSshd)("ssh runner", () => {
  runnerContract("ssh", async () => {
    const host = await startSshd("contract");
    const store = createTempStore(await fs.mkdtemp(path.join(os.tmpdir(), "vh-ssh-store-")));
    const runner = runnerFor(host, store);
    return {
      runner,
      store,
      async cleanup() {
        runner.close();
        await host.stop();
      },
    };
  });

  describe("hosts", () => {
    let host: SshdHost;
    beforeAll(async () => {
      host = await startSshd("gpuhost", [{ index: 0 }, { index: 1 }, { index: 2, name: "NVIDIA H100 80GB HBM3" }]);
    });
    afterAll(async () => {
      await host?.stop();
    });

    const spec = (over: Partial<LaunchSpec> & { script: string }): LaunchSpec => ({
      executionId: `st-${randomUUID()}`,
      env: {},
      image: "busybox",
      mode: "process",
      code: null,
      inputs: [],
      configFiles: {},
      gpus: [],
      ...over,
    });

    it("parses ssh:// URLs", () => {
      expect(parseSshUrl("ssh://ubuntu@gpu-1.lan:2222/data/vh")).toEqual({ username: "ubuntu", host: "gpu-1.lan", port: 2222, root: "/data/vh" });
      expect(parseSshUrl("ssh://gpu-1")).toEqual({ username: "root", host: "gpu-1", port: 22 });
      expect(() => parseSshUrl("http://x")).toThrow(/ssh:\/\//);
    });

    it("discovers GPUs with nvidia-smi, and again after a driver appears", async () => {
      const runner = runnerFor(host);
      try {
        const info = await runner.describeHost();
        expect(info.gpus.map((g) => [g.index, g.name])).toEqual([
          [0, "NVIDIA A100-SXM4-80GB"],
          [1, "NVIDIA A100-SXM4-80GB"],
          [2, "NVIDIA H100 80GB HBM3"],
        ]);
        expect(info.gpus[0]).toMatchObject({ uuid: "GPU-gpuhost-0", memoryMiB: 81920, driverVersion: "550.54.15" });
        expect(info.cudaVersion).toBe("12.4");
        expect(info.cpuCount).toBeGreaterThanOrEqual(1);
        host.setGpus(null);
        expect((await runner.describeHost()).gpus).toEqual([]);
        host.setGpus([{ index: 0 }, { index: 1 }, { index: 2 }, { index: 3 }]);
        expect((await runner.describeHost()).gpus).toHaveLength(4);
      } finally {
        runner.close();
      }
    });

    it("sets CUDA_VISIBLE_DEVICES to the assigned devices", async () => {
      const runner = runnerFor(host);
      try {
        const { handle } = await runner.launch(spec({ script: 'echo "cvd=$CUDA_VISIBLE_DEVICES host=$VH_TEST_HOST"\n', gpus: [1, 2] }));
        expect((await drain(runner, handle)).stdout.toString()).toBe("cvd=1,2 host=gpuhost\n");
      } finally {
        runner.close();
      }
    });

    it("pins the host key on first use and refuses a different one, naming both fingerprints", async () => {
      const expected = sshKeygenFingerprint(host);
      const first = new SshClient(targetOf(host), { name: host.name });
      try {
        expect(first.hostKeySha256).toBeNull();
        await first.run("true", "Connecting");
        expect(first.hostKeySha256).toBe(expected);
        first.disconnect();
        await first.run("true", "Reconnecting"); // the same key again: accepted
      } finally {
        first.close();
      }
      const pinned = new SshClient(targetOf(host, expected), { name: host.name });
      try {
        await pinned.run("true", "Connecting");
      } finally {
        pinned.close();
      }
      const wrong = `SHA256:${"A".repeat(43)}`;
      const runner = createSshRunner({ name: host.name, target: targetOf(host, wrong), store: createTempStore(path.join(host.dir, "store")), docker: "never" });
      try {
        const err = await runner.describeHost().then(
          () => null,
          (e: unknown) => e as Error,
        );
        expect(err?.message).toMatch(/Host key verification failed for host gpuhost/);
        expect(err?.message).toContain(expected);
        expect(err?.message).toContain(wrong);
        expect(err?.message).toMatch(/remove the host and add it again/);
      } finally {
        runner.close();
      }
    });

    it("never puts env values or file contents on a remote command line", async () => {
      const client = new SshClient(targetOf(host), { name: host.name });
      const commands: string[] = [];
      const exec = client.exec.bind(client);
      client.exec = (script, o) => {
        commands.push(script);
        return exec(script, o);
      };
      const runner = runnerFor(host, undefined, client);
      try {
        const { handle } = await runner.launch(
          spec({ script: 'echo "s=$SECRET"; cat "$VH_CONFIG_DIR/app.cfg"\n', env: { SECRET: "hunter2" }, configFiles: { "app.cfg": "token=hunter2\n" } }),
        );
        expect((await drain(runner, handle)).stdout.toString()).toBe("s=hunter2\ntoken=hunter2\n");
        expect(commands.length).toBeGreaterThan(0);
        for (const c of commands) {
          expect(c).not.toContain("hunter2");
          // Nor encoded: every base64-looking run decodes to something without it.
          for (const m of c.match(/[A-Za-z0-9+/]{8,}={0,2}/g) ?? []) {
            for (const shift of [0, 1, 2, 3]) expect(Buffer.from(m.slice(shift), "base64").toString("latin1")).not.toContain("hunter2");
          }
        }
        const st = await fs.stat(path.join(handle.workDir as string, ".vh", "job.env"));
        expect(st.mode & 0o777).toBe(0o600);
      } finally {
        runner.close();
      }
    });

    it("never follows a folder in outputs/ that the job turned into a link out of it", async () => {
      const runner = runnerFor(host);
      try {
        const outside = path.join(host.dir, "outside");
        await fs.mkdir(outside, { recursive: true });
        await fs.writeFile(path.join(outside, "admin-token"), "secret");
        const script = `mkdir -p "$VH_OUTPUTS_DIR/d" && echo x > "$VH_OUTPUTS_DIR/d/admin-token" && rm -r "$VH_OUTPUTS_DIR/d" && ln -s ${JSON.stringify(outside)} "$VH_OUTPUTS_DIR/d" && mkdir -p "$VH_OUTPUTS_DIR/ok" && echo fine > "$VH_OUTPUTS_DIR/ok/f"\n`;
        const { handle } = await runner.launch(spec({ script }));
        await drain(runner, handle);
        await expect(runner.openOutput(handle, "d/admin-token")).rejects.toThrow(/link out of it/);
        await runner.removeOutput(handle, "d/admin-token");
        expect(await fs.readFile(path.join(outside, "admin-token"), "utf8")).toBe("secret");
        // A folder is never removed; a real file inside outputs/ still is.
        await runner.removeOutput(handle, "ok");
        const rs = await runner.openOutput(handle, "ok/f");
        const parts: Buffer[] = [];
        for await (const d of rs) parts.push(d as Buffer);
        expect(Buffer.concat(parts).toString()).toBe("fine\n");
        await runner.removeOutput(handle, "ok/f");
        await expect(fs.stat(path.join(handle.workDir as string, "outputs", "ok", "f"))).rejects.toThrow();
        expect((await fs.stat(path.join(handle.workDir as string, "outputs", "ok"))).isDirectory()).toBe(true);
      } finally {
        runner.close();
      }
    });

    it("re-attaches after the SSH connection is cut mid-run, with no byte missing or repeated", async () => {
      const runner = runnerFor(host);
      try {
        const script = 'i=0; while [ $i -lt 40 ]; do echo "line $i"; i=$((i+1)); sleep 0.02; done\n';
        const { handle } = await runner.launch(spec({ script }));
        const first = await drain(runner, handle, { until: (d) => d.stdout.toString().includes("line 5\n") });
        runner.client.disconnect();
        const rest = await drain(runner, handle, { from: first.offsets });
        const all = Buffer.concat([first.stdout, rest.stdout]).toString();
        expect(all).toBe(Array.from({ length: 40 }, (_, i) => `line ${i}\n`).join(""));
        expect(rest.exitCode).toBe(0);
      } finally {
        runner.close();
      }
    });
  });
});
