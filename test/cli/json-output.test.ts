/**
 * `--json` on `project create`, `project link`, `host remove`, `login` and `logout`: stdout is one
 * JSON document, in the shape the REST API gives for that resource, checked against a real vh
 * server (Postgres) through the in-process CLI. The token's value is never printed.
 */
import path from "node:path";
import ssh2 from "ssh2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { findLink, readConfigFile } from "../../app/cli/config.js";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";
import { runCli, tempDir } from "./helpers.js";

describe("--json on the commands that change things", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });
  beforeEach(() => {
    dir = tempDir();
    env = { XDG_CONFIG_HOME: path.join(dir, "xdg"), HOME: dir, VH_URL: stack.vh.url, VH_TOKEN: stack.vh.token };
  });

  it("project create --json prints the project as GET /projects/:name gives it, and links the directory", async () => {
    const r = await runCli(["project", "create", "jsonic", "--json"], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    const printed = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(printed).toEqual(await stack.api("GET", "/api/v1/projects/jsonic"));
    expect(Object.keys(printed).sort()).toEqual(["createdAt", "executionCount", "forkCommands", "forkConfigs", "id", "name"]);
    expect(findLink(env, dir)).toMatchObject({ project: "jsonic", url: stack.vh.url });
    // and a refusal stays an error on stderr, with nothing on stdout
    const again = await runCli(["project", "create", "jsonic", "--json"], { cwd: dir, env });
    expect(again.code).toBe(1);
    expect(again.stdout).toBe("");
    expect(again.stderr).toContain('Project "jsonic" already exists');
  });

  it("project link --json prints the same record", async () => {
    await stack.api("POST", "/api/v1/projects", { name: "linked-one" });
    const r = await runCli(["project", "link", "linked-one", "--json"], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(await stack.api("GET", "/api/v1/projects/linked-one"));
    expect(findLink(env, dir)?.project).toBe("linked-one");
    // without --json: the human sentence on stderr, nothing on stdout
    const human = await runCli(["project", "link", "linked-one"], { cwd: dir, env });
    expect(human.stdout).toBe("");
    expect(human.stderr).toContain('to project "linked-one"');
  });

  it("host remove --json prints the API's answer", async () => {
    const key = ssh2.utils.generateKeyPairSync("ed25519");
    await stack.api("POST", "/api/v1/hosts", { name: "gone-soon", url: "ssh://u@127.0.0.1:1", privateKey: key.private });
    const r = await runCli(["host", "remove", "gone-soon", "--json"], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ removed: "gone-soon" });
    expect((await stack.api<{ results: { name: string }[] }>("GET", "/api/v1/hosts")).results.map((h) => h.name)).not.toContain("gone-soon");
  });

  it("login --json prints GET /me with the URL saved, never the token; logout --json says what it did", async () => {
    const plain = { XDG_CONFIG_HOME: env["XDG_CONFIG_HOME"]!, HOME: dir };
    const r = await runCli(["login", "--url", `${stack.vh.url}/api/v1/`, "--token", stack.vh.token, "--json"], { cwd: dir, env: plain });
    expect(r.code, r.stderr).toBe(0);
    const me = await stack.api<{ token: unknown }>("GET", "/api/v1/me");
    expect(JSON.parse(r.stdout)).toEqual({ url: stack.vh.url, token: me.token });
    expect(r.stdout + r.stderr).not.toContain(stack.vh.token);
    expect(readConfigFile(plain)).toMatchObject({ url: stack.vh.url, token: stack.vh.token });

    const out = await runCli(["logout", "--json"], { cwd: dir, env: plain });
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ loggedOut: true, url: stack.vh.url });
    expect(readConfigFile(plain).token).toBeUndefined();
    const twice = await runCli(["logout", "--json"], { cwd: dir, env: plain });
    expect(JSON.parse(twice.stdout)).toEqual({ loggedOut: false, url: null });
  });
});
