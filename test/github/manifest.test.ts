/**
 * The manifest flow's pieces on their own: the manifest from app.yml, GitHub's "new App" address on
 * github.com and on GitHub Enterprise Server, and the code exchange on each API root (nock, the
 * request asserted), with GitHub's refusals turned into what to do.
 */
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.js";
import { buildGitHubManifest, convertGitHubManifestCode, newGitHubAppUrl } from "../../app/forges/registry.js";
import { appKey } from "./helpers.js";

const answer = {
  id: 9,
  slug: "vh-ghes",
  name: "vh ghes",
  owner: { login: "ml-team" },
  html_url: "https://ghe.example.com/github-apps/vh-ghes",
  client_id: "Iv1.x",
  client_secret: "cs",
  webhook_secret: "ws",
  pem: appKey(),
};

describe("the App manifest", () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it("fills app.yml with the public URL (any path prefix kept), keeps it private, and checks the name", () => {
    const m = buildGitHubManifest({ publicUrl: "https://ml.example.com/vh/", name: "vh-ml" });
    expect(m).toMatchObject({
      name: "vh-ml",
      url: "https://ml.example.com/vh",
      hook_attributes: { url: "https://ml.example.com/vh/api/github/webhooks", active: true },
      redirect_url: "https://ml.example.com/vh/setup/github/callback",
      public: false,
    });
    expect(() => buildGitHubManifest({ publicUrl: "https://x", name: "a".repeat(35) })).toThrow(/1 to 34 letters/);
    expect(() => buildGitHubManifest({ publicUrl: "https://x", name: "<script>" })).toThrow(/1 to 34 letters/);
  });

  it("posts to the account's or the organization's new-App page, on github.com or GitHub Enterprise Server", () => {
    const dotcom = loadConfig({ VH_DATA_DIR: "/tmp/x" }).githubHost;
    const ghes = loadConfig({ VH_DATA_DIR: "/tmp/x", GHE_HOST: "ghe.example.com" }).githubHost;
    expect(newGitHubAppUrl(dotcom, "s t")).toBe("https://github.com/settings/apps/new?state=s%20t");
    expect(newGitHubAppUrl(ghes, "abc", "ml-team")).toBe("https://ghe.example.com/organizations/ml-team/settings/apps/new?state=abc");
    expect(() => newGitHubAppUrl(dotcom, "abc", "a/b")).toThrow(/is not a GitHub organization name/);
    expect(() => newGitHubAppUrl(dotcom, "abc", "-x")).toThrow(/is not a GitHub organization name/);
  });

  it("exchanges the code on the GitHub Enterprise Server API root, without credentials", async () => {
    const host = loadConfig({ VH_DATA_DIR: "/tmp/x", GHE_HOST: "ghe.example.com" }).githubHost;
    let headers: Record<string, unknown> = {};
    const scope = nock("https://ghe.example.com")
      .post("/api/v3/app-manifests/0a1b2c/conversions", (body) => body === "" || body === undefined || Object.keys(body as object).length === 0)
      .reply(function () {
        headers = { ...this.req.headers };
        return [201, { ...answer, extra: "ignored" }];
      });
    expect(await convertGitHubManifestCode({ host, code: "0a1b2c" })).toEqual(answer);
    expect(scope.isDone()).toBe(true);
    expect(headers["authorization"]).toBeUndefined();
  });

  it("a used or expired code says to start again; a malformed one is refused before any request; a strange answer is GitHub's fault", async () => {
    const host = loadConfig({ VH_DATA_DIR: "/tmp/x" }).githubHost;
    nock("https://api.github.com").post("/app-manifests/used/conversions").reply(422, { message: "Validation Failed" });
    await expect(convertGitHubManifestCode({ host, code: "used" })).rejects.toThrow(
      "GitHub did not accept the code (HTTP 422): it works once and for one hour. Start the set-up again.",
    );
    await expect(convertGitHubManifestCode({ host, code: "../../user" })).rejects.toThrow(/malformed/);
    nock("https://api.github.com").post("/app-manifests/odd/conversions").reply(201, { id: 1 });
    await expect(convertGitHubManifestCode({ host, code: "odd" })).rejects.toMatchObject({ code: "forge_error" });
    nock("https://api.github.com").post("/app-manifests/down/conversions").reply(502, "bad gateway");
    await expect(convertGitHubManifestCode({ host, code: "down" })).rejects.toThrow(/exchanging the App manifest's code failed \(HTTP 502\)/);
    expect(nock.pendingMocks()).toEqual([]);
  });
});
