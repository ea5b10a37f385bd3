/**
 * The CLI's one settings reader. Nothing else in app/cli reads the environment or the config
 * files; commands receive what these functions return.
 *
 * Server and token, first found wins:
 *   1. flags `--url` / `--token`
 *   2. env `VH_URL` / `VH_TOKEN`
 *   3. the login file `$XDG_CONFIG_HOME/vh/config.json` (else `~/.config/vh/config.json`), written
 *      by `vh login`
 *   4. the local-server pointer `$XDG_CONFIG_HOME/vh/local-server.json` (`{url, tokenFile}`),
 *      written by `npm start` on this machine, so the local flow needs no login.
 * A token from a file is only used with the URL it was saved with, so a token never travels to
 * another server.
 *
 * Project links live in the same config file: `links` maps an absolute directory to
 * `{url, project}`; lookups walk up from the working directory to the nearest linked one.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { CliError } from "./errors.js";

export type Env = Record<string, string | undefined>;

const Link = z.object({ url: z.string(), project: z.string() });
export type Link = z.infer<typeof Link>;

const ConfigFile = z.object({
  url: z.string().optional(),
  token: z.string().optional(),
  links: z.record(z.string(), Link).default({}),
});
export type ConfigFile = z.infer<typeof ConfigFile>;

const LocalPointer = z.object({ url: z.string(), tokenFile: z.string() });

export interface Server {
  /** Base URL of the server, without `/api/v1` and without a trailing slash. */
  url: string;
  token: string;
  /** Where the URL came from, for `vh project status` and error messages. */
  source: "flags" | "env" | "login" | "local";
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

export function localPointerPath(env: Env): string {
  return path.join(configDir(env), "local-server.json");
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

function readLocalPointer(env: Env): { url: string; token: string } | undefined {
  const file = localPointerPath(env);
  const raw = readJson(file);
  if (raw === undefined) return undefined;
  const parsed = LocalPointer.safeParse(raw);
  if (!parsed.success) return undefined;
  let token: string;
  try {
    token = fs.readFileSync(parsed.data.tokenFile, "utf8").trim();
  } catch {
    throw new CliError(
      `The local vh server pointer ${file} names the token file ${parsed.data.tokenFile}, which cannot be read: is \`npm start\` still running?`,
    );
  }
  return { url: normalizeUrl(parsed.data.url), token };
}

export const NO_SERVER_MESSAGE =
  "No vh server configured: start one with `npm start`, or set VH_URL and VH_TOKEN, or run `vh login`.";

/** Finds the server and token (see the file comment for the order); throws a CliError when there is none. */
export function resolveServer(flags: ServerFlags, env: Env): Server {
  const login = readConfigFile(env);
  const loginUrl = login.url ? normalizeUrl(login.url) : undefined;
  // The pointer is only read when it can matter, so a stale one never breaks a configured CLI.
  const pointer = () => readLocalPointer(env);

  let url: string | undefined;
  let source: Server["source"] | undefined;
  if (flags.url) [url, source] = [normalizeUrl(flags.url), "flags"];
  else if (env["VH_URL"]) [url, source] = [normalizeUrl(env["VH_URL"]), "env"];
  else if (loginUrl) [url, source] = [loginUrl, "login"];
  else {
    const p = pointer();
    if (p) [url, source] = [p.url, "local"];
  }
  if (!url || !source) throw new CliError(NO_SERVER_MESSAGE);

  let token = flags.token || env["VH_TOKEN"] || undefined;
  if (!token && login.token && loginUrl === url) token = login.token;
  if (!token) {
    const p = pointer();
    if (p && p.url === url) token = p.token;
  }
  if (!token) {
    throw new CliError(`No token for ${url}: pass --token, set VH_TOKEN, or run \`vh login --url ${url} --token TOKEN\`.`);
  }
  return { url, token, source };
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
