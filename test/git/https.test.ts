/**
 * https:// repositories against a real smart-HTTP Git server on loopback: Node's https (a
 * self-signed certificate, trusted through GIT_SSL_CAINFO) in front of `git http-backend`,
 * demanding Basic auth. The token comes from the VH_GIT_TOKEN_* variable the repository names, is
 * sent as a header (never in a URL or on a command line), is never in a message, and is not
 * followed through a redirect.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { linkRepository } from "../../app/forges/git/repos.js";
import type { GitDeps } from "../../app/forges/git/types.js";
import { createTestDatabase } from "../helpers/db.js";
import { GIT_ENV, gitDeliveries, gitDeps, pollAsWorker, tempDir, TestRepo, VALID_YAML } from "./helpers.js";

const hasOpenssl = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const TOKEN = "glpat-THE-SECRET-TOKEN-1234";

/** A smart-HTTP Git server: Basic auth `x-access-token:TOKEN` required, `/moved.git/…` redirected. */
async function startHttpsGit(root: string, certDir: string): Promise<{ url: string; auths: string[]; close(): Promise<void> }> {
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-keyout", path.join(certDir, "key.pem"), "-out", path.join(certDir, "cert.pem"),
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
  ], { stdio: "ignore" });
  const auths: string[] = [];
  const expected = `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString("base64")}`;
  const server = https.createServer({ key: fs.readFileSync(path.join(certDir, "key.pem")), cert: fs.readFileSync(path.join(certDir, "cert.pem")) }, (req, res) => {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    auths.push(req.headers.authorization ?? "");
    if (url.pathname.startsWith("/moved.git/")) {
      res.writeHead(301, { location: url.pathname.replace("/moved.git/", "/vision.git/") + url.search }).end();
      return;
    }
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="git"' }).end("no");
      return;
    }
    const cgi = spawn("git", ["http-backend"], {
      env: {
        ...GIT_ENV,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? "GET",
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        ...(req.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"]) } : {}),
        ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
        REMOTE_USER: "x-access-token",
        REMOTE_ADDR: "127.0.0.1",
      },
      stdio: ["pipe", "pipe", "ignore"],
    });
    req.pipe(cgi.stdin);
    const out: Buffer[] = [];
    cgi.stdout.on("data", (c: Buffer) => out.push(c));
    cgi.on("close", () => {
      const all = Buffer.concat(out);
      const cut = all.indexOf("\r\n\r\n");
      const head = all.subarray(0, cut).toString("utf8").split("\r\n");
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head) {
        const i = line.indexOf(":");
        const k = line.slice(0, i).trim().toLowerCase();
        const v = line.slice(i + 1).trim();
        if (k === "status") status = Number(v.split(" ")[0]);
        else headers[k] = v;
      }
      res.writeHead(status, headers).end(all.subarray(cut + 4));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `https://127.0.0.1:${port}`, auths, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe.skipIf(!hasOpenssl)("https:// repositories", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let served: string;
  let data: string;
  let server: Awaited<ReturnType<typeof startHttpsGit>>;
  let repo: TestRepo;
  let deps: GitDeps;

  beforeAll(async () => {
    db = await createTestDatabase();
    served = tempDir("vh-git-https-served-");
    data = tempDir("vh-git-https-data-");
    server = await startHttpsGit(served, data);
    repo = new TestRepo(served, "vision");
    repo.commit({ "valohai.yaml": VALID_YAML }, "first");
    deps = gitDeps(db.sql, path.join(data, "vh"), {
      env: { PATH: process.env["PATH"], HOME: data, GIT_SSL_CAINFO: path.join(data, "cert.pem"), VH_GIT_TOKEN_TEST: TOKEN, VH_GIT_TOKEN_TEST_HOST: "127.0.0.1", VH_GIT_TOKEN_WRONG: "not-the-token", VH_GIT_TOKEN_WRONG_HOST: "127.0.0.1", VH_GIT_TOKEN_ELSEWHERE: TOKEN, VH_GIT_TOKEN_ELSEWHERE_HOST: "git.corp.example" },
    });
  });
  afterAll(async () => {
    await server?.close();
    await db?.drop();
    fs.rmSync(served, { recursive: true, force: true });
    fs.rmSync(data, { recursive: true, force: true });
  });

  it("without a token, or with a wrong one, the link fails naming the variable, and never shows the token", async () => {
    await expect(linkRepository(deps, { url: `${server.url}/vision.git` })).rejects.toThrow(/asks for credentials.*VH_GIT_TOKEN_… variable on the vh server/);
    const err = (await linkRepository(deps, { url: `${server.url}/vision.git`, tokenEnv: "VH_GIT_TOKEN_WRONG" }).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/refused the token in VH_GIT_TOKEN_WRONG/);
    expect(err.message).not.toContain("not-the-token");
    // a token named for another host is never sent here
    await expect(linkRepository(deps, { url: `${server.url}/vision.git`, tokenEnv: "VH_GIT_TOKEN_ELSEWHERE" })).rejects.toThrow(
      "VH_GIT_TOKEN_ELSEWHERE may be sent only to git.corp.example (VH_GIT_TOKEN_ELSEWHERE_HOST), not to 127.0.0.1.",
    );
  });

  it("links and polls with the token from the server's environment; the database never holds it", async () => {
    const view = await linkRepository(deps, { url: `${server.url}/vision.git`, tokenEnv: "VH_GIT_TOKEN_TEST" });
    expect(view).toMatchObject({ kind: "https", credentials: "token", tokenEnv: "VH_GIT_TOKEN_TEST", defaultBranch: "main" });
    const sha = repo.commit({}, "/vh run train lr=0.2");
    expect((await pollAsWorker(deps, view.id)).recorded).toBe(1);
    expect((await gitDeliveries(db.sql)).map((d) => d.id)).toEqual([`${view.id}:${sha}`]);
    const dump = JSON.stringify(await db.sql`select * from git_repositories`);
    expect(dump).not.toContain(TOKEN);
    expect(dump).not.toContain(Buffer.from(`x-access-token:${TOKEN}`).toString("base64"));
  });

  it("does not follow a redirect (the token would go along)", async () => {
    const before = server.auths.length;
    await expect(linkRepository(deps, { url: `${server.url}/moved.git`, tokenEnv: "VH_GIT_TOKEN_TEST" })).rejects.toThrow(/moved\.git/);
    const asked = server.auths.slice(before);
    expect(asked).toHaveLength(1);
  });
});
