/**
 * POST /api/gitlab/webhooks on a real database: the token before the body, the signature, one
 * recorded delivery and one queued `forge_event` job per idempotency key, and only 2xx answers
 * once the token matched (GitLab disables a hook after four 4xx in a row).
 */
import postgres from "postgres";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Sql } from "../../db/client.js";
import { createLogger } from "../../app/log.js";
import type { GitLabConfig } from "../../app/config.js";
import { GITLAB_WEBHOOK_PATH, gitlabWebhookRoutes, signGitLab } from "../../app/forges/gitlab/webhook-route.js";
import { createTestDatabase } from "../helpers/db.js";
import { freePort } from "../helpers/net.js";
import { SECRET, SIGNING_TOKEN, fixture, gitlabConfig, notePayload } from "./helpers.js";

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const UUID = "f5e5f430-f57b-4e6e-9fac-d9128cd7232f";
const EVENT_UUID = "13792a34-cac6-4fda-95a8-c58e00a3954e";

describe("GitLab webhook route", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let config: GitLabConfig | null;
  let logs: string[];
  let app: ReturnType<typeof gitlabWebhookRoutes>;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  beforeEach(async () => {
    await db.sql`delete from forge_deliveries`;
    await db.sql`delete from graphile_worker._private_jobs`;
    config = gitlabConfig();
    logs = [];
    app = routes(db.sql);
  });

  function routes(sql: Sql) {
    return gitlabWebhookRoutes({ sql, config: () => config, log: createLogger("warn", (l) => logs.push(l)), now: () => NOW });
  }

  function post(body: unknown, headers: Record<string, string | undefined> = {}, target = app) {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    const h: Record<string, string> = {
      "content-type": "application/json",
      "x-gitlab-token": SECRET,
      "x-gitlab-event": "Note Hook",
      "idempotency-key": UUID,
      "x-gitlab-event-uuid": EVENT_UUID,
      "x-gitlab-instance": "https://gitlab.example.com",
    };
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined) delete h[k];
      else h[k] = v;
    }
    return target.request("/", { method: "POST", headers: h, body: text });
  }

  async function recorded() {
    const deliveries = await db.sql<{ forge: string; id: string; event: string; action: string | null; installation_id: string | null; payload: unknown }[]>`
      select forge, id, event, action, installation_id, payload from forge_deliveries order by received_at`;
    // graphile_worker.jobs is a view without the payloads
    const jobs = await db.sql<{ task_identifier: string; payload: unknown; key: string | null }[]>`
      select j.task_identifier, p.payload, j.key from graphile_worker.jobs j join graphile_worker._private_jobs p on p.id = j.id order by j.id`;
    return { deliveries: [...deliveries], jobs: [...jobs] };
  }

  it("is mounted at /api/gitlab/webhooks", () => {
    expect(GITLAB_WEBHOOK_PATH).toBe("/api/gitlab/webhooks");
  });

  it("records a merge request note once and queues one forge_event job; a replay is a duplicate", async () => {
    const payload = notePayload("/vh run train lr=[0.01,0.001]");
    const res = await post(payload);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ ok: true, delivery: UUID, queued: true });
    const again = await post(payload);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ ok: true, delivery: UUID, duplicate: true });
    const { deliveries, jobs } = await recorded();
    expect(deliveries).toEqual([{ forge: "gitlab", id: UUID, event: "Note Hook", action: "create", installation_id: null, payload }]);
    expect(jobs).toEqual([{ task_identifier: "forge_event", payload: { forge: "gitlab", deliveryId: UUID }, key: `forge_event:gitlab:${UUID}` }]);
  });

  it("keys a delivery by X-Gitlab-Event-UUID when GitLab (before 17.4) sends no Idempotency-Key; neither is a 400", async () => {
    const push = fixture("push");
    expect((await post(push, { "x-gitlab-event": "Push Hook", "idempotency-key": undefined })).status).toBe(202);
    const mr = fixture("merge-request-approved");
    const other = "0b5e3c1a-9d52-4c65-9f3e-2f4d8a6b7c10";
    expect((await post(mr, { "x-gitlab-event": "Merge Request Hook", "idempotency-key": undefined, "x-gitlab-event-uuid": other })).status).toBe(202);
    const none = await post(push, { "x-gitlab-event": "Push Hook", "idempotency-key": undefined, "x-gitlab-event-uuid": undefined });
    expect(none.status).toBe(400);
    const { deliveries, jobs } = await recorded();
    expect(deliveries.map((d) => [d.id, d.event, d.action])).toEqual([
      [EVENT_UUID, "Push Hook", null],
      [other, "Merge Request Hook", "approved"],
    ]);
    expect(jobs.map((j) => j.payload)).toEqual([
      { forge: "gitlab", deliveryId: EVENT_UUID },
      { forge: "gitlab", deliveryId: other },
    ]);
  });

  it("refuses a wrong or missing token with 401, before reading the body, and records nothing", async () => {
    const wrong = await post(notePayload("/vh run train"), { "x-gitlab-token": "not-the-secret" });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { message: string } }).error.message).toMatch(/GITLAB_WEBHOOK_SECRET/);
    const missing = await post(notePayload("/vh run train"), { "x-gitlab-token": undefined });
    expect(missing.status).toBe(401);
    const longer = await post(notePayload("/vh run train"), { "x-gitlab-token": SECRET + "x" });
    expect(longer.status).toBe(401);
    // the body is not read: a stream of 30 MiB is pulled from at most once (the stream's own first pull)
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        pulls++;
        ctrl.enqueue(new Uint8Array(1024 * 1024));
        if (pulls >= 30) ctrl.close();
      },
    });
    const headers = new Headers({ "x-gitlab-token": "not-the-secret", "x-gitlab-event": "Note Hook", "idempotency-key": UUID });
    expect((await app.request("/", { method: "POST", headers, body, duplex: "half" } as RequestInit)).status).toBe(401);
    expect(pulls).toBeLessThanOrEqual(1);
    expect(await recorded()).toEqual({ deliveries: [], jobs: [] });
    expect(logs.some((l) => l.includes("gitlab webhook token mismatch"))).toBe(true);
    expect(logs.join("\n")).not.toContain(SECRET);
  });

  it("503 naming the settings while GitLab, or its webhook secret, is not configured", async () => {
    config = null;
    const off = await post(notePayload("x"));
    expect(off.status).toBe(503);
    expect(((await off.json()) as { error: { message: string } }).error.message).toMatch(/GITLAB_TOKEN and GITLAB_WEBHOOK_SECRET/);
    config = gitlabConfig({ webhookSecret: null });
    const noSecret = await post(notePayload("x"));
    expect(noSecret.status).toBe(503);
    expect(((await noSecret.json()) as { error: { message: string } }).error.message).toMatch(/GITLAB_WEBHOOK_SECRET is not set/);
    expect(await recorded()).toEqual({ deliveries: [], jobs: [] });
  });

  it("after a valid token, what a retry cannot fix is a 200 that drops it, with a log line", async () => {
    const unused = await post({ object_kind: "pipeline" }, { "x-gitlab-event": "Pipeline Hook" });
    expect(unused.status).toBe(200);
    expect(await unused.json()).toEqual({ ok: true, ignored: "event Pipeline Hook is not used" });
    const notJson = await post("{not json", {});
    expect(notJson.status).toBe(200);
    expect(await notJson.json()).toEqual({ ok: true, ignored: "the body is not JSON" });
    const array = await post("[1,2]", {});
    expect(await array.json()).toEqual({ ok: true, ignored: "the body is not a JSON object" });
    const huge = await post("{}", { "content-length": String(26 * 1024 * 1024) });
    expect(huge.status).toBe(200);
    expect(await huge.json()).toEqual({ ok: true, ignored: "the body is over 25 MB" });
    expect(await recorded()).toEqual({ deliveries: [], jobs: [] });
    expect(logs.filter((l) => l.includes("gitlab webhook dropped"))).toHaveLength(3);
    expect(logs.some((l) => l.includes(`"delivery":"${UUID}"`) && l.includes("the body is not JSON"))).toBe(true);
  });

  it("reads at most 25 MB of a body that declares no length", async () => {
    const chunk = new Uint8Array(1024 * 1024).fill(32);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (sent++ >= 30) ctrl.close();
        else ctrl.enqueue(chunk);
      },
    });
    const headers = new Headers({ "x-gitlab-token": SECRET, "x-gitlab-event": "Note Hook", "idempotency-key": UUID });
    const res = await app.request("/", { method: "POST", headers, body, duplex: "half" } as RequestInit);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, ignored: "the body is over 25 MB" });
    expect(sent).toBeLessThan(30);
  });

  it("a database failure is a 503 (GitLab sends the delivery again later)", async () => {
    const port = await freePort();
    const down = postgres(`postgres://vh@127.0.0.1:${port}/vh`, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      const res = await post(notePayload("/vh run train"), {}, routes(down));
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      expect(logs.some((l) => l.includes("gitlab webhook not recorded") && l.includes("ECONNREFUSED"))).toBe(true);
    } finally {
      await down.end({ timeout: 1 });
    }
  });

  describe("with a signing token", () => {
    beforeEach(() => {
      config = gitlabConfig({ signingToken: SIGNING_TOKEN });
    });
    const signed = (body: string, opts: { id?: string; ts?: number; token?: string } = {}) => {
      const ts = String(Math.floor((opts.ts ?? NOW) / 1000));
      const id = opts.id ?? UUID;
      return { "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": signGitLab(opts.token ?? SIGNING_TOKEN, id, ts, body) };
    };

    it("accepts a delivery signed with it (any of several signatures)", async () => {
      const body = JSON.stringify(notePayload("/vh run train"));
      const h = signed(body);
      const res = await post(body, { ...h, "webhook-signature": `v1,${Buffer.alloc(32).toString("base64")} ${h["webhook-signature"]}` });
      expect(res.status).toBe(202);
      expect((await recorded()).deliveries).toHaveLength(1);
    });

    it("refuses a bad, a stale, a missing signature with 401, and records nothing", async () => {
      const body = JSON.stringify(notePayload("/vh run train"));
      const other = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
      const cases: [Record<string, string | undefined>, RegExp][] = [
        [signed(body, { token: other }), /must equal GITLAB_WEBHOOK_SIGNING_TOKEN/],
        [signed(body.replace("train", "tr4in")), /does not match/],
        [{ ...signed(body), "webhook-signature": signed(body)["webhook-signature"].replace("v1,", "v2,") }, /does not match/],
        [signed(body, { ts: NOW - 10 * 60_000 }), /more than 5 minutes from now/],
        [{ ...signed(body), "webhook-signature": undefined }, /Missing webhook-signature/],
      ];
      for (const [headers, message] of cases) {
        const res = await post(body, headers);
        expect(res.status).toBe(401);
        expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
      }
      expect(await recorded()).toEqual({ deliveries: [], jobs: [] });
    });
  });
});
