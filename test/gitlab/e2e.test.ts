/**
 * GitLab end to end: a Note Hook `/vh run train lr=[0.01,0.001]` on a merge request, POSTed with
 * the hook's secret token to the real server → 👀 on the note → two executions on the local runner
 * → one commit status on the head SHA that ends `success` → one sticky MR note, edited in place,
 * naming both values. Then: the same event again (same UUID), the same note under a new UUID, a
 * Guest's comment and a wrong token start nothing. GitLab's API is a strict fake (nock): an
 * unmatched request fails the test, and every write's body is asserted.
 */
import fs from "node:fs";
import path from "node:path";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { API, GITLAB, PROJECT_ID, SECRET, TOKEN, archiveOf, notePayload, projectPath, strictNet } from "./helpers.js";

const HEAD = "5f923865dde3436854e9ceb9cdb7815618d4e849";
const FIXTURE = path.resolve(import.meta.dirname, "../github/fixture-repo");
const files = Object.fromEntries(fs.readdirSync(FIXTURE).map((f) => [f, fs.readFileSync(path.join(FIXTURE, f), "utf8")]));
const BOT = { id: 99, username: "vh-bot" };
const MEMBERS: Record<string, { id: number; access_level: number }> = { root: { id: 1, access_level: 30 }, guest: { id: 7, access_level: 10 } };

interface Status {
  id: number;
  name: string;
  status: string;
  description: string | null;
  target_url: string | null;
}
interface Note {
  id: number;
  body: string;
  author: { id: number; username: string };
  system: boolean;
}

/** A small stateful GitLab: statuses and notes as written, every request recorded. */
function fakeGitLab() {
  const writes: { method: string; path: string; body: any }[] = [];
  const unmatched: string[] = [];
  const statuses: Status[] = [];
  const notes: Note[] = [];
  let nextId = 9000;
  const onNoMatch = (req: { method?: string; path?: string; hostname?: string }) => {
    // loopback passes through (the server under test); anything else is a request the fake lacks
    if (req.hostname !== "127.0.0.1" && req.hostname !== "localhost") unmatched.push(`${req.method} ${req.hostname ?? ""}${req.path ?? ""}`);
  };
  nock.emitter.on("no match", onNoMatch);
  const mr = `${projectPath}/merge_requests/1`;
  const scope = nock(GITLAB, { reqheaders: { "private-token": TOKEN } })
    .persist()
    .get(`${API}/user`).reply(200, BOT)
    .post(/\/merge_requests\/1\/notes\/\d+\/award_emoji$/).reply(function (_uri, body) {
      writes.push({ method: "POST", path: this.req.path, body });
      return [201, { id: 1, name: "eyes" }];
    })
    .get(`${API}/users`).query(true).reply((uri) => {
      const name = new URL(uri, GITLAB).searchParams.get("username") ?? "";
      const m = MEMBERS[name];
      return [200, m ? [{ id: m.id, username: name }] : []];
    })
    .get(/\/api\/v4\/projects\/5\/members\/all\/\d+$/).reply((uri) => {
      const id = Number(uri.split("/").pop());
      const m = Object.values(MEMBERS).find((x) => x.id === id);
      return m ? [200, { id, username: "?", access_level: m.access_level, state: "active" }] : [404, { message: "404 Not found" }];
    })
    .get(mr).reply(200, {
      iid: 1, title: "Smaller learning rate", state: "opened", sha: HEAD, source_branch: "lr", source_project_id: PROJECT_ID, target_project_id: PROJECT_ID,
      author: { id: 1, username: "root" },
    })
    .get(`${projectPath}/repository/archive.tar.gz`).query({ sha: HEAD }).reply(200, async () => archiveOf(files, HEAD), { "content-type": "application/x-gzip" })
    .get(`${projectPath}/repository/commits/${HEAD}/statuses`).query(true).reply((uri) => {
      const name = new URL(uri, GITLAB).searchParams.get("name");
      return [200, statuses.filter((s) => s.name === name)];
    })
    .post(`${projectPath}/statuses/${HEAD}`).reply(function (_uri, body: any) {
      writes.push({ method: "POST", path: this.req.path, body });
      const s = { id: nextId++, name: body.name, status: body.state, description: body.description ?? null, target_url: body.target_url ?? null };
      statuses.push(s);
      return [201, s];
    })
    .get(`${mr}/notes`).query(true).reply(200, () => notes, { "x-next-page": "" })
    .get(/\/merge_requests\/1\/notes\/\d+$/).reply((uri) => {
      const n = notes.find((x) => x.id === Number(uri.split("/").pop()));
      return n ? [200, n] : [404, { message: "404 Not found" }];
    })
    .post(`${mr}/notes`).reply(function (_uri, body: any) {
      writes.push({ method: "POST", path: this.req.path, body });
      const n = { id: nextId++, body: body.body, author: BOT, system: false };
      notes.push(n);
      return [201, n];
    })
    .put(/\/merge_requests\/1\/notes\/\d+$/).reply(function (uri, body: any) {
      writes.push({ method: "PUT", path: this.req.path, body });
      const n = notes.find((x) => x.id === Number(uri.split("/").pop()));
      if (!n) return [404, { message: "404 Not found" }];
      n.body = body.body;
      return [200, n];
    });
  return {
    writes,
    unmatched,
    statuses,
    notes,
    close() {
      nock.emitter.removeListener("no match", onNoMatch);
      scope.persist(false);
      nock.cleanAll();
    },
  };
}

