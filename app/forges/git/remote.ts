/**
 * Remote URLs and how git reaches them. Pure apart from reading the token's variable: a URL is
 * checked and taken apart (`parseRemote`), and a transport (`transportEnv`) becomes the environment
 * git runs with — never arguments, so no credential is ever on a command line.
 *
 * - https://: a token, read on the server from the `VH_GIT_TOKEN_*` variable the repository names,
 *   sent as `http.extraHeader` (Basic auth, user from the URL or `x-access-token`) through
 *   GIT_CONFIG_COUNT/KEY/VALUE; redirects are not followed (the header would go along). A URL with
 *   a password is refused; plain http:// too (the token would travel in clear).
 * - ssh:// and scp-style user@host:path: a deploy key (`-i`, nothing else: no agent, no ~/.ssh), the
 *   host key pinned on first use into the repository's own known_hosts (`accept-new`), checked
 *   strictly (`yes`) from then on.
 * - git:// (no credentials) and file:// (a path on the vh server; admin tokens only, see repos.ts).
 *
 * Every transport also allows git exactly its own protocol (`protocol.allow=never` plus the one).
 */
import { VhError } from "../../errors.js";
import type { Remote, RemoteKind } from "./types.js";

/** The one prefix a token variable may have: no API caller can make the server send DATABASE_URL or VH_SECRETS_KEY to a host it names. */
export const TOKEN_ENV_PREFIX = "VH_GIT_TOKEN_";
const TOKEN_ENV = /^VH_GIT_TOKEN_[A-Z0-9_]{1,100}$/;

const KINDS_SAID = "https://, ssh://, user@host:path (scp-style), git:// or file://";
const SCP = /^([A-Za-z0-9_][A-Za-z0-9._-]*)@([A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]):(?!\/\/)(.+)$/;
const HOST = /^([A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])$/;

function bad(message: string): VhError {
  return new VhError("bad_request", message);
}

function trimPath(p: string): string {
  return p.replace(/^\/+/, "").replace(/\/+$/, "").replace(/\.git$/, "");
}

function finish(kind: RemoteKind, url: string, host: string, rawPath: string, user: string | null): Remote {
  const p = trimPath(rawPath);
  if (!p || p.split("/").some((seg) => seg === "" || seg === "." || seg === "..")) {
    throw bad(`${url}: the URL needs a repository path (no empty, "." or ".." parts).`);
  }
  const lastPart = p.split("/").pop()!;
  const h = host.replace(/^\[|\]$/g, "");
  return { kind, url, host: h, path: p, name: kind === "file" ? p : `${h}/${p}`, lastPart, user };
}

/** Checks a remote URL and takes it apart; anything vh does not link is refused with what it does link. */
export function parseRemote(raw: string): Remote {
  const url = raw.trim();
  if (!url) throw bad(`The repository URL is empty: give one of ${KINDS_SAID}.`);
  if (url.length > 2048) throw bad("The repository URL is over 2048 characters.");
  if (/[\s\u0000-\u001f\u007f]/.test(url)) throw bad("The repository URL contains spaces or control characters.");
  if (url.startsWith("-")) throw bad(`"${url}" is not a URL: give one of ${KINDS_SAID}.`);
  if (/\/\.\.?(\/|$)/.test(url)) throw bad(`${url}: the URL needs a repository path (no empty, "." or ".." parts).`);

  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (!scheme) {
    const m = SCP.exec(url);
    if (m) return finish("ssh", url, m[2]!, m[3]!, m[1]!);
    if (url.startsWith("/")) throw bad(`"${url}" is a path: link a repository on the vh server as file://${url}.`);
    throw bad(`"${url}" is not a repository URL vh links: give one of ${KINDS_SAID}.`);
  }
  if (scheme === "http") {
    throw bad(`${url}: plain http:// is refused (a token would travel in clear); use https://.`);
  }
  if (scheme !== "https" && scheme !== "ssh" && scheme !== "git" && scheme !== "file") {
    throw bad(`${url}: ${scheme}:// is not a URL kind vh links; give one of ${KINDS_SAID}.`);
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad(`${url} is not a valid URL.`);
  }
  if (u.search || u.hash) throw bad(`${url}: a repository URL has no query or fragment.`);
  if (u.password) {
    throw bad(
      `${url} has a password in it: vh never stores a token. Put it in an environment variable ${TOKEN_ENV_PREFIX}… on the vh server and give that name (vh repo add URL --token-env NAME).`,
    );
  }
  const user = u.username ? decodeURIComponent(u.username) : null;
  const pathname = decodeURIComponent(u.pathname);
  if (scheme === "file") {
    if (u.host && u.host !== "localhost") throw bad(`${url}: file:// URLs name a path on the vh server (file:///srv/git/repo.git), not a host.`);
    if (user) throw bad(`${url}: file:// URLs take no user.`);
    return finish("file", url, "", pathname, null);
  }
  if (!u.hostname || !HOST.test(u.hostname)) throw bad(`${url}: the host name is missing or not valid.`);
  if (scheme !== "https" && scheme !== "ssh" && user) throw bad(`${url}: ${scheme}:// URLs take no user.`);
  if (user !== null && !/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(user)) throw bad(`${url}: the user name may have letters, digits, ".", "_" and "-".`);
  return finish(scheme, url, u.hostname, pathname, user);
}

