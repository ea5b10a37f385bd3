/**
 * The GitHub App set-up page (the manifest flow), served while no App is configured:
 *
 * 1. `GET /setup/github` (signed in with an admin token, the home page's cookie) makes a `state`,
 *    remembers it bound to that token, sets it in a cookie of its own, and shows a form that posts
 *    the manifest (app.yml, filled from VH_PUBLIC_URL) to GitHub with that `state`.
 * 2. GitHub creates the App and sends the browser to `GET /setup/github/callback?code&state`. The
 *    state must be one this server made within the hour, not used before, and the one in this
 *    browser's cookie (the session cookie is SameSite=Strict, so it does not come back from
 *    github.com; the state cookie is Lax, so it does); the token it is bound to must still be an
 *    admin's. Only then is the code exchanged (`POST /app-manifests/{code}/conversions`).
 * 3. The App is stored in VH_DATA_DIR (mode 0600) and served at once: config.github becomes it, so
 *    the webhook route verifies with its secret, and the shared forge provider (the worker's tasks
 *    too) uses its key. The page then closes: with an App configured it only says so.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { secureHeaders } from "hono/secure-headers";
import type { Sql } from "../../../db/client.js";
import { storedGitHubAppConfig, type Config } from "../../config.js";
import type { Logger } from "../../log.js";
import { VhError } from "../../errors.js";
import { findToken } from "../../auth/api-tokens.js";
import { SESSION_COOKIE } from "../middleware/auth.js";
import {
  buildGitHubManifest,
  checkGitHubAppName,
  checkGitHubOrganization,
  convertGitHubManifestCode,
  GITHUB_SETUP_PATH,
  GITHUB_WEBHOOK_PATH,
  newGitHubAppUrl,
  storeGitHubApp,
  type LiveForges,
} from "../../forges/registry.js";
import { esc, page } from "./layout.js";

export const SETUP_COOKIE = "vh_github_setup";
/** GitHub's code lives one hour; a state lives as long. */
export const STATE_TTL_MS = 60 * 60 * 1000;
/** Pending states kept at most (each render of the page makes one). */
const MAX_PENDING = 32;

export interface GitHubSetupDeps {
  config: Config;
  sql: Sql;
  log: Logger;
  forges: LiveForges;
  fetch?: typeof fetch;
}

type Page = { status: 200 | 400 | 401 | 403 | 409 | 500 | 502 | 503; title: string; body: string };

