/**
 * What an SSH host out of reach looks like to vh (a real sshd on loopback): a refused connection is
 * `HostUnreachable` (a command cut off by the sshd's death is at least a RunnerError) — the host's failure, retried, never the step's error — while a refused host
 * key stays a plain `RunnerError` (a refusal, not an outage), and a command that exits non-zero is
 * a plain `RunnerError` too. After the sshd is back the same client reconnects by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HostUnreachable, RunnerError } from "../../app/errors.js";
import { parseSshUrl, SshClient } from "../../worker/runners/ssh/client.js";
import { skipWithoutSshd, startSshd, type SshdHost } from "../helpers/sshd.js";

function targetOf(host: SshdHost, hostKeySha256: string | null = null) {
  const t = parseSshUrl(host.url);
  return { host: t.host, port: t.port, username: t.username, privateKey: host.privateKey, hostKeySha256 };
}

const failure = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as Error);

describe.skipIf(skipWithoutSshd)("an SSH host out of reach", () => {
  let host: SshdHost;
  beforeAll(async () => {
    host = await startSshd("unreachable");
  });
  afterAll(async () => {
    await host?.stop();
  });

  it("is HostUnreachable when refused and when lost mid-command, and reconnects once back", async () => {
    const client = new SshClient(targetOf(host), { name: host.name, readyTimeoutMs: 3000 });
    try {
      expect(await client.run("echo up", "Checking")).toBe("up\n");
      const cut = failure(client.run("sleep 5; echo late", "Sleeping"));
      await new Promise((r) => setTimeout(r, 500));
      host.kill();
      // The session is killed with the listener: the command ends as a failure of the host or of
      // its killed shell, whichever the connection reports first; never a success.
      const lost = await cut;
      expect(lost).toBeInstanceOf(RunnerError);
      const refused = await failure(client.run("true", "Connecting"));
      expect(refused).toBeInstanceOf(HostUnreachable);
      expect(refused!.message).toMatch(/ECONNREFUSED/);
      await host.start();
      expect(await client.run("echo back", "Checking")).toBe("back\n");
      // A command that fails is the command's failure, not the host's.
      const exit = await failure(client.run("exit 3", "Failing"));
      expect(exit).toBeInstanceOf(RunnerError);
      expect(exit).not.toBeInstanceOf(HostUnreachable);
    } finally {
      client.close();
      await host.start().catch(() => {});
    }
  }, 30_000);

  it("keeps a refused host key a refusal", async () => {
    const client = new SshClient(targetOf(host, `SHA256:${"A".repeat(43)}`), { name: host.name });
    try {
      const err = await failure(client.run("true", "Connecting"));
      expect(err).toBeInstanceOf(RunnerError);
      expect(err).not.toBeInstanceOf(HostUnreachable);
    } finally {
      client.close();
    }
  });
});
