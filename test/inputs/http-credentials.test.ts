/**
 * An http(s) input with a password in its URL (`https://user:pass@host/f.csv`): the host fetches
 * the URL as given (`source.url`), but the record, and any refusal, show the password masked; the
 * server's reachability check sends the user and password as Basic auth (fetch refuses them in a
 * URL). A real server on loopback.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveHttp, urlCredentials } from "../../app/inputs/http.js";
import type { ResolveContext } from "../../app/inputs/types.js";

describe("http inputs with credentials in the URL", () => {
  let server: http.Server;
  let base: string;
  const seen: (string | undefined)[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(req.url === "/missing.csv" ? 404 : 200, { "content-length": 0 }).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const ctx = { fetch } as ResolveContext;

  it("records the URL with the password masked, and keeps the real one only where the host fetches it", async () => {
    const url = `http://reader:pw-s3cr3t@${base}/train.csv`;
    const [r] = await resolveHttp(ctx, "data", url);
    expect(r).toEqual({ name: "data", uri: `http://reader:***@${base}/train.csv`, source: { kind: "http", url }, file: "train.csv" });
    expect(seen.at(-1)).toBe(`Basic ${Buffer.from("reader:pw-s3cr3t").toString("base64")}`);
  });

  it("a refusal names the input and the URL without its password", async () => {
    const err = await resolveHttp(ctx, "data", `http://reader:pw-s3cr3t@${base}/missing.csv`).catch((e: Error & { details?: unknown }) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(`Input "data": http://reader:***@${base}/missing.csv answered HTTP 404 Not Found. Fix the URL or make it reachable from the vh server.`);
    expect(JSON.stringify((err as { details?: unknown }).details)).not.toContain("pw-s3cr3t");
  });

  it("urlCredentials: the URL without them and a Basic header, percent-decoded; a URL without them is left alone", () => {
    expect(urlCredentials("https://a%40b:p%3Aw@example.com/x?y=1")).toEqual({
      url: "https://example.com/x?y=1",
      headers: { authorization: `Basic ${Buffer.from("a@b:p:w").toString("base64")}` },
    });
    expect(urlCredentials("https://example.com/x")).toEqual({ url: "https://example.com/x", headers: {} });
    expect(urlCredentials("not a url")).toEqual({ url: "not a url", headers: {} });
  });
});
