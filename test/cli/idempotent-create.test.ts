/**
 * The CLI's creating requests (ApiClient.create: `vh exec run`, sweeps, pipelines) carry an
 * Idempotency-Key of their own and are sent again with the same key when the server cannot be
 * reached or answers 502/503/504; any other refusal is said at once, and each command has a new key.
 */
import { describe, expect, it } from "vitest";
import { ApiClient, ApiError, CREATE_RETRIES } from "../../app/cli/api.js";

function recordingFetch(answers: (() => Response)[]) {
  const keys: (string | null)[] = [];
  const impl = (async (_url: URL, init: RequestInit) => {
    keys.push(new Headers(init.headers).get("idempotency-key"));
    const next = answers.shift();
    if (!next) throw new Error("no more answers");
    return next();
  }) as unknown as typeof fetch;
  return { keys, impl };
}
const refused = () => {
  throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
};
const json = (status: number, body: unknown) => () => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("ApiClient.create", () => {
  const server = { url: "http://127.0.0.1:9", token: "t", source: "flags" as const };

  it("sends the same key again after a refused connection and a 503, and a new key for the next command", async () => {
    const f = recordingFetch([refused, json(503, { error: { code: "internal", message: "restarting" } }), json(201, { id: "e1", counter: 1 })]);
    const api = new ApiClient(server, f.impl);
    expect(await api.createExecution("p", { step: "train", code: "x" } as never)).toEqual({ id: "e1", counter: 1 });
    expect(f.keys).toHaveLength(3);
    expect(new Set(f.keys).size).toBe(1);
    expect(f.keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    const g = recordingFetch([json(201, { id: "e2" })]);
    await new ApiClient(server, g.impl).createSweep("p", { step: "train" } as never);
    expect(g.keys[0]).not.toBe(f.keys[0]);
  }, 20_000);

  it("says a refusal at once, and gives up after its retries", async () => {
    const f = recordingFetch([json(400, { error: { code: "bad_request", message: "no such step" } })]);
    const err = await new ApiClient(server, f.impl).createPipeline("p", { name: "x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(f.keys).toHaveLength(1);
    const down = recordingFetch(Array.from({ length: CREATE_RETRIES + 1 }, () => refused));
    const gone = await new ApiClient(server, down.impl).createExecution("p", {} as never).catch((e: unknown) => e as Error);
    expect(gone.message).toMatch(/^Cannot reach the vh server/);
    expect(down.keys).toHaveLength(CREATE_RETRIES + 1);
  }, 20_000);
});
