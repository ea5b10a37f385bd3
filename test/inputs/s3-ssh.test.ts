/**
 * `s3://` inputs on an SSH host (a real OpenSSH sshd on loopback): the worker reads the object with
 * its endpoint settings and streams it over SFTP into the host's checksum cache (the host gets no
 * credentials); a pinned object fetched before is a cache hit; a changed object fails the launch.
 */
import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type Config } from "../../app/config.js";
import type { LaunchSpec } from "../../app/contracts/runner.js";
import { resolveInputUri, type ResolveContext } from "../../app/inputs/resolve.js";
import { createSshRunner } from "../../worker/runners/ssh/runner.js";
import { parseSshUrl } from "../../worker/runners/ssh/client.js";
import { drain } from "../contracts/runner-contract.js";
import { skipWithoutSshd, startSshd, type SshdHost } from "../helpers/sshd.js";
import { startS3, type TestS3 } from "../helpers/s3.js";
import { createTempStore } from "../runners/temp-store.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe.skipIf(skipWithoutSshd)("s3:// inputs on an SSH host", () => {
  let host: SshdHost;
  let s3: TestS3;
  let cfg: Config;
  let runner: ReturnType<typeof createSshRunner>;
  let storeDir: string;

  beforeAll(async () => {
    [host, s3] = await Promise.all([startSshd("s3host"), startS3({ buckets: ["lake"] })]);
    storeDir = await fs.mkdtemp(path.join(os.tmpdir(), "vh-s3-ssh-store-"));
    cfg = loadConfig({ VH_DATA_DIR: storeDir, ...s3.env("lake", ["lake"]) });
    const t = parseSshUrl(host.url);
    runner = createSshRunner({
      name: host.name,
      target: { host: t.host, port: t.port, username: t.username, privateKey: host.privateKey, hostKeySha256: null, ...(t.root ? { root: t.root } : {}) },
      store: createTempStore(storeDir),
      docker: "never",
      s3Inputs: cfg.s3Inputs,
    });
  }, 60_000);

  afterAll(async () => {
    runner?.close();
    await host?.stop();
    await s3?.close();
    await fs.rm(storeDir, { recursive: true, force: true });
  });

  async function specFor(uri: string, script: string): Promise<LaunchSpec> {
    const resolved = await resolveInputUri({ config: cfg } as unknown as ResolveContext, "data", uri, { keepDirectories: "suffix" });
    return {
      executionId: `s3-${randomUUID()}`,
      env: {},
      image: "busybox",
      mode: "process",
      code: null,
      inputs: resolved.map((r) => ({ input: r.name, name: r.file, uri: r.uri, source: r.source, ...(r.size !== undefined ? { size: r.size } : {}) })),
      configFiles: {},
      gpus: [],
      script,
    };
  }

  it("streams the objects into inputs/NAME/ and hits the host's cache the second time", async () => {
    const dir = randomUUID();
    await s3.put("lake", `${dir}/one.txt`, "first file\n");
    await s3.put("lake", `${dir}/sub/two.txt`, "second file\n");
    const script = 'cat "$VH_INPUTS_DIR/data/one.txt" "$VH_INPUTS_DIR/data/sub/two.txt"';
    const first = await runner.launch(await specFor(`s3://lake/${dir}/**`, script));
    expect(first.inputs).toEqual([
      { input: "data", name: "one.txt", uri: `s3://lake/${dir}/**`, sha256: sha("first file\n"), size: 11, cached: false },
      { input: "data", name: "sub/two.txt", uri: `s3://lake/${dir}/**`, sha256: sha("second file\n"), size: 12, cached: false },
    ]);
    const d = await drain(runner, first.handle);
    expect(d.exitCode).toBe(0);
    expect(d.stdout.toString()).toBe("first file\nsecond file\n");
    const again = await runner.launch(await specFor(`s3://lake/${dir}/**`, "true"));
    expect(again.inputs.map((i) => i.cached)).toEqual([true, true]);
    await drain(runner, again.handle);
  }, 60_000);

  it("fails the launch when the object changed after creation", async () => {
    const key = `${randomUUID()}.txt`;
    await s3.put("lake", key, "before\n");
    const spec = await specFor(`s3://lake/${key}`, "true");
    await s3.put("lake", key, "after, other bytes\n");
    await expect(runner.launch(spec)).rejects.toThrow(`Input "data": s3://lake/${key} changed after the execution was created`);
  }, 60_000);
});
