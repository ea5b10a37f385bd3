/**
 * The EC2 boot script (worker/compute/ec2/user-data.ts), run for real with /bin/sh: it authorises the
 * control plane's key (once, however often it runs), prints the host key fingerprints the control
 * plane pins, and its watcher writes a spot notice and a rebalance recommendation it reads from an
 * IMDSv2 metadata service (a loopback stand-in: token first, then the token on every read).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildUserData, hostKeysInConsole, READY_MARKER } from "../../worker/compute/ec2/user-data.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-userdata-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const user = os.userInfo().username;
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIb3Yt0nBm2hm4m8pCHLy3bKz2gQnQwzq6B2uG8Hn8xV vh-control-plane";

describe("user data", () => {
  it("refuses a public key or user that could break out of the script", () => {
    expect(() => buildUserData({ sshUser: user, publicKey: "ssh-ed25519 AAAA'; rm -rf /", spotPollSeconds: 5, cluster: "vh", hostId: "h" })).toThrow(/not one line of OpenSSH public key/);
    expect(() => buildUserData({ sshUser: "root; id", publicKey: KEY, spotPollSeconds: 5, cluster: "vh", hostId: "h" })).toThrow(/is not a user name/);
  });

  it("reads host keys from vh's lines, ED25519 first, else from cloud-init's block", () => {
    expect(hostKeysInConsole("x\nvh-host-key: SHA256:rsaRSA (RSA)\nvh-host-key: SHA256:edED+/9 (ED25519)\n")).toEqual(["SHA256:edED+/9", "SHA256:rsaRSA"]);
    const cloudInit = "boot\n-----BEGIN SSH HOST KEY FINGERPRINTS-----\n3072 SHA256:aaaRSA root@ip (RSA)\n256 SHA256:bbbED root@ip (ED25519)\n-----END SSH HOST KEY FINGERPRINTS-----\n";
    expect(hostKeysInConsole(cloudInit)).toEqual(["SHA256:bbbED", "SHA256:aaaRSA"]);
    expect(hostKeysInConsole("nothing yet")).toEqual([]);
  });

  it("authorises the key once, prints the host key fingerprint, and its watcher writes the notices IMDSv2 gives", async () => {
    const home = path.join(dir, "home");
    const keys = path.join(dir, "etc-ssh");
    fs.mkdirSync(home);
    fs.mkdirSync(keys);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(keys, "ssh_host_ed25519_key")]);
    const expected = /SHA256:[A-Za-z0-9+/]+/.exec(execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", path.join(keys, "ssh_host_ed25519_key.pub")]).toString())![0];

    let notice: string | null = null;
    let rebalance: string | null = null;
    const seen: string[] = [];
    const imds = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.method === "PUT" && req.url === "/latest/api/token") {
        res.end(req.headers["x-aws-ec2-metadata-token-ttl-seconds"] ? "tok-1" : "");
        return;
      }
      if (req.headers["x-aws-ec2-metadata-token"] !== "tok-1") {
        res.writeHead(401).end();
        return;
      }
      const body = req.url === "/latest/meta-data/spot/instance-action" ? notice : req.url === "/latest/meta-data/events/recommendations/rebalance" ? rebalance : null;
      if (body === null) res.writeHead(404).end();
      else res.end(body);
    });
    await new Promise<void>((r) => imds.listen(0, "127.0.0.1", r));
    const port = (imds.address() as { port: number }).port;
    const script = path.join(dir, "user-data.sh");
    fs.writeFileSync(script, buildUserData({ sshUser: user, publicKey: KEY, spotPollSeconds: 0.1, cluster: "vh", hostId: "h-1" }));
    const env = { PATH: process.env["PATH"]!, HOME: home, VH_IMDS_ENDPOINT: `http://127.0.0.1:${port}`, VH_SSH_HOST_KEY_DIR: keys };
    try {
      const out = execFileSync("/bin/sh", [script], { env }).toString();
      expect(out).toContain(`vh-host-key: ${expected} (ED25519)`);
      expect(out).toContain(READY_MARKER);
      expect(hostKeysInConsole(out)).toEqual([expected]);
      // A second boot (user data run again) does not add the key twice.
      execFileSync("/bin/sh", [script], { env });
      expect(fs.readFileSync(path.join(home, ".ssh/authorized_keys"), "utf8")).toBe(`${KEY}\n`);
      expect(fs.statSync(path.join(home, ".ssh/authorized_keys")).mode & 0o777).toBe(0o600);

      notice = '{"action":"terminate","time":"2026-12-02T10:00:00Z"}';
      rebalance = '{"noticeTime":"2026-12-02T09:58:00Z"}';
      const until = Date.now() + 10_000;
      while (!(fs.existsSync(path.join(home, ".vh/interruption")) && fs.existsSync(path.join(home, ".vh/rebalance"))) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(fs.readFileSync(path.join(home, ".vh/interruption"), "utf8").trim()).toBe(notice);
      expect(fs.readFileSync(path.join(home, ".vh/rebalance"), "utf8").trim()).toBe(rebalance);
      expect(seen).toContain("PUT /latest/api/token");
    } finally {
      // The watchers (one per run) poll for ever: end them.
      for (const pid of execFileSync("sh", ["-c", `pgrep -f ${JSON.stringify(path.join(home, ".vh/spot-watch.sh"))} || true`]).toString().split("\n").filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // gone
        }
      }
      await new Promise<void>((r) => imds.close(() => r()));
    }
  }, 20_000);
});
