/**
 * The GitHub App set-up (manifest flow) on a whole vh started without an App, over real HTTP:
 * webhooks are a 503 naming the settings; the set-up page is for admins and posts app.yml's
 * manifest with this server's URLs and a fresh state; a callback that does not match a set-up
 * started in this browser is refused without asking GitHub; the right one exchanges the code once
 * (nock, request asserted), stores the App 0600 and serves it at once — its secret verifies
 * webhooks, the old one does not, and a `/vh` command is answered through the worker with the
 * App's own key — and the next start on the same data dir serves it again. Nothing secret is logged.
 */
import fs from "node:fs";
import path from "node:path";
import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createToken } from "../../app/auth/api-tokens.js";
import { readAppManifest } from "../../app/forges/github/manifest.js";
import { createTestDatabase } from "../helpers/db.js";
import { freePort } from "../helpers/net.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { API, INSTALLATION, SECRET, TestOctokit, commentPayload, githubApi, repoPath, signedPost } from "./helpers.js";

const NEW_SECRET = "whsec-from-the-manifest-flow";
const CLIENT_SECRET = "client-secret-from-the-manifest-flow";
const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
const conversion = {
  id: 4242,
  slug: "vh-ml",
  node_id: "A_kwDOA",
  name: "vh ml",
  owner: { login: "Codertocat", id: 1, type: "User" },
  html_url: "https://github.com/apps/vh-ml",
  client_id: "Iv1.8a61f9b3a7aba766",
  client_secret: CLIENT_SECRET,
  webhook_secret: NEW_SECRET,
  pem,
  permissions: { checks: "write" },
  events: ["push"],
};

const unescape = (s: string) => s.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)));

