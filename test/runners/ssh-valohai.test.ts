/**
 * /valohai on an SSH host (worker/runners/ssh/runner.ts), against a real OpenSSH sshd on loopback:
 * a plain process sees its own work dir at /valohai when the SSH user is root and the host allows
 * a private mount namespace, as the local runner's probe finds; otherwise the handle says why and a
 * step whose command names /valohai/… is refused at launch, naming the host.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSshRunner } from "../../worker/runners/ssh/runner.js";
import { parseSshUrl } from "../../worker/runners/ssh/client.js";
import { valohaiViewOf } from "../../worker/runners/shared/detached.js";
import { buildValohaiProbeScript, parseValohaiProbe } from "../../worker/runners/shared/valohai-view.js";
import type { LaunchSpec } from "../../app/contracts/runner.js";
import { drain, readAll } from "../contracts/runner-contract.js";
import { skipWithoutSshd, startSshd, type SshdHost } from "../helpers/sshd.js";
import { createTempStore } from "./temp-store.js";

describe.skipIf(skipWithoutSshd)("/valohai on an SSH host", () => {
  let host: SshdHost;
  beforeAll(async () => {
    host = await startSshd("valohai");
  });
  afterAll(async () => {
    await host?.stop();
  });

  const spec = (script: string): LaunchSpec => ({
    executionId: `sv-${randomUUID()}`, script, env: {}, image: "python:3.12", mode: "process", code: null, inputs: [], configFiles: { "parameters.json": '{"n": 1}' }, gpus: [],
  });

  it("gives the job its own /valohai where it can, else says why and refuses a step that names it", async () => {
    const t = parseSshUrl(host.url);
    const runner = createSshRunner({
      name: host.name,
      target: { host: t.host, port: t.port, username: t.username, privateKey: host.privateKey, hostKeySha256: null, ...(t.root ? { root: t.root } : {}) },
      store: createTempStore(path.join(host.dir, "store")),
      docker: "never",
    });
    try {
      // The same machine (loopback): the local probe says what the remote one should, for root.
      const local = parseValohaiProbe(execFileSync("/bin/sh", ["-c", buildValohaiProbeScript()], { encoding: "utf8" }));
      const script = 'cat /valohai/config/parameters.json; echo; pwd; echo "out=$VH_OUTPUTS_DIR"; echo hi > /valohai/outputs/a.txt\n';
      if (t.username === "root" && local.provided) {
        const res = await runner.launch(spec(script));
        const d = await drain(runner, res.handle);
        expect(d.exitCode, d.stderr.toString()).toBe(0);
        expect(d.stdout.toString()).toBe('{"n": 1}\n/valohai/repository\nout=/valohai/outputs\n');
        expect(valohaiViewOf(res.handle)).toEqual({ provided: true, how: "mount-namespace" });
        expect((await readAll(await runner.openOutput(res.handle, "a.txt"))).toString()).toBe("hi\n");
        await runner.cleanup(res.handle);
      } else {
        await expect(runner.launch(spec(script))).rejects.toThrow(new RegExp(`uses /valohai/… paths, which vh cannot provide for a plain process here: .+ \\(host ${host.name}\\)$`));
        const res = await runner.launch(spec('echo "out=$VH_OUTPUTS_DIR"\n'));
        expect(valohaiViewOf(res.handle)?.provided).toBe(false);
        expect((await drain(runner, res.handle)).stdout.toString()).toBe(`out=${res.handle.workDir}/outputs\n`);
      }
    } finally {
      runner.close();
    }
  }, 60_000);
});
