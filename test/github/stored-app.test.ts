/**
 * The App the set-up page stores in VH_DATA_DIR: written 0600 (in a 0700 directory when vh makes it), never
 * overwritten; read by the config reader at every start, each setting overridden by its
 * environment variable; a damaged file or a changed GitHub host is an error naming what to do.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig, storedGitHubAppPath } from "../../app/config.js";
import { storeGitHubApp } from "../../app/forges/registry.js";
import { appKey } from "./helpers.js";

const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
const conversion = {
  id: 4242,
  slug: "vh-ml",
  name: "vh ml",
  html_url: "https://github.com/apps/vh-ml",
  owner: { login: "octo-org" },
  client_id: "Iv1.abc",
  client_secret: "client-secret-xyz",
  webhook_secret: "whsec-stored",
  pem,
};

const dirs: string[] = [];
function dataDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "vh-stored-app-"));
  dirs.push(d);
  fs.chmodSync(d, 0o755);
  return path.join(d, "data");
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("the stored GitHub App", () => {
  it("is written mode 0600 in a 0700 data dir, holds what the next start needs, and is never overwritten", () => {
    const dir = dataDir();
    const file = storeGitHubApp(dir, conversion, { baseUrl: "https://api.github.com" });
    expect(file).toBe(storedGitHubAppPath(dir));
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({
      id: 4242,
      slug: "vh-ml",
      name: "vh ml",
      html_url: "https://github.com/apps/vh-ml",
      owner: "octo-org",
      client_id: "Iv1.abc",
      client_secret: "client-secret-xyz",
      webhook_secret: "whsec-stored",
      pem,
      base_url: "https://api.github.com",
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(() => storeGitHubApp(dir, { ...conversion, id: 1 }, { baseUrl: "https://api.github.com" })).toThrow(/already stored in .*github-app\.json; remove it first/);
    expect(JSON.parse(fs.readFileSync(file, "utf8")).id).toBe(4242);
    // no temporary file left behind
    expect(fs.readdirSync(dir)).toEqual(["github-app.json"]);
  });

  it("leaves the mode of a data dir that was there before alone (it may be shared, like /tmp): the file itself is 0600", () => {
    const dir = dataDir();
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    const file = storeGitHubApp(dir, conversion, { baseUrl: "https://api.github.com" });
    expect(fs.statSync(dir).mode & 0o777).toBe(0o755);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it("is what the config reader serves when the environment names no App", () => {
    const dir = dataDir();
    expect(loadConfig({ VH_DATA_DIR: dir }).github).toBeNull();
    const file = storeGitHubApp(dir, conversion, { baseUrl: "https://api.github.com" });
    const gh = loadConfig({ VH_DATA_DIR: dir, VH_GITHUB_TIMEOUT_S: "5" }).github;
    expect(gh).toMatchObject({
      appId: 4242,
      privateKey: pem,
      privateKeyPath: file,
      webhookSecret: "whsec-stored",
      baseUrl: "https://api.github.com",
      webUrl: "https://github.com",
      requestTimeoutMs: 5000,
      registered: { slug: "vh-ml", name: "vh ml", htmlUrl: "https://github.com/apps/vh-ml", file },
    });
  });

  it("yields to the environment, setting by setting, for its own App only; a full environment does not read it at all", () => {
    const dir = dataDir();
    const file = storeGitHubApp(dir, conversion, { baseUrl: "https://api.github.com" });
    const some = loadConfig({ VH_DATA_DIR: dir, WEBHOOK_SECRET: "from-env" }).github!;
    expect(some).toMatchObject({ appId: 4242, privateKey: pem, webhookSecret: "from-env", registered: { slug: "vh-ml" } });
    // another App's ID borrows nothing from the stored one: it must come whole from the environment
    expect(() => loadConfig({ VH_DATA_DIR: dir, APP_ID: "7", PRIVATE_KEY: appKey() })).toThrow(/partly configured; also set:\n  WEBHOOK_SECRET/);
    fs.writeFileSync(file, "{ damaged");
    const all = loadConfig({ VH_DATA_DIR: dir, APP_ID: "7", PRIVATE_KEY: appKey(), WEBHOOK_SECRET: "env" }).github!;
    expect(all).toMatchObject({ appId: 7, privateKey: appKey().trim(), webhookSecret: "env" });
    expect(all.registered).toBeUndefined();
    expect(all.privateKeyPath).toBeUndefined();
  });

  it("a damaged file, or one from another GitHub host, is an error that names the file and the fix", () => {
    const dir = dataDir();
    const file = storeGitHubApp(dir, conversion, { baseUrl: "https://api.github.com" });
    expect(() => loadConfig({ VH_DATA_DIR: dir, GHE_HOST: "ghe.example.com" })).toThrow(
      `The stored GitHub App ${file} was registered on https://api.github.com, but vh now talks to https://ghe.example.com/api/v3 (GHE_HOST)`,
    );
    fs.writeFileSync(file, JSON.stringify({ id: 4242 }));
    expect(() => loadConfig({ VH_DATA_DIR: dir })).toThrow(new RegExp(`The stored GitHub App ${file} is damaged \\(slug\\): restore it, or remove it`));
  });
});

describe("GitHub and public-URL settings", () => {
  it("GitHub Enterprise Server moves both the API and the web root; VH_PUBLIC_URL loses a trailing slash and must be http(s)", () => {
    const c = loadConfig({ VH_DATA_DIR: "/tmp/x", GHE_HOST: "ghe.example.com", GHE_PROTOCOL: "http", VH_PUBLIC_URL: "https://vh.example.com/ml/" });
    expect(c.githubHost).toMatchObject({ baseUrl: "http://ghe.example.com/api/v3", webUrl: "http://ghe.example.com" });
    expect(c.http.publicUrl).toBe("https://vh.example.com/ml");
    expect(() => loadConfig({ VH_DATA_DIR: "/tmp/x", VH_PUBLIC_URL: "ftp://vh.example.com" })).toThrow(/VH_PUBLIC_URL: must start with http:\/\/ or https:\/\//);
  });
});
