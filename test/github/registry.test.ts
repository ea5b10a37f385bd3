import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import nock from "nock";
import { afterAll, describe, expect, it } from "vitest";
import { createForgeProvider, forges, storeGitHubApp } from "../../app/forges/registry.js";
import { loadConfig, storedGitHubAppConfig } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import { NOT_CONFIGURED_MESSAGE } from "../../app/forges/not-configured/index.js";
import { TestOctokit } from "./helpers.js";

const dir = path.resolve(import.meta.dirname, "../../app/forges");

describe("forge registry", () => {
  it("has one key per forge folder, and every folder has an entry (index.ts) and a contract note (readme.md)", () => {
    const folders = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    expect(Object.keys(forges).sort()).toEqual(folders);
    for (const f of folders) expect(fs.readdirSync(path.join(dir, f))).toEqual(expect.arrayContaining(["index.ts", "readme.md"]));
  });

  it("the not-configured forge fails with the settings to set", async () => {
    const config = loadConfig({ VH_DATA_DIR: "/tmp/x" });
    expect(config.github).toBeNull();
    const provider = forges.github({ config, log: createLogger("silent") });
    expect(provider.kind).toBe("not-configured");
    await expect(provider.forInstallation(1)).rejects.toThrow(NOT_CONFIGURED_MESSAGE);
  });
});

describe("the live forge provider (one per process, shared by the HTTP server and the worker)", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vh-live-forge-"));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const app = { id: 77, slug: "vh-test", name: "vh test", html_url: "https://github.com/apps/vh-test", owner: null, client_id: "c", client_secret: "s", webhook_secret: "w", pem };

  it("is not configured until useGitHubApp, then GitHub's, with config.github the App it serves", async () => {
    const dataDir = path.join(tmp, "a");
    const config = loadConfig({ VH_DATA_DIR: dataDir });
    const live = createForgeProvider({ config, log: createLogger("silent") });
    expect(live.kind).toBe("not-configured");
    await expect(live.forInstallation(1)).rejects.toThrow(NOT_CONFIGURED_MESSAGE);
    storeGitHubApp(dataDir, app, config.githubHost);
    const stored = storedGitHubAppConfig(config)!;
    live.useGitHubApp(stored);
    expect(live.kind).toBe("github");
    expect(config.github).toBe(stored);
  });

  it("while unconfigured, picks up an App another process stored in the same data dir (npm run worker), and signs with its key", async () => {
    const dataDir = path.join(tmp, "b");
    const config = loadConfig({ VH_DATA_DIR: dataDir });
    const live = createForgeProvider({ config, log: createLogger("silent"), Octokit: TestOctokit });
    await expect(live.forInstallation(1)).rejects.toThrow(NOT_CONFIGURED_MESSAGE);
    storeGitHubApp(dataDir, app, config.githubHost);
    nock.disableNetConnect();
    let jwt = "";
    const scope = nock("https://api.github.com")
      .post("/app/installations/1/access_tokens")
      .reply(function () {
        jwt = String(this.req.headers["authorization"]).replace(/^bearer /i, "");
        return [201, { token: "ghs_live", expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: {} }];
      })
      .get("/repos/o/r/pulls/3")
      .matchHeader("authorization", "token ghs_live")
      .reply(404, { message: "Not Found" });
    try {
      const forge = await live.forInstallation(1);
      await expect(forge.getPullRequest({ id: 1, fullName: "o/r", owner: "o", name: "r", installationId: 1 }, 3)).rejects.toThrow(/HTTP 404/);
      expect(scope.isDone()).toBe(true);
    } finally {
      nock.cleanAll();
      nock.enableNetConnect();
    }
    expect(live.kind).toBe("github");
    expect(config.github).toMatchObject({ appId: 77, webhookSecret: "w", registered: { slug: "vh-test" } });
    // the installation token was asked for as App 77, signed with the stored key
    const [h, p, sig] = jwt.split(".");
    expect(JSON.parse(Buffer.from(p!, "base64url").toString())).toMatchObject({ iss: 77 });
    expect(verify("sha256", Buffer.from(`${h}.${p}`), createPublicKey(pem), Buffer.from(sig!, "base64url"))).toBe(true);
  });
});
