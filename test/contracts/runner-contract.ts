/**
 * The Runner contract (app/contracts/runner.ts), run against every implementation: local now,
 * SSH and EC2 later. Everything goes through the Runner interface, the Store and an HTTP server on
 * 127.0.0.1; nothing reads the work dir directly, so a remote runner passes the same suite.
 *
 * `make` returns a runner with its store. `pidAlive` answers whether a pid printed by a job still
 * runs on the runner's host (default: this machine; zombies count as gone).
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import * as tar from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunnerError } from "../../app/errors.js";
import type { Store } from "../../app/contracts/store.js";
import type { LaunchSpec, Runner, RunnerHandle } from "../../app/contracts/runner.js";

export interface RunnerFixture {
  runner: Runner;
  store: Store;
  cleanup(): Promise<void>;
  /** Defaults for every spec of the suite (e.g. an image for a docker-only runner). */
  specDefaults?: Partial<LaunchSpec>;
  pidAlive?: (pid: number) => Promise<boolean>;
  /** The host name describeHost must report (default: this machine's, os.hostname()). */
  hostName?: string;
}

/** PRETTY_NAME of /etc/os-release, as a host on this machine reports its OS; null without one. */
async function thisOsName(): Promise<string | null> {
  const text = await fs.readFile("/etc/os-release", "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return "";
    throw err;
  });
  const m = /^PRETTY_NAME=(["']?)(.*)\1$/m.exec(text);
  return m?.[2] ? m[2] : null;
}

export function sha256(buf: Buffer | string): string {
  return createHash("sha256").update(buf).digest("hex");
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A pid runs here and is not a zombie (pid 1 of some containers never reaps orphans). */
export async function localPidAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

export interface Drained {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number | null;
  offsets: { stdout: number; stderr: number };
  polls: number;
}

/**
 * Poll until `until` says stop (default: finished), checking that every chunk starts exactly at
 * the offset asked for: no byte twice, none missing.
 */
export async function drain(
  runner: Runner,
  handle: RunnerHandle,
  opts: { from?: { stdout: number; stderr: number }; timeoutMs?: number; until?: (d: Drained, finished: boolean) => boolean } = {},
): Promise<Drained> {
  const d: Drained = {
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    exitCode: null,
    offsets: { ...(opts.from ?? { stdout: 0, stderr: 0 }) },
    polls: 0,
  };
  const parts: Record<"stdout" | "stderr", Buffer[]> = { stdout: [], stderr: [] };
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const until = opts.until ?? ((_d, finished) => finished);
  for (;;) {
    const res = await runner.poll(handle, d.offsets);
    d.polls++;
    for (const c of res.chunks) {
      expect(c.offset).toBe(d.offsets[c.stream]);
      parts[c.stream].push(c.data);
      d.offsets[c.stream] += c.data.length;
    }
    if (res.chunks.length > 0) {
      d.stdout = Buffer.concat(parts.stdout);
      d.stderr = Buffer.concat(parts.stderr);
    }
    d.exitCode = res.exitCode;
    if (res.finished) expect(res.exitCode).not.toBeNull();
    if (until(d, res.finished)) return d;
    if (res.finished) throw new Error(`finished before the condition held; stdout: ${d.stdout.toString().slice(-500)}`);
    if (Date.now() > deadline) throw new Error(`timed out polling; stdout so far: ${d.stdout.toString().slice(-500)}`);
    if (res.chunks.length === 0) await new Promise((r) => setTimeout(r, 15));
  }
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}

export function runnerContract(name: string, make: () => Promise<RunnerFixture>): void {
  describe(`Runner contract: ${name}`, () => {
    let fx: RunnerFixture;
    let runner: Runner;
    let store: Store;
    let server: http.Server;
    let baseUrl: string;
    const requests: { url: string; ifNoneMatch: string | undefined }[] = [];
    const handles: RunnerHandle[] = [];

    function spec(over: Partial<LaunchSpec> & { script: string }): LaunchSpec {
      return {
        executionId: `ct-${randomUUID()}`,
        env: {},
        image: "busybox:1.36",
        mode: "process",
        code: null,
        inputs: [],
        configFiles: {
          "parameters.json": JSON.stringify({ learning_rate: 0.1, epochs: 3 }),
          "execution.json": JSON.stringify({ "valohai.execution-id": "x" }),
        },
        gpus: [],
        ...fx.specDefaults,
        ...over,
      };
    }

    async function launch(s: LaunchSpec) {
      const res = await runner.launch(s);
      handles.push(res.handle);
      return res;
    }

    beforeAll(async () => {
      fx = await make();
      runner = fx.runner;
      store = fx.store;
      server = http.createServer((req, res) => {
        requests.push({ url: req.url ?? "", ifNoneMatch: req.headers["if-none-match"] });
        if (req.url === "/data.csv") {
          if (req.headers["if-none-match"] === '"v1"') {
            res.writeHead(304).end();
            return;
          }
          res.writeHead(200, { "content-type": "text/csv", etag: '"v1"' }).end("a,b\n1,2\n");
          return;
        }
        res.writeHead(404, "Not Found").end("nope");
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      // terminate is idempotent, also on ended and cleaned-up jobs: a failure here is a finding
      const failures: unknown[] = [];
      for (const h of handles) await runner.terminate(h, 0).catch((err: unknown) => failures.push(err));
      await new Promise<void>((r) => server.close(() => r()));
      await fx?.cleanup();
      expect(failures).toEqual([]);
    });

    it("runs a script: stdout and stderr separately, in order, exit code 0", async () => {
      const { handle } = await launch(spec({ script: "echo one\necho err1 >&2\necho two\necho err2 >&2\n" }));
      expect(JSON.parse(JSON.stringify(handle))).toEqual(handle);
      expect(handle.runner).toBe(runner.kind);
      const d = await drain(runner, handle);
      expect(d.stdout.toString()).toBe("one\ntwo\n");
      expect(d.stderr.toString()).toBe("err1\nerr2\n");
      expect(d.exitCode).toBe(0);
    });

    it("reports a non-zero exit code", async () => {
      const { handle } = await launch(spec({ script: "echo bye\nexit 3\n" }));
      const d = await drain(runner, handle);
      expect(d.exitCode).toBe(3);
      expect(d.stdout.toString()).toBe("bye\n");
    });

    it("is idempotent per execution: launching twice starts one process", async () => {
      const s = spec({ script: 'echo run >> "$VH_OUTPUTS_DIR/runs.txt"\nsleep 0.2\n' });
      const [a, b] = await Promise.all([launch(s), launch(s)]);
      expect(b.handle).toEqual(a.handle);
      const c = await launch(s);
      expect(c.handle).toEqual(a.handle);
      await drain(runner, a.handle);
      const d = await launch(s);
      expect(d.handle).toEqual(a.handle);
      expect((await readAll(await runner.openOutput(a.handle, "runs.txt"))).toString()).toBe("run\n");
    });

    it("re-attaches with only the saved handle JSON and misses or repeats no byte", async () => {
      const script = [
        'i=0; while [ $i -lt 2000 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done',
        "echo first-done",
        "sleep 0.4",
        'i=0; while [ $i -lt 2000 ]; do echo "late $i"; i=$((i+1)); done',
        "echo err-end >&2",
      ].join("\n");
      const { handle } = await launch(spec({ script }));
      const first = await drain(runner, handle, { until: (d) => d.stdout.includes("first-done\n") });
      const saved = JSON.parse(JSON.stringify(handle)) as RunnerHandle;
      const rest = await drain(runner, saved, { from: first.offsets });
      const range = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join("");
      const expectedOut = `${range(2000, (i) => `out ${i}\n`)}first-done\n${range(2000, (i) => `late ${i}\n`)}`;
      const expectedErr = `${range(2000, (i) => `err ${i}\n`)}err-end\n`;
      expect(Buffer.concat([first.stdout, rest.stdout]).toString()).toBe(expectedOut);
      expect(Buffer.concat([first.stderr, rest.stderr]).toString()).toBe(expectedErr);
      expect(rest.exitCode).toBe(0);
    });

    it("terminate kills the whole process group, grandchildren included", async () => {
      const script = 'sleep 300 &\necho "child $!"\nsleep 300 &\nwait\n';
      const { handle } = await launch(spec({ script }));
      const started = await drain(runner, handle, { until: (d) => /child \d+\n/.test(d.stdout.toString()) });
      const grandchild = Number(/child (\d+)/.exec(started.stdout.toString())?.[1]);
      const t0 = Date.now();
      await runner.terminate(handle, 5);
      expect(Date.now() - t0).toBeLessThan(4000); // TERM was enough: no wait for the grace period
      const d = await drain(runner, handle, { from: started.offsets });
      expect([143, 137]).toContain(d.exitCode);
      const alive = fx.pidAlive ?? localPidAlive;
      expect(await waitFor(async () => !(await alive(grandchild)), 3000)).toBe(true);
      await runner.terminate(handle, 5); // idempotent
      await runner.terminate(handle, 0);
      expect((await drain(runner, handle)).exitCode).toBe(d.exitCode);
    });

    it("terminate escalates to SIGKILL after the grace period", async () => {
      const { handle } = await launch(spec({ script: "trap '' TERM\necho ready\nsleep 300\n" }));
      const started = await drain(runner, handle, { until: (d) => d.stdout.includes("ready") });
      const t0 = Date.now();
      await runner.terminate(handle, 0.5);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
      const d = await drain(runner, handle, { from: started.offsets });
      expect(d.exitCode).toBe(137);
    });

    it("terminate is fine on an ended process and keeps its exit code", async () => {
      const { handle } = await launch(spec({ script: "echo done\n" }));
      expect((await drain(runner, handle)).exitCode).toBe(0);
      await runner.terminate(handle, 1);
      await runner.terminate(handle, 0);
      expect((await drain(runner, handle)).exitCode).toBe(0);
    });

    it("sets the environment and the working directory", async () => {
      const script = [
        'echo "here=$(pwd -P)"',
        'echo "repo=$(cd "$VH_REPOSITORY_DIR" && pwd -P)"',
        'for v in VH_REPOSITORY_DIR VH_INPUTS_DIR VH_OUTPUTS_DIR VH_CONFIG_DIR VH_JOB_ID FOO PYTHONUNBUFFERED; do eval "echo $v=\\$$v"; done',
        'printf "%s|" "$MULTI"; echo',
        'echo "path=${PATH:+set}"',
      ].join("\n");
      const weird = `a b 'c' "d" $HOME \\ end`;
      const res = await launch(
        spec({ script, env: { VH_JOB_ID: "exec-1", FOO: weird, MULTI: "l1\nl2", VH_OUTPUTS_DIR: "/caller/value" } }),
      );
      const out = (await drain(runner, res.handle)).stdout.toString();
      const vars = Object.fromEntries(out.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
      expect(vars.here).toBe(vars.repo);
      const root = res.mode === "docker" ? "/valohai" : null;
      for (const [k, dir] of [["VH_REPOSITORY_DIR", "repository"], ["VH_INPUTS_DIR", "inputs"], ["VH_OUTPUTS_DIR", "outputs"], ["VH_CONFIG_DIR", "config"]] as const) {
        const v = vars[k] ?? "";
        if (root) expect(v).toBe(`${root}/${dir}`);
        else {
          expect(path.isAbsolute(v)).toBe(true);
          expect(path.basename(v)).toBe(dir);
        }
      }
      expect(vars.VH_JOB_ID).toBe("exec-1");
      expect(vars.FOO).toBe(weird);
      expect(vars.PYTHONUNBUFFERED).toBe("1");
      expect(vars.path).toBe("set");
      expect(out).toContain("l1\nl2|\n");
    });

    it("writes the config files and inputs.json", async () => {
      const script = 'cp "$VH_CONFIG_DIR/parameters.json" "$VH_CONFIG_DIR/execution.json" "$VH_CONFIG_DIR/inputs.json" "$VH_OUTPUTS_DIR/"\n';
      const s = spec({ script });
      const { handle } = await launch(s);
      expect((await drain(runner, handle)).exitCode).toBe(0);
      const read = async (f: string) => (await readAll(await runner.openOutput(handle, f))).toString();
      expect(await read("parameters.json")).toBe(s.configFiles["parameters.json"]);
      expect(await read("execution.json")).toBe(s.configFiles["execution.json"]);
      expect(JSON.parse(await read("inputs.json"))).toEqual({});
    });

    it("extracts the code snapshot into the repository and verifies its sha256", async () => {
      const src = await fs.mkdtemp(path.join(os.tmpdir(), "vh-code-"));
      try {
        await fs.mkdir(path.join(src, "sub"));
        await fs.writeFile(path.join(src, "hello.txt"), "hello code\n");
        await fs.writeFile(path.join(src, "sub", "x.sh"), "echo from-sub\n");
        const tgz = path.join(src, "..", `${path.basename(src)}.tgz`);
        await tar.c({ gzip: true, cwd: src, file: tgz }, ["hello.txt", "sub"]);
        const bytes = await fs.readFile(tgz);
        await fs.rm(tgz);
        const digest = sha256(bytes);
        const key = `code/${digest}.tgz`;
        await store.put(key, bytes);
        const { handle } = await launch(spec({ script: "cat hello.txt\nsh sub/x.sh\n", code: { key, sha256: digest } }));
        const d = await drain(runner, handle);
        expect(d.stdout.toString()).toBe("hello code\nfrom-sub\n");
        const bad = spec({ script: "echo never\n", code: { key, sha256: "0".repeat(64) } });
        await expect(runner.launch(bad)).rejects.toThrow(RunnerError);
      } finally {
        await fs.rm(src, { recursive: true, force: true });
      }
    });

    it("fetches store inputs into inputs/NAME/, read-only, and hits the cache by sha256", async () => {
      const content = Buffer.from(`hello data ${randomBytes(16).toString("hex")}\n`);
      const key = `data/${randomUUID()}/file.txt`;
      const put = await store.put(key, content);
      const input = {
        input: "dataset",
        name: "sub/file.txt",
        uri: "datum://abc",
        source: { kind: "store", key } as const,
        sha256: put.sha256,
        size: put.size,
        datumId: "abc",
        metadata: { label: "cat" },
      };
      const script = [
        'cat "$VH_INPUTS_DIR/dataset/sub/file.txt" > "$VH_OUTPUTS_DIR/copy.txt"',
        'ls -l "$VH_INPUTS_DIR/dataset/sub/file.txt" | cut -c1-10',
        'cp "$VH_CONFIG_DIR/inputs.json" "$VH_OUTPUTS_DIR/inputs.json"',
      ].join("\n");
      const first = await launch(spec({ script, inputs: [input] }));
      expect(first.inputs).toEqual([
        { input: "dataset", name: "sub/file.txt", uri: "datum://abc", sha256: put.sha256, size: content.length, cached: false },
      ]);
      const d = await drain(runner, first.handle);
      expect(d.exitCode).toBe(0);
      expect(d.stdout.toString()).toBe("-r--r--r--\n");
      expect(await readAll(await runner.openOutput(first.handle, "copy.txt"))).toEqual(content);
      const inputsJson = JSON.parse((await readAll(await runner.openOutput(first.handle, "inputs.json"))).toString());
      const file = inputsJson.dataset.files[0];
      expect(file).toMatchObject({
        name: "sub/file.txt",
        uri: "datum://abc",
        size: content.length,
        checksums: { sha256: put.sha256 },
        metadata: [{ label: "cat" }],
        datum_id: "abc",
      });
      expect(file.path.endsWith("/inputs/dataset/sub/file.txt")).toBe(true);

      const second = await launch(spec({ script, inputs: [input] }));
      expect(second.inputs[0]?.cached).toBe(true);
      expect((await drain(runner, second.handle)).exitCode).toBe(0);
      expect(await readAll(await runner.openOutput(second.handle, "copy.txt"))).toEqual(content);

      // Without a known checksum the runner computes it; a wrong one is an error.
      const unknown = await launch(spec({ script: "true\n", inputs: [{ ...input, sha256: undefined, size: undefined }] }));
      expect(unknown.inputs[0]?.sha256).toBe(put.sha256);
      const key2 = `data/${randomUUID()}/other.txt`;
      await store.put(key2, Buffer.from("other"));
      const wrong = spec({ script: "true\n", inputs: [{ ...input, source: { kind: "store", key: key2 }, sha256: sha256("not it") }] });
      await expect(runner.launch(wrong)).rejects.toThrow(/Input "dataset"/);
    });

    it("restores a later attempt's saved outputs into outputs/, writable, the cached copy untouched", async () => {
      const ckpt = Buffer.from(`epoch=5 ${randomBytes(8).toString("hex")}\n`);
      const key = `outputs/${randomUUID()}/ckpt/model.txt`;
      const put = await store.put(key, ckpt);
      const saved = { input: "", name: "ckpt/model.txt", uri: "datum://saved", source: { kind: "store", key } as const, sha256: put.sha256, size: put.size, datumId: "saved" };
      // The step rewrites its checkpoint in place, as a resumed training loop does.
      const script = 'cat "$VH_OUTPUTS_DIR/ckpt/model.txt"\necho epoch=6 >> "$VH_OUTPUTS_DIR/ckpt/model.txt"\n';
      const first = await launch(spec({ script, restoreOutputs: [saved] }));
      const d = await drain(runner, first.handle);
      expect(d.exitCode).toBe(0);
      expect(d.stdout.toString()).toBe(ckpt.toString());
      expect((await readAll(await runner.openOutput(first.handle, "ckpt/model.txt"))).toString()).toBe(`${ckpt}epoch=6\n`);
      // A second attempt from the same saved output (a cache hit) sees it as it was saved.
      const second = await launch(spec({ script, restoreOutputs: [saved] }));
      const d2 = await drain(runner, second.handle);
      expect(d2.stdout.toString()).toBe(ckpt.toString());
      // Not a path out of outputs/.
      await expect(runner.launch(spec({ script: "true\n", restoreOutputs: [{ ...saved, name: "../escape.txt" }] }))).rejects.toThrow(RunnerError);
    });

    it("downloads http inputs, re-uses them when unchanged, and names input and URL on a 404", async () => {
      const url = `${baseUrl}/data.csv`;
      const input = { input: "dataset", name: "data.csv", uri: url, source: { kind: "http", url } as const };
      const script = 'cat "$VH_INPUTS_DIR/dataset/data.csv"\n';
      const first = await launch(spec({ script, inputs: [input] }));
      expect(first.inputs[0]).toMatchObject({ sha256: sha256("a,b\n1,2\n"), size: 8 });
      expect((await drain(runner, first.handle)).stdout.toString()).toBe("a,b\n1,2\n");
      const before = requests.length;
      const second = await launch(spec({ script, inputs: [input] }));
      expect(second.inputs[0]).toMatchObject({ sha256: sha256("a,b\n1,2\n"), cached: true });
      expect((await drain(runner, second.handle)).stdout.toString()).toBe("a,b\n1,2\n");
      // Re-used after one conditional request (If-None-Match with the ETag), answered 304.
      expect(requests.slice(before)).toEqual([{ url: "/data.csv", ifNoneMatch: '"v1"' }]);

      const missing = `${baseUrl}/missing.csv`;
      const bad = spec({ script, inputs: [{ ...input, uri: missing, source: { kind: "http", url: missing } }] });
      const err = await runner.launch(bad).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RunnerError);
      expect((err as Error).message).toContain('Input "dataset"');
      expect((err as Error).message).toContain(missing);
      expect((err as Error).message).toContain("404");
    });

    it("lists outputs recursively with read-only detection; opens and removes them", async () => {
      const script = [
        'mkdir -p "$VH_OUTPUTS_DIR/a/b"',
        'printf "hi\\n" > "$VH_OUTPUTS_DIR/a/b/c.txt"',
        'printf "x\\n" > "$VH_OUTPUTS_DIR/live.txt"',
        'chmod 0444 "$VH_OUTPUTS_DIR/live.txt"',
      ].join("\n");
      const { handle } = await launch(spec({ script }));
      expect((await drain(runner, handle)).exitCode).toBe(0);
      expect(await runner.listOutputs(handle)).toEqual([
        { path: "a/b/c.txt", size: 3, readOnly: false },
        { path: "live.txt", size: 2, readOnly: true },
      ]);
      expect((await readAll(await runner.openOutput(handle, "a/b/c.txt"))).toString()).toBe("hi\n");
      await expect(runner.openOutput(handle, "../.vh/launched.json")).rejects.toThrow();
      await expect(runner.openOutput(handle, "nope.txt")).rejects.toThrow();
      await runner.removeOutput(handle, "live.txt");
      await runner.removeOutput(handle, "live.txt");
      expect((await runner.listOutputs(handle)).map((f) => f.path)).toEqual(["a/b/c.txt"]);
    });

    it("reads a large output completely and in order across polls", async () => {
      const n = 200_000;
      const script = `i=0; while [ $i -lt ${n} ]; do echo "line $i of a long enough output"; i=$((i+1)); done\n`;
      const { handle } = await launch(spec({ script }));
      const d = await drain(runner, handle, { timeoutMs: 20_000 });
      expect(d.exitCode).toBe(0);
      const text = d.stdout.toString();
      expect(d.stdout.length).toBeGreaterThan(4 << 20);
      expect(d.polls).toBeGreaterThan(1);
      let expected = "";
      for (let i = 0; i < n; i++) expected += `line ${i} of a long enough output\n`;
      expect(text.length).toBe(expected.length);
      expect(text === expected).toBe(true);
    }, 30_000);

    it("cleanup removes the work dir and is idempotent", async () => {
      const { handle } = await launch(spec({ script: 'echo x > "$VH_OUTPUTS_DIR/f"\n' }));
      await drain(runner, handle);
      expect((await runner.listOutputs(handle)).length).toBe(1);
      await runner.cleanup(handle);
      await runner.cleanup(handle);
      // The work dir is gone: no outputs are listed (listing does not fail) and none can be opened.
      await expect(runner.listOutputs(handle)).resolves.toEqual([]);
      await expect(runner.openOutput(handle, "f")).rejects.toThrow();
    });

    it("describes its host", async () => {
      const info = await runner.describeHost();
      // Every runner of this suite has its host on this machine (local, sshd on loopback).
      expect(info.hostname).toBe(fx.hostName ?? os.hostname());
      const osName = await thisOsName();
      if (osName !== null) expect(info.os).toBe(osName);
      else expect(info.os).toMatch(new RegExp(`^${os.type()}`));
      expect(info.kernel).toBe(os.release());
      expect(info.arch).toBe(os.machine());
      expect(Number.isInteger(info.cpuCount)).toBe(true);
      expect(info.cpuCount).toBeGreaterThanOrEqual(1);
      expect(info.memoryBytes).toBeGreaterThan(64 * 1024 * 1024);
      expect(typeof info.dockerAvailable).toBe("boolean");
      expect(Array.isArray(info.gpus)).toBe(true);
      for (const g of info.gpus) {
        expect(Number.isInteger(g.index)).toBe(true);
        expect(Number.isInteger(g.memoryMiB) && g.memoryMiB >= 0).toBe(true); // 0 when nvidia-smi says [N/A]
      }
      expect(info.cudaVersion === null || /^\d+(\.\d+)*$/.test(info.cudaVersion)).toBe(true);
    });
  });
}