/** A token variable's name: only `VH_GIT_TOKEN_*`. */
export function checkTokenEnv(name: string): string {
  if (!TOKEN_ENV.test(name)) {
    throw bad(
      `--token-env ${name}: the token's variable must be named ${TOKEN_ENV_PREFIX}<NAME> (capitals, digits, "_"), so no other variable of the server (its database URL, its keys) can be sent to a Git host.`,
    );
  }
  return name;
}

/**
 * A token goes only to the hosts its operator named for it: `VH_GIT_TOKEN_<NAME>_HOST` (one host,
 * or several separated by commas) beside `VH_GIT_TOKEN_<NAME>`. Without it, anyone who may link a
 * repository could send the token to a host of their own. Throws, naming what to set.
 */
export function checkTokenHost(tokenEnv: string, host: string, serverEnv: Record<string, string | undefined>): void {
  const hostsVar = `${tokenEnv}_HOST`;
  const hosts = (serverEnv[hostsVar] ?? "").split(",").map((h) => h.trim().toLowerCase()).filter(Boolean);
  if (hosts.length === 0) {
    throw new VhError("invalid_config", `${tokenEnv} names no host it may be sent to: set ${hostsVar}=${host} (or a comma-separated list) on the vh server beside it; a token is sent only to the hosts named there.`);
  }
  if (!hosts.includes(host.toLowerCase())) {
    throw new VhError("forbidden", `${tokenEnv} may be sent only to ${hosts.join(", ")} (${hostsVar}), not to ${host}.`);
  }
}

/** What git needs to reach one remote. */
export type Transport =
  | { kind: "https"; host: string; user: string | null; tokenEnv: string | null }
  | { kind: "ssh"; keyFile: string; knownHostsFile: string; pinned: boolean }
  | { kind: "git" }
  | { kind: "file" };

