/**
 * The CLI's one settings reader. Nothing else in app/cli reads the environment or the config
 * files; commands receive what these functions return.
 *
 * Server and token, first found wins:
 *   1. flags `--url` / `--token`
 *   2. env `VH_URL` / `VH_TOKEN`
 *   3. the login file `$XDG_CONFIG_HOME/vh/config.json` (else `~/.config/vh/config.json`), written
 *      by `vh login`
 *   4. a local server: the entries `$XDG_CONFIG_HOME/vh/local-servers/*.json` written by each
 *      `npm start` on this machine (app/cli/local-servers.ts; the single `local-server.json` of
 *      earlier versions is read too), so the local flow needs no login. Of the running ones: the
 *      one this directory's project link was made on (same data dir, else same URL), else the only
 *      one; several and none linked is an error listing them.
 * A token from a file is only used with the URL it was saved with, so a token never travels to
 * another server.
 *
 * Project links live in the same config file: `links` maps an absolute directory to
 * `{url, project, dataDir?}` (`dataDir` when linked on a local server, so the link still finds it
 * on another port); lookups walk up from the working directory to the nearest linked one.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { CliError } from "./errors.js";
import { runningLocalServers, type LocalServer } from "./local-servers.js";

export type Env = Record<string, string | undefined>;

const Link = z.object({ url: z.string(), project: z.string(), dataDir: z.string().optional() });
export type Link = z.infer<typeof Link>;

const ConfigFile = z.object({
  url: z.string().optional(),
  token: z.string().optional(),
  links: z.record(z.string(), Link).default({}),
});
export type ConfigFile = z.infer<typeof ConfigFile>;

export interface Server {
  /** Base URL of the server, without `/api/v1` and without a trailing slash. */
  url: string;
  token: string;
  /** Where the URL came from, for `vh project status` and error messages. */
  source: "flags" | "env" | "login" | "local";
  /** The data dir of a local server (from its entry), when the URL is one's. */
  dataDir?: string;
}

export interface ServerFlags {
  url?: string | undefined;
  token?: string | undefined;
}

export function configDir(env: Env): string {
  const xdg = env["XDG_CONFIG_HOME"];
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env["HOME"] || os.homedir(), ".config");
  return path.join(base, "vh");
}

export function configFilePath(env: Env): string {
  return path.join(configDir(env), "config.json");
}

/** `http://h:3000/api/v1/` → `http://h:3000`. */
export function normalizeUrl(url: string): string {
  let u = url.trim().replace(/\/+$/, "");
  if (u.endsWith("/api/v1")) u = u.slice(0, -"/api/v1".length);
  if (!/^https?:\/\/[^/]/.test(u)) throw new CliError(`"${url}" is not a server URL: use http(s)://HOST:PORT.`);
  return u;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`Cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not valid JSON: fix or delete it.`);
  }
}

export function readConfigFile(env: Env): ConfigFile {
  const file = configFilePath(env);
  const raw = readJson(file);
  if (raw === undefined) return { links: {} };
  const parsed = ConfigFile.safeParse(raw);
  if (!parsed.success) throw new CliError(`${file} is not a vh config file: fix or delete it.`);
  return parsed.data;
}

/** Writes the config file with mode 0600 (it holds a token). */
export function writeConfigFile(env: Env, data: ConfigFile): void {
  const file = configFilePath(env);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(data, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file);
  fs.chmodSync(file, 0o600);
}

function tokenOf(server: LocalServer): string {
  try {
    return fs.readFileSync(server.tokenFile, "utf8").trim();
  } catch {
    throw new CliError(
      `The local vh server entry ${server.file} names the token file ${server.tokenFile}, which cannot be read: is \`npm start\` (pid ${server.pid ?? "?"}) still running?`,
    );
  }
}

function describeServer(s: LocalServer): string {
  const bits = [s.dataDir ? `data dir ${s.dataDir}` : "", s.pid ? `pid ${s.pid}` : "", s.startedAt ? `started ${s.startedAt.slice(0, 19).replace("T", " ")} UTC` : ""];
  return `  ${s.url}  (${bits.filter(Boolean).join(", ")})`;
}

