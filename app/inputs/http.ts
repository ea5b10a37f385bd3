/** `http(s)://` inputs: checked reachable from the server now, downloaded (and hashed) by the host at launch. */
import type { RequestedInput } from "../../db/schema/executions.js";
import { VhError } from "../errors.js";
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

async function checkReachable(f: typeof fetch, input: string, url: string): Promise<void> {
  const fail = (why: string) => {
    throw new VhError("invalid_input", `Input "${input}": ${url} ${why}. Fix the URL or make it reachable from the vh server.`, { input, url });
  };
  let res: Response;
  try {
    res = await f(url, { method: "HEAD", redirect: "follow", signal: AbortSignal.timeout(15_000) });
    if ([403, 405, 501].includes(res.status)) {
      res = await f(url, { method: "GET", headers: { range: "bytes=0-0" }, redirect: "follow", signal: AbortSignal.timeout(15_000) });
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
  return [{ name: input, uri, source: { kind: "http", url: uri }, file: basenameOfUrl(uri) }];
};
