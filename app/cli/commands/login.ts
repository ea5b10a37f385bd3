/**
 * `vh login --url URL --token TOKEN` (checked with GET /me) and `vh logout`. The token is never
 * printed. `--json`: login prints `GET /me`'s answer with the URL saved (`{url, token: {id, name,
 * admin}}`: the token's record, not its value); logout prints `{loggedOut, url}`.
 */
import { ApiClient } from "../api.js";
import { configFilePath, normalizeUrl, readConfigFile, writeConfigFile } from "../config.js";
import { CliError } from "../errors.js";
import type { Context } from "../context.js";
import { jsonText } from "../format.js";

export async function loginCommand(ctx: Context, opts: { url?: string; token?: string; json?: boolean }): Promise<number> {
  const rawUrl = opts.url ?? ctx.flags.url;
  const token = opts.token ?? ctx.flags.token;
  if (!rawUrl || !token) throw new CliError("vh login needs both --url URL and --token TOKEN.");
  const url = normalizeUrl(rawUrl);
  const me = await new ApiClient({ url, token, source: "flags" }, ctx.io.fetch).me();
  const file = readConfigFile(ctx.io.env);
  writeConfigFile(ctx.io.env, { ...file, url, token });
  if (opts.json) ctx.io.stdout.write(jsonText({ url, token: me.token }));
  else {
    const t = me.token;
    // Older servers answer without a role: then only the admin flag is known.
    const what = t.admin ? " (the server's admin)" : t.role ? ` (${t.role}${t.project ? ` of project ${t.project.name}` : " of every project"})` : "";
    ctx.info(`Logged in to ${url} with token "${t.name}"${what}; saved in ${configFilePath(ctx.io.env)}.`);
  }
  return 0;
}

export async function logoutCommand(ctx: Context, opts: { json?: boolean } = {}): Promise<number> {
  const file = readConfigFile(ctx.io.env);
  if (!file.url && !file.token) {
    if (opts.json) ctx.io.stdout.write(jsonText({ loggedOut: false, url: null }));
    else ctx.info("Not logged in.");
    return 0;
  }
  const { url: _url, token: _token, ...rest } = file;
  writeConfigFile(ctx.io.env, rest);
  if (opts.json) ctx.io.stdout.write(jsonText({ loggedOut: true, url: file.url ?? null }));
  else ctx.info(`Logged out of ${file.url ?? "the server"}; project links are kept.`);
  return 0;
}