/**
 * The local server to use (see the file comment): the one the link was made on, else the only one
 * running; undefined when none runs. Several running and none linked here is a CliError listing them.
 */
export function chooseLocalServer(env: Env, cwd?: string): LocalServer | undefined {
  const servers = runningLocalServers(configDir(env));
  if (servers.length === 0) return undefined;
  const link = cwd !== undefined ? findLink(env, cwd) : undefined;
  if (link) {
    const sameDir = link.dataDir ? servers.filter((s) => s.dataDir !== null && path.resolve(s.dataDir) === path.resolve(link.dataDir!)) : [];
    if (sameDir.length === 1) return sameDir[0];
    const linkUrl = safeNormalize(link.url);
    const sameUrl = (sameDir.length ? sameDir : servers).filter((s) => safeNormalize(s.url) === linkUrl);
    if (sameUrl.length >= 1) return sameUrl[0];
    if (sameDir.length > 1) return sameDir[0];
  }
  if (servers.length === 1) return servers[0];
  const why = link
    ? `none of them is the one ${link.dir} was linked on (${link.dataDir ? `data dir ${link.dataDir}, ` : ""}${link.url})`
    : `${cwd !== undefined ? path.resolve(cwd) : "this directory"} is not linked to a project on one of them`;
  throw new CliError(
    `${servers.length} local vh servers are running, and ${why}:\n${servers.map(describeServer).join("\n")}\n` +
      "Choose one with --url URL (or VH_URL=URL), or link this directory to a project there: vh --url URL project link NAME.",
  );
}

function safeNormalize(url: string): string | undefined {
  try {
    return normalizeUrl(url);
  } catch {
    return undefined;
  }
}

export const NO_SERVER_MESSAGE =
  "No vh server configured: start one with `npm start`, or set VH_URL and VH_TOKEN, or run `vh login`.";

/**
 * Finds the server and token (see the file comment for the order); throws a CliError when there is
 * none. `cwd` is where the project link is looked up, to choose among several local servers.
 */
export function resolveServer(flags: ServerFlags, env: Env, cwd?: string): Server {
  const login = readConfigFile(env);
  const loginUrl = login.url ? normalizeUrl(login.url) : undefined;

  let url: string | undefined;
  let source: Server["source"] | undefined;
  let local: LocalServer | undefined;
  if (flags.url) [url, source] = [normalizeUrl(flags.url), "flags"];
  else if (env["VH_URL"]) [url, source] = [normalizeUrl(env["VH_URL"]), "env"];
  else if (loginUrl) [url, source] = [loginUrl, "login"];
  else {
    // Only here can several local servers be an error: a configured CLI never fails on them.
    local = chooseLocalServer(env, cwd);
    if (local) [url, source] = [normalizeUrl(local.url), "local"];
  }
  if (!url || !source) throw new CliError(NO_SERVER_MESSAGE);

  let token = flags.token || env["VH_TOKEN"] || undefined;
  if (!token && login.token && loginUrl === url) token = login.token;
  // A URL given some other way may still be a local server's: its token (read only when needed), only for its URL.
  local ??= runningLocalServers(configDir(env)).find((s) => safeNormalize(s.url) === url);
  if (!token && local) token = tokenOf(local);
  if (!token) {
    throw new CliError(`No token for ${url}: pass --token, set VH_TOKEN, or run \`vh login --url ${url} --token TOKEN\`.`);
  }
  return { url, token, source, ...(local?.dataDir ? { dataDir: local.dataDir } : {}) };
}

export interface FoundLink extends Link {
  /** The linked directory (absolute). */
  dir: string;
}

/** The nearest linked directory at or above `cwd`. */
export function findLink(env: Env, cwd: string): FoundLink | undefined {
  const { links } = readConfigFile(env);
  let dir = path.resolve(cwd);
  for (;;) {
    const link = links[dir];
    if (link) return { dir, ...link };
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function saveLink(env: Env, dir: string, link: Link): void {
  const file = readConfigFile(env);
  file.links[path.resolve(dir)] = link;
  writeConfigFile(env, file);
}
