/**
 * `npm start` stopped with Ctrl-C while an execution runs, then started again after that execution
 * ended (issue 19): the supervisor and the queue stop before Postgres (nothing in the log about a
 * refused or cut connection, no error lines), the job keeps running, and the restarted vh marks it
 * ended within a second of coming back, with the time it really ended (the wrapper's exit-code
 * file), not the time vh noticed. And stopping twice at once (two signals) stops once, in order.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import { startVh } from "../../app/start.js";
import { freePort } from "../helpers/net.js";
import { startServerProcess, stopServerProcess, type ServerProcess } from "../helpers/server-process.js";
import { tarball } from "../helpers/snapshot.js";
import { waitFor } from "../helpers/stack.js";

const isRoot = process.getuid?.() === 0;

/** Lines that mean something went wrong while stopping: a refused or cut database connection, any error line. */
function troubleLines(output: string): string[] {
  return output.split("\n").filter((l) => /ECONNREFUSED|ECONNRESET|57P01|terminating connection|Connection terminated|shutdown step failed| error /i.test(l));
}

describe("Ctrl-C with an execution running, and a restart after it ended", () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "vh-shutdown-home-")); // mode 700, like /root
  const state = fs.mkdtempSync(path.join(os.tmpdir(), "vh-shutdown-state-"));
  fs.chmodSync(state, 0o711);
  const dataDir = path.join(home, "data");
  const release = path.join(state, "release");
  const procs: ServerProcess[] = [];
  afterAll(async () => {
    fs.writeFileSync(release, "");
    for (const p of procs) await stopServerProcess(p.child);
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(state, { recursive: true, force: true });
  });

  it("stops cleanly, and the restarted vh records the true end time within a second", async () => {
    const env = {
      VH_DATA_DIR: dataDir,
      VH_STATE_DIR: state,
      PORT: String(await freePort()),
      VH_EMBEDDED_PG_PORT: String(await freePort()),
      XDG_CONFIG_HOME: path.join(home, "xdg"),
      HOME: home,
      VH_LOG_LEVEL: "info",
      VH_DOCKER: "never",
      ...(isRoot ? {} : { VH_UNSAFE_SAME_USER: "true" }),
    };
    const project = path.join(state, "project");
    fs.mkdirSync(project);
    fs.writeFileSync(
      path.join(project, "valohai.yaml"),
      "- step:\n    name: wait\n    image: python:3.12\n    command: sh wait.sh {parameters}\n" +
        "    parameters:\n      - name: release\n        type: string\n        pass-as: '{v}'\n",
    );
    fs.writeFileSync(path.join(project, "wait.sh"), 'echo waiting\nwhile [ ! -e "$1" ]; do sleep 0.05; done\necho done > "$VH_OUTPUTS_DIR/done.txt"\n');

    const first = await startServerProcess(env);
    procs.push(first);
    const token = fs.readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
    const api = async <T>(s: ServerProcess, method: string, p: string, body?: unknown, gzip?: Buffer): Promise<T> => {
      const res = await fetch(s.url + p, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": gzip ? "application/gzip" : "application/json" },
        body: gzip ?? (body === undefined ? undefined : JSON.stringify(body)),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${p} → ${res.status}: ${text}`);
      return JSON.parse(text) as T;
    };
    await api(first, "POST", "/api/v1/projects", { name: "p" });
    const snap = await tarball(project);
    await api(first, "PUT", `/api/v1/code/${snap.sha256}`, undefined, snap.body);
    const e = await api<{ id: string; counter: number }>(first, "POST", "/api/v1/projects/p/executions", { step: "wait", code: snap.sha256, parameters: { release } });
    await waitFor("the job to run, watched by the supervisor", async () => {
      const r = await api<{ lines: { line: string }[] }>(first, "GET", `/api/v1/projects/p/executions/${e.counter}/logs`);
      return r.lines.some((l) => l.line === "waiting") ? true : undefined;
    }, 60_000, 50);

    // Ctrl-C: supervisor and queue first, Postgres last.
    expect(await stopServerProcess(first.child), first.output()).toBe(0);
    expect(troubleLines(first.output())).toEqual([]);
    expect(first.output()).toContain("SIGINT: shutting down");

    // The job did not stop with vh; it ends now, while vh is down.
    const vhDir = path.join(fs.realpathSync(path.join(dataDir, "runs")), e.id, ".vh");
    expect(fs.existsSync(path.join(vhDir, "exit_code"))).toBe(false);
    fs.writeFileSync(release, "");
    const endedAt = await waitFor("the job to end", async () => fs.statSync(path.join(vhDir, "exit_code"), { throwIfNoEntry: false })?.mtime, 30_000, 20);
    await new Promise((r) => setTimeout(r, 1500)); // vh comes back well after

    const second = await startServerProcess(env);
    procs.push(second);
    const back = Date.now();
    type Shown = { status: string; endedAt: string; statusHistory: { status: string; at: string }[] };
    const done = await waitFor("the ended execution to be settled", async () => {
      const x = await api<Shown>(second, "GET", `/api/v1/projects/p/executions/${e.counter}`);
      return x.status === "completed" ? x : undefined;
    }, 30_000, 25);
    const settledAt = Date.parse(done.statusHistory.find((h) => h.status === "completed")!.at);
    expect(settledAt - back).toBeLessThan(1000);
    // Its end is the process's (to the millisecond of the exit-code file), not the restart's.
    expect(Math.abs(Date.parse(done.endedAt) - endedAt.getTime())).toBeLessThanOrEqual(1);
    expect(back - Date.parse(done.endedAt)).toBeGreaterThan(1400);
    const outputs = await api<{ results: unknown[] }>(second, "GET", `/api/v1/projects/p/executions/${e.counter}/outputs`);
    expect(JSON.stringify(outputs)).toContain("done.txt");

    expect(await stopServerProcess(second.child), second.output()).toBe(0);
    expect(troubleLines(second.output())).toEqual([]);
  }, 180_000);
});

describe("stop() called twice at once", () => {
  it("stops once, Postgres last: no connection of the queue is cut by Postgres going away", async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "vh-stop-twice-"));
    const state = fs.mkdtempSync(path.join(os.tmpdir(), "vh-stop-twice-state-"));
    fs.chmodSync(state, 0o711);
    try {
      const config = loadConfig({
        VH_DATA_DIR: path.join(home, "data"),
        VH_STATE_DIR: state,
        PORT: "0",
        VH_EMBEDDED_PG_PORT: String(await freePort()),
        XDG_CONFIG_HOME: path.join(home, "xdg"),
        VH_DOCKER: "never",
        VH_LOG_LEVEL: "debug",
      });
      const lines: string[] = [];
      const vh = await startVh(config, createLogger("debug", (l) => lines.push(l)));
      await new Promise((r) => setTimeout(r, 500)); // the queue's clients connected and listening
      await Promise.all([vh.stop(), vh.stop()]);
      await new Promise((r) => setTimeout(r, 300)); // late errors would arrive now
      expect(troubleLines(lines.join("\n"))).toEqual([]);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
      fs.rmSync(state, { recursive: true, force: true });
    }
  }, 60_000);
});