function hook(stack: Stack, body: unknown, opts: { uuid: string; token?: string; event?: string }): Promise<Response> {
  return fetch(`${stack.vh.url}/api/gitlab/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-gitlab-event": opts.event ?? "Note Hook",
      "x-gitlab-token": opts.token ?? SECRET,
      "x-gitlab-event-uuid": opts.uuid,
      "x-gitlab-instance": GITLAB,
    },
    body: JSON.stringify(body),
  });
}

describe("GitLab end to end", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let gl: ReturnType<typeof fakeGitLab>;

  beforeAll(async () => {
    strictNet();
    db = await createTestDatabase();
    stack = await startStack({
      databaseUrl: db.connectionString,
      env: { GITLAB_URL: GITLAB, GITLAB_TOKEN: TOKEN, GITLAB_WEBHOOK_SECRET: SECRET, VH_GITHUB_REPORT_INTERVAL_S: "0.2" },
    });
    gl = fakeGitLab();
  });

  afterAll(async () => {
    await stack?.stop();
    gl?.close();
    nock.enableNetConnect();
    await db?.drop();
  });

  it("/vh run train lr=[0.01,0.001] on a merge request: a success commit status on the head and one sticky note naming both values; replays, a Guest and a wrong token start nothing", async () => {
    onTestFailed(async () => {
      console.log("writes", JSON.stringify(gl.writes, null, 1), "unmatched", gl.unmatched);
      console.log(await db.sql`select forge, id, event, processed_at, outcome from forge_deliveries`);
      console.log(await db.sql`select task_identifier, attempts, last_error from graphile_worker.jobs`);
    });
    const payload = notePayload("/vh run train lr=[0.01,0.001]\n\nTrying a smaller learning rate.", { username: "root", userId: 1, noteId: 1244 });
    payload["merge_request"]["last_commit"] = { id: HEAD };
    const res = await hook(stack, payload, { uuid: "e2e-0001" });
    expect(res.status).toBe(202);

    const execs = await waitFor("two completed executions", async () => {
      const rows = await db.sql<{ status: string; commit_sha: string; triggered_by: string; command: string }[]>`
        select status, commit_sha, triggered_by, command from executions order by counter`;
      return rows.length === 2 && rows.every((r) => ["completed", "failed", "error"].includes(r.status)) ? rows : undefined;
    }, 60_000);
    expect(execs.map((e) => [e.status, e.commit_sha, e.triggered_by])).toEqual([["completed", HEAD, "root"], ["completed", HEAD, "root"]]);
    expect(execs.map((e) => e.command)).toEqual(["python3 train.py --lr=0.01 --epochs=2 --note=none", "python3 train.py --lr=0.001 --epochs=2 --note=none"]);
    const [sweep] = await db.sql<{ source: Record<string, unknown> }[]>`select source from sweeps`;
    expect(sweep!.source).toEqual({ kind: "forge", forge: "gitlab", repositoryId: PROJECT_ID, repo: "gitlab-org/gitlab-test", installationId: 0, pr: 1, trigger: "comment", commentId: 1244 });

    // the report ends: the commit status is success, and the one sticky note has both runs
    await waitFor("the success status", async () => (gl.statuses.some((s) => s.status === "success") ? true : undefined), 20_000);
    const final = await waitFor("the final sticky note", async () => {
      const sticky = gl.notes.filter((n) => n.body.includes("<!--"));
      return sticky.length === 1 && /completed/.test(sticky[0]!.body) && !/running|queued|starting/.test(sticky[0]!.body) ? sticky[0]! : undefined;
    }, 20_000);
    if (process.env["VH_PRINT"]) console.log(final.body);
    expect(final.body).toContain("### vh · merge request !1");
    expect(final.body).toContain("lr=0.01");
    expect(final.body).toContain("lr=0.001");
    // 👀 first, on the command's note
    expect(gl.writes[0]).toEqual({ method: "POST", path: `${projectPath}/merge_requests/1/notes/1244/award_emoji`, body: { name: "eyes" } });
    // one status name on the head commit, walking pending/running → success, each state once
    const posted = gl.writes.filter((w) => w.path === `${projectPath}/statuses/${HEAD}`).map((w) => w.body);
    expect(new Set(posted.map((b) => b.name))).toEqual(new Set(["vh: train (sweep of 2) · #1"]));
    expect(posted.at(-1)).toMatchObject({ state: "success" });
    expect(posted.at(-1).description.length).toBeLessThanOrEqual(255);
    const states = posted.map((b) => b.state);
    expect(states.filter((s) => s === "success")).toHaveLength(1);
    expect(states.every((s) => ["pending", "running", "success"].includes(s))).toBe(true);
    // the note was created once and edited in place afterwards
    expect(gl.writes.filter((w) => w.method === "POST" && w.path.endsWith("/merge_requests/1/notes"))).toHaveLength(1);

    // Nothing new from here on: the same delivery, the same note under a new UUID, a Guest, a wrong token.
    // (Once vh's own report rounds are done: a round the second execution's end queued may still be
    // writing the note when the first round's final state is seen.)
    await waitFor("the report rounds to finish", async () => {
      const [r] = await db.sql<{ n: number }[]>`select count(*)::int as n from graphile_worker.jobs where task_identifier in ('forge_report', 'github_report')`;
      return r!.n === 0 ? true : undefined;
    }, 20_000);
    const before = gl.writes.length;
    expect((await hook(stack, payload, { uuid: "e2e-0001" })).status).toBe(200);
    expect((await hook(stack, payload, { uuid: "e2e-0002" })).status).toBe(202);
    const guest = notePayload("/vh run train lr=[0.5]", { username: "guest", userId: 7, noteId: 1245 });
    expect((await hook(stack, guest, { uuid: "e2e-0003" })).status).toBe(202);
    const wrong = await hook(stack, notePayload("/vh run train", { noteId: 1246 }), { uuid: "e2e-0004", token: "not-the-secret" });
    expect(wrong.status).toBe(401);
    const outcomes = await waitFor("the two new deliveries handled", async () => {
      const rows = await db.sql<{ id: string; outcome: string | null }[]>`
        select id, outcome from forge_deliveries where forge = 'gitlab' and id in ('e2e-0002', 'e2e-0003') and processed_at is not null order by id`;
      return rows.length === 2 ? rows : undefined;
    }, 20_000);
    expect(outcomes[0]!.outcome).toMatch(/^already created sweep /);
    expect(outcomes[1]!.outcome).toBe("refused: guest has read");
    expect((await db.sql`select id from forge_deliveries where id = 'e2e-0004'`)).toEqual([]);
    expect((await db.sql<{ n: number }[]>`select count(*)::int as n from executions`)[0]!.n).toBe(2);
    expect((await db.sql<{ n: number }[]>`select count(*)::int as n from sweeps`)[0]!.n).toBe(1);
    // 👀 on both notes; the Guest was told why in a reply note; nothing else was written (the two
    // deliveries are handled side by side, so their writes interleave)
    const after = gl.writes.slice(before);
    expect(after.map((w) => `${w.method} ${w.path}`).sort()).toEqual([
      `POST ${projectPath}/merge_requests/1/notes`,
      `POST ${projectPath}/merge_requests/1/notes/1244/award_emoji`,
      `POST ${projectPath}/merge_requests/1/notes/1245/award_emoji`,
    ]);
    const reply = after.find((w) => w.path.endsWith("/notes"))!;
    expect(gl.unmatched).toEqual([]);
    expect(reply.body.body).toMatch(/^@guest .*needs the Developer role or higher on gitlab-org\/gitlab-test; yours is `read`/s);
  }, 120_000);
});
