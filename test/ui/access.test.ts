/**
 * Who may see what in the web UI (app/http/ui/pages.ts), over HTTP on a whole vh: no session → the
 * sign-in form (401); a token scoped to another project sees none of this project's executions,
 * pages or series; the sign-in's way back only goes to a UI path of this server; the list's
 * filters; the series' downsampling and full download.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";
import { uploadFiles } from "../helpers/snapshot.js";
import { createToken } from "../../app/auth/api-tokens.js";

const YAML = `
- step:
    name: train
    image: python:3.12
    command:
      - echo hi
`;

type Exec = { id: string; counter: number };

describe("the web UI's access and data", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let mine: Exec;
  let theirs: Exec;
  let otherToken: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
    await stack.api("POST", "/api/v1/projects", { name: "mine" });
    const other = await stack.api<{ id: string; name: string }>("POST", "/api/v1/projects", { name: "theirs" });
    const code = await uploadFiles(stack, { "valohai.yaml": YAML });
    mine = await stack.api<Exec>("POST", "/api/v1/projects/mine/executions", { code, step: "train", tags: ["blue"] });
    theirs = await stack.api<Exec>("POST", "/api/v1/projects/theirs/executions", { code, step: "train" });
    otherToken = (await createToken(db.sql, { name: "them", role: "viewer", project: { id: other.id, name: other.name }, expiresAt: null, createdBy: null })).token;
    // 3,000 metadata points for `mine`: x = step, y = a spike at 1234
    await db.sql`insert into metadata_events (execution_id, seq, time, data)
      select ${mine.id}::uuid, g, now(), jsonb_build_object('step', g, 'loss', case when g = 1234 then 99 else 1.0 / g end)
      from generate_series(1, 3000) g`;
    // as ingestion keeps it (worker/supervisor/ingest.ts): the latest value of each key
    await db.sql`update executions set metadata_latest = '{"step": 3000, "loss": 0.00033}' where id = ${mine.id}`;
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  const get = (p: string, token?: string) => fetch(stack.vh.url + p, { headers: token ? { cookie: `vh_token=${token}` } : {}, redirect: "manual" });

  it("answers the sign-in form without a session, on every page", async () => {
    for (const p of ["/ui/executions", `/ui/executions/${mine.id}`, `/ui/executions/${mine.id}/series/loss`, `/ui/compare?id=${mine.id}&id=${theirs.id}`]) {
      const res = await get(p);
      expect(res.status, p).toBe(401);
      const html = await res.text();
      expect(html).toContain('<form method="post" action="/login">');
      expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    }
  });

  it("goes back to the UI page after sign-in, and nowhere else", async () => {
    const login = (next: string) =>
      fetch(`${stack.vh.url}/login`, { method: "POST", body: new URLSearchParams({ token: stack.vh.token, next }), redirect: "manual" });
    expect((await login("/ui/executions?tag=blue")).headers.get("location")).toBe("/ui/executions?tag=blue");
    for (const bad of ["https://evil.example.com/ui/", "//evil.example.com/ui/x", "/\\evil.example.com", "/api/v1/me"]) {
      expect((await login(bad)).headers.get("location"), bad).toBe("/");
    }
  });

  it("shows a project-scoped token only its project", async () => {
    const list = await (await get("/ui/executions", otherToken)).text();
    expect(list).toContain(`/ui/executions/${theirs.id}`);
    expect(list).not.toContain(`/ui/executions/${mine.id}`);
    expect((await get(`/ui/executions/${mine.id}`, otherToken)).status).toBe(404);
    expect((await get(`/ui/executions/${mine.id}/series/loss`, otherToken)).status).toBe(404);
    expect((await get(`/ui/compare?id=${mine.id}&id=${theirs.id}`, otherToken)).status).toBe(404);
    expect((await get(`/ui/executions/${theirs.id}`, otherToken)).status).toBe(200);
    const statuses = await (await get(`/ui/executions/statuses?ids=${mine.id},${theirs.id}`, otherToken)).json();
    expect(Object.keys(statuses as object)).toEqual([theirs.id]);
  });

  it("filters the list", async () => {
    const admin = stack.vh.token;
    const rows = async (q: string) => [...(await (await get(`/ui/executions${q}`, admin)).text()).matchAll(/<tr data-id="([^"]+)"/g)].map((m) => m[1]);
    expect(await rows("")).toEqual([theirs.id, mine.id]);
    expect(await rows("?project=mine")).toEqual([mine.id]);
    expect(await rows("?tag=blue")).toEqual([mine.id]);
    expect(await rows("?status=completed")).toEqual([]);
    expect(await rows("?step=nope")).toEqual([]);
    const bad = await (await get("/ui/executions?commit=xyz", admin)).text();
    expect(bad).toContain("commit: 4 to 64 hex digits");
  });

  it("serves a long series downsampled, the spike kept, and the whole one as CSV and JSON", async () => {
    const admin = stack.vh.token;
    const s = (await (await get(`/ui/executions/${mine.id}/series/loss?max=500`, admin)).json()) as { x: string; xs: number[]; ys: number[]; total: number; downsampled: boolean };
    expect(s).toMatchObject({ x: "step", total: 3000, downsampled: true });
    expect(s.xs).toHaveLength(500);
    expect(s.xs[0]).toBe(1);
    expect(s.xs.at(-1)).toBe(3000);
    expect(s.ys[s.xs.indexOf(1234)]).toBe(99);
    const dflt = (await (await get(`/ui/executions/${mine.id}/series/loss`, admin)).json()) as { xs: number[] };
    expect(dflt.xs).toHaveLength(2000);
    const csv = await (await get(`/ui/executions/${mine.id}/series/loss?format=csv`, admin)).text();
    const lines = csv.trim().split("\n");
    expect(lines).toHaveLength(3001);
    expect(lines[0]).toBe("step,loss");
    expect(lines[1234]).toBe("1234,99");
    const json = (await (await get(`/ui/executions/${mine.id}/series/loss?format=json`, admin)).json()) as { points: number[][] };
    expect(json.points).toHaveLength(3000);
    const page = await (await get(`/ui/executions/${mine.id}`, admin)).text();
    expect(page).toContain('data-key="loss"');
    expect(page).not.toContain('data-key="step"');
  });
});
