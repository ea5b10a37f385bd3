/**
 * /valohai for plain processes (worker/runners/shared/valohai-view.ts). As root, each execution
 * sees its own work dir there, two at once, with inputs/ and config/ read-only and nothing left
 * mounted on the host. Where the view cannot be made, the handle says why, a step whose command
 * names /valohai/… is refused at launch with the fix, and the portable
 * `${VH_OUTPUTS_DIR:-/valohai/outputs}` still runs, at the host paths.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalRunner } from "../../worker/runners/local/runner.js";
import type { LaunchSpec } from "../../app/contracts/runner.js";
import {
  buildValohaiProbeScript,
  buildValohaiViewArgv,
  parseValohaiProbe,
  usesValohaiPaths,
  type ValohaiView,
} from "../../worker/runners/shared/valohai-view.js";
import { valohaiViewOf } from "../../worker/runners/shared/detached.js";
import { drain, readAll, sha256 } from "../contracts/runner-contract.js";
import { createTempStore } from "./temp-store.js";

const execFileP = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await fs.rm(r, { recursive: true, force: true });
});

/** A temp root the jobs' own users can enter, as /var/lib/vh is. */
async function tempRoot(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), "vh-view-"));
  await fs.chmod(d, 0o711);
  roots.push(d);
  return d;
}

function spec(over: Partial<LaunchSpec> & { script: string }): LaunchSpec {
  return { executionId: `vv-${randomUUID()}`, env: {}, image: "python:3.12", mode: "process", code: null, inputs: [], configFiles: {}, gpus: [], ...over };
}

/** The mount points under `root` this process sees (none: nothing leaked out of a job's namespace). */
async function mountsUnder(root: string): Promise<string[]> {
  const info = await fs.readFile("/proc/self/mountinfo", "utf8");
  return info.split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) => m === root || m.startsWith(`${root}/`));
}

