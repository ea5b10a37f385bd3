import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import nock from "nock";
import { afterAll, describe, expect, it } from "vitest";
import { createForges, forges, storeGitHubApp } from "../../app/forges/registry.js";
import { loadConfig, storedGitHubAppConfig } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import type { RepoRef } from "../../app/contracts/forge.js";
import { TestOctokit } from "./helpers.js";

const dir = path.resolve(import.meta.dirname, "../../app/forges");
const NOT_CONFIGURED_MESSAGE = forges.github.notConfigured;
const repo = (installationId: number): RepoRef => ({ forge: "github", id: 1, fullName: "o/r", owner: "o", name: "r", installationId });

describe("forge registry", () => {
  it("has one key per forge folder, and every folder has an entry (index.ts) and a contract note (readme.md)", () => {
    const folders = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    expect(Object.keys(forges).sort()).toEqual(folders);
    for (const f of folders) expect(fs.readdirSync(path.join(dir, f))).toEqual(expect.arrayContaining(["index.ts", "readme.md"]));
  });

  it("a forge that is not configured has no provider, and its calls fail with the settings to set", async () => {
    const config = loadConfig({ VH_DATA_DIR: "/tmp/x" });
    expect(config.github).toBeNull();
    expect(forges.github.provider({ config, log: createLogger("silent") })).toBeNull();
    const live = createForges({ config, log: createLogger("silent") });
    expect(() => live.provider("github")).toThrow(NOT_CONFIGURED_MESSAGE);
    await expect(live.forRepo(repo(1))).rejects.toThrow(NOT_CONFIGURED_MESSAGE);
    expect(NOT_CONFIGURED_MESSAGE).toMatch(/APP_ID, PRIVATE_KEY .* WEBHOOK_SECRET/);
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
    const live = createForges({ config, log: createLogger("silent") });
    expect(() => live.provider("github")).toThrow(NOT_CONFIGURED_MESSAGE);
    await expect(live.forRepo(repo(1))).rejects.toThrow(NOT_CONFIGURED_MESSAGE);
    storeGitHubApp(dataDir, app, config.githubHost);
    const stored = storedGitHubAppConfig(config)!;
    live.useGitHubApp(stored);
    expect(live.provider("github").kind).toBe("github");
    expect(config.github).toBe(stored);
  });

  it("while unconfigured, picks up an App another process stored in the same data dir (npm run worker), and signs with its key", async () => {
    const dataDir = path.join(tmp, "b");
    const config = loadConfig({ VH_DATA_DIR: dataDir });
    const live = createForges({ config, log: createLogger("silent"), Octokit: TestOctokit });
    await expect(live.forRepo(repo(1))).rejects.toThrow(NOT_CONFIGURED_MESSAGE);
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
      const forge = await live.forRepo(repo(1));
      await expect(forge.getPullRequest(repo(1), 3)).rejects.toThrow(/HTTP 404/);
      expect(scope.isDone()).toBe(true);
    } finally {
      nock.cleanAll();
      nock.enableNetConnect();
    }
    expect(live.provider("github").kind).toBe("github");
    expect(config.github).toMatchObject({ appId: 77, webhookSecret: "w", registered: { slug: "vh-test" } });
    // the installation token was asked for as App 77, signed with the stored key
    const [h, p, sig] = jwt.split(".");
    expect(JSON.parse(Buffer.from(p!, "base64url").toString())).toMatchObject({ iss: 77 });
    expect(verify("sha256", Buffer.from(`${h}.${p}`), createPublicKey(pem), Buffer.from(sig!, "base64url"))).toBe(true);
  });
});