describe("GitHub App set-up through the manifest flow", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let again: Stack | null = null;
  let gh: ReturnType<typeof githubApi>;
  let url: string;
  let dataDir: string;
  const jwts: string[] = [];
  const logged: string[] = [];

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
    // before githubApi()'s own token mock, so this one answers and records who asked
    nock(API)
      .persist()
      .post(`/app/installations/${INSTALLATION}/access_tokens`)
      .reply(function () {
        jwts.push(String(this.req.headers["authorization"]).replace(/^bearer /i, ""));
        return [201, { token: "ghs_setup", expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: {} }];
      });
    gh = githubApi();
    db = await createTestDatabase();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // a data dir vh makes itself (mode 0700); the parent is removed afterwards
    dataDir = path.join(tempDir("vh-setup-"), "data");
    // the logger writes to stderr: keep a copy of every line
    const write = process.stderr.write.bind(process.stderr) as (...args: unknown[]) => boolean;
    vi.spyOn(process.stderr, "write").mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      logged.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stderr.write);
    stack = await startStack({
      databaseUrl: db.connectionString,
      dataDir,
      env: { PORT: String(port), VH_PUBLIC_URL: `${url}/`, VH_LOG_LEVEL: "debug", VH_GITHUB_REPORT_INTERVAL_S: "0.2" },
      github: { Octokit: TestOctokit },
    });
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    if (!again) await stack?.stop();
    await again?.stop();
    gh?.reset();
    nock.enableNetConnect();
    await db?.drop();
    fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  const admin = () => ({ cookie: `vh_token=${stack.vh.token}` });
  async function setupPage(query = "", headers: Record<string, string> = admin()) {
    const res = await fetch(`${url}/setup/github${query}`, { headers });
    const html = await res.text();
    const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1];
    const manifest = /name="manifest" value="([^"]+)"/.exec(html)?.[1];
    return {
      res,
      html,
      action: action ? unescape(action) : undefined,
      manifest: manifest ? (JSON.parse(unescape(manifest)) as Record<string, any>) : undefined,
      state: action ? new URL(unescape(action)).searchParams.get("state")! : undefined,
    };
  }
  const callback = (query: string, cookie?: string) => fetch(`${url}/setup/github/callback?${query}`, { headers: cookie ? { cookie } : {}, redirect: "manual" });

  it("without an App, a webhook gets a 503 naming the settings and the set-up page, signed or not", async () => {
    expect(stack.config.github).toBeNull();
    for (const res of [
      await signedPost(url, "ping", { zen: "hi" }, "d-none-1"),
      await fetch(`${url}/api/github/webhooks`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } }),
    ]) {
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({
        error: {
          code: "not_configured",
          message: `No GitHub App is configured on this vh server: create one at ${url}/setup/github (signed in with the admin token), or set APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET and restart.`,
        },
      });
    }
    expect(await db.sql`select id from forge_deliveries`).toEqual([]);
  });

  it("the set-up page is behind the admin sign-in", async () => {
    const anon = await setupPage("", {});
    expect(anon.res.status).toBe(401);
    expect(anon.html).toContain("paste the admin token");
    expect(anon.action).toBeUndefined();
    const { token: ci } = await createToken(db.sql, { name: "ci", role: "member", project: null, expiresAt: null, createdBy: null });
    const other = await setupPage("", { cookie: `vh_token=${ci}` });
    expect(other.res.status).toBe(403);
    expect(other.action).toBeUndefined();
    expect(other.res.headers.get("set-cookie")).toBeNull();
  });

  it("posts app.yml's manifest with this server's URLs, private, and a fresh state in a Lax cookie of its own", async () => {
    const a = await setupPage();
    expect(a.res.status).toBe(200);
    const template = readAppManifest();
    expect(a.action).toBe(`https://github.com/settings/apps/new?state=${a.state}`);
    expect(a.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.manifest).toEqual({
      name: "vh",
      description: template.description,
      url,
      hook_attributes: { url: `${url}/api/github/webhooks`, active: true },
      redirect_url: `${url}/setup/github/callback`,
      public: false,
      default_permissions: { checks: "write", contents: "read", issues: "write", pull_requests: "read", metadata: "read" },
      default_events: ["push", "issue_comment", "check_run", "check_suite", "pull_request", "pull_request_review"],
    });
    const cookie = a.res.headers.get("set-cookie")!;
    expect(cookie).toContain(`vh_github_setup=${a.state}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\/setup\/github/);
    const csp = a.res.headers.get("content-security-policy")!;
    expect(csp).toContain("form-action 'self' https://github.com");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(a.res.headers.get("cache-control")).toBe("no-store");

    const b = await setupPage("?org=octo-org&name=vh%20ml");
    expect(b.state).not.toBe(a.state);
    expect(b.action).toBe(`https://github.com/organizations/octo-org/settings/apps/new?state=${b.state}`);
    expect(b.manifest!["name"]).toBe("vh ml");
    const bad = await setupPage("?org=..%2Fevil");
    expect(bad.res.status).toBe(400);
    expect(bad.html).toContain("is not a GitHub organization name");
    expect(bad.action).toBeUndefined();
  });

  it("a callback that does not match a set-up started in this browser is refused, and GitHub is not asked", async () => {
    const { state } = await setupPage();
    const refusals = [
      await callback(`code=c1&state=${state}`), // no state cookie: another browser
      await callback(`code=c1&state=forged`, `vh_github_setup=forged`), // a state this server never made
      await callback(`code=c1&state=${state}`, `vh_github_setup=${state}`), // the real pair, but already spent above
    ];
    for (const res of refusals) {
      expect(res.status).toBe(400);
      expect(await res.text()).toContain("does not match a set-up started in this browser");
    }
    expect(gh.requests).toEqual([]);
    expect(gh.unmatched).toEqual([]);
    expect(stack.config.github).toBeNull();
  });

  it("the right callback exchanges the code once, stores the App 0600, and serves it at once: its secret verifies, the old does not, /vh answers", async () => {
    const { state } = await setupPage();
    let asked: Record<string, unknown> = {};
    gh.once()
      .post("/app-manifests/abc123def/conversions")
      .reply(function () {
        asked = { ...this.req.headers };
        return [201, conversion];
      });
    // as GitHub's redirect brings it: the state cookie, not the (SameSite=Strict) session cookie
    const res = await callback(`code=abc123def&state=${state}`, `vh_github_setup=${state}`);
    const html = await res.text();
    expect(res.status, html).toBe(200);
    expect(html).toContain(`<a href="https://github.com/apps/vh-ml/installations/new">install it on your repositories</a>`);
    expect(res.headers.get("set-cookie")).toMatch(/vh_github_setup=;/);
    expect(gh.requests).toEqual([{ method: "POST", path: "/app-manifests/abc123def/conversions", body: undefined }]);
    expect(asked["authorization"]).toBeUndefined();
    gh.verify("once");

    const file = path.join(dataDir, "github-app.json");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toMatchObject({
      id: 4242,
      slug: "vh-ml",
      html_url: "https://github.com/apps/vh-ml",
      client_id: "Iv1.8a61f9b3a7aba766",
      client_secret: CLIENT_SECRET,
      webhook_secret: NEW_SECRET,
      pem,
      base_url: "https://api.github.com",
    });
    expect(stack.config.github).toMatchObject({ appId: 4242, webhookSecret: NEW_SECRET, registered: { slug: "vh-ml" } });

    // the page is closed now, and the same answer cannot be used again
    const closed = await setupPage();
    expect(closed.res.status).toBe(200);
    expect(closed.html).toContain("The GitHub App is configured");
    expect(closed.action).toBeUndefined();
    expect((await callback(`code=abc123def&state=${state}`, `vh_github_setup=${state}`)).status).toBe(409);

    // webhooks: verified with the App's new secret; the old one, or none, is refused
    const ping = await signedPost(url, "ping", { zen: "hi", hook_id: 1 }, "d-ping-1", NEW_SECRET);
    expect(ping.status).toBe(200);
    expect(await ping.json()).toEqual({ ok: true, pong: true });
    expect((await signedPost(url, "ping", { zen: "hi" }, "d-ping-2", SECRET)).status).toBe(401);
    const unsigned = await fetch(`${url}/api/github/webhooks`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json", "x-github-event": "ping", "x-github-delivery": "d-ping-3" },
    });
    expect(unsigned.status).toBe(401);

    // a /vh command reaches the worker's forge_event task, which speaks to GitHub as the new App
    gh.once()
      .post(`${repoPath}/issues/comments/5001/reactions`, { content: "eyes" })
      .reply(201, { id: 1, content: "eyes" })
      .post(`${repoPath}/issues/1/comments`)
      .reply(201, { id: 9100 });
    const comment = await signedPost(url, "issue_comment", commentPayload("/vh rnu train"), "d-cmd-1", NEW_SECRET);
    expect(comment.status).toBe(202);
    await waitFor("the reply", async () => (gh.requests.some((r) => r.path === `${repoPath}/issues/1/comments`) ? true : undefined));
    expect(gh.requests.slice(1)).toEqual([
      { method: "POST", path: `${repoPath}/issues/comments/5001/reactions`, body: { content: "eyes" } },
      { method: "POST", path: `${repoPath}/issues/1/comments`, body: { body: expect.stringContaining("@Codertocat `rnu` is not a vh command. Did you mean `/vh run`?") } },
    ]);
    gh.verify("once");
    expect(jwts.length).toBeGreaterThan(0);
    for (const jwt of jwts) {
      const [h, p, sig] = jwt.split(".");
      expect(JSON.parse(Buffer.from(p!, "base64url").toString())).toMatchObject({ iss: 4242 });
      expect(verify("sha256", Buffer.from(`${h}.${p}`), createPublicKey(pem), Buffer.from(sig!, "base64url"))).toBe(true);
    }

    // said in the log, without the key or any secret
    const log = logged.join("");
    expect(log).toContain("GitHub App set up");
    for (const secret of [NEW_SECRET, CLIENT_SECRET, pem.split("\n")[1]!]) expect(log).not.toContain(secret);
  });

  it("the next start on the same data dir serves the stored App without any GitHub setting", async () => {
    await stack.stop();
    const port = await freePort();
    const next = `http://127.0.0.1:${port}`;
    again = await startStack({ databaseUrl: db.connectionString, dataDir, env: { PORT: String(port), VH_PUBLIC_URL: next }, github: { Octokit: TestOctokit } });
    expect(again.config.github).toMatchObject({ appId: 4242, webhookSecret: NEW_SECRET, registered: { slug: "vh-ml", file: path.join(dataDir, "github-app.json") } });
    expect((await signedPost(next, "ping", { zen: "again" }, "d-ping-4", NEW_SECRET)).status).toBe(200);
    expect((await signedPost(next, "ping", { zen: "again" }, "d-ping-5", SECRET)).status).toBe(401);
    const res = await fetch(`${next}/setup/github`, { headers: { cookie: `vh_token=${again.vh.token}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("The GitHub App is configured");
  });
});