describe("the /valohai rules", () => {
  it("counts a command that names /valohai paths, not the portable fallbacks", () => {
    expect(usesValohaiPaths("python train.py --out /valohai/outputs")).toBe(true);
    expect(usesValohaiPaths('cat "/valohai/config/parameters.json"')).toBe(true);
    expect(usesValohaiPaths("ls /valohai")).toBe(true);
    expect(usesValohaiPaths('python train.py --out "${VH_OUTPUTS_DIR:-/valohai/outputs}/m"')).toBe(false);
    expect(usesValohaiPaths("echo ${VH_CONFIG_DIR-/valohai/config}")).toBe(false);
    expect(usesValohaiPaths("python train.py  # /valohaiish is another folder")).toBe(false);
    expect(usesValohaiPaths('python3 train.py {parameters}')).toBe(false);
  });

  it("turns each probe answer into a reason a user can act on", () => {
    expect(parseValohaiProbe("ok\n")).toEqual({ provided: true, how: "mount-namespace" });
    const reason = (out: string) => (parseValohaiProbe(out) as Extract<ValohaiView, { provided: false }>).reason;
    expect(reason("no not-root alice")).toMatch(/OS user "alice", not root, and only root can give a plain process a private \/valohai/);
    expect(reason("no missing unshare")).toMatch(/unshare \(util-linux\) is not installed/);
    expect(reason("no mkdir mkdir: cannot create directory '/valohai': Read-only file system")).toMatch(/\/valohai does not exist and could not be made \(.*Read-only/);
    expect(reason("no not-a-folder")).toBe("/valohai exists on this host and is not a folder");
    expect(reason("no refused unshare: unshare failed: Operation not permitted")).toMatch(/refused a private mount namespace \(unshare: unshare failed: Operation not permitted\); in a container this needs CAP_SYS_ADMIN/);
  });

  it("builds a view script that sh accepts, with the folders' real paths quoted", async () => {
    const argv = buildValohaiViewArgv("/usr/bin/unshare", "/w/it's here", ["/usr/bin/setpriv", "--", "/bin/sh", "x"]);
    expect(argv.slice(0, 7)).toEqual(["/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c"]);
    expect(argv.slice(-5)).toEqual(["vh-valohai", "/usr/bin/setpriv", "--", "/bin/sh", "x"]);
    await execFileP("/bin/sh", ["-n", "-c", argv[7]!]);
    expect(argv[7]).toContain(`mount --bind '/w/it'\\''s here' /valohai\nmount --bind /valohai/inputs /valohai/inputs\nmount -o remount,bind,ro /valohai/inputs`);
  });

  it("a user other than root is told it is not root (the probe run as that user)", async () => {
    // As root, run the real probe as "nobody"; as a normal user, as that user.
    const opts = isRoot ? { uid: 65534, gid: 65534 } : {};
    const { stdout } = await execFileP("/bin/sh", ["-c", buildValohaiProbeScript("/nonexistent-vh-probe")], { ...opts, env: { PATH: "/usr/bin:/bin" } });
    const view = parseValohaiProbe(stdout, "/nonexistent-vh-probe");
    expect(view.provided).toBe(false);
    expect(view.provided ? "" : view.reason).toMatch(/not root, and only root can give a plain process a private \/nonexistent-vh-probe/);
  });
});

describe("plain processes", () => {
  let canMount = false;
  beforeAll(async () => {
    if (!isRoot) return;
    const { stdout } = await execFileP("/bin/sh", ["-c", buildValohaiProbeScript()]);
    canMount = parseValohaiProbe(stdout).provided;
  });

  it.skipIf(!isRoot)("as root: two executions at once, each with its own /valohai (inputs and config read-only), nothing left on the host", async (ctx) => {
    if (!canMount) ctx.skip(); // a container without CAP_SYS_ADMIN: the fallback test below covers it
    const r = await tempRoot();
    const store = createTempStore(path.join(r, "store"));
    const runner = createLocalRunner({ workRoot: path.join(r, "runs"), cacheRoot: path.join(r, "cache"), store, docker: "never" });
    const script = [
      "pwd",
      'echo "out=$VH_OUTPUTS_DIR"',
      "cat /valohai/config/parameters.json; echo",
      "cat /valohai/inputs/data/x.txt",
      "echo \"mine-$WHO\" > /valohai/outputs/who.txt",
      "sleep 0.7", // both run at once
      "cat /valohai/outputs/who.txt",
      "touch /valohai/inputs/new 2>/dev/null || echo inputs-read-only",
      "touch /valohai/config/new 2>/dev/null || echo config-read-only",
      "ls /valohai | tr '\\n' ' '; echo",
      "ls /valohai/config | tr '\\n' ' '; echo",
    ].join("\n");
    const launch = async (who: string) => {
      const data = Buffer.from(`data of ${who}\n`);
      const key = `datums/${who}`;
      await store.put(key, data);
      const input = { input: "data", name: "x.txt", uri: `datum://${who}`, source: { kind: "store" as const, key }, sha256: sha256(data), size: data.length };
      return runner.launch(spec({ script, env: { WHO: who }, inputs: [input], configFiles: { "parameters.json": JSON.stringify({ who }) } }));
    };
    const [a, b] = await Promise.all([launch("a"), launch("b")]);
    const [da, db] = await Promise.all([drain(runner, a.handle), drain(runner, b.handle)]);
    for (const [who, d, res] of [["a", da, a], ["b", db, b]] as const) {
      expect(d.exitCode, d.stderr.toString()).toBe(0);
      expect(d.stdout.toString().split("\n")).toEqual([
        "/valohai/repository",
        "out=/valohai/outputs",
        JSON.stringify({ who }),
        `data of ${who}`,
        `mine-${who}`,
        "inputs-read-only",
        "config-read-only",
        "config home inputs outputs repository ", // the work dir itself (and its .vh/, closed to the job)
        // what valohai-utils reads; no api.json or distributed.json, whose absence it takes silently
        "inputs.json inputs.yaml parameters.json ",
        "",
      ]);
      expect(valohaiViewOf(res.handle)).toEqual({ provided: true, how: "mount-namespace" });
      expect((await readAll(await runner.openOutput(res.handle, "who.txt"))).toString()).toBe(`mine-${who}\n`);
      const inputsJson = JSON.parse(await fs.readFile(path.join(res.handle.workDir, "config", "inputs.json"), "utf8"));
      expect(inputsJson.data.files[0].path).toBe("/valohai/inputs/data/x.txt");
    }
    expect(await mountsUnder("/valohai")).toEqual([]);
    expect(await fs.readdir("/valohai")).toEqual([]);
  }, 30_000);

  it("where /valohai cannot be made: the reason in the handle, a step naming it refused with the fix, the portable form runs", async () => {
    const r = await tempRoot();
    const notAFolder = path.join(r, "valohai"); // stands for a /valohai that cannot be a mount point
    await fs.writeFile(notAFolder, "");
    const runner = createLocalRunner({
      workRoot: path.join(r, "runs"),
      cacheRoot: path.join(r, "cache"),
      store: createTempStore(path.join(r, "store")),
      docker: "never",
      valohaiRoot: notAFolder,
    });
    // As a normal user the first reason is that vh is not root.
    const why = isRoot ? `${notAFolder} exists on this host and is not a folder` : `vh runs jobs here as the OS user "${os.userInfo().username}", not root, and only root can give a plain process a private ${notAFolder}`;
    const refused = runner.launch(spec({ executionId: "vv-refused", script: `python3 train.py --out ${notAFolder}/outputs` }));
    await expect(refused).rejects.toThrow(`This step's command uses ${notAFolder}/… paths, which vh cannot provide for a plain process here: ${why}.`);
    await expect(refused).rejects.toThrow(/Run vh as root .* run the step in Docker .* use the variables VH_REPOSITORY_DIR, VH_INPUTS_DIR, VH_OUTPUTS_DIR and VH_CONFIG_DIR/);
    expect(await fs.readdir(path.join(r, "runs"))).toEqual([]);

    const res = await runner.launch(spec({ script: `echo hi > "\${VH_OUTPUTS_DIR:-${notAFolder}/outputs}/a.txt"\necho "out=$VH_OUTPUTS_DIR"` }));
    const d = await drain(runner, res.handle);
    expect(d.exitCode, d.stderr.toString()).toBe(0);
    expect(d.stdout.toString()).toBe(`out=${path.join(res.handle.workDir, "outputs")}\n`);
    expect(valohaiViewOf(res.handle)).toEqual({ provided: false, reason: why });
    expect((await readAll(await runner.openOutput(res.handle, "a.txt"))).toString()).toBe("hi\n");
  }, 30_000);
});
