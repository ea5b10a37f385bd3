import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { NO_SERVER_MESSAGE, configFilePath, findLink, resolveServer, saveLink } from "../../app/cli/config.js";
import { localServerFile, removeLocalServer, runningLocalServers, writeLocalServer } from "../../app/cli/local-servers.js";
import { runCli, sendJson, stubServer, tempDir } from "./helpers.js";

let dir: string;
let xdg: string;

beforeEach(() => {
  dir = tempDir();
  xdg = path.join(dir, "xdg");
});

function writeLogin(url: string, token: string) {
  fs.mkdirSync(path.join(xdg, "vh"), { recursive: true });
  fs.writeFileSync(path.join(xdg, "vh", "config.json"), JSON.stringify({ url, token, links: {} }));
}

function writePointer(url: string, token: string) {
  fs.mkdirSync(path.join(xdg, "vh"), { recursive: true });
  const tokenFile = path.join(dir, "admin-token");
  fs.writeFileSync(tokenFile, `${token}\n`);
  fs.writeFileSync(path.join(xdg, "vh", "local-server.json"), JSON.stringify({ url, tokenFile, pid: 1 }));
}

describe("server settings", () => {
  it("fails clearly when nothing is configured", () => {
    expect(() => resolveServer({}, { XDG_CONFIG_HOME: xdg })).toThrow(NO_SERVER_MESSAGE);
  });

  it("uses the local server pointer and reads its token file", () => {
    writePointer("http://127.0.0.1:3000", "local-tok");
    expect(resolveServer({}, { XDG_CONFIG_HOME: xdg })).toEqual({ url: "http://127.0.0.1:3000", token: "local-tok", source: "local" });
  });

  it("prefers the login file to the pointer, env to the login file, flags to env", () => {
    writePointer("http://127.0.0.1:3000", "local-tok");
    writeLogin("http://login.example:8080/", "login-tok");
    expect(resolveServer({}, { XDG_CONFIG_HOME: xdg })).toEqual({ url: "http://login.example:8080", token: "login-tok", source: "login" });
    const env = { XDG_CONFIG_HOME: xdg, VH_URL: "http://env.example/api/v1", VH_TOKEN: "env-tok" };
    expect(resolveServer({}, env)).toEqual({ url: "http://env.example", token: "env-tok", source: "env" });
    expect(resolveServer({ url: "http://flag.example", token: "flag-tok" }, env)).toEqual({ url: "http://flag.example", token: "flag-tok", source: "flags" });
  });

  it("never sends a saved token to another server", () => {
    writeLogin("http://login.example", "login-tok");
    expect(() => resolveServer({}, { XDG_CONFIG_HOME: xdg, VH_URL: "http://other.example" })).toThrow(/No token for http:\/\/other\.example/);
    // The same URL from env reuses the saved token.
    expect(resolveServer({}, { XDG_CONFIG_HOME: xdg, VH_URL: "http://login.example" }).token).toBe("login-tok");
  });

  it("falls back to ~/.config/vh without XDG_CONFIG_HOME", () => {
    expect(configFilePath({ HOME: dir })).toBe(path.join(dir, ".config", "vh", "config.json"));
  });
});

