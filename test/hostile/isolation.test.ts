/**
 * A job cannot reach the control plane (issue: hostile jobs). Against a real `npm start` on
 * embedded defaults with the GitHub App configured, plain-process mode: one execution holds a
 * secret in its work dir while another tries to read the admin token, the embedded Postgres's
 * password, the App's private key, the server's /proc/<pid>/environ, the other execution's files,
 * and to forge its own exit code. Every attempt is refused by the OS, the prober still completes,
 * and its environment holds only what the execution record lists.
 *
 * As root, jobs run as users of their own. As a normal user, vh refuses plain-process jobs unless
 * VH_UNSAFE_SAME_USER=true: that refusal is checked there instead.
 *
 * Also: what root runs for a job before privileges drop (the wrapper, the /valohai mounts,
 * setpriv) never sees the job's environment, so a PATH or BASH_ENV from valohai.yaml that points
 * into the job's own code cannot make root run it.
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { freePort } from "../helpers/net.js";
import { waitFor } from "../helpers/stack.js";
import { repoRoot as root, startServerProcess, stopServerProcess, type ServerProcess } from "../helpers/server-process.js";
import { tarball } from "../helpers/snapshot.js";
import { localIsolation } from "../../worker/runners/registry.js";
import { createLocalRunner } from "../../worker/runners/local/runner.js";
import { createTempStore } from "../runners/temp-store.js";
import { drain } from "../contracts/runner-contract.js";
import { buildValohaiProbeScript, parseValohaiProbe } from "../../worker/runners/shared/valohai-view.js";

const fixture = path.join(root, "test/fixtures/projects/hostile-isolation");
const isRoot = process.getuid?.() === 0;

interface Server extends ServerProcess {
  token: string;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const p = await startServerProcess(env);
  return { ...p, token: fs.readFileSync(path.join(env["VH_DATA_DIR"]!, "admin-token"), "utf8").trim() };
}

async function api<T>(s: Server, method: string, p: string, body?: unknown): Promise<T> {
  const res = await fetch(s.url + p, {
    method,
    headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

interface Exec {
  id: string;
  counter: number;
  status: string;
}

describe("a job cannot reach the control plane", () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "vh-hostile-home-")); // mode 700, like /root
  const state = fs.mkdtempSync(path.join(os.tmpdir(), "vh-hostile-state-"));
  fs.chmodSync(state, 0o711);
  const dataDir = path.join(home, "data");
  const keyFile = path.join(home, "app.pem");
  const release = path.join(state, "release");
  let server: Server | null = null;

  beforeAll(async () => {
    const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
    fs.writeFileSync(keyFile, key, { mode: 0o600 });
    server = await startServer({
      VH_DATA_DIR: dataDir,
      VH_STATE_DIR: state,
      PORT: String(await freePort()),
      VH_EMBEDDED_PG_PORT: String(await freePort()),
      XDG_CONFIG_HOME: path.join(home, "xdg"),
      HOME: home,
      VH_LOG_LEVEL: "warn",
      VH_DOCKER: "never",
      APP_ID: "12345",
      PRIVATE_KEY_PATH: keyFile,
      WEBHOOK_SECRET: "the-webhook-secret-a-job-must-not-see",
    });
  }, 90_000);

  afterAll(async () => {
    fs.writeFileSync(release, "");
    if (server) await stopServerProcess(server.child);
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(state, { recursive: true, force: true });
  });

  it.skipIf(!isRoot)("as root: every attempt is refused, the prober completes, its environment is the record's", async () => {
    const s = server!;
    await api(s, "POST", "/api/v1/projects", { name: "hostile" });
    const { body, sha256 } = await tarball(fixture);
    const put = await fetch(`${s.url}/api/v1/code/${sha256}`, { method: "PUT", headers: { authorization: `Bearer ${s.token}`, "content-type": "application/gzip" }, body });
    expect([200, 201]).toContain(put.status);

    const holder = await api<Exec>(s, "POST", "/api/v1/projects/hostile/executions", { step: "hold", code: sha256, parameters: { release } });
    await waitFor("the holder to hold its secret", async () => {
      const r = await api<{ lines: { line: string }[] }>(s, "GET", `/api/v1/projects/hostile/executions/${holder.counter}/logs`);
      return r.lines.some((l) => l.line.startsWith("HOLDING")) ? true : undefined;
    }, 60_000, 100);
    const runs = fs.realpathSync(path.join(dataDir, "runs"));
    const other = path.join(runs, holder.id);
    const targets = {
      admin_token: path.join(dataDir, "admin-token"),
      postgres_password: path.join(dataDir, "postgres-password"),
      app_key: keyFile,
      server_environ: `/proc/${s.child.pid}/environ`,
      other_repository: path.join(other, "repository", "secret.txt"),
      other_output: path.join(other, "outputs", "secret-output.txt"),
      other_logs: path.join(other, ".vh", "stdout.log"),
    };
    for (const [name, p] of Object.entries(targets)) expect(fs.existsSync(p), `${name} exists for the test to mean anything`).toBe(true);
    const lists = { runs, data_dir: dataDir, other_work_dir: other };

    // Each job has /valohai of its own: the holder's output is there for the holder only.
    const atValohai = "holder_output_at_valohai=/valohai/outputs/secret-output.txt";
    const prober = await api<Exec>(s, "POST", "/api/v1/projects/hostile/executions", {
      step: "probe",
      code: sha256,
      parameters: { target: [...Object.entries(targets).map(([k, v]) => `${k}=${v}`), atValohai], list: Object.entries(lists).map(([k, v]) => `${k}=${v}`) },
    });
    const ended = await waitFor("the prober to end", async () => {
      const e = await api<Exec>(s, "GET", `/api/v1/projects/hostile/executions/${prober.counter}`);
      return ["completed", "failed", "error"].includes(e.status) ? e : undefined;
    }, 60_000, 100);
    const { lines } = await api<{ lines: { line: string; stream: string }[] }>(s, "GET", `/api/v1/projects/hostile/executions/${prober.counter}/logs?limit=1000`);
    const text = lines.map((l) => l.line);
    expect(ended.status, text.join("\n")).toBe("completed");
    const { holder_output_at_valohai: atOwnValohai, ...probes } = Object.fromEntries(
      text.filter((l) => l.startsWith("PROBE ")).map((l) => [l.split(" ")[1], l.split(" ").slice(2).join(" ")]),
    );
    const expected = Object.fromEntries([...Object.keys(targets), ...Object.keys(lists), "forge_exit_code"].map((k) => [k, "DENIED Permission denied"]));
    expect(probes).toEqual(expected);
    // The prober's /valohai is its own (its outputs/ is empty), not the holder's, which wrote there.
    expect(atOwnValohai).toBe("MISSING No such file or directory");
    const seen = await api<{ runtime: { valohai: unknown } }>(s, "GET", `/api/v1/projects/hostile/executions/${holder.counter}`);
    const canMount = parseValohaiProbe(execFileSync("/bin/sh", ["-c", buildValohaiProbeScript()], { encoding: "utf8" })).provided;
    expect(seen.runtime.valohai).toEqual(canMount ? { provided: true, how: "mount-namespace" } : { provided: false, reason: expect.any(String) });

    // Only the record's environment: no secret of the server's.
    const envLine = text.find((l) => l.startsWith("ENV "))!;
    const names = envLine.slice(4).split(" ");
    for (const secret of ["WEBHOOK_SECRET", "PRIVATE_KEY_PATH", "APP_ID", "VH_DATA_DIR", "VH_STATE_DIR", "XDG_CONFIG_HOME", "DATABASE_URL"]) expect(names).not.toContain(secret);
    expect(names).toEqual(expect.arrayContaining(["VH_REPOSITORY_DIR", "VH_OUTPUTS_DIR", "VH_INPUTS_DIR", "VH_CONFIG_DIR", "HOME", "PATH"]));
    // A user of its own: neither root nor the holder's.
    const [uid, gid] = text.find((l) => l.startsWith("WHOAMI "))!.split(" ").slice(1).map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBe(uid);
    expect(fs.statSync(path.join(other, "repository")).uid).not.toBe(uid);

    fs.writeFileSync(release, "");
    const held = await waitFor("the holder to end", async () => {
      const e = await api<Exec>(s, "GET", `/api/v1/projects/hostile/executions/${holder.counter}`);
      return ["completed", "failed", "error"].includes(e.status) ? e : undefined;
    }, 60_000, 100);
    expect(held.status).toBe("completed");
    // Its outputs were uploaded by the control plane all the same.
    const outs = await api<{ results: { path?: string; name?: string }[] }>(s, "GET", `/api/v1/projects/hostile/executions/${holder.counter}/outputs`);
    expect(JSON.stringify(outs)).toContain("secret-output.txt");
  }, 120_000);

  it("the data dir is private and the Postgres password file is 600", () => {
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dataDir, "postgres-password")).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dataDir, "admin-token")).mode & 0o777).toBe(0o600);
  });
});

describe.skipIf(!isRoot)("the job's environment never reaches what root runs for it", () => {
  it("a PATH, LD_PRELOAD, ENV or BASH_ENV from valohai.yaml pointing into the job's own code picks nothing that runs as root", async () => {
    const r = fs.mkdtempSync(path.join(os.tmpdir(), "vh-hostile-env-"));
    fs.chmodSync(r, 0o711);
    const marks = path.join(r, "marks");
    fs.mkdirSync(marks, { mode: 0o1777 });
    fs.chmodSync(marks, 0o1777);
    try {
      // The job's code: stand-ins for every program the wrapper and the /valohai mounts run, each
      // leaving a mark named after the uid that ran it, then doing the real thing.
      const src = path.join(r, "src");
      fs.mkdirSync(path.join(src, "bin"), { recursive: true });
      const tools = ["mv", "cat", "setsid", "mount", "mkdir", "unshare", "setpriv", "sh"];
      for (const t of tools) {
        fs.writeFileSync(path.join(src, "bin", t), `#!/bin/sh\ntouch ${marks}/${t}-$(id -u)\nexec /usr/bin/env PATH=/usr/bin:/bin ${t} "$@"\n`, { mode: 0o755 });
      }
      fs.writeFileSync(path.join(src, "rc.sh"), `touch ${marks}/rc-$(id -u)\n`);
      // A library whose constructor leaves a mark, where a C compiler is at hand to build it.
      const cc = ["/usr/bin/cc", "/usr/bin/gcc"].find((c) => fs.existsSync(c));
      if (cc) {
        const c = path.join(r, "mark.c");
        fs.writeFileSync(c, `#include <stdio.h>\n#include <unistd.h>\n__attribute__((constructor)) static void mark(void) { char p[4200]; snprintf(p, sizeof p, "${marks}/ld-%d", (int)getuid()); FILE *f = fopen(p, "w"); if (f) fclose(f); }\n`);
        execFileSync(cc, ["-shared", "-fPIC", "-o", path.join(src, "mark.so"), c]);
      }
      const { body, sha256 } = await tarball(src);
      const store = createTempStore(path.join(r, "store"));
      await store.put(`code/${sha256}.tgz`, body);
      const runner = createLocalRunner({ workRoot: path.join(r, "runs"), cacheRoot: path.join(r, "cache"), store, docker: "never" });
      const res = await runner.launch({
        executionId: "hostile-env",
        // the job's own `mv` is the stand-in: the PATH reached the job, as the record says
        script: "mv rc.sh rc-moved.sh\nid -u\n",
        env: { PATH: "repository/bin:bin:/usr/bin:/bin", ENV: "rc.sh", BASH_ENV: "repository/rc.sh", ...(cc ? { LD_PRELOAD: "repository/mark.so:./mark.so" } : {}) },
        image: "python:3.12",
        mode: "process",
        code: { key: `code/${sha256}.tgz`, sha256 },
        inputs: [],
        configFiles: {},
        gpus: [],
      });
      const d = await drain(runner, res.handle);
      expect(d.exitCode, d.stderr.toString()).toBe(0);
      const uid = Number(d.stdout.toString().trim());
      expect(uid).toBeGreaterThan(0);
      const made = fs.readdirSync(marks).sort();
      expect(made.filter((m) => m.endsWith("-0"))).toEqual([]); // nothing of the job's ran as root
      expect(made).toContain(`mv-${uid}`);
      if (cc) expect(made).toContain(`ld-${uid}`);
      await runner.cleanup(res.handle);
    } finally {
      fs.rmSync(r, { recursive: true, force: true });
    }
  }, 30_000);
});

describe("without root", () => {
  it("plain-process jobs are refused unless VH_UNSAFE_SAME_USER=true, with a message that says why and what to do", () => {
    const spy = vi.spyOn(process, "getuid").mockReturnValue(1000);
    try {
      const refused = localIsolation({ unsafeSameUser: false });
      expect(refused.kind).toBe("refuse");
      const reason = refused.kind === "refuse" ? refused.reason : "";
      expect(reason).toContain("not root");
      expect(reason).toContain("VH_UNSAFE_SAME_USER=true");
      expect(reason).toContain("Docker");
      expect(localIsolation({ unsafeSameUser: true })).toEqual({ kind: "same-user" });
    } finally {
      spy.mockRestore();
    }
  });
});
