/**
 * Two `npm start` servers on one machine, one user: each writes an entry of its own
 * (`$XDG_CONFIG_HOME/vh/local-servers/`), the CLI asks which to use when nothing says, follows a
 * directory's link to its server, and Ctrl-C on one removes only that one's entry. Real processes
 * (test/helpers/server-process.ts), each on a database of its own; the CLI runs in-process.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findLink } from "../../app/cli/config.js";
import { localServersDir } from "../../app/cli/local-servers.js";
import { createTestDatabase } from "../helpers/db.js";
import { freePort } from "../helpers/net.js";
import { startServerProcess, stopServerProcess, type ServerProcess } from "../helpers/server-process.js";
import { runCli, tempDir } from "./helpers.js";

describe("several local servers", () => {
  const home = tempDir("vh-two-servers-");
  const xdg = path.join(home, "xdg");
  const env = { XDG_CONFIG_HOME: xdg, HOME: home };
  const entriesDir = localServersDir(path.join(xdg, "vh"));
  const dbs: Awaited<ReturnType<typeof createTestDatabase>>[] = [];
  const servers: { name: string; dataDir: string; proc: ServerProcess }[] = [];

  async function start(name: string) {
    const db = await createTestDatabase();
    dbs.push(db);
    const dataDir = path.join(home, name);
    const stateDir = `${dataDir}.state`;
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o711 });
    fs.chmodSync(stateDir, 0o711);
    const proc = await startServerProcess({
      ...env,
      DATABASE_URL: db.connectionString,
      VH_DATA_DIR: dataDir,
      VH_STATE_DIR: stateDir,
      PORT: String(await freePort()),
      VH_DOCKER: "never",
      VH_LOG_LEVEL: "warn",
    });
    return { name, dataDir, proc };
  }

  const entries = () =>
    (fs.existsSync(entriesDir) ? fs.readdirSync(entriesDir) : [])
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(fs.readFileSync(path.join(entriesDir, f), "utf8")) as { url: string; dataDir: string; pid: number; tokenFile: string; startedAt: string });

  beforeAll(async () => {
    const started = await Promise.allSettled([start("alpha"), start("beta")]);
    for (const s of started) if (s.status === "fulfilled") servers.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw failed.reason;
  });
  afterAll(async () => {
    for (const s of servers) await stopServerProcess(s.proc.child);
    for (const db of dbs) await db.drop();
  });

  it("each server has an entry of its own", () => {
    const [alpha, beta] = servers;
    const seen = entries().sort((a, b) => a.dataDir.localeCompare(b.dataDir));
    expect(seen).toEqual([
      { url: alpha!.proc.url, tokenFile: path.join(alpha!.dataDir, "admin-token"), dataDir: alpha!.dataDir, pid: alpha!.proc.child.pid, startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      { url: beta!.proc.url, tokenFile: path.join(beta!.dataDir, "admin-token"), dataDir: beta!.dataDir, pid: beta!.proc.child.pid, startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
    ]);
  });

  it("asks which one when nothing says, follows a link to its server, and --url chooses", async () => {
    const [alpha, beta] = servers;
    const loose = tempDir();
    const asked = await runCli(["project", "list"], { cwd: loose, env });
    expect(asked.code).toBe(1);
    expect(asked.stderr).toContain(`2 local vh servers are running, and ${loose} is not linked to a project on one of them:`);
    expect(asked.stderr).toContain(`  ${alpha!.proc.url}  (data dir ${alpha!.dataDir}`);
    expect(asked.stderr).toContain(`  ${beta!.proc.url}  (data dir ${beta!.dataDir}`);
    expect(asked.stderr).toContain("Choose one with --url URL (or VH_URL=URL)");

    const repo = tempDir();
    const created = await runCli(["--url", beta!.proc.url, "project", "create", "on-beta"], { cwd: repo, env });
    expect(created.code, created.stderr).toBe(0);
    expect(findLink(env, repo)).toMatchObject({ url: beta!.proc.url, project: "on-beta", dataDir: beta!.dataDir });
    // no --url now: the link says which server
    const status = await runCli(["project", "status", "--json"], { cwd: repo, env });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ url: beta!.proc.url, project: { name: "on-beta" } });
    // the project exists on beta only
    const onAlpha = await runCli(["--url", alpha!.proc.url, "project", "list", "--json"], { cwd: loose, env });
    expect((JSON.parse(onAlpha.stdout) as { name: string }[]).map((p) => p.name)).toEqual([]);
  });

  it("stopping one server removes its entry and leaves the other's; the other is then the one", async () => {
    const [alpha, beta] = servers;
    expect(await stopServerProcess(alpha!.proc.child)).toBe(0);
    expect(entries().map((e) => e.url)).toEqual([beta!.proc.url]);
    const loose = tempDir();
    const list = await runCli(["project", "list", "--json"], { cwd: loose, env });
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((p) => p.name)).toEqual(["on-beta"]);
    expect(await stopServerProcess(beta!.proc.child)).toBe(0);
    expect(entries()).toEqual([]);
  });
});
