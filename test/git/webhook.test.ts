/**
 * `POST /api/git/webhooks/:repo` through `app.request()` (no server): a good HMAC queues a poll
 * now (replacing the pending one's time), a bad or missing one is 401, an unknown repository or
 * one without a secret 404. A webhook that arrives while a poll runs is not pushed back by that
 * poll's re-add.
 */
import { createHmac } from "node:crypto";
import fs from "node:fs";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitWebhookRoutes, WEBHOOK_PATH } from "../../app/forges/git/webhook-route.js";
import { linkRepository } from "../../app/forges/git/repos.js";
import { pollRepository } from "../../app/forges/git/poll.js";
import type { GitDeps } from "../../app/forges/git/types.js";
import type { RepositoryView } from "../../app/forges/git/types.js";
import { createTestDatabase } from "../helpers/db.js";
import { gitDeps, queuedJobs, tempDir, TestRepo, VALID_YAML } from "./helpers.js";

const SECRET = "a-webhook-secret-of-some-length";
const sign = (body: string, secret = SECRET) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

describe("git webhook", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let served: string;
  let data: string;
  let deps: GitDeps;
  let app: Hono;
  let signed: RepositoryView;
  let unsigned: RepositoryView;

  beforeAll(async () => {
    db = await createTestDatabase();
    served = tempDir("vh-git-hook-served-");
    data = tempDir("vh-git-hook-data-");
    deps = gitDeps(db.sql, data);
    const a = new TestRepo(served, "hooked");
    a.commit({ "valohai.yaml": VALID_YAML }, "first");
    const b = new TestRepo(served, "plain");
    b.commit({ "valohai.yaml": VALID_YAML }, "first");
    signed = await linkRepository(deps, { url: a.fileUrl, webhookSecret: SECRET }, { allowFile: true });
    unsigned = await linkRepository(deps, { url: b.fileUrl }, { allowFile: true });
    app = new Hono();
    app.route(WEBHOOK_PATH, gitWebhookRoutes({ sql: db.sql, log: deps.log }));
  });
  afterAll(async () => {
    await db?.drop();
    fs.rmSync(served, { recursive: true, force: true });
    fs.rmSync(data, { recursive: true, force: true });
  });

  const post = (repo: string, body: string, headers: Record<string, string> = {}) =>
    app.request(`${WEBHOOK_PATH}/${repo}`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
  const pendingPoll = async (id: number) => (await queuedJobs(db.sql, "git_poll")).filter((j) => j.key === `git_poll:${id}`);

  it("a good signature queues a poll now, replacing the pending poll's time (by id, or by the name)", async () => {
    expect((await pendingPoll(signed.id))[0]!.inS).toBeGreaterThan(50);
    const body = JSON.stringify({ ref: "refs/heads/main" });
    const res = await post(String(signed.id), body, { "x-hub-signature-256": sign(body) });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ ok: true, repository: signed.id, poll: "queued" });
    const jobs = await pendingPoll(signed.id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.inS).toBeLessThan(1);
    expect(jobs[0]!.queue).toBe(`git_poll:${signed.id}`);

    const byName = await post(encodeURIComponent(signed.name), "{}", { "x-vh-signature": sign("{}").slice("sha256=".length) });
    expect(byName.status).toBe(202);
    expect(await pendingPoll(signed.id)).toHaveLength(1);
  });

  it("a bad or missing signature is 401 and queues nothing", async () => {
    await db.sql`delete from graphile_worker._private_jobs`;
    const body = "{}";
    for (const headers of [{} as Record<string, string>, { "x-hub-signature-256": sign(body, "another-secret-entirely") }, { "x-hub-signature-256": "sha256=zz" }, { "x-hub-signature-256": sign(`${body} `) }]) {
      const res = await post(String(signed.id), body, headers);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
    expect(await queuedJobs(db.sql)).toEqual([]);
  });

  it("an unknown repository, or one without a webhook secret, is 404", async () => {
    expect((await post("999", "{}", { "x-hub-signature-256": sign("{}") })).status).toBe(404);
    expect((await post("no-such-name", "{}", { "x-hub-signature-256": sign("{}") })).status).toBe(404);
    expect((await post(String(unsigned.id), "{}", { "x-hub-signature-256": sign("{}") })).status).toBe(404);
  });

  it("a webhook during a running poll keeps its time: the poll's re-add does not push it back", async () => {
    await db.sql`delete from graphile_worker._private_jobs`;
    // the worker has taken the poll (locked); the webhook arrives meanwhile
    await db.sql`select graphile_worker.add_job('git_poll', ${db.sql.json({ repositoryId: signed.id })}::json, queue_name => ${`git_poll:${signed.id}`}, job_key => ${`git_poll:${signed.id}`})`;
    await db.sql`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'test-worker'`;
    const body = "{}";
    expect((await post(String(signed.id), body, { "x-hub-signature-256": sign(body) })).status).toBe(202);
    await pollRepository(deps, signed.id);
    await db.sql`delete from graphile_worker._private_jobs where locked_by = 'test-worker'`;
    const jobs = await pendingPoll(signed.id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.inS).toBeLessThan(1);
  });
});
