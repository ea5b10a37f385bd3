/**
 * `vh repo add|list|status|remove` → REST /api/v1/repos → the linking service → a real `git daemon`
 * and Postgres, all in-process: the CLI's fetch goes to the Hono app's `request()`. Also the REST
 * refusals (body, admin-only file://, unknown repository) in the shape every API error has.
 */
import fs from "node:fs";
import path from "node:path";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Context } from "../../app/cli/context.js";
import { completeIo } from "../../app/cli/io.js";
import { repoAddCommand, repoListCommand, repoRemoveCommand, repoStatusCommand } from "../../app/cli/commands/repo.js";
import { repoRoutes } from "../../app/http/routes/repos.js";
import { createRepoService } from "../../app/forges/git/repos.js";
import { VhError, httpStatusOf } from "../../app/errors.js";
import type { GitDeps } from "../../app/forges/git/types.js";
import { createTestDatabase } from "../helpers/db.js";
import { gitDeps, pollAsWorker, startGitDaemon, tempDir, TestRepo, VALID_YAML, BROKEN_YAML, type GitDaemon } from "./helpers.js";

describe("vh repo and /api/v1/repos", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let served: string;
  let data: string;
  let daemon: GitDaemon;
  let repo: TestRepo;
  let deps: GitDeps;
  let app: Hono;

  beforeAll(async () => {
    db = await createTestDatabase();
    served = tempDir("vh-git-cli-served-");
    data = tempDir("vh-git-cli-data-");
    daemon = await startGitDaemon(served);
    repo = new TestRepo(served, "vision");
    repo.commit({ "valohai.yaml": VALID_YAML }, "first");
    deps = gitDeps(db.sql, data);
    app = new Hono();
    app.onError((err, c) => {
      if (err instanceof VhError) return c.json({ error: { code: err.code, message: err.message } }, httpStatusOf[err.code] as 400);
      return c.json({ error: { code: "internal", message: String(err) } }, 500);
    });
    const api = new Hono();
    // stands in for bearerAuth: `Bearer admin` is an admin token, anything else is not
    api.use("*", async (c, next) => {
      const admin = c.req.header("authorization") === "Bearer admin";
      c.set("token", { id: "00000000-0000-0000-0000-000000000000", name: admin ? "admin" : "user", admin, role: admin ? "admin" : "member", project: null });
      await next();
    });
    api.route("/", repoRoutes({ repos: createRepoService(deps) }));
    app.route("/api/v1", api);
  });
  afterAll(async () => {
    await daemon?.stop();
    await db?.drop();
    fs.rmSync(served, { recursive: true, force: true });
    fs.rmSync(data, { recursive: true, force: true });
  });

  function cli(env: Record<string, string> = {}, token = "user") {
    const out = { stdout: "", stderr: "" };
    const io = completeIo({
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
      env: { XDG_CONFIG_HOME: path.join(data, "xdg"), ...env },
      cwd: data,
      fetch: ((input: Request | string | URL, init?: RequestInit) => app.request(input instanceof Request ? input : String(input), init)) as typeof fetch,
    });
    return { ctx: new Context(io, { url: "http://vh.test", token }), out };
  }

  it("adds, lists, shows and removes a repository", async () => {
    const add = cli({ HOOK_SECRET: "h".repeat(24) });
    expect(await repoAddCommand(add.ctx, daemon.url("vision"), { branch: ["main"], poll: "30", webhookSecretEnv: "HOOK_SECRET" })).toBe(0);
    expect(add.out.stderr).toMatch(/^Repository 127\.0\.0\.1\/vision linked \(id (\d+), project vision\); watching main, polled every 30 s\./);
    expect(add.out.stderr).toContain("Webhook: POST http://vh.test/api/git/webhooks/");
    const id = Number(/id (\d+)/.exec(add.out.stderr)![1]);

    const list = cli();
    expect(await repoListCommand(list.ctx)).toBe(0);
    expect(list.out.stdout).toMatch(/^ID\s+NAME\s+PROJECT\s+WATCHING\s+LAST POLL\s+STATE\n/);
    expect(list.out.stdout).toMatch(new RegExp(`^${id}\\s+127\\.0\\.0\\.1/vision\\s+vision\\s+main\\s+never\\s+not polled yet$`, "m"));

    const json = cli();
    await repoListCommand(json.ctx, { json: true });
    const parsed = JSON.parse(json.out.stdout) as Record<string, unknown>[];
    expect(parsed).toHaveLength(1);
    expect(parsed[0]).toMatchObject({ id, url: daemon.url("vision"), webhook: { path: `/api/git/webhooks/${id}` } });
    expect(json.out.stdout).not.toContain("h".repeat(24));

    repo.commit({ "valohai.yaml": BROKEN_YAML }, "break it");
    await pollAsWorker(deps, id);
    const status = cli();
    expect(await repoStatusCommand(status.ctx, String(id))).toBe(0);
    expect(status.out.stdout).toMatch(/^Repository:\s+127\.0\.0\.1\/vision \(id \d+\)$/m);
    expect(status.out.stdout).toMatch(/^Last error:\s+-$/m);
    expect(status.out.stdout).toMatch(/^valohai\.yaml at [0-9a-f]{7}:\n  valohai\.yaml:7:15: /m);

    const removed = cli();
    expect(await repoRemoveCommand(removed.ctx, "127.0.0.1/vision")).toBe(0);
    expect(removed.out.stderr).toBe(`Repository 127.0.0.1/vision (id ${id}) removed: it is no longer polled.\n`);
    const empty = cli();
    await repoListCommand(empty.ctx);
    expect(empty.out.stdout).toMatch(/^No repositories linked/);
  });

  it("status exits 1 while polls fail", async () => {
    const own = tempDir("vh-git-cli-flaky-");
    const flaky = await startGitDaemon(own);
    try {
      new TestRepo(own, "flaky").commit({ "valohai.yaml": VALID_YAML }, "first");
      const add = cli();
      await repoAddCommand(add.ctx, flaky.url("flaky"), { json: true });
      const id = (JSON.parse(add.out.stdout) as { id: number }).id;
      await flaky.stop();
      await pollAsWorker(deps, id);
      const status = cli();
      expect(await repoStatusCommand(status.ctx, String(id))).toBe(1);
      expect(status.out.stdout).toMatch(/^Failures:\s+1$/m);
      expect(status.out.stdout).toMatch(/^Last error:\s+git:\/\/.*unreachable/m);
      await repoRemoveCommand(cli().ctx, String(id));
    } finally {
      await flaky.stop();
      fs.rmSync(own, { recursive: true, force: true });
    }
  });

  it("the CLI checks its own inputs before sending anything", async () => {
    await expect(repoAddCommand(cli().ctx, daemon.url("vision"), { key: "no/such/key" })).rejects.toThrow(/--key no\/such\/key: cannot read .* \(ENOENT\)/);
    await expect(repoAddCommand(cli().ctx, daemon.url("vision"), { webhookSecretEnv: "UNSET" })).rejects.toThrow(/--webhook-secret-env UNSET: that environment variable is not set here/);
    await expect(repoAddCommand(cli().ctx, daemon.url("vision"), { poll: "1.5" })).rejects.toThrow(/--poll takes whole seconds/);
  });

  it("REST: refusals come back as API errors", async () => {
    const req = (method: string, p: string, body?: unknown, token = "user") =>
      app.request(`/api/v1${p}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const noUrl = await req("POST", "/repos", { branches: "main" });
    expect(noUrl.status).toBe(400);
    expect(((await noUrl.json()) as { error: { message: string } }).error.message).toMatch(/^Send \{"url": .*url: .*branches: /);
    const file = await req("POST", "/repos", { url: repo.fileUrl });
    expect(file.status).toBe(403);
    expect(((await file.json()) as { error: { message: string } }).error.message).toMatch(/only an admin token may link them/);
    const asAdmin = await req("POST", "/repos", { url: repo.fileUrl, project: "vision-local" }, "admin");
    expect(asAdmin.status).toBe(201);
    const view = (await asAdmin.json()) as { id: number; kind: string; project: string };
    expect(view).toMatchObject({ kind: "file", project: "vision-local" });
    expect((await req("GET", `/repos/${view.id}`)).status).toBe(200);
    expect(await (await req("DELETE", `/repos/${view.id}`)).json()).toEqual({ removed: { id: view.id, name: repo.bare.slice(1).replace(/\.git$/, "") } });
    const gone = await req("GET", `/repos/${view.id}`);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { error: { message: string } }).error.message).toMatch(/No linked repository/);
  });
});
