/**
 * The runtime fingerprint of real local executions (worker/runners/shared/fingerprint.ts): taken by
 * the job's prologue as the job's own user with its environment, read back by the runner, parsed
 * into the runtime record (worker/launch-spec.ts fingerprintPatch). Real processes throughout: the
 * host's python3, pip, node and npm, and fake programs on the step's PATH where a bound is tested.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as tar from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalRunner } from "../../worker/runners/local/runner.js";
import { FINGERPRINT_SECTION_BYTES, fingerprintPaths, readsFingerprint, type ReadsFingerprint } from "../../worker/runners/shared/fingerprint.js";
import { snapshotKey } from "../../app/contracts/store-keys.js";
import type { LaunchSpec, Runner } from "../../app/contracts/runner.js";
import type { Store } from "../../app/contracts/store.js";
import { createTempStore } from "../runners/temp-store.js";
import { fakeBin, launchAndReadFingerprint, spec, waitEnd } from "./helpers.js";

describe("the runtime fingerprint of a local execution", () => {
  let root: string;
  let store: Store;
  let runner: Runner & ReadsFingerprint;

  beforeAll(async () => {
    // Jobs run as users of their own when vh is root: every folder on the way must be enterable.
    root = await fsp.mkdtemp(path.join(os.tmpdir(), "vh-fp-"));
    await fsp.chmod(root, 0o755);
    store = createTempStore(path.join(root, "store"));
    const r = createLocalRunner({ workRoot: path.join(root, "runs"), cacheRoot: path.join(root, "cache"), store, docker: "never", hostName: "fp-host" });
    if (!readsFingerprint(r)) throw new Error("the local runner does not read fingerprints");
    runner = r;
  });
  afterAll(async () => {
    await fsp.rm(root, { recursive: true, force: true });
  });

  const launchAndRead = (s: LaunchSpec) => launchAndReadFingerprint(runner, s);

  /** A code snapshot holding `files`, stored as the runner expects it. */
  async function snapshot(files: Record<string, string>): Promise<{ key: string; sha256: string }> {
    const dir = await fsp.mkdtemp(path.join(root, "code-"));
    for (const [name, text] of Object.entries(files)) await fsp.writeFile(path.join(dir, name), text);
    const tgz = path.join(root, `${path.basename(dir)}.tgz`);
    await tar.c({ gzip: true, file: tgz, cwd: dir }, Object.keys(files));
    const data = await fsp.readFile(tgz);
    const sha256 = createHash("sha256").update(data).digest("hex");
    await store.put(snapshotKey(sha256), data);
    return { key: snapshotKey(sha256), sha256 };
  }

  it("records the OS, kernel, python3 with its version, and its pip freeze, as the step sees them", async () => {
    const s = spec({ script: "python3 -c 'import sys; print(sys.version_info[0])'" });
    const { result, fp } = await launchAndRead(s);
    const end = await waitEnd(runner, result.handle);
    expect(end).toMatchObject({ exitCode: 0, stdout: "3\n" });

    const osRelease = fs.readFileSync("/etc/os-release", "utf8");
    expect(fp.os?.name).toBe(/^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1]);
    expect(fp.kernel).toBe(os.release());
    expect(fp.arch).toBe(os.machine());
    expect(fp.interpreters).toHaveLength(1);
    const py = fp.interpreters[0]!;
    expect(py.program).toBe("python3");
    expect(py.path).toMatch(/^\//);
    // The same binary asked here says the same version.
    expect(py.version).toBe(execFileSync(py.path!, ["--version"], { encoding: "utf8" }).trim());
    expect(fp.pip?.python).toBe(py.path);
    expect(fp.pip?.truncated).toBe(false);
    const pipVersion = /^pip (\S+)/.exec(execFileSync(py.path!, ["-m", "pip", "--version"], { encoding: "utf8" }))?.[1];
    expect(fp.pip?.packages).toContain(`pip==${pipVersion}`);
    expect(fp.npm).toBeNull(); // no package.json in the repository
    // Written where the job cannot write (the wrapper's .vh/), and the step's script is the step's.
    expect(fs.existsSync(fingerprintPaths(result.handle.workDir).out)).toBe(true);
  });

  it("with a package.json: node's version and npm ls, missing packages said as missing", async () => {
    const code = await snapshot({ "package.json": JSON.stringify({ name: "fp-app", version: "1.0.0", dependencies: { "left-pad": "^1.3.0" } }) });
    const s = spec({ script: "node -e 'console.log(process.version)'", code });
    const { result, fp } = await launchAndRead(s);
    const end = await waitEnd(runner, result.handle);
    expect(end.exitCode).toBe(0);
    const node = fp.interpreters.find((i) => i.program === "node");
    expect(node?.version).toBe(execFileSync(node!.path!, ["--version"], { encoding: "utf8" }).trim());
    expect(end.stdout.trim()).toBe(node?.version);
    expect(fp.pip).toBeNull(); // no Python in the command
    expect(fp.npm).toMatchObject({ packages: { "left-pad": "(missing)" }, truncated: false });
  });

  it("cuts pip freeze at 64 KiB and says so, keeping whole lines only", async () => {
    const bin = await fakeBin(path.join(root, "fake-python"), {
      python3: [
        `case "$1" in`,
        `  --version) echo "Python 9.9.9" ;;`,
        `  -m) awk 'BEGIN { for (i = 0; i < 6000; i++) printf "package-number-%05d==1.0.%d\\n", i, i }' ;;`,
        `  *) echo "step ran" ;;`,
        `esac`,
      ].join("\n"),
    });
    const s = spec({ script: "python3 train.py", env: { PATH: `${bin}:/usr/bin:/bin` } });
    const { result, fp } = await launchAndRead(s);
    expect((await waitEnd(runner, result.handle)).stdout).toBe("step ran\n");
    expect(fp.interpreters).toEqual([{ program: "python3", path: `${bin}/python3`, version: "Python 9.9.9" }]);
    expect(fp.pip?.truncated).toBe(true);
    const pkgs = fp.pip!.packages;
    expect(pkgs.length).toBeGreaterThan(1000);
    expect(pkgs.length).toBeLessThan(6000);
    expect(pkgs.every((p, i) => p === `package-number-${String(i).padStart(5, "0")}==1.0.${i}`)).toBe(true);
    expect(Buffer.byteLength(pkgs.join("\n"))).toBeLessThanOrEqual(FINGERPRINT_SECTION_BYTES);
  });

  it("a slow interpreter does not hold the step for long: --version is cut off after its timeout", async () => {
    const bin = await fakeBin(path.join(root, "slow-python"), { julia: `[ "$1" = --version ] && exec sleep 60; echo "step ran"` });
    const s = spec({ script: "julia run.jl", env: { PATH: `${bin}:/usr/bin:/bin` } });
    const t0 = Date.now();
    const { result, fp } = await launchAndRead(s);
    expect((await waitEnd(runner, result.handle)).stdout).toBe("step ran\n");
    expect(Date.now() - t0).toBeLessThan(9_000); // 3 s for the version, well inside the 10 s hard limit
    expect(fp.interpreters).toEqual([{ program: "julia", path: `${bin}/julia`, version: null, timedOut: true }]);
  });

  it("hostile command text is never run by the fingerprint: quotes, $(…), backticks stay words", async () => {
    const marks = path.join(root, "marks");
    await fsp.mkdir(marks, { mode: 0o777 });
    await fsp.chmod(marks, 0o777);
    const m = (n: number) => path.join(marks, `pwned${n}`);
    // The step exits at once: whatever creates a mark afterwards was run by someone else.
    const script = [
      "exit 0",
      `python3 "$(touch ${m(1)})" \`touch ${m(2)}\``,
      `'./$(touch ${m(3)})/python3' --x`,
      `python3 -m "$(touch ${m(4)})"`,
      `$(touch ${m(5)})/python3`,
      `"python3$(touch ${m(6)})" x; node';touch ${m(7)};' x`,
      `R --vanilla -e 'q()' # $(touch ${m(8)})`,
    ].join("\n");
    const { result, fp, raw } = await launchAndRead(spec({ script }));
    expect((await waitEnd(runner, result.handle)).exitCode).toBe(0);
    expect(fp.interpreters.map((i) => i.program)).toEqual(["python3", "R"]);
    expect(fp.interpreters[0]?.modules).toBeUndefined(); // `-m "$(…)"` is not a module name
    expect(await fsp.readdir(marks)).toEqual([]);
    expect(raw).not.toContain("pwned");
    const script2 = await fsp.readFile(fingerprintPaths(result.handle.workDir).script, "utf8");
    expect(script2).not.toContain("touch");
  });
});
