/** The pure parts: URLs taken apart, the ssh command quoted, transports as environment only, the normaliser. */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parseRemote, shellQuote, sshCommand, transportEnv, checkTokenEnv, explainFailure } from "../../app/forges/git/remote.js";
import { gitEnv, redact } from "../../app/forges/git/git.js";
import { hasRunLines, normalizeGit } from "../../app/forges/git/normalize.js";
import { isRefName } from "../../app/forges/git/mirror.js";

describe("remote URLs", () => {
  it("takes each kind apart into a name and the default project", () => {
    expect(parseRemote("https://git.example.com/team/model.git")).toEqual({
      kind: "https", url: "https://git.example.com/team/model.git", host: "git.example.com", path: "team/model", name: "git.example.com/team/model", lastPart: "model", user: null,
    });
    expect(parseRemote("https://x-token-auth@bitbucket.org/t/m")).toMatchObject({ kind: "https", user: "x-token-auth", name: "bitbucket.org/t/m" });
    expect(parseRemote("ssh://git@git.example.com:2222/team/model.git")).toMatchObject({ kind: "ssh", host: "git.example.com", user: "git", name: "git.example.com/team/model" });
    expect(parseRemote("git@git.example.com:team/model.git")).toMatchObject({ kind: "ssh", host: "git.example.com", user: "git", path: "team/model", lastPart: "model" });
    expect(parseRemote("git://127.0.0.1:9418/model.git")).toMatchObject({ kind: "git", name: "127.0.0.1/model" });
    expect(parseRemote("file:///srv/git/model.git")).toMatchObject({ kind: "file", host: "", name: "srv/git/model", lastPart: "model" });
  });

  it("refuses what it does not link, each with what to do", () => {
    const msg = (u: string) => {
      try {
        parseRemote(u);
        return "accepted";
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(msg("")).toMatch(/empty/);
    expect(msg("http://h/r.git")).toMatch(/plain http:\/\/ is refused/);
    expect(msg("https://u:p@h/r.git")).toMatch(/password in it/);
    expect(msg("ext::sh -c id")).toMatch(/spaces or control characters/);
    expect(msg("fd::17")).toMatch(/not a repository URL vh links/);
    expect(msg("-oProxyCommand=x@h:r")).toMatch(/not a URL/);
    expect(msg("https://h/a/../b")).toMatch(/no empty, "\." or "\.\." parts|a repository path/);
    expect(msg("https://h/")).toMatch(/needs a repository path/);
    expect(msg("https://h/r?x=1")).toMatch(/no query or fragment/);
    expect(msg("file://otherhost/srv/r")).toMatch(/not a host/);
    expect(msg("/srv/git/r.git")).toMatch(/file:\/\/\/srv\/git\/r\.git/);
    expect(msg("git://u@h/r")).toMatch(/take no user/);
  });

  it("token variables are VH_GIT_TOKEN_* only", () => {
    expect(checkTokenEnv("VH_GIT_TOKEN_GITEA")).toBe("VH_GIT_TOKEN_GITEA");
    for (const bad of ["DATABASE_URL", "VH_SECRETS_KEY", "VH_GIT_TOKEN_", "vh_git_token_x", "VH_GIT_TOKEN_A B"]) expect(() => checkTokenEnv(bad)).toThrow(/VH_GIT_TOKEN_<NAME>/);
  });

  it("branch names: git's rules", () => {
    for (const ok of ["main", "feature/x", "v1.2", "release-2024"]) expect(isRefName(ok)).toBe(true);
    for (const bad of ["", "-x", "a..b", "a b", "a:b", "x.lock", "a@{1}", "*", "a/", "/a"]) expect(isRefName(bad)).toBe(false);
  });
});

describe("transports", () => {
  it("quotes every token of GIT_SSH_COMMAND so that sh gives ssh back exactly the argv", () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    const cmd = sshCommand({ keyFile: "/data dir/it's $HOME/`k`", knownHostsFile: "/x y/kh", pinned: true, connectTimeoutS: 5 });
    const argv = execFileSync("sh", ["-c", `printf '%s\\n' ${cmd}`]).toString("utf8").split("\n").slice(0, -1);
    expect(argv).toEqual([
      "ssh", "-F", "/dev/null", "-i", "/data dir/it's $HOME/`k`", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
      "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no", "-o", "StrictHostKeyChecking=yes",
      "-o", 'UserKnownHostsFile="/x y/kh"', "-o", "GlobalKnownHostsFile=/dev/null", "-o", "UpdateHostKeys=no", "-o", "ConnectTimeout=5",
    ]);
    expect(sshCommand({ keyFile: "k", knownHostsFile: "kh", pinned: false, connectTimeoutS: 5 })).toContain("'StrictHostKeyChecking=accept-new'");
  });

  it("puts an https token in GIT_CONFIG_* (never arguments), allows only the one protocol, follows no redirects", () => {
    const { env, secrets } = transportEnv({ kind: "https", host: "git.example.com", user: null, tokenEnv: "VH_GIT_TOKEN_X" }, { VH_GIT_TOKEN_X: "tok-123456", VH_GIT_TOKEN_X_HOST: "git.example.com" }, { connectTimeoutS: 5 });
    const basic = Buffer.from("x-access-token:tok-123456").toString("base64");
    expect(env).toEqual({
      GIT_CONFIG_COUNT: "4",
      GIT_CONFIG_KEY_0: "protocol.allow",
      GIT_CONFIG_VALUE_0: "never",
      GIT_CONFIG_KEY_1: "protocol.https.allow",
      GIT_CONFIG_VALUE_1: "always",
      GIT_CONFIG_KEY_2: "http.followRedirects",
      GIT_CONFIG_VALUE_2: "false",
      GIT_CONFIG_KEY_3: "http.extraHeader",
      GIT_CONFIG_VALUE_3: `Authorization: Basic ${basic}`,
    });
    expect(secrets).toEqual(["tok-123456", basic]);
    expect(() => transportEnv({ kind: "https", host: "git.example.com", user: null, tokenEnv: "VH_GIT_TOKEN_X" }, { VH_GIT_TOKEN_X_HOST: "git.example.com" }, { connectTimeoutS: 5 })).toThrow(/VH_GIT_TOKEN_X .* is not set on the vh server/);
    // a token goes only to the hosts named for it
    const https = { kind: "https" as const, host: "attacker.example", user: null, tokenEnv: "VH_GIT_TOKEN_X" };
    expect(() => transportEnv(https, { VH_GIT_TOKEN_X: "tok-123456" }, { connectTimeoutS: 5 })).toThrow(/VH_GIT_TOKEN_X names no host it may be sent to: set VH_GIT_TOKEN_X_HOST=attacker.example/);
    expect(() => transportEnv(https, { VH_GIT_TOKEN_X: "tok-123456", VH_GIT_TOKEN_X_HOST: "git.example.com, git2.example.com" }, { connectTimeoutS: 5 })).toThrow(
      "VH_GIT_TOKEN_X may be sent only to git.example.com, git2.example.com (VH_GIT_TOKEN_X_HOST), not to attacker.example.",
    );
  });

  it("runs git without the server's own config, prompts or most of its environment; secrets are cut out of messages", () => {
    const env = gitEnv({ PATH: "/bin", DATABASE_URL: "postgres://x", VH_GIT_TOKEN_X: "t", HTTPS_PROXY: "http://proxy:3128", SSH_AUTH_SOCK: "/tmp/agent" });
    expect(env).toMatchObject({ PATH: "/bin", HTTPS_PROXY: "http://proxy:3128", GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", LC_ALL: "C" });
    expect(env).not.toHaveProperty("DATABASE_URL");
    expect(env).not.toHaveProperty("VH_GIT_TOKEN_X");
    expect(env).not.toHaveProperty("SSH_AUTH_SOCK");
    expect(redact("auth tok-123456 failed", ["tok-123456"])).toBe("auth *** failed");
  });

  it("explains the usual failures with what to fix", () => {
    expect(explainFailure("ssh", "ssh://h/r", "Could not read from remote repository.", { stderr: "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.\n" })).toMatch(/not the one pinned/);
    expect(explainFailure("ssh", "ssh://h/r", "Could not read from remote repository.", { stderr: "ssh: connect to host h port 22: Connection refused\n" })).toMatch(/unreachable from the vh server \(ssh: connect to host h port 22: Connection refused\)/);
    expect(explainFailure("https", "https://h/r", "could not read Username for 'https://h': terminal prompts disabled")).toMatch(/asks for credentials/);
    expect(explainFailure("git", "git://h/r", "x", { timedOut: true, timeoutMs: 30_000 })).toMatch(/no answer within 30 s/);
  });
});

describe("normalizeGit", () => {
  const payload = { repositoryId: 7, name: "git.example.com/team/model", ref: "refs/heads/main", sha: "a".repeat(40), message: "x\n/vh run train", author: { name: "Ada", email: "ada@example.com" } };

  it("makes the push event, the pusher being the commit's author", () => {
    expect(normalizeGit("push", payload)).toEqual({
      kind: "push",
      repo: { forge: "git", id: 7, fullName: "git.example.com/team/model", owner: "git.example.com/team", name: "model", installationId: 7 },
      ref: "refs/heads/main",
      headSha: "a".repeat(40),
      message: "x\n/vh run train",
      pusher: { login: "ada@example.com", id: 0, isBot: false },
    });
    expect(normalizeGit("push", { ...payload, author: { name: "Ada", email: "" } })).toMatchObject({ pusher: { login: "Ada" } });
  });

  it("ignores other events and other shapes", () => {
    expect(normalizeGit("tag", payload)).toEqual({ kind: "ignore", reason: "event tag is not used" });
    expect(normalizeGit("push", { ...payload, sha: "nope" })).toEqual({ kind: "ignore", reason: "push: unexpected payload" });
  });

  it("finds /vh run lines as the bot does", () => {
    expect(hasRunLines("Fix\n\n  /vh run train lr=[0.1,0.2]\n")).toBe(true);
    expect(hasRunLines("/VH RUN train")).toBe(true);
    expect(hasRunLines("mention /vh run in prose")).toBe(false);
    expect(hasRunLines("/vh running")).toBe(false);
  });
});
