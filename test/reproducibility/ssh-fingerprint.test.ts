/**
 * The runtime fingerprint of real executions on an SSH host (worker/runners/shared/fingerprint.ts,
 * taken by the SSH runner's prologue): a real OpenSSH sshd on loopback (test/helpers/sshd.ts), so
 * the "remote" host is this machine and what the fingerprint says can be checked against it: its
 * /etc/os-release, `uname -r`, the python3 the host's login PATH finds and that python3's pip
 * freeze, and a fake program first on the step's PATH. Read back with `runner.fingerprint` and
 * parsed as the control plane does (worker/launch-spec.ts fingerprintPatch).
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSshRunner } from "../../worker/runners/ssh/runner.js";
import { parseSshUrl } from "../../worker/runners/ssh/client.js";
import { fingerprintPaths, readsFingerprint, type ReadsFingerprint } from "../../worker/runners/shared/fingerprint.js";
import type { LaunchSpec, Runner } from "../../app/contracts/runner.js";
import { skipWithoutSshd, startSshd, type SshdHost } from "../helpers/sshd.js";
import { createTempStore } from "../runners/temp-store.js";
import { fakeBin, launchAndReadFingerprint, spec, waitEnd } from "./helpers.js";

/** The environment sshd gives this host's sessions (its `SetEnv` line: PATH, HOME, …). */
function sessionEnv(host: SshdHost): Record<string, string> {
  const line = /^SetEnv (.*)$/m.exec(fs.readFileSync(path.join(host.dir, "sshd_config"), "utf8"))?.[1];
  if (!line) throw new Error("the test sshd has no SetEnv line");
  return Object.fromEntries(line.split(" ").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

/** `command -v NAME` with the given PATH, as the host's /bin/sh resolves it; null when not found. */
function resolveOn(pathVar: string, name: string): string | null {
  try {
    return execFileSync("/bin/sh", ["-c", 'command -v "$1"', "sh", name], { env: { PATH: pathVar }, encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

describe.skipIf(skipWithoutSshd)("the runtime fingerprint of an execution on an SSH host", () => {
  let host: SshdHost;
  let root: string;
  let runner: Runner & ReadsFingerprint & { close(): void };
  let env: Record<string, string>;

  beforeAll(async () => {
    host = await startSshd("fphost");
    // Fake programs and marks live here: the loopback host is this machine, the job runs as this user.
    root = await fsp.mkdtemp(path.join(os.tmpdir(), "vh-ssh-fp-"));
    await fsp.chmod(root, 0o755);
    const t = parseSshUrl(host.url);
    const r = createSshRunner({
      name: host.name,
      target: { host: t.host, port: t.port, username: t.username, privateKey: host.privateKey, hostKeySha256: null, ...(t.root ? { root: t.root } : {}) },
      store: createTempStore(path.join(root, "store")),
      docker: "never",
    });
    if (!readsFingerprint(r)) throw new Error("the SSH runner does not read fingerprints");
    runner = r;
    env = sessionEnv(host);
  }, 60_000);

  afterAll(async () => {
    runner?.close();
    await host?.stop();
    if (root) await fsp.rm(root, { recursive: true, force: true });
  });

  const launchAndRead = (s: LaunchSpec) => launchAndReadFingerprint(runner, s);

  it("records the host's OS, kernel, arch, and the python3 its login PATH finds, with its version", async () => {
    const s = spec({ script: "python3 --version\ncommand -v python3" });
    const { result, fp } = await launchAndRead(s);
    expect(result.handle.workDir.startsWith(`${host.workRoot}/runs/`)).toBe(true);
    const end = await waitEnd(runner, result.handle);
    expect(end.exitCode).toBe(0);

    const osRelease = fs.readFileSync("/etc/os-release", "utf8");
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1];
    expect(pretty).toBeTruthy();
    expect(fp.os?.name).toBe(pretty);
    expect(fp.os?.id).toBe(/^ID="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? null);
    expect(fp.kernel).toBe(execFileSync("uname", ["-r"], { encoding: "utf8" }).trim());
    expect(fp.arch).toBe(execFileSync("uname", ["-m"], { encoding: "utf8" }).trim());

    // python3 is the one the host's login PATH finds (not necessarily this process's own python3).
    const hostPython = resolveOn(env["PATH"]!, "python3");
    if (hostPython === null) throw new Error(`no python3 on the test host's PATH ${env["PATH"]}`);
    expect(fp.interpreters).toHaveLength(1);
    const py = fp.interpreters[0]!;
    expect(py.program).toBe("python3");
    expect(py.path).toBe(hostPython);
    const version = execFileSync(hostPython, ["--version"], { encoding: "utf8" }).trim();
    expect(version).toMatch(/^Python 3\./);
    expect(py.version).toBe(version);
    // And it is what the step itself ran.
    const [stepVersion, stepPython] = end.stdout.trim().split("\n");
    expect(stepVersion).toBe(version);
    expect(stepPython).toBe(hostPython);

    expect(fp.npm).toBeNull(); // no package.json in the repository
    expect(fs.existsSync(fingerprintPaths(result.handle.workDir).out)).toBe(true);
  });

  it("records python3's pip freeze, the same list pip gives here", async (ctx) => {
    const hostPython = resolveOn(env["PATH"]!, "python3");
    if (hostPython === null) throw new Error(`no python3 on the test host's PATH ${env["PATH"]}`);
    let freeze: string;
    try {
      // As the fingerprint runs it: the host's HOME (user site-packages), no version check.
      freeze = execFileSync(hostPython, ["-m", "pip", "freeze", "--all"], {
        encoding: "utf8",
        env: { PATH: env["PATH"]!, HOME: env["HOME"]!, PIP_DISABLE_PIP_VERSION_CHECK: "1", PIP_NO_INPUT: "1" },
        stdio: ["ignore", "pipe", "ignore"],
      });
    } catch {
      ctx.skip(`${hostPython} has no pip (\`${hostPython} -m pip freeze --all\` failed): nothing to compare the fingerprint's pip section with`);
      return;
    }
    const expected = freeze
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    expect(expected.some((p) => p.startsWith("pip=="))).toBe(true);

    const { result, fp } = await launchAndRead(spec({ script: "python3 -c 'print(1)'" }));
    expect((await waitEnd(runner, result.handle)).stdout).toBe("1\n");
    expect(fp.pip?.python).toBe(hostPython);
    expect(fp.pip?.truncated).toBe(false);
    expect(fp.pip?.packages).toEqual(expected);
  });

  it("names the program first on the step's PATH: a fake python3 there is what it records and what the step runs", async () => {
    const bin = await fakeBin(path.join(root, `fake-${randomUUID()}`), {
      python3: [
        `case "$1" in`,
        `  --version) echo "Python 7.7.7-fake" ;;`,
        `  -m) [ "$2 $3 $4" = "pip freeze --all" ] && printf 'fake-one==1.0\\nfake-two==2.0\\n' ;;`,
        `  *) echo "fake step ran: $*" ;;`,
        `esac`,
      ].join("\n"),
    });
    const s = spec({ script: "python3 train.py", env: { PATH: `${bin}:${env["PATH"]}` } });
    const { result, fp } = await launchAndRead(s);
    expect((await waitEnd(runner, result.handle)).stdout).toBe("fake step ran: train.py\n");
    expect(fp.interpreters).toEqual([{ program: "python3", path: `${bin}/python3`, version: "Python 7.7.7-fake" }]);
    expect(fp.pip).toEqual({ python: `${bin}/python3`, packages: ["fake-one==1.0", "fake-two==2.0"], truncated: false });
  });

  describe("hostile command text", () => {
    const lines = (m: (n: number) => string) => [
      `python3 -c "$(touch ${m(1)})" \`touch ${m(2)}\``,
      `'./$(touch ${m(3)})/python3' --x`,
      `python3 -m "$(touch ${m(4)})"`,
      `$(touch ${m(5)})/python3`,
      `"python3$(touch ${m(6)})" x; node';touch ${m(7)};' x`,
      `R --vanilla -e 'q()' # $(touch ${m(8)})`,
    ];
    async function marksDir(): Promise<{ dir: string; m: (n: number) => string }> {
      const dir = path.join(root, `marks-${randomUUID()}`);
      await fsp.mkdir(dir);
      await fsp.chmod(dir, 0o777);
      const tag = randomUUID();
      return { dir, m: (n: number) => path.join(dir, `pwned-${tag}-${n}`) };
    }

    it("a shell running these lines does create marks (the control: the marks can be made and are seen)", async () => {
      const { dir, m } = await marksDir();
      // No `exit 0`: the step's own shell evaluates them; the quoted and commented ones stay text.
      const { result } = await launchAndRead(spec({ script: lines(m).join("\n") }));
      await waitEnd(runner, result.handle);
      expect((await fsp.readdir(dir)).sort()).toEqual([1, 2, 4, 5, 6].map((n) => path.basename(m(n))).sort());
    });

    it("is never run by the fingerprint: the step exits first, and no mark appears", async () => {
      const { dir, m } = await marksDir();
      // The step exits at once: whatever creates a mark was run by someone else (the fingerprint).
      const script = ["exit 0", ...lines(m)].join("\n");
      const { result, fp, raw } = await launchAndRead(spec({ script }));
      expect((await waitEnd(runner, result.handle)).exitCode).toBe(0);
      expect(fp.interpreters.map((i) => i.program)).toEqual(["python3", "R"]);
      expect(fp.interpreters[0]?.modules).toBeUndefined(); // `-m "$(…)"` is not a module name
      expect(await fsp.readdir(dir)).toEqual([]);
      for (let n = 1; n <= 8; n++) expect(fs.existsSync(m(n))).toBe(false);
      expect(raw).not.toContain("pwned");
      // The script the host ran for the fingerprint holds none of the command's text.
      const probe = await fsp.readFile(fingerprintPaths(result.handle.workDir).script, "utf8");
      expect(probe).not.toContain("touch");
      expect(probe).not.toContain("pwned");
    });
  });
});
