import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RunnerError } from "../../app/errors.js";
import { createLocalRunner, type LocalHandle } from "../../worker/runners/local/runner.js";
import type { LaunchSpec, Runner } from "../../app/contracts/runner.js";
import { buildDockerRunArgv, buildInputsJson, buildJobEnv } from "../../worker/runners/shared/job.js";
import { valohaiViewOf } from "../../worker/runners/shared/detached.js";
import {
  buildDockerEnvFile,
  buildShellEnvFile,
  buildWrapperScript,
  shellQuote,
  workPaths,
} from "../../worker/runners/shared/protocol.js";
import { drain, localPidAlive, runnerContract } from "../contracts/runner-contract.js";
import { createTempStore } from "./temp-store.js";

const execFileP = promisify(execFile);

/** A temp root the jobs' own users can enter (as root they run as users of their own), as /var/lib/vh is. */
async function tempRoot(prefix = "vh-local-"): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(dir, 0o711);
  return dir;
}

runnerContract("local", async () => {
  const root = await tempRoot();
  const store = createTempStore(path.join(root, "store"));
  const runner = createLocalRunner({
    workRoot: path.join(root, "runs"),
    cacheRoot: path.join(root, "cache"),
    store,
    docker: "never",
    hostName: "test-host",
  });
  return { runner, store, hostName: "test-host", cleanup: () => fs.rm(root, { recursive: true, force: true }) };
});

function spec(over: Partial<LaunchSpec> & { script: string }): LaunchSpec {
  return {
    executionId: `lt-${randomUUID()}`,
    env: {},
    image: "python:3.11-slim",
    mode: "process",
    code: null,
    inputs: [],
    configFiles: {},
    gpus: [],
    ...over,
  };
}

