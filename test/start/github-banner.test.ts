/**
 * What `npm start` says about the GitHub App: where to set it up while there is none, and where
 * GitHub must send the webhooks once there is one (from the environment or stored by the set-up
 * page), VH_PUBLIC_URL first.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeGitHubApp } from "../../app/forges/registry.js";
import { createTestDatabase } from "../helpers/db.js";
import { freePort } from "../helpers/net.js";
import { startServerProcess, stopServerProcess, type ServerProcess } from "../helpers/server-process.js";
import { waitFor } from "../helpers/stack.js";
import { appKey } from "../github/helpers.js";

describe("the start banner's GitHub line", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-banner-"));
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function banner(name: string, extra: Record<string, string>, publicUrl: boolean): Promise<{ text: string; url: string; server: ServerProcess }> {
    const port = String(await freePort());
    const env = {
      DATABASE_URL: db.connectionString,
      VH_DATA_DIR: path.join(dir, name),
      PORT: port,
      XDG_CONFIG_HOME: path.join(dir, `${name}-xdg`),
      HOME: dir,
      VH_LOG_LEVEL: "warn",
      ...(publicUrl ? { VH_PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
      ...extra,
    };
    const server = await startServerProcess(env);
    const text = await waitFor("the whole banner", async () => (server.output().includes("Press Ctrl-C") ? server.output() : undefined));
    return { text, url: `http://127.0.0.1:${port}`, server };
  }

  it("without an App: the set-up page's URL (which serves), and the settings that would do instead", async () => {
    const { text, url, server } = await banner("none", {}, true);
    try {
      expect(text).toContain(`  GitHub:   no App yet: set it up at ${url}/setup/github, or set APP_ID, PRIVATE_KEY and WEBHOOK_SECRET\n`);
      expect((await fetch(`${url}/setup/github`)).status).toBe(401);
      expect((await fetch(`${url}/api/github/webhooks`, { method: "POST" })).status).toBe(503);
    } finally {
      expect(await stopServerProcess(server.child)).toBe(0);
    }
  });

  it("with the App the set-up page stored: its name and the webhook URL on VH_PUBLIC_URL", async () => {
    const dataDir = path.join(dir, "stored");
    storeGitHubApp(
      dataDir,
      { id: 4242, slug: "vh-ml", name: "vh ml", html_url: "https://github.com/apps/vh-ml", owner: null, client_id: "c", client_secret: "s", webhook_secret: "w", pem: appKey() },
      { baseUrl: "https://api.github.com" },
    );
    const { text, url, server } = await banner("stored", {}, true);
    try {
      expect(text).toContain(`  GitHub:   vh ml (App 4242), webhooks at ${url}/api/github/webhooks\n`);
    } finally {
      expect(await stopServerProcess(server.child)).toBe(0);
    }
  });

  it("with the App from the environment and no VH_PUBLIC_URL: the local webhook URL, and a nudge to set it", async () => {
    const { text, url, server } = await banner("env", { APP_ID: "123", PRIVATE_KEY: appKey(), WEBHOOK_SECRET: "s" }, false);
    try {
      expect(text).toContain(`  GitHub:   App 123, webhooks at ${url}/api/github/webhooks (set VH_PUBLIC_URL to the address GitHub reaches)\n`);
    } finally {
      expect(await stopServerProcess(server.child)).toBe(0);
    }
  });
});
