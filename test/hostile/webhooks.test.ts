/**
 * Hostile webhook bodies and headers (issue 20): every one gets a bounded answer.
 * - header values are checked before any byte of the body is read: an over-long or odd delivery
 *   id, an event name that is not GitHub's, a signature that is not `sha256=<64 hex>` → 400 naming
 *   the header (a delivery id over 200 characters used to be recorded and then never handled);
 * - a signed body that is JSON but not an object (`null`, `"x"`, `[]`) → 400 (was 500);
 * - at most VH_WEBHOOK_CONCURRENCY bodies (and 64 MiB of declared bytes) are read at once; beyond
 *   that → 503 with Retry-After, so a flood of 24 MB bad-signature bodies cannot grow memory
 *   without bound (20 at once used to add ~380 MB of RSS); a body that has not arrived within 10 s
 *   (GitHub's own delivery timeout) → 408, and its slot is free again;
 * - what was already there stays: 401s naming WEBHOOK_SECRET, 413 over 25 MB (declared, or while
 *   a chunked body streams), ping, ignored events, queued 202 vs duplicate 200.
 * Loopback only: nock closes the network (startGithubStack), and every client here is local.
 */
import type http from "node:http";
import net from "node:net";
import { sign } from "@octokit/webhooks-methods";
import nock from "nock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { waitFor, type Stack } from "../helpers/stack.js";
import { commentPayload, githubApi, SECRET, signedPost, startGithubStack } from "../github/helpers.js";

const MB = 1024 * 1024;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One POST to the webhook path over a plain TCP socket (node:net: nock, which intercepts node:http
 * and fetch to match requests, would itself buffer every body the test sends), so the test
 * controls the bytes: `total` bytes of spaces in chunks of `chunk` (the same Buffer written again,
 * so the client holds one chunk, not the body), with Content-Length or chunked. `hold` stops after
 * that many bytes and leaves the request open until `release()` (the answer may come meanwhile).
 * `answer` rejects when the connection closes without an answer.
 */
function post(url: string, opts: { headers: Record<string, string>; body?: Buffer; total?: number; chunk?: number; contentLength?: boolean; hold?: number }) {
  const u = new URL(url);
  const total = opts.body?.length ?? opts.total ?? 0;
  const chunked = opts.contentLength === false;
  const fill = Buffer.alloc(Math.min(opts.chunk ?? MB, Math.max(total, 1)), 0x20);
  const head = [
    "POST /api/github/webhooks HTTP/1.1",
    `host: ${u.host}`,
    "content-type: application/json",
    chunked ? "transfer-encoding: chunked" : `content-length: ${total}`,
    ...Object.entries(opts.headers).map(([k, v]) => `${k}: ${v}`),
    "",
    "",
  ].join("\r\n");
  const socket = net.connect({ host: u.hostname, port: Number(u.port) });
  let got = Buffer.alloc(0);
  let answered = false;
  const answer = new Promise<Answer>((resolve, reject) => {
    socket.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const end = got.indexOf("\r\n\r\n");
      if (end < 0 || answered) return;
      const [status, ...lines] = got.subarray(0, end).toString("latin1").split("\r\n");
      const headers: http.IncomingHttpHeaders = {};
      for (const l of lines) headers[l.slice(0, l.indexOf(":")).toLowerCase()] = l.slice(l.indexOf(":") + 1).trim();
      const length = Number(headers["content-length"] ?? 0);
      if (got.length - end - 4 < length) return;
      answered = true;
      resolve({ status: Number(status!.split(" ")[1]), headers, body: got.subarray(end + 4, end + 4 + length).toString("utf8") });
    });
    socket.on("error", () => {});
    socket.on("close", () => reject(new Error("the connection closed without an answer")));
  });
  answer.catch(() => {}); // callers await `answer` themselves
  const frame = (b: Buffer) => (chunked ? [Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from("\r\n")] : [b]);
  const write = (b: Buffer) => {
    let ok = true;
    for (const part of frame(b)) ok = socket.write(part);
    return ok;
  };
  (async () => {
    await new Promise<void>((r) => socket.once("connect", () => r()));
    socket.write(head);
    if (opts.body) {
      write(opts.body);
    } else {
      const stopAt = opts.hold ?? total;
      let sent = 0;
      while (sent < stopAt && !answered && !socket.destroyed) {
        const n = Math.min(fill.length, stopAt - sent);
        const ok = write(n === fill.length ? fill : fill.subarray(0, n));
        sent += n;
        if (!ok) await new Promise<void>((r) => { socket.once("drain", () => r()); socket.once("close", () => r()); });
      }
      if (opts.hold !== undefined) return;
    }
    if (chunked && !socket.destroyed) socket.write("0\r\n\r\n");
  })().catch(() => {});
  return { answer, release: () => socket.destroy() };
}