/** Quotes one shell token (GIT_SSH_COMMAND goes through `sh -c`): always single-quoted. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A value quoted for ssh's own option parser (`-o Key=value`): double quotes, `\\` and `"` escaped. */
export function sshConfigQuote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The ssh command line git runs: every token quoted; the key alone; the repository's own known_hosts. */
export function sshCommand(t: { keyFile: string; knownHostsFile: string; pinned: boolean; connectTimeoutS: number }): string {
  const argv = [
    "ssh",
    "-F",
    "/dev/null",
    "-i",
    t.keyFile,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "IdentityAgent=none",
    "-o",
    "BatchMode=yes",
    "-o",
    "PasswordAuthentication=no",
    "-o",
    "KbdInteractiveAuthentication=no",
    "-o",
    `StrictHostKeyChecking=${t.pinned ? "yes" : "accept-new"}`,
    "-o",
    // ssh splits this value on whitespace (several files may be given): the path is double-quoted for ssh too
    `UserKnownHostsFile=${sshConfigQuote(t.knownHostsFile)}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "UpdateHostKeys=no",
    "-o",
    `ConnectTimeout=${t.connectTimeoutS}`,
  ];
  return argv.map(shellQuote).join(" ");
}

/** The environment (over `gitEnv`'s) for one transport, and the secrets to cut out of messages. */
export function transportEnv(
  t: Transport,
  serverEnv: Record<string, string | undefined>,
  opts: { connectTimeoutS: number },
): { env: Record<string, string>; secrets: string[] } {
  const config: [string, string][] = [["protocol.allow", "never"]];
  const env: Record<string, string> = {};
  const secrets: string[] = [];
  switch (t.kind) {
    case "https": {
      config.push(["protocol.https.allow", "always"], ["http.followRedirects", "false"]);
      if (t.tokenEnv) {
        checkTokenHost(t.tokenEnv, t.host, serverEnv);
        const token = serverEnv[t.tokenEnv];
        if (!token) {
          throw new VhError("invalid_config", `The environment variable ${t.tokenEnv} (this repository's token) is not set on the vh server: set it and restart vh.`);
        }
        const basic = Buffer.from(`${t.user ?? "x-access-token"}:${token}`).toString("base64");
        config.push(["http.extraHeader", `Authorization: Basic ${basic}`]);
        secrets.push(token, basic);
      }
      break;
    }
    case "ssh":
      config.push(["protocol.ssh.allow", "always"]);
      env["GIT_SSH_COMMAND"] = sshCommand({ ...t, connectTimeoutS: opts.connectTimeoutS });
      env["GIT_SSH_VARIANT"] = "ssh";
      break;
    case "git":
      config.push(["protocol.git.allow", "always"]);
      break;
    case "file":
      config.push(["protocol.file.allow", "always"]);
      break;
  }
  env["GIT_CONFIG_COUNT"] = String(config.length);
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return { env, secrets };
}

/** A failed git command's message made actionable: what to fix, for the usual causes. */
export function explainFailure(
  kind: RemoteKind,
  url: string,
  message: string,
  opts: { tokenEnv?: string | null; timedOut?: boolean; timeoutMs?: number; stderr?: string } = {},
): string {
  if (opts.timedOut) return `${url}: git got no answer within ${Math.round((opts.timeoutMs ?? 0) / 1000)} s (is the host reachable from the vh server?).`;
  // matched against all git and ssh said; `message` (git's fatal lines) is what is shown
  const all = `${opts.stderr ?? ""}\n${message}`;
  const m = message;
  if (kind === "ssh" && /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|host key for .* has changed/i.test(all)) {
    return `${url}: the SSH host key is not the one pinned when the repository was linked, so vh did not connect (host key verification failed). If the host's key really changed, remove the repository (vh repo remove) and link it again.`;
  }
  const unreachable = /Connection refused|Could not resolve host|unable to connect|Network is unreachable|No route to host|timed out|Connection reset|unable to look up/i;
  if (unreachable.test(all)) {
    const line = all.split("\n").find((l) => unreachable.test(l))?.trim().replace(/^(fatal|error):\s*/i, "") ?? m;
    return `${url}: the Git host is unreachable from the vh server (${line.slice(0, 300)}).`;
  }
  if (/Permission denied \(publickey|Could not read from remote repository/i.test(all)) {
    return `${url}: the Git host refused the deploy key, or there is no such repository (${m}). Add the key's public half to the repository (read access is enough) and check the path.`;
  }
  if (/terminal prompts disabled|Authentication failed|could not read (Username|Password)|HTTP 40[13]|returned error: 40[13]/i.test(all)) {
    return opts.tokenEnv
      ? `${url}: the Git host refused the token in ${opts.tokenEnv} (${m}). Check the token can read the repository, and that it has not expired.`
      : `${url}: the Git host asks for credentials (${m}). Put a token in a ${TOKEN_ENV_PREFIX}… variable on the vh server and link with --token-env NAME.`;
  }
  if (/redirect/i.test(m)) return `${url}: the Git host redirects elsewhere; vh does not follow redirects (the token would go along). Link the URL it redirects to (${m}).`;
  if (/does not appear to be a git repository|not found|does not exist|No such file/i.test(m)) {
    return `${url}: there is no Git repository there (${m}).`;
  }
  return `${url}: git failed (${m}).`;
}
