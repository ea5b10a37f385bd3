/**
 * `npm start` as a newcomer runs it: no DATABASE_URL, so an embedded Postgres in VH_DATA_DIR; the
 * URL printed; an admin token the CLI finds; Ctrl-C stops everything (no orphaned Postgres); a
 * second start finds the data again.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/net.js";
import { startServerProcess, stopServerProcess } from "../helpers/server-process.js";

const start = startServerProcess;
const stop = stopServerProcess;

/** The cluster's real folder: as root it lives under /var/lib/vh, linked from `<dataDir>/postgres`. */
function clusterOf(dataDir: string): string {
  return fs.realpathSync(path.join(dataDir, "postgres"));
}

function postgresRunningIn(dataDir: string): boolean {
  const dir = clusterOf(dataDir);
  try {
    const out = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
    return out.split("\n").some((l) => l.includes("postgres") && l.includes(dir));
  } catch {
    return false;
  }
}

describe("npm start on embedded defaults", () => {
  // mkdtemp makes it mode 700, like root's home: as root, the postgres OS user cannot enter it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-start-"));
  let cluster: string | null = null;
  let runs: string | null = null;
  afterAll(() => {
    // As root these live in the default state dir (/var/lib/vh), which is what this test exercises.
    for (const d of [cluster, runs]) if (d) fs.rmSync(d, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("starts, serves, stops cleanly on Ctrl-C, and keeps its data", async () => {
    const dataDir = path.join(dir, "data");
    const env = {
      VH_DATA_DIR: dataDir,
      PORT: String(await freePort()),
      VH_EMBEDDED_PG_PORT: String(await freePort()),
      XDG_CONFIG_HOME: path.join(dir, "xdg"),
      HOME: dir,
      VH_LOG_LEVEL: "warn",
    };
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const first = await start(env);
    cluster = clusterOf(dataDir);
    runs = fs.existsSync(path.join(dataDir, "runs")) ? fs.realpathSync(path.join(dataDir, "runs")) : null;
    if (process.getuid?.() === 0) {
      // Postgres runs as "postgres", which cannot enter `dir`: its cluster is linked from the data dir.
      expect(fs.lstatSync(path.join(dataDir, "postgres")).isSymbolicLink()).toBe(true);
      expect(cluster.startsWith(dir)).toBe(false);
    } else {
      expect(cluster).toBe(path.join(fs.realpathSync(dataDir), "postgres"));
    }
    expect(fs.statSync(path.join(dataDir, "postgres-password")).mode & 0o777).toBe(0o600);
    expect(first.url).toBe(`http://127.0.0.1:${env.PORT}`);
    // It says who jobs run as: users of their own as root; refused as a normal user (no opt-in here).
    expect(first.output()).toMatch(process.getuid?.() === 0 ? /jobs: +each as an OS user of its own/ : /jobs: +steps that run as plain processes are refused/);
    expect(await (await fetch(`${first.url}/healthz`)).json()).toEqual({ ok: true });
    const token = fs.readFileSync(path.join(dataDir, "admin-token"), "utf8").trim();
    expect(fs.statSync(path.join(dataDir, "admin-token")).mode & 0o777).toBe(0o600);
    const entries = fs.readdirSync(path.join(dir, "xdg/vh/local-servers"));
    expect(entries).toHaveLength(1);
    const pointer = JSON.parse(fs.readFileSync(path.join(dir, "xdg/vh/local-servers", entries[0]!), "utf8")) as { url: string; tokenFile: string };
    expect(pointer).toMatchObject({ url: first.url, tokenFile: path.join(dataDir, "admin-token"), dataDir, pid: first.child.pid });
    expect((await fetch(`${first.url}/api/v1/projects`)).status).toBe(401);
    const created = await fetch(`${first.url}/api/v1/projects`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "kept" }),
    });
    expect(created.status).toBe(201);
    expect(postgresRunningIn(dataDir)).toBe(true);

    const code = await stop(first.child);
    expect(code, first.output()).toBe(0);
    expect(postgresRunningIn(dataDir)).toBe(false);
    expect(fs.readdirSync(path.join(dir, "xdg/vh/local-servers"))).toEqual([]);

    const second = await start(env);
    try {
      const res = await fetch(`${second.url}/api/v1/projects/kept`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
    } finally {
      expect(await stop(second.child)).toBe(0);
    }
    expect(postgresRunningIn(dataDir)).toBe(false);
  });
});