async function headersFor(body: string, over: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    "x-github-event": "issue_comment",
    "x-github-delivery": `d-${Math.random().toString(16).slice(2)}`,
    "x-hub-signature-256": await sign(SECRET, body),
    ...over,
  };
}

describe("hostile webhooks", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let gh: ReturnType<typeof githubApi>;

  beforeAll(async () => {
    ({ db, stack } = await startGithubStack());
  });
  beforeEach(() => {
    gh = githubApi();
  });
  // not one request to GitHub: everything here is refused, ignored, or handled without GitHub
  afterEach(() => gh.done());
  afterAll(async () => {
    await stack?.stop();
    gh?.reset();
    nock.enableNetConnect();
    await db?.drop();
  });

  const deliveries = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from forge_deliveries`)[0]!.n;
  const message = (a: Answer) => (JSON.parse(a.body) as { error: { message: string } }).error.message;

  it("header values are checked before the body: 400 naming the header, nothing recorded", async () => {
    const before = await deliveries();
    const body = JSON.stringify(commentPayload("hello"));
    const cases: [Record<string, string>, RegExp][] = [
      [{ "x-github-delivery": "a".repeat(201) }, /X-GitHub-Delivery/],
      [{ "x-github-delivery": "../../etc/passwd" }, /X-GitHub-Delivery/],
      [{ "x-github-delivery": "id with spaces" }, /X-GitHub-Delivery/],
      [{ "x-github-event": "Issue-Comment" }, /X-GitHub-Event/],
      [{ "x-github-event": "a".repeat(65) }, /X-GitHub-Event/],
      [{ "x-hub-signature-256": "sha256=00" }, /X-Hub-Signature-256/],
      [{ "x-hub-signature-256": `sha1=${"0".repeat(64)}` }, /X-Hub-Signature-256/],
      [{ "x-hub-signature-256": `sha256=${"g".repeat(64)}` }, /X-Hub-Signature-256/],
    ];
    for (const [over, re] of cases) {
      const a = await post(stack.vh.url, { headers: await headersFor(body, over), body: Buffer.from(body) }).answer;
      expect(a.status, JSON.stringify(over)).toBe(400);
      expect(message(a)).toMatch(re);
    }
    // GitHub's own shape of each (a GUID, snake_case, lowercase hex) is taken
    const ok = await post(stack.vh.url, { headers: await headersFor(body, { "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958" }), body: Buffer.from(body) }).answer;
    expect(ok.status).toBe(202);
    expect(await deliveries()).toBe(before + 1);
  });

  it("a signed body that is JSON but not an object is a 400, not a 500", async () => {
    const before = await deliveries();
    for (const body of ["null", '"x"', "[]", "42", "true"]) {
      const a = await post(stack.vh.url, { headers: await headersFor(body), body: Buffer.from(body) }).answer;
      expect(a.status, body).toBe(400);
      expect(message(a)).toMatch(/JSON object/);
    }
    const notJson = await post(stack.vh.url, { headers: await headersFor("{nope"), body: Buffer.from("{nope") }).answer;
    expect(notJson.status).toBe(400);
    expect(message(notJson)).toMatch(/application\/json/);
    expect(await deliveries()).toBe(before);
  });

  it("what was there stays: 401s naming WEBHOOK_SECRET, 413 over 25 MB, ping, ignored events, 202 then 200", async () => {
    const payload = commentPayload("just a comment");
    const bad = await signedPost(stack.vh.url, "issue_comment", payload, "keep-badsig", "not-the-secret");
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/WEBHOOK_SECRET/);
    const unsigned = await post(stack.vh.url, { headers: { "x-github-event": "issue_comment", "x-github-delivery": "keep-unsigned" }, body: Buffer.from("{}") }).answer;
    expect(unsigned.status).toBe(401);
    expect(message(unsigned)).toMatch(/WEBHOOK_SECRET/);
    const sig = `sha256=${"0".repeat(64)}`;
    const declared = await post(stack.vh.url, { headers: { "x-github-event": "issue_comment", "x-github-delivery": "keep-huge", "x-hub-signature-256": sig }, total: 26 * MB }).answer;
    expect(declared.status).toBe(413);
    const chunked = await post(stack.vh.url, { headers: { "x-github-event": "issue_comment", "x-github-delivery": "keep-huge-chunked", "x-hub-signature-256": sig }, total: 26 * MB, contentLength: false }).answer;
    expect(chunked.status).toBe(413);
    expect(message(chunked)).toMatch(/25 MB/);

    const ping = await signedPost(stack.vh.url, "ping", { zen: "Design for failure." }, "keep-ping");
    expect(await ping.json()).toEqual({ ok: true, pong: true });
    const star = await signedPost(stack.vh.url, "star", { action: "created" }, "keep-star");
    expect(star.status).toBe(200);
    expect(await star.json()).toEqual({ ok: true, ignored: "event star is not used" });
    const first = await signedPost(stack.vh.url, "issue_comment", payload, "keep-queued");
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ ok: true, delivery: "keep-queued", queued: true });
    const again = await signedPost(stack.vh.url, "issue_comment", payload, "keep-queued");
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ ok: true, delivery: "keep-queued", duplicate: true });
    // handled by Probot's receive path and the forge_event task, without GitHub (not a command)
    await waitFor("the delivery handled", async () => {
      const [r] = await db.sql<{ outcome: string | null }[]>`select outcome from forge_deliveries where id = 'keep-queued' and processed_at is not null`;
      return r?.outcome ?? undefined;
    }, 20_000);
    const rows = await db.sql<{ id: string }[]>`select id from forge_deliveries where id like 'keep-%' order by id`;
    expect(rows.map((r) => r.id)).toEqual(["keep-queued"]);
  });

  it("bodies in flight are capped: the 9th slow body gets 503 with Retry-After; a stalled body gets 408 and frees its slot", async () => {
    const sig = `sha256=${"0".repeat(64)}`;
    const slow = Array.from({ length: 8 }, (_v, i) =>
      post(stack.vh.url, { headers: { "x-github-event": "issue_comment", "x-github-delivery": `slow-${i}`, "x-hub-signature-256": sig }, total: 1000, hold: 10 }));
    await new Promise((r) => setTimeout(r, 300)); // all eight admitted and waiting for bytes
    const t0 = Date.now();
    const ninth = await post(stack.vh.url, { headers: await headersFor("{}"), body: Buffer.from("{}") }).answer;
    expect(ninth.status).toBe(503);
    expect(Number(ninth.headers["retry-after"])).toBeGreaterThan(0);
    expect(message(ninth)).toMatch(/VH_WEBHOOK_CONCURRENCY/);
    expect(Date.now() - t0).toBeLessThan(1000);
    // one slow body released: a slot is free again
    slow[0]!.release();
    await expect(slow[0]!.answer).rejects.toThrow();
    const next = await waitFor("a free slot", async () => {
      const a = await post(stack.vh.url, { headers: await headersFor("{}", { "x-github-event": "star" }), body: Buffer.from("{}") }).answer;
      return a.status === 503 ? undefined : a;
    }, 5000, 50);
    expect(next.status).toBe(200);
    // the other seven stall: each gets 408 after 10 s (GitHub gives up on a delivery after 10 s too)
    const stalled = await Promise.all(slow.slice(1).map((s) => s.answer));
    expect(stalled.map((a) => a.status)).toEqual(Array(7).fill(408));
    expect(Date.now() - t0).toBeLessThan(20_000);
    for (const s of slow) s.release();
    const after = await post(stack.vh.url, { headers: await headersFor("{}", { "x-github-event": "star" }), body: Buffer.from("{}") }).answer;
    expect(after.status).toBe(200);
  }, 40_000);

  it("an ordinary burst is not refused: 32 small signed deliveries at once are all answered", async () => {
    const answers = await Promise.all(Array.from({ length: 32 }, (_v, i) => signedPost(stack.vh.url, "star", { action: "created", i }, `burst-${i}`)));
    expect(answers.map((a) => a.status)).toEqual(Array(32).fill(200));
  });

  it("a flood of 20 × 24 MB bad-signature bodies at once keeps memory bounded", async () => {
    const sig = `sha256=${"0".repeat(64)}`;
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 200));
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    const t0 = Date.now();
    let answers: Answer[];
    try {
      answers = await Promise.all(
        Array.from({ length: 20 }, (_v, i) =>
          post(stack.vh.url, { headers: { "x-github-event": "issue_comment", "x-github-delivery": `flood-${i}`, "x-hub-signature-256": sig }, total: 24 * MB, chunk: 256 * 1024 })
            .answer.catch((err: Error) => ({ status: -1, headers: {}, body: String(err) }) as Answer)),
      );
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const grewMb = Math.round((peak - base) / MB);
    console.log(`20 × 24 MB bad-signature flood: RSS +${grewMb} MB (peak ${Math.round(peak / MB)} MB), ${Date.now() - t0} ms, statuses ${JSON.stringify(answers.map((a) => a.status))}`);
    const counts = answers.reduce<Record<number, number>>((m, a) => ((m[a.status] = (m[a.status] ?? 0) + 1), m), {});
    expect(Object.keys(counts).map(Number).sort()).toEqual(expect.arrayContaining([401]));
    expect((counts[401] ?? 0) + (counts[503] ?? 0), JSON.stringify(counts)).toBe(20);
    for (const a of answers.filter((x) => x.status === 503)) expect(Number(a.headers["retry-after"])).toBeGreaterThan(0);
    // generous: the bodies held at once are capped at 64 MiB of declared bytes (+61 MB measured);
    // the unbounded version grew by ~330 MB here
    expect(grewMb).toBeLessThan(200);
    expect(await db.sql`select id from forge_deliveries where id like 'flood-%'`).toEqual([]);
  }, 60_000);
});