export function githubSetupRoutes(deps: GitHubSetupDeps): Hono {
  const pending = new Map<string, { tokenId: string; until: number }>();
  let exchanging = false;
  const publicUrl = deps.config.http.publicUrl;
  const secureCookie = !!publicUrl?.startsWith("https://");

  const app = new Hono();
  app.use(
    "*",
    secureHeaders({
      // no script at all; forms go only here and to GitHub; never framed
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        styleSrc: ["'unsafe-inline'"],
        formAction: ["'self'", deps.config.githubHost.webUrl],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      referrerPolicy: "no-referrer",
    }),
  );
  app.use("*", async function noStore(c, next) {
    await next();
    c.header("Cache-Control", "no-store");
  });

  const show = (c: Context, p: Page) => c.html(page(`vh — ${p.title}`, p.body), p.status);

  /** The signed-in admin's token id, or the page to show instead. */
  async function admin(c: Context): Promise<string | Page> {
    const token = getCookie(c, SESSION_COOKIE);
    const row = token ? await findToken(deps.sql, token) : null;
    if (!row) {
      return {
        status: 401,
        title: "sign in",
        body: `<h1>Set up the GitHub App</h1><p>Sign in first: on <a href="/">the home page</a>, paste the admin token (in <code>VH_DATA_DIR/admin-token</code>), then open <a href="${GITHUB_SETUP_PATH}">${GITHUB_SETUP_PATH}</a> again.</p>`,
      };
    }
    if (!row.admin) return { status: 403, title: "admins only", body: `<h1>Set up the GitHub App</h1><p class="error">Only an admin token may set up the GitHub App; sign in with the one in <code>VH_DATA_DIR/admin-token</code>.</p>` };
    return row.id;
  }

  function configuredPage(status: 200 | 409): Page {
    const gh = deps.config.github!;
    const where = gh.registered ? `<a href="${esc(gh.registered.htmlUrl)}">${esc(gh.registered.name)}</a> (stored in <code>${esc(gh.registered.file)}</code>)` : `App ${gh.appId} (from APP_ID)`;
    return {
      status,
      title: "GitHub App configured",
      body: `<h1>The GitHub App is configured</h1><p>This server serves ${where}; its webhooks arrive at <code>${esc((publicUrl ?? "") + GITHUB_WEBHOOK_PATH)}</code>.</p>
<p>To use another App, set <code>APP_ID</code>, <code>PRIVATE_KEY</code> and <code>WEBHOOK_SECRET</code> (they win over the stored App), or remove the stored file and restart.</p>`,
    };
  }

  app.get("/", async (c) => {
    const who = await admin(c);
    if (typeof who !== "string") return show(c, who);
    if (deps.config.github) return show(c, configuredPage(200));
    if (!publicUrl) {
      return show(c, {
        status: 503,
        title: "set VH_PUBLIC_URL",
        body: `<h1>Set up the GitHub App</h1><p class="error">Set <code>VH_PUBLIC_URL</code> to the address GitHub and your browser reach this server at (for example <code>https://vh.example.com</code>), and restart: the App's webhook URL and the way back here are made from it.</p>`,
      });
    }
    let name: string | undefined;
    let org: string | undefined;
    try {
      const n = c.req.query("name")?.trim();
      const o = c.req.query("org")?.trim();
      name = n ? checkGitHubAppName(n) : undefined;
      org = o ? checkGitHubOrganization(o) : undefined;
    } catch (err) {
      if (!(err instanceof VhError)) throw err;
      return show(c, { status: 400, title: "set up the GitHub App", body: `<h1>Set up the GitHub App</h1><p class="error">${esc(err.message)}</p><p><a href="${GITHUB_SETUP_PATH}">Back</a></p>` });
    }
    const manifest = buildGitHubManifest({ publicUrl, ...(name ? { name } : {}) });
    const state = randomBytes(32).toString("base64url");
    const now = Date.now();
    for (const [s, p] of pending) if (p.until <= now) pending.delete(s);
    while (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value!);
    pending.set(state, { tokenId: who, until: now + STATE_TTL_MS });
    setCookie(c, SETUP_COOKIE, state, { httpOnly: true, sameSite: "Lax", secure: secureCookie, path: GITHUB_SETUP_PATH, maxAge: STATE_TTL_MS / 1000 });
    const json = JSON.stringify(manifest, null, 2);
    return show(c, {
      status: 200,
      title: "set up the GitHub App",
      body: `<h1>Set up the GitHub App</h1>
<p>vh registers a private GitHub App on ${esc(org ? `the organization ${org}` : "your own GitHub account")} from its manifest (<code>app.yml</code>), with the least permissions it needs. GitHub sends you back here, and vh stores the App's key and secrets in its data directory and serves it at once.</p>
<form method="get" action="${GITHUB_SETUP_PATH}">
<div><label for="name">App name</label> <input id="name" name="name" value="${esc(manifest.name)}" maxlength="34"> (unique on GitHub)</div>
<div><label for="org">Organization</label> <input id="org" name="org" value="${esc(org ?? "")}" placeholder="leave empty for your account"></div>
<button>Change</button></form>
<form method="post" action="${esc(newGitHubAppUrl(deps.config.githubHost, state, org))}">
<input type="hidden" name="manifest" value="${esc(JSON.stringify(manifest))}">
<button>Create the App on ${esc(deps.config.githubHost.webUrl.replace(/^https?:\/\//, ""))}</button></form>
<p>Webhooks will arrive at <code>${esc(manifest.hook_attributes.url)}</code>: GitHub must reach it.</p>
<details><summary>The manifest</summary><pre>${esc(json)}</pre></details>`,
    });
  });

  app.get("/callback", async (c) => {
    const given = c.req.query("state") ?? "";
    const cookie = getCookie(c, SETUP_COOKIE) ?? "";
    const entry = given ? pending.get(given) : undefined;
    // single use: whatever happens next, this state is spent
    if (entry) pending.delete(given);
    deleteCookie(c, SETUP_COOKIE, { path: GITHUB_SETUP_PATH, secure: secureCookie });
    // Unauthenticated here: say only that the set-up is closed, not which App or where it is stored.
    if (deps.config.github) return show(c, { status: 409, title: "GitHub App configured", body: `<h1>The GitHub App is already configured</h1><p>This set-up is closed.</p>` });
    const again = `<p><a href="${GITHUB_SETUP_PATH}">Start the set-up again</a>.</p>`;
    const [g, k] = [Buffer.from(given), Buffer.from(cookie)];
    const sameBrowser = g.length > 0 && g.length === k.length && timingSafeEqual(g, k);
    if (!entry || entry.until <= Date.now() || !sameBrowser) {
      deps.log.warn("GitHub App set-up: callback refused (unknown, expired, used, or another browser's state)");
      return show(c, {
        status: 400,
        title: "set-up refused",
        body: `<h1>Set-up refused</h1><p class="error">This answer from GitHub does not match a set-up started in this browser within the hour (or it was used already), so vh did not ask GitHub for the App's credentials.</p>${again}`,
      });
    }
    const [owner] = await deps.sql<{ admin: boolean }[]>`select admin from api_tokens where id = ${entry.tokenId}`;
    if (!owner?.admin) return show(c, { status: 403, title: "set-up refused", body: `<h1>Set-up refused</h1><p class="error">The admin token that started this set-up is no longer valid.</p>${again}` });
    const code = c.req.query("code") ?? "";
    if (exchanging) return show(c, { status: 409, title: "set-up busy", body: `<h1>Set-up busy</h1><p class="error">Another set-up is finishing right now.</p>${again}` });
    exchanging = true;
    try {
      return show(c, await finish(code, again));
    } finally {
      exchanging = false;
    }
  });

  async function finish(code: string, again: string): Promise<Page> {
    let created;
    try {
      created = await convertGitHubManifestCode({ host: deps.config.githubHost, code, ...(deps.fetch ? { fetch: () => deps.fetch! } : {}) });
    } catch (err) {
      const userMistake = err instanceof VhError && err.code === "bad_request";
      deps.log.warn("GitHub App set-up: the code exchange failed", { err: (err as Error).message });
      return { status: userMistake ? 400 : 502, title: "set-up failed", body: `<h1>Set-up failed</h1><p class="error">${esc((err as Error).message)}</p>${again}` };
    }
    let file: string;
    let served;
    try {
      file = storeGitHubApp(deps.config.dataDir, created, deps.config.githubHost);
      served = storedGitHubAppConfig(deps.config);
      if (!served) throw new VhError("internal", `${file} was written but reads back as no App.`);
    } catch (err) {
      deps.log.error("GitHub App set-up: the App was created on GitHub but could not be stored", { appId: created.id, slug: created.slug, err: (err as Error).message });
      return {
        status: err instanceof VhError && err.code === "conflict" ? 409 : 500,
        title: "set-up failed",
        body: `<h1>Set-up failed</h1><p class="error">GitHub created the App <a href="${esc(created.html_url)}">${esc(created.name)}</a>, but vh could not store it: ${esc((err as Error).message)}</p>
<p>Delete that App on GitHub (its settings → Advanced), then start again.</p>${again}`,
      };
    }
    deps.forges.useGitHubApp(served);
    deps.log.info("GitHub App set up", { appId: created.id, slug: created.slug, htmlUrl: created.html_url, file });
    return {
      status: 200,
      title: "GitHub App ready",
      body: `<h1 class="ok">The GitHub App is ready</h1>
<p>GitHub created <a href="${esc(created.html_url)}">${esc(created.name)}</a> (App ${created.id}); vh stored its key and secrets in <code>${esc(file)}</code> (mode 0600) and serves it now, and at every start.</p>
<p><strong>Next:</strong> <a href="${esc(created.html_url)}/installations/new">install it on your repositories</a>, then comment <code>/vh run STEP</code> on a pull request.</p>`,
    };
  }

  return app;
}
