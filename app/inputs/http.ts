/** `http(s)://` inputs: checked reachable from the server now, downloaded (and hashed) by the host at launch. */
import type { RequestedInput } from "../../db/schema/executions.js";
import { VhError } from "../errors.js";
import { maskUrlPasswords } from "../executions/secrets.js";
import type { InputResolver } from "./types.js";

/** The last path segment of `url`, decoded; the host name when there is none. */
export function basenameOfUrl(url: string): string {
  try {
    const u = new URL(url);
    const base = decodeURIComponent(u.pathname.split("/").filter(Boolean).pop() ?? "");
    return base && base !== "." && base !== ".." ? base : u.hostname;
  } catch {
    return "input";
  }
}

/**
 * fetch refuses a URL with a user and password in it (`https://user:pass@host/f`): the URL without
 * them, and an Authorization header that sends them as Basic auth, as curl and wget do.
 */
export function urlCredentials(url: string): { url: string; headers: Record<string, string> } {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return { url, headers: {} };
    const authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}`;
    u.username = "";
    u.password = "";
    return { url: u.toString(), headers: { authorization } };
  } catch {
    return { url, headers: {} }; // not a URL: fetch says so
  }
}

async function checkReachable(f: typeof fetch, input: string, url: string): Promise<void> {
  const fail = (why: string) => {
    const shown = maskUrlPasswords(url);
    throw new VhError("invalid_input", `Input "${input}": ${shown} ${why}. Fix the URL or make it reachable from the vh server.`, { input, url: shown });
  };
  const { url: target, headers: auth } = urlCredentials(url);
  let res: Response;
  try {
    res = await f(target, { method: "HEAD", headers: auth, redirect: "follow", signal: AbortSignal.timeout(15_000) });
    if ([403, 405, 501].includes(res.status)) {
      res = await f(target, { method: "GET", headers: { ...auth, range: "bytes=0-0" }, redirect: "follow", signal: AbortSignal.timeout(15_000) });
      await res.body?.cancel();
    }
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    fail(`could not be reached (${cause?.code ?? cause?.message ?? (err as Error).message})`);
    return;
  }
  if (res.status >= 400) fail(`answered HTTP ${res.status}${res.statusText ? " " + res.statusText : ""}`);
}

export const resolveHttp: InputResolver = async (ctx, input, uri): Promise<RequestedInput[]> => {
  await checkReachable(ctx.fetch, input, uri);
  // A password in the URL stays in `source` (what the host fetches, never shown); the record shows it masked.
  return [{ name: input, uri: maskUrlPasswords(uri), source: { kind: "http", url: uri }, file: basenameOfUrl(uri) }];
};