describe("project links", () => {
  it("walks up from the working directory to the nearest link", () => {
    const env = { XDG_CONFIG_HOME: xdg };
    const deep = path.join(dir, "repo", "src", "models");
    fs.mkdirSync(deep, { recursive: true });
    expect(findLink(env, deep)).toBeUndefined();
    saveLink(env, path.join(dir, "repo"), { url: "http://s", project: "outer" });
    expect(findLink(env, deep)).toEqual({ dir: path.join(dir, "repo"), url: "http://s", project: "outer" });
    saveLink(env, path.join(dir, "repo", "src"), { url: "http://s", project: "inner" });
    expect(findLink(env, deep)?.project).toBe("inner");
    expect(findLink(env, dir)).toBeUndefined();
    const mode = fs.statSync(configFilePath(env)).mode & 0o777;
    expect(mode).toBe(0o600);
  });

  it("exec commands outside a linked directory say how to link", async () => {
    const r = await runCli(["exec", "list"], { cwd: dir, env: { XDG_CONFIG_HOME: xdg } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not linked to a vh project: run `vh project link NAME`");
  });

  it("commands that need a server say how to get one", async () => {
    const r = await runCli(["project", "list"], { cwd: dir, env: { XDG_CONFIG_HOME: xdg } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: ${NO_SERVER_MESSAGE}\n`);
  });
});

describe("several local servers (app/cli/local-servers.ts)", () => {
  /** A process id that is not running any more. */
  function deadPid(): number {
    const r = spawnSync(process.execPath, ["-e", ""]);
    return r.pid!;
  }

  /** An entry as `npm start` writes it, with its data dir and admin token. */
  function server(name: string, port: number, pid = process.pid): { url: string; dataDir: string; token: string } {
    const dataDir = path.join(dir, name);
    fs.mkdirSync(dataDir, { recursive: true });
    const token = `${name}-tok`;
    fs.writeFileSync(path.join(dataDir, "admin-token"), `${token}\n`);
    const url = `http://127.0.0.1:${port}`;
    writeLocalServer(path.join(xdg, "vh"), { url, tokenFile: path.join(dataDir, "admin-token"), dataDir, pid, startedAt: "2030-01-02T03:04:05.000Z" });
    return { url, dataDir, token };
  }

  it("uses the only one running, with its token and data dir", () => {
    const a = server("a", 3001);
    expect(resolveServer({}, { XDG_CONFIG_HOME: xdg }, dir)).toEqual({ url: a.url, token: a.token, source: "local", dataDir: a.dataDir });
    const file = localServerFile(path.join(xdg, "vh"), a.dataDir, a.url);
    expect(path.dirname(file)).toBe(path.join(xdg, "vh", "local-servers"));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({ url: a.url, tokenFile: path.join(a.dataDir, "admin-token"), dataDir: a.dataDir, pid: process.pid, startedAt: "2030-01-02T03:04:05.000Z" });
  });

  it("with several running and no link here, fails listing them and saying how to choose", () => {
    const a = server("a", 3001);
    const b = server("b", 3002);
    const work = path.join(dir, "work");
    let message = "";
    try {
      resolveServer({}, { XDG_CONFIG_HOME: xdg }, work);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`2 local vh servers are running, and ${work} is not linked to a project on one of them:`);
    expect(message).toContain(`  ${a.url}  (data dir ${a.dataDir}, pid ${process.pid}, started 2030-01-02 03:04:05 UTC)`);
    expect(message).toContain(`  ${b.url}  (data dir ${b.dataDir}, pid ${process.pid}, started 2030-01-02 03:04:05 UTC)`);
    expect(message).toContain("Choose one with --url URL (or VH_URL=URL), or link this directory to a project there: vh --url URL project link NAME.");
    // --url or VH_URL chooses, and brings that server's own token
    expect(resolveServer({ url: b.url }, { XDG_CONFIG_HOME: xdg }, work)).toEqual({ url: b.url, token: b.token, source: "flags", dataDir: b.dataDir });
    expect(resolveServer({}, { XDG_CONFIG_HOME: xdg, VH_URL: `${a.url}/api/v1` }, work)).toMatchObject({ url: a.url, token: a.token, source: "env" });
  });

  it("picks the server whose data dir the directory's link names, even on another port now", () => {
    server("a", 3001);
    const b = server("b", 3002);
    const env = { XDG_CONFIG_HOME: xdg };
    const repo = path.join(dir, "repo");
    // linked while b listened on 4000; it listens on 3002 now
    saveLink(env, repo, { url: "http://127.0.0.1:4000", project: "p", dataDir: b.dataDir });
    expect(resolveServer({}, env, path.join(repo, "src"))).toEqual({ url: b.url, token: b.token, source: "local", dataDir: b.dataDir });
  });

  it("picks by URL for a link without a data dir (made before entries had one)", () => {
    const a = server("a", 3001);
    server("b", 3002);
    const env = { XDG_CONFIG_HOME: xdg };
    saveLink(env, dir, { url: a.url, project: "p" });
    expect(resolveServer({}, env, dir)).toMatchObject({ url: a.url, token: a.token });
  });

  it("a link to a server that is not running: the ambiguity names the link", () => {
    server("a", 3001);
    server("b", 3002);
    const env = { XDG_CONFIG_HOME: xdg };
    saveLink(env, dir, { url: "http://127.0.0.1:9", project: "p", dataDir: "/elsewhere" });
    expect(() => resolveServer({}, env, dir)).toThrow(`none of them is the one ${dir} was linked on (data dir /elsewhere, http://127.0.0.1:9):`);
  });

  it("ignores entries whose process is gone, and leaves them in place", () => {
    const dead = server("dead", 3001, deadPid());
    const live = server("live", 3002);
    expect(resolveServer({}, { XDG_CONFIG_HOME: xdg }, dir)).toMatchObject({ url: live.url, token: live.token });
    expect(runningLocalServers(path.join(xdg, "vh")).map((s) => s.url)).toEqual([live.url]);
    expect(fs.existsSync(localServerFile(path.join(xdg, "vh"), dead.dataDir, dead.url))).toBe(true);
    // alone, a dead server is no server
    fs.rmSync(localServerFile(path.join(xdg, "vh"), live.dataDir, live.url));
    expect(() => resolveServer({}, { XDG_CONFIG_HOME: xdg }, dir)).toThrow(NO_SERVER_MESSAGE);
  });

  it("a server starting on a data dir clears that data dir's dead entries, and only those", () => {
    const cfg = path.join(xdg, "vh");
    const crashed = server("a", 3001, deadPid());
    const otherDead = server("b", 3002, deadPid());
    const again = server("a", 3003);
    expect(fs.existsSync(localServerFile(cfg, crashed.dataDir, crashed.url))).toBe(false);
    expect(fs.existsSync(localServerFile(cfg, otherDead.dataDir, otherDead.url))).toBe(true);
    expect(fs.existsSync(localServerFile(cfg, again.dataDir, again.url))).toBe(true);
  });

  it("a stopping server removes its own entry only", () => {
    const cfg = path.join(xdg, "vh");
    const a = server("a", 3001);
    const b = server("b", 3002);
    removeLocalServer(cfg, { dataDir: a.dataDir, url: a.url, pid: process.pid + 1 }); // not its process: kept
    expect(fs.existsSync(localServerFile(cfg, a.dataDir, a.url))).toBe(true);
    removeLocalServer(cfg, { dataDir: a.dataDir, url: a.url, pid: process.pid });
    expect(fs.existsSync(localServerFile(cfg, a.dataDir, a.url))).toBe(false);
    expect(resolveServer({}, { XDG_CONFIG_HOME: xdg }, dir)).toMatchObject({ url: b.url, token: b.token });
  });

  it("still reads the single pointer of earlier versions, unless its process is gone", () => {
    writePointer("http://127.0.0.1:3000", "local-tok");
    const a = server("a", 3001);
    // two servers now: the old pointer's and the entry's
    expect(runningLocalServers(path.join(xdg, "vh")).map((s) => s.url)).toEqual([a.url, "http://127.0.0.1:3000"]);
    expect(resolveServer({ url: "http://127.0.0.1:3000" }, { XDG_CONFIG_HOME: xdg }, dir)).toMatchObject({ token: "local-tok" });
    fs.writeFileSync(path.join(xdg, "vh", "local-server.json"), JSON.stringify({ url: "http://127.0.0.1:3000", tokenFile: path.join(dir, "admin-token"), pid: deadPid() }));
    expect(resolveServer({}, { XDG_CONFIG_HOME: xdg }, dir)).toMatchObject({ url: a.url, token: a.token });
  });

  it("a link made on a local server records its data dir; a later run on a new port uses it without a warning", async () => {
    const routes = {
      "GET /api/v1/projects/:p": (_q: unknown, res: import("node:http").ServerResponse) => sendJson(res, 200, { id: "p1", name: "demo", createdAt: "2030-01-01T00:00:00Z", executionCount: 0 }),
    };
    const first = await stubServer(routes);
    const second = await stubServer(routes);
    try {
      const cfg = path.join(xdg, "vh");
      const dataDir = path.join(dir, "data");
      fs.mkdirSync(dataDir);
      fs.writeFileSync(path.join(dataDir, "admin-token"), "tok\n");
      const entry = { tokenFile: path.join(dataDir, "admin-token"), dataDir, pid: process.pid, startedAt: "2030-01-01T00:00:00.000Z" };
      writeLocalServer(cfg, { ...entry, url: first.url });
      const env = { XDG_CONFIG_HOME: xdg, HOME: dir };
      const linked = await runCli(["project", "link", "demo"], { cwd: dir, env });
      expect(linked.code, linked.stderr).toBe(0);
      expect(findLink(env, dir)).toEqual({ dir, url: first.url, project: "demo", dataDir });
      // restarted on another port, next to another server
      removeLocalServer(cfg, { dataDir, url: first.url, pid: process.pid });
      writeLocalServer(cfg, { ...entry, url: second.url });
      server("other", 3009);
      const status = await runCli(["project", "status"], { cwd: dir, env });
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain(`Server:     ${second.url} (from local)`);
      expect(status.stderr).toBe("");
      expect(second.requests.map((r) => r.headers.authorization)).toEqual(["Bearer tok"]);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