describe("shared builders", () => {
  it("builds the docker run argv", () => {
    const argv = buildDockerRunArgv({
      executionId: "e1",
      workDir: "/data/runs/e1",
      image: "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime",
      envFile: "/data/runs/e1/.vh/env",
      passEnv: ["MULTI"],
      gpus: [0, 1],
    });
    expect(argv).toEqual([
      "docker", "run", "--rm", "--name", "vh-e1", "--init",
      "-v", "/data/runs/e1/repository:/valohai/repository",
      "-v", "/data/runs/e1/inputs:/valohai/inputs:ro",
      "-v", "/data/runs/e1/outputs:/valohai/outputs",
      "-v", "/data/runs/e1/config:/valohai/config:ro",
      "-v", "/data/runs/e1/.vh/script.sh:/vh/script.sh:ro",
      "-w", "/valohai/repository",
      "--env-file", "/data/runs/e1/.vh/env",
      "-e", "MULTI",
      "--gpus", '"device=0,1"',
      "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime", "/bin/sh", "/vh/script.sh",
    ]);
    const noGpu = buildDockerRunArgv({ executionId: "e1", workDir: "/w/e1", image: "img", envFile: "/w/e1/.vh/env", gpus: [] });
    expect(noGpu).not.toContain("--gpus");
    expect(noGpu).not.toContain("-e");
    expect(() => buildDockerRunArgv({ executionId: "e", workDir: "/a:b/e", image: "i", envFile: "/x", gpus: [] })).toThrow(/":"/);
  });

  it("builds the job environment for each mode", () => {
    const common = {
      workDir: "/w/e",
      env: { VH_JOB_ID: "exec-1", VH_OUTPUTS_DIR: "/caller", PATH: "/custom/bin" },
      hostDefaults: { PATH: "/usr/bin", HOME: "/root", LANG: "C.UTF-8" },
    };
    expect(buildJobEnv({ ...common, mode: "process", gpus: [1, 3] })).toEqual({
      PYTHONUNBUFFERED: "1",
      PATH: "/custom/bin",
      HOME: "/root",
      LANG: "C.UTF-8",
      VH_JOB_ID: "exec-1",
      VH_REPOSITORY_DIR: "/w/e/repository",
      VH_INPUTS_DIR: "/w/e/inputs",
      VH_OUTPUTS_DIR: "/w/e/outputs",
      VH_CONFIG_DIR: "/w/e/config",
      CUDA_VISIBLE_DEVICES: "1,3",
    });
    expect(buildJobEnv({ ...common, mode: "process", gpus: [] })).not.toHaveProperty("CUDA_VISIBLE_DEVICES");
    expect(buildJobEnv({ ...common, mode: "docker", gpus: [0] })).toEqual({
      PYTHONUNBUFFERED: "1",
      PATH: "/custom/bin",
      VH_JOB_ID: "exec-1",
      VH_REPOSITORY_DIR: "/valohai/repository",
      VH_INPUTS_DIR: "/valohai/inputs",
      VH_OUTPUTS_DIR: "/valohai/outputs",
      VH_CONFIG_DIR: "/valohai/config",
    });
  });

  it("writes env files for docker and for the shell", async () => {
    expect(buildDockerEnvFile({ A: "x y", B: "l1\nl2", C: "" })).toEqual({ text: "A=x y\nC=\n", passThrough: ["B"] });
    expect(() => buildDockerEnvFile({ "A-B": "x" })).toThrow(RunnerError);
    const env = { A: "it's $HOME `x` \\ \"q\"", B: "l1\nl2" };
    const dir = await tempRoot();
    try {
      await fs.writeFile(path.join(dir, "env"), buildShellEnvFile(env));
      const { stdout } = await execFileP("/bin/sh", ["-c", `. ${dir}/env; sh -c 'printf "%s|%s" "$A" "$B"'`], { env: {} });
      expect(stdout).toBe(`${env.A}|${env.B}`);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("quotes for the shell and builds a wrapper that sh accepts", async () => {
    expect(shellQuote("plain/path-1.txt")).toBe("plain/path-1.txt");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    const script = buildWrapperScript({ workDir: "/tmp/a b/it's", command: ["/bin/sh", "/tmp/a b/it's/.vh/script.sh"] });
    await execFileP("/bin/sh", ["-n", "-c", script]);
    expect(script).toContain(`V='/tmp/a b/it'\\''s/.vh'`);
    expect(workPaths("/w/e/").pidFile).toBe("/w/e/.vh/pid");
  });

  it("builds inputs.json with the path the step sees", () => {
    const files = [
      {
        spec: { input: "ds", name: "a/b.csv", uri: "datum://1", source: { kind: "store" as const, key: "k" }, datumId: "1", metadata: { x: 1 } },
        fetched: { input: "ds", name: "a/b.csv", uri: "datum://1", sha256: "f".repeat(64), size: 5, cached: false },
      },
    ];
    expect(buildInputsJson("valohai", "/w/e", files)).toEqual({
      ds: {
        files: [
          {
            name: "a/b.csv",
            path: "/valohai/inputs/ds/a/b.csv",
            uri: "datum://1",
            size: 5,
            checksums: { sha256: "f".repeat(64) },
            metadata: [{ x: 1 }],
            datum_id: "1",
          },
        ],
      },
    });
    expect(buildInputsJson("host", "/w/e", files).ds?.files[0]?.path).toBe("/w/e/inputs/ds/a/b.csv");
  });
});

describe("local runner", () => {
  let root: string;
  let runner: Runner;
  const opts = () => ({
    workRoot: path.join(root, "runs"),
    cacheRoot: path.join(root, "cache"),
    store: createTempStore(path.join(root, "store")),
    docker: "never" as const,
  });
  const handles: LocalHandle[] = [];
  async function launch(s: LaunchSpec, r = runner) {
    const res = await r.launch(s);
    handles.push(res.handle as LocalHandle);
    return { ...res, handle: res.handle as LocalHandle };
  }

  beforeAll(async () => {
    // A space and a quote in the path: every path the runner builds must be quoted right.
    root = await tempRoot("vh local it's ");
    runner = createLocalRunner(opts());
  });
  afterAll(async () => {
    // terminate is idempotent, also on ended jobs: a failure here is a finding
    const failures: unknown[] = [];
    for (const h of handles) await runner.terminate(h, 0).catch((err: unknown) => failures.push(err));
    await fs.rm(root, { recursive: true, force: true });
    expect(failures).toEqual([]);
  });

  it("runs as a process with docker: never, even when the spec asks for docker", async () => {
    const res = await launch(spec({ script: "pwd\n", mode: "docker" }));
    expect(res.mode).toBe("process");
    expect(res.handle).toMatchObject({ runner: "local", mode: "process", container: null });
    expect(res.handle.workDir.startsWith(root)).toBe(true);
    const d = await drain(runner, res.handle);
    // Its own /valohai where vh can give it one (as root), else the work dir's own path.
    const cwd = valohaiViewOf(res.handle)?.provided ? "/valohai/repository" : await fs.realpath(path.join(res.handle.workDir, "repository"));
    expect(d.stdout.toString()).toBe(`${cwd}\n`);
  });

  it("never follows a folder in outputs/ that the job turned into a link out of it", async () => {
    const outside = path.join(root, "outside");
    await fs.mkdir(outside, { recursive: true });
    await fs.writeFile(path.join(outside, "admin-token"), "secret");
    const res = await launch(spec({ script: `mkdir -p "$VH_OUTPUTS_DIR/d" && echo x > "$VH_OUTPUTS_DIR/d/admin-token" && rm -r "$VH_OUTPUTS_DIR/d" && ln -s ${JSON.stringify(outside)} "$VH_OUTPUTS_DIR/d"\n` }));
    await drain(runner, res.handle);
    await expect(runner.openOutput(res.handle, "d/admin-token")).rejects.toThrow(/link out of it/);
    await runner.removeOutput(res.handle, "d/admin-token");
    expect(await fs.readFile(path.join(outside, "admin-token"), "utf8")).toBe("secret");
  });

  it("sets CUDA_VISIBLE_DEVICES from spec.gpus and leaves it unset without GPUs", async () => {
    const script = 'echo "${CUDA_VISIBLE_DEVICES-unset}"\n';
    const withGpus = await launch(spec({ script, gpus: [0, 2] }));
    expect((await drain(runner, withGpus.handle)).stdout.toString()).toBe("0,2\n");
    const without = await launch(spec({ script, gpus: [] }));
    expect((await drain(runner, without.handle)).stdout.toString()).toBe("unset\n");
  });

  it("returns the saved launch to a new runner instance (restart) without a second process", async () => {
    const s = spec({ script: 'echo run >> "$VH_OUTPUTS_DIR/runs.txt"\nsleep 0.2\n' });
    const a = await launch(s);
    const b = await launch(s, createLocalRunner(opts()));
    expect(b.handle).toEqual(a.handle);
    await drain(runner, a.handle);
    expect(await fs.readFile(path.join(a.handle.workDir, "outputs", "runs.txt"), "utf8")).toBe("run\n");
  });

  it("adopts a job whose launch crashed after spawning (no launched.json)", async () => {
    const s = spec({ script: 'echo run >> "$VH_OUTPUTS_DIR/runs.txt"\nsleep 0.3\n' });
    const a = await launch(s);
    await fs.rm(path.join(a.handle.workDir, ".vh", "launched.json"));
    const b = await launch(s, createLocalRunner(opts()));
    expect(b.handle.pgid).toBe(a.handle.pgid);
    expect(b.handle.wrapperPid).toBe(a.handle.wrapperPid);
    await drain(runner, a.handle);
    expect(await fs.readFile(path.join(a.handle.workDir, "outputs", "runs.txt"), "utf8")).toBe("run\n");
  });

  it("clears a half-made work dir and starts over", async () => {
    const s = spec({ script: "ls\n" });
    const dir = path.join(root, "runs", s.executionId);
    await fs.mkdir(path.join(dir, "repository"), { recursive: true });
    await fs.writeFile(path.join(dir, "repository", "junk"), "x");
    const res = await launch(s);
    expect((await drain(runner, res.handle)).stdout.toString()).toBe("");
  });

  it("removes the work dir when preparing fails", async () => {
    const url = "http://127.0.0.1:9/unreachable.csv";
    const s = spec({ script: "true\n", inputs: [{ input: "in", name: "u.csv", uri: url, source: { kind: "http", url } }] });
    await expect(runner.launch(s)).rejects.toThrow(`Input "in": could not download ${url}`);
    await expect(fs.stat(path.join(root, "runs", s.executionId))).rejects.toThrow();
  });

  it("keeps running when the control plane dies, and re-attaches from another process", async () => {
    const s = spec({ script: "sleep 0.5\necho survived\n" });
    const file = path.join(root, "launcher.mts");
    const runnerUrl = new URL("../../worker/runners/local/runner.ts", import.meta.url).href;
    const storeUrl = new URL("./temp-store.ts", import.meta.url).href;
    await fs.writeFile(
      file,
      [
        `import { createLocalRunner } from ${JSON.stringify(runnerUrl)};`,
        `import { createTempStore } from ${JSON.stringify(storeUrl)};`,
        `const o = ${JSON.stringify({ workRoot: opts().workRoot, cacheRoot: opts().cacheRoot })};`,
        `const r = createLocalRunner({ ...o, store: createTempStore(${JSON.stringify(path.join(root, "store"))}), docker: "never" });`,
        `const res = await r.launch(${JSON.stringify(s)});`,
        `process.stdout.write(JSON.stringify(res.handle));`,
        `process.kill(process.pid, "SIGKILL");`,
      ].join("\n"),
    );
    // The launcher SIGKILLs itself once the job is launched: that, and only that, is expected.
    const out = await execFileP(process.execPath, ["--import", "tsx", file], { cwd: process.cwd() }).then(
      () => {
        throw new Error("the launcher exited by itself instead of being SIGKILLed");
      },
      (e: { stdout: string; stderr: string; signal?: string | null }) => e,
    );
    expect(out.signal, out.stderr).toBe("SIGKILL");
    const handle = JSON.parse(out.stdout) as LocalHandle;
    handles.push(handle);
    const d = await drain(runner, handle);
    expect(d.stdout.toString()).toBe("survived\n");
    expect(d.exitCode).toBe(0);
  }, 20_000);

  it("records 137 when the wrapper is SIGKILLed and the job then dies", async () => {
    const res = await launch(spec({ script: "echo ready\nsleep 300\n" }));
    const h = res.handle;
    const started = await drain(runner, h, { until: (d) => d.stdout.includes("ready") });
    expect(h.wrapperPid).toBeGreaterThan(1);
    process.kill(h.wrapperPid as number, "SIGKILL");
    await new Promise((r) => setTimeout(r, 100));
    // The job's group survives its wrapper: still running.
    expect((await runner.poll(h, started.offsets)).exitCode).toBeNull();
    process.kill(-(h.pgid as number), "SIGKILL");
    const d = await drain(runner, h, { from: started.offsets });
    expect(d.exitCode).toBe(137);
    expect(await fs.readFile(path.join(h.workDir, ".vh", "exit_note"), "utf8")).toMatch(/without recording/);
  });

  it("terminate works when the wrapper is gone, and reports 137", async () => {
    const res = await launch(spec({ script: "echo ready\nsleep 300 &\nwait\n" }));
    const h = res.handle;
    await drain(runner, h, { until: (d) => d.stdout.includes("ready") });
    process.kill(h.wrapperPid as number, "SIGKILL");
    await runner.terminate(h, 1);
    const d = await drain(runner, h);
    expect([137, 143]).toContain(d.exitCode);
    expect(await localPidAlive(h.pgid as number)).toBe(false);
  });

  it("refuses to clean up a directory outside its work root", async () => {
    const fake: LocalHandle = {
      runner: "local",
      host: "x",
      workDir: root,
      executionId: "x",
      pgid: null,
      wrapperPid: null,
      mode: "process",
      container: null,
      bootId: null,
    };
    await expect(runner.cleanup(fake)).rejects.toThrow(RunnerError);
    await expect(runner.poll({ runner: "ssh", host: "h", workDir: "/x" }, { stdout: 0, stderr: 0 })).rejects.toThrow(RunnerError);
  });

  it("rejects execution ids that are not plain names", async () => {
    await expect(runner.launch(spec({ script: "true\n", executionId: "../evil" }))).rejects.toThrow(RunnerError);
  });
});

describe("local runner: docker mode with a fake docker CLI", () => {
  let dir: string;
  const savedPath = process.env.PATH;
  beforeAll(async () => {
    dir = await tempRoot("vh-docker-");
    const log = path.join(dir, "log");
    await fs.mkdir(log);
    // Records what it was asked; `run` prints and, for the image "sleeper", waits to be killed.
    const fake = [
      "#!/bin/sh",
      `LOG=${shellQuote(log)}`,
      'case "$1" in',
      "  info) echo 27.0.0 ;;",
      '  kill) echo "$*" >> "$LOG/kills" ;;',
      "  run)",
      '    printf "%s\\n" "$@" > "$LOG/argv"',
      '    prev=; for a in "$@"; do [ "$prev" = --env-file ] && cp "$a" "$LOG/env"; prev=$a; done',
      '    echo "MULTI=$MULTI" > "$LOG/passed"',
      "    echo ran",
      '    case "$*" in *sleeper*) sleep 300 ;; esac ;;',
      "  *) exit 1 ;;",
      "esac",
    ].join("\n");
    await fs.writeFile(path.join(dir, "docker"), `${fake}\n`, { mode: 0o755 });
    process.env.PATH = `${dir}:${savedPath ?? ""}`;
  });
  afterAll(async () => {
    process.env.PATH = savedPath;
    await fs.rm(dir, { recursive: true, force: true });
  });

  function dockerRunner(docker: "auto" | "always") {
    return createLocalRunner({
      workRoot: path.join(dir, "runs"),
      cacheRoot: path.join(dir, "cache"),
      store: createTempStore(path.join(dir, "store")),
      docker,
    });
  }

  it("runs docker run with the work dir mounted, the env file and the GPUs", async () => {
    const r = dockerRunner("auto");
    expect((await r.describeHost()).dockerAvailable).toBe(true);
    const s = spec({ script: "python train.py\n", mode: "docker", image: "python:3.12", gpus: [1], env: { A: "x y", PATH: "/job/bin:/usr/bin" } });
    const res = await r.launch(s);
    const h = res.handle as LocalHandle;
    expect(res.mode).toBe("docker");
    expect(h.container).toBe(`vh-${s.executionId}`);
    const d = await drain(r, h);
    expect(d.stdout.toString()).toBe("ran\n");
    expect(d.exitCode).toBe(0);
    const argv = (await fs.readFile(path.join(dir, "log", "argv"), "utf8")).trimEnd().split("\n");
    expect(["docker", ...argv]).toEqual(
      buildDockerRunArgv({
        executionId: s.executionId,
        workDir: h.workDir,
        image: "python:3.12",
        envFile: path.join(h.workDir, ".vh", "env"),
        passEnv: [],
        gpus: [1],
      }),
    );
    const envFile = await fs.readFile(path.join(dir, "log", "env"), "utf8");
    expect(envFile).toContain("A=x y\n");
    expect(envFile).toContain("VH_OUTPUTS_DIR=/valohai/outputs\n");
    expect(envFile).not.toContain("CUDA_VISIBLE_DEVICES");
    expect(envFile).toContain("PATH=/job/bin:/usr/bin\n"); // the job's PATH goes into the container only
    // the host-side wrapper and docker CLI keep the host's environment
    expect(await fs.readFile(path.join(dir, "log", "passed"), "utf8")).toBe("MULTI=\n");
    expect((await fs.stat(path.join(h.workDir, ".vh", "env"))).mode & 0o077).toBe(0);
  });

  it("refuses a multi-line value instead of handing it to the host-side wrapper", async () => {
    const r = dockerRunner("always");
    await expect(r.launch(spec({ script: "true\n", image: "x", env: { PATH: "bin:/usr/bin:/bin\n" } }))).rejects.toThrow(
      /PATH contains a line break or NUL, which cannot be passed into a container/,
    );
  });

  it("terminate also kills the container", async () => {
    const r = dockerRunner("always");
    const res = await r.launch(spec({ script: "true\n", image: "sleeper" }));
    const h = res.handle as LocalHandle;
    await drain(r, h, { until: (d) => d.stdout.includes("ran") });
    await r.terminate(h, 2);
    expect([143, 137]).toContain((await drain(r, h)).exitCode);
    expect(await fs.readFile(path.join(dir, "log", "kills"), "utf8")).toContain(`kill --signal TERM vh-${(h as LocalHandle).executionId}`);
  });
});

describe("local runner: describeHost with nvidia-smi", () => {
  let dir: string;
  const savedPath = process.env.PATH;
  afterEach(async () => {
    process.env.PATH = savedPath;
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function fakeNvidiaSmi(body: string): Promise<Runner> {
    dir = await tempRoot("vh-smi-");
    await fs.writeFile(path.join(dir, "nvidia-smi"), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    process.env.PATH = `${dir}:${savedPath ?? ""}`;
    return createLocalRunner({
      workRoot: path.join(dir, "runs"),
      cacheRoot: path.join(dir, "cache"),
      store: createTempStore(path.join(dir, "store")),
      docker: "never",
      hostName: "gpu-box",
    });
  }

  it("reports the GPUs and CUDA version of nvidia-smi", async () => {
    const r = await fakeNvidiaSmi(
      [
        'case "$1" in',
        "  --query-gpu=*) printf '0, GPU-aaa, NVIDIA H100 80GB HBM3, 81559, 550.54.15\\n1, GPU-bbb, NVIDIA H100 80GB HBM3, [N/A], 550.54.15\\n' ;;",
        "  *) echo '| NVIDIA-SMI 550.54.15    Driver Version: 550.54.15    CUDA Version: 12.4     |' ;;",
        "esac",
      ].join("\n"),
    );
    const info = await r.describeHost();
    expect(info.hostname).toBe("gpu-box");
    expect(info.dockerAvailable).toBe(false);
    expect(info.cudaVersion).toBe("12.4");
    expect(info.gpus).toEqual([
      { index: 0, uuid: "GPU-aaa", name: "NVIDIA H100 80GB HBM3", memoryMiB: 81559, driverVersion: "550.54.15" },
      { index: 1, uuid: "GPU-bbb", name: "NVIDIA H100 80GB HBM3", memoryMiB: 0, driverVersion: "550.54.15" },
    ]);
  });

  it("reports no GPUs when nvidia-smi fails", async () => {
    const r = await fakeNvidiaSmi(
      "echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\"\nexit 9",
    );
    const info = await r.describeHost();
    expect(info.gpus).toEqual([]);
    expect(info.cudaVersion).toBeNull();
  });
});
