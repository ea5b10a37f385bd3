import fs from "node:fs";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { NO_SERVER_MESSAGE, configFilePath, findLink, resolveServer, saveLink } from "../../app/cli/config.js";
import { runCli, tempDir } from "./helpers.js";

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
