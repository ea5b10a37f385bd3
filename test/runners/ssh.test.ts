/**
 * The SSH runner against a real OpenSSH sshd on loopback: the runner contract, GPU discovery with a
 * fake nvidia-smi, re-discovery, CUDA_VISIBLE_DEVICES, and re-attaching after the connection drops.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSshRunner } from "../../worker/runners/ssh/runner.js";
import { parseSshUrl } from "../../worker/runners/ssh/client.js";
import type { LaunchSpec } from "../../worker/runners/types.js";
import { drain, runnerContract } from "../contracts/runner-contract.js";
import { startSshd, sshdAvailable, type SshdHost } from "../helpers/sshd.js";
import { createTempStore } from "./temp-store.js";

function runnerFor(host: SshdHost, store = createTempStore(path.join(host.dir, "store"))) {
  const t = parseSshUrl(host.url);
  return createSshRunner({
    name: host.name,
    target: { host: t.host, port: t.port, username: t.username, privateKey: host.privateKey, ...(t.root ? { root: t.root } : {}) },
    store,
    docker: "never",
  });
}

describe.skipIf(!sshdAvailable)("ssh runner", () => {
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
