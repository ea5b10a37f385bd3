/**
 * Real OpenSSH sshd "hosts" on loopback for tests (toolchain-spikes §9): one sshd per host on its
 * own port, a fresh host key, our client key in its authorized_keys, and a per-host PATH (sshd's
 * `SetEnv`, with HOME) whose first directory may hold a fake `nvidia-smi` reporting a chosen GPU list, so GPU
 * discovery, placement and CUDA_VISIBLE_DEVICES are observable. `kill()` takes the host away
 * (listener and open sessions); `start()` brings it back on the same port.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import ssh2 from "ssh2";
import { freePort } from "./net.js";

export const SSHD = "/usr/sbin/sshd";

/**
 * An sshd_config for a test host on loopback: key login only (root allowed), SFTP in-process, no
 * PAM, room for many sessions, and the environment every session starts with.
 */
export function sshdConfig(o: { port: number; listen: string; hostKey: string; pidFile: string; authorizedKeys: string; env: Record<string, string> }): string {
  return [
    `Port ${o.port}`,
    `ListenAddress ${o.listen}`,
    `HostKey ${o.hostKey}`,
    `PidFile ${o.pidFile}`,
    `AuthorizedKeysFile ${o.authorizedKeys}`,
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "Subsystem sftp internal-sftp",
    "LogLevel ERROR",
    "MaxSessions 100",
    "MaxStartups 100",
    `SetEnv ${Object.entries(o.env).map(([k, v]) => `${k}=${v}`).join(" ")}`,
    "",
  ].join("\n");
}
export const sshdAvailable = fs.existsSync(SSHD);
const ci = process.env["CI"];
/**
 * Suites that need sshd skip where it is missing, except under CI (.ci/run installs it): there a
 * missing sshd fails them instead of skipping them unnoticed.
 */
export const skipWithoutSshd = !sshdAvailable && (ci === undefined || ci === "" || ci === "0" || ci === "false");

export interface FakeGpu {
  index: number;
  name?: string;
  memoryMiB?: number;
}

export interface SshdHost {
  name: string;
  port: number;
  /** ssh://<this user>@127.0.0.1:PORT/<work root> (root in CI; a normal user's own sshd logs in only as that user) */
  url: string;
  keyFile: string;
  privateKey: string;
  workRoot: string;
  dir: string;
  /** Replace the GPUs the fake nvidia-smi reports; null removes nvidia-smi (no driver). */
  setGpus(gpus: FakeGpu[] | null): void;
  start(): Promise<void>;
  /** The host stops answering: the listener and every open session are killed. */
  kill(): void;
  stop(): Promise<void>;
}

async function waitPort(port: number, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`sshd did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let clientKey: { private: string; public: string } | null = null;

function keyPair(): { private: string; public: string } {
  clientKey ??= ssh2.utils.generateKeyPairSync("ed25519", { comment: "vh-test" });
  return clientKey;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === pid) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

export async function startSshd(name: string, gpus: FakeGpu[] | null = null): Promise<SshdHost> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vh-sshd-${name}-`));
  fs.chmodSync(dir, 0o755);
  // Root's sshd needs its privilege-separation folder; a normal user's sshd runs without it.
  if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true });
  const port = await freePort();
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  const workRoot = path.join(dir, "vh");
  fs.mkdirSync(path.join(dir, "home"));
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host_ed25519")]);
  const keys = keyPair();
  fs.writeFileSync(path.join(dir, "authorized_keys"), `${keys.public}\n`, { mode: 0o600 });
  const keyFile = path.join(dir, "client_key");
  fs.writeFileSync(keyFile, keys.private, { mode: 0o600 });
  const hostPath = `${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
  // HOME of its own: the host's caches, and no login dotfiles of this machine (a slow ~/.bashrc
  // would cost every command).
  fs.writeFileSync(
    path.join(dir, "sshd_config"),
    sshdConfig({
      port,
      listen: "127.0.0.1",
      hostKey: `${dir}/host_ed25519`,
      pidFile: `${dir}/sshd.pid`,
      authorizedKeys: `${dir}/authorized_keys`,
      env: { PATH: hostPath, HOME: `${dir}/home`, VH_TEST_HOST: name },
    }),
  );
  execFileSync(SSHD, ["-t", "-f", path.join(dir, "sshd_config")]);

  function setGpus(list: FakeGpu[] | null): void {
    const smi = path.join(bin, "nvidia-smi");
    if (list === null) {
      fs.rmSync(smi, { force: true });
      return;
    }
    const rows = list.map((g) => `${g.index}, GPU-${name}-${g.index}, ${g.name ?? "NVIDIA A100-SXM4-80GB"}, ${g.memoryMiB ?? 81920}, 550.54.15`).join("\n");
    fs.writeFileSync(path.join(dir, "gpus.csv"), rows ? `${rows}\n` : "");
    fs.writeFileSync(
      smi,
      [
        "#!/bin/sh",
        `case "$1" in --query-gpu=*) if [ -s ${dir}/gpus.csv ]; then cat ${dir}/gpus.csv; else echo "No devices were found"; fi ;;`,
        `  *) echo "| NVIDIA-SMI 550.54.15    Driver Version: 550.54.15    CUDA Version: 12.4 |" ;; esac`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
  }
  setGpus(gpus);

  let child: ChildProcess | null = null;
  async function start(): Promise<void> {
    child = spawn(SSHD, ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: "ignore", detached: true });
    child.unref();
    await waitPort(port);
  }
  function kill(): void {
    if (!child?.pid) return;
    const pid = child.pid;
    const sessions = childrenOf(pid);
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
    for (const s of sessions) {
      for (const c of childrenOf(s)) {
        try {
          process.kill(c, "SIGKILL");
        } catch {
          // gone
        }
      }
      try {
        process.kill(s, "SIGKILL");
      } catch {
        // gone
      }
    }
    child = null;
  }
  await start();
  return {
    name,
    port,
    url: `ssh://${os.userInfo().username}@127.0.0.1:${port}${workRoot}`,
    keyFile,
    privateKey: keys.private,
    workRoot,
    dir,
    setGpus,
    start,
    kill,
    async stop() {
      kill();
      // Jobs still running in this host's work dirs (a test that ended early): kill their groups.
      const runs = path.join(workRoot, "runs");
      const killed: string[] = [];
      for (const e of fs.existsSync(runs) ? fs.readdirSync(runs) : []) {
        let pg = 0;
        try {
          pg = Number(fs.readFileSync(path.join(runs, e, ".vh", "pid"), "utf8").trim() || "0");
        } catch {
          continue; // never started
        }
        if (pg > 1 && !fs.existsSync(path.join(runs, e, ".vh", "exit_code"))) {
          try {
            process.kill(-pg, "SIGKILL");
            killed.push(path.join(runs, e, ".vh", "exit_code"));
          } catch {
            // ended
          }
        }
      }
      // Their wrappers (outside the killed groups) still write exit codes: let them, then remove.
      const until = Date.now() + 3000;
      while (killed.some((f) => !fs.existsSync(f)) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}
