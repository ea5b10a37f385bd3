/**
 * Who may do what (app/auth/access.ts) against a real server and Postgres: the route × role matrix
 * over every /api/v1 route the server answers (a route missing from the table below fails), token
 * creation, scoping, expiry and revocation through REST and `vh token …`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";
import { runCli, tempDir } from "../cli/helpers.js";
import { needOf, parseExpiry, refusal, type Grant } from "../../app/auth/access.js";
import type { TokenView } from "../../app/auth/api-tokens.js";

/** What each route is, by hand: the matrix's rows. A new route must be put here. */
type Kind = "any" | "admin" | "project-read" | "project-write" | "project-admin" | "shared-read" | "shared-write" | "owned-read" | "server-read" | "server-write";
const ROUTES: Record<string, Kind> = {
  "GET /me": "any",
  "GET /tokens": "any",
  "POST /tokens": "any",
  "DELETE /tokens/:id": "any",
  "POST /projects": "server-write",
  "GET /projects": "any",
  "GET /projects/:project": "project-read",
  "PATCH /projects/:project": "project-admin",
  "POST /projects/:project/executions/validate": "project-read",
  "POST /projects/:project/executions": "project-write",
  "GET /projects/:project/executions": "project-read",
  "GET /projects/:project/executions/:ref": "project-read",
  "POST /projects/:project/executions/:ref/stop": "project-write",
  "DELETE /projects/:project/executions/:ref": "project-write",
  "GET /projects/:project/executions/:ref/logs": "project-read",
  "GET /projects/:project/executions/:ref/logs/stream": "project-read",
  "GET /projects/:project/executions/:ref/metadata": "project-read",
  "GET /projects/:project/executions/:ref/metadata/:key": "project-read",
  "POST /projects/:project/executions/:ref/reproduce": "project-write",
  "GET /projects/:project/executions/:ref/reproduction": "project-read",
  "GET /projects/:project/executions/:ref/diff/:other": "project-read",
  "GET /projects/:project/executions/:ref/outputs": "project-read",
  "POST /projects/:project/sweeps": "project-write",
  "GET /projects/:project/sweeps/:id": "project-read",
  "POST /projects/:project/pipelines": "project-write",
  "GET /projects/:project/pipelines": "project-read",
  "GET /projects/:project/pipelines/:ref": "project-read",
  "POST /projects/:project/pipelines/:ref/stop": "project-write",
  "POST /projects/:project/pipelines/:ref/nodes/:node/approve": "project-write",
  "GET /projects/:project/datasets": "project-read",
  "GET /projects/:project/datasets/:name": "project-read",
  "GET /projects/:project/datasets/:name/versions/:version": "project-read",
  "POST /projects/:project/datasets/:name/versions": "project-write",
  "POST /projects/:project/data": "project-write",
  "GET /projects/:project/data": "project-read",
  "GET /code/:sha": "shared-read",
  "PUT /code/:sha": "shared-write",
  "GET /data/:id": "owned-read",
  "GET /data/:id/download": "owned-read",
  "GET /models": "server-read",
  "GET /models/compare": "server-read",
  "GET /models/:name": "server-read",
  "PATCH /models/:name": "server-write",
  "GET /models/:name/events": "server-read",
  "GET /models/:name/latest": "server-read",
  "POST /models/:name/versions": "server-write",
  "GET /models/:name/versions/:ref": "server-read",
  "POST /models/:name/versions/:ref/approve": "server-write",
  "POST /models/:name/versions/:ref/reject": "server-write",
  "POST /models/:name/versions/:ref/reset": "server-write",
  "GET /models/:name/versions/:ref/events": "server-read",
  "GET /models/:name/versions/:ref/lineage": "server-read",
  "GET /models/:name/versions/:ref/report": "server-read",
  "GET /models/:name/versions/:ref/approval-request": "server-read",
  "GET /audit/verify": "admin",
  "GET /audit/model-events/:id": "server-read",
  "GET /lineage/openlineage": "server-read",
  "GET /hosts": "server-read",
  "GET /hosts/:name": "server-read",
  "POST /hosts": "admin",
  "DELETE /hosts/:name": "admin",
  "POST /hosts/:name/check": "admin",
  "GET /quotas": "server-read",
  "PUT /quotas/:key": "admin",
  "DELETE /quotas/:key": "admin",
  "GET /environments": "server-read",
  "GET /environments/:name": "server-read",
  "POST /repos": "admin",
  "GET /repos": "server-read",
  "GET /repos/:repo": "server-read",
  "DELETE /repos/:repo": "admin",
  "GET /executions/:id": "owned-read",
};

/** The callers of the matrix: the server's admin, and tokens made through the API. */
const CALLERS = ["admin", "viewer@demo", "member@demo", "admin@demo", "member@other", "viewer@*", "member@*"] as const;
type Caller = (typeof CALLERS)[number];

/** Who each kind lets in, by hand (the matrix's cells). */
const ALLOWED: Record<Kind, Caller[]> = {
  any: [...CALLERS],
  admin: ["admin"],
  "project-read": ["admin", "viewer@demo", "member@demo", "admin@demo", "viewer@*", "member@*"],
  "project-write": ["admin", "member@demo", "admin@demo", "member@*"],
  "project-admin": ["admin", "admin@demo"],
  "shared-read": [...CALLERS],
  "shared-write": ["admin", "member@demo", "admin@demo", "member@other", "member@*"],
  // Let in; the route finds a scoped token's own project's rows only (checked below).
  "owned-read": [...CALLERS],
  "server-read": ["admin", "viewer@*", "member@*"],
  "server-write": ["admin", "member@*"],
};

const PARAMS: Record<string, string> = {
  project: "demo",
  ref: "1",
  other: "2",
  id: "00000000-0000-4000-8000-000000000001",
  sha: "a".repeat(64),
  name: "nothing",
  key: "nothing",
  node: "nothing",
  version: "v1",
  repo: "nothing",
};

/** The middleware's refusals (app/auth/access.ts), told apart from a route's own 403. */
const REFUSED = /^(This needs the|This reaches across projects|This token is scoped to project)/;

describe("tokens, roles and the route × role matrix", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  const tokens = {} as Record<Caller, string>;

  const call = (token: string, method: string, p: string, body?: unknown) =>
    fetch(stack.vh.url + "/api/v1" + p, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
  const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;
  const make = async (by: string, body: Record<string, unknown>) => {
    const res = await call(by, "POST", "/tokens", body);
    expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
    return (await res.json()) as TokenView & { token: string };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
    await stack.api("POST", "/api/v1/projects", { name: "other" });
    tokens.admin = stack.vh.token;
    for (const c of CALLERS.filter((x) => x !== "admin")) {
      const [role, project] = c.split("@") as [string, string];
      tokens[c] = (await make(stack.vh.token, { name: c, role, ...(project === "*" ? {} : { project }) })).token;
    }
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  it("covers every /api/v1 route the server answers, and refuses or lets in each caller as the matrix says", async () => {
    const api = stack.vh.routes.filter((r) => r.path.startsWith("/api/v1/")).map((r) => `${r.method} ${r.path.slice("/api/v1".length)}`);
    const missing = api.filter((r) => !(r in ROUTES));
    expect(missing, "routes with no row in the matrix").toEqual([]);
    expect(Object.keys(ROUTES).filter((r) => !api.includes(r)), "rows for routes that do not exist").toEqual([]);

    const wrong: string[] = [];
    for (const [route, kind] of Object.entries(ROUTES)) {
      const [method, pattern] = route.split(" ") as [string, string];
      const p = pattern.replace(/:(\w+)/g, (_, k: string) => encodeURIComponent(PARAMS[k]!));
      for (const caller of CALLERS) {
        // The admin's creating projects and tokens is checked below, where what is made is looked at.
        if (caller === "admin" && (route === "POST /projects" || route === "POST /tokens" || route.startsWith("DELETE /tokens"))) continue;
        let refused: boolean;
        try {
          const res = await call(tokens[caller], method, p, method === "GET" || method === "DELETE" ? undefined : {});
          const text = await res.text();
          const msg = (() => {
            try {
              return (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? "";
            } catch {
              return "";
            }
          })();
          refused = res.status === 403 && REFUSED.test(msg);
          if (res.status === 401 || res.status >= 500) wrong.push(`${route} as ${caller}: ${res.status} ${text.slice(0, 200)}`);
        } catch (err) {
          // An answer that streams (logs/stream) and did not end: it was let in.
          if ((err as Error).name !== "TimeoutError") throw err;
          refused = false;
        }
        const expected = !ALLOWED[kind].includes(caller);
        if (refused !== expected) wrong.push(`${route} as ${caller}: ${refused ? "refused" : "let in"}, the matrix says ${expected ? "refused" : "let in"}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("the same table, without a server: every refusal names what is needed and what the token has", () => {
    const scoped: Grant = { admin: false, role: "viewer", project: { id: "p1", name: "demo" } };
    expect(refusal(scoped, needOf("POST", "/projects/demo/executions"))).toBe('This needs the role member on project "demo"; this token\'s role is viewer on project "demo".');
    expect(refusal(scoped, needOf("GET", "/projects/other/executions"))).toBe('This token is scoped to project "demo", not "other".');
    expect(refusal(scoped, needOf("GET", "/projects/p1/executions"))).toBeNull(); // by id, too
    expect(refusal(scoped, needOf("GET", "/models"))).toBe('This reaches across projects, and this token is scoped to project "demo": use a token made without --project.');
    expect(refusal({ admin: false, role: "member", project: null }, needOf("DELETE", "/hosts/gpu1"))).toMatch(/^This needs the server's admin token .*; this token's role is member\.$/);
    expect(refusal({ admin: true, role: "admin", project: null }, needOf("DELETE", "/hosts/gpu1"))).toBeNull();
  });

  it("a datum or an execution by id: a scoped token finds its own project's, and another project's is not found", async () => {
    const [other] = await db.sql<{ id: string }[]>`select id from projects where name = 'other'`;
    const id = "00000000-0000-4000-8000-0000000000d1";
    await db.sql`insert into datums (id, project_id, name, size, sha256, store_key) values (${id}, ${other!.id}, 'x.csv', 1, ${"b".repeat(64)}, ${`data/${id}/x.csv`})`;
    expect((await call(tokens["member@other"], "GET", `/data/${id}`)).status).toBe(200);
    expect((await call(tokens["viewer@*"], "GET", `/data/${id}`)).status).toBe(200);
    const hidden = await call(tokens["admin@demo"], "GET", `/data/${id}`);
    expect(hidden.status).toBe(404);
    expect((await errorOf(hidden)).message).toBe(`datum://${id} does not exist.`);
    expect((await call(tokens["member@demo"], "GET", `/data/${id}/download`)).status).toBe(404);
    const [e] = await db.sql<{ id: string }[]>`
      insert into executions (project_id, counter, step, status, image, command, command_list, parameters, inputs, environment_variables)
      values (${other!.id}, 1, 'train', 'completed', 'busybox', 'true', '["true"]'::jsonb, '{}'::jsonb, '[]'::jsonb, '{}'::jsonb) returning id`;
    const own = await call(tokens["member@other"], "GET", `/executions/${e!.id}`);
    expect(own.status, await own.clone().text()).toBe(200);
    expect((await call(tokens["viewer@demo"], "GET", `/executions/${e!.id}`)).status).toBe(404);
  });

  it("the UI shows a scoped token its project's executions only, and its Reproduce needs a member", async () => {
    const [demo] = await db.sql<{ id: string }[]>`select id from projects where name = 'demo'`;
    const [e] = await db.sql<{ id: string }[]>`
      insert into executions (project_id, counter, step, status, image, command, command_list, parameters, inputs, environment_variables)
      values (${demo!.id}, 1, 'demo-step', 'completed', 'busybox', 'true', '["true"]'::jsonb, '{}'::jsonb, '[]'::jsonb, '{}'::jsonb) returning id`;
    const [o] = await db.sql<{ id: string }[]>`select id from projects where name = 'other'`;
    await db.sql`
      insert into executions (project_id, counter, step, status, image, command, command_list, parameters, inputs, environment_variables)
      values (${o!.id}, 7, 'other-step', 'completed', 'busybox', 'true', '["true"]'::jsonb, '{}'::jsonb, '[]'::jsonb, '{}'::jsonb)`;
    const page = async (caller: Caller) => (await fetch(stack.vh.url + "/", { headers: { cookie: `vh_token=${tokens[caller]}` } })).text();
    const viewer = await page("viewer@demo");
    expect(viewer).toContain("demo-step");
    expect(viewer).not.toContain("other-step");
    const other = await page("member@other");
    expect(other).toContain("other-step");
    expect(other).not.toContain("demo-step");
    const all = await page("viewer@*");
    expect(all).toContain("demo-step");
    expect(all).toContain("other-step");
    const reproduce = (caller: Caller) =>
      fetch(stack.vh.url + `/executions/${e!.id}/reproduce`, { method: "POST", redirect: "manual", headers: { cookie: `vh_token=${tokens[caller]}`, origin: stack.vh.url } });
    const refused = await reproduce("viewer@demo");
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("This needs the role member on project &#34;demo&#34;; this token&#39;s role is viewer on project &#34;demo&#34;.");
    expect((await reproduce("member@other")).status).toBe(404);
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from executions where project_id = ${demo!.id}`;
    expect(n!.n).toBe(1);
  });

  it("a scoped token lists only its project; /me says what a token is", async () => {
    const list = (await (await call(tokens["member@demo"], "GET", "/projects")).json()) as { results: { name: string }[] };
    expect(list.results.map((p) => p.name)).toEqual(["demo"]);
    const all = (await (await call(tokens["viewer@*"], "GET", "/projects")).json()) as { results: { name: string }[] };
    expect(all.results.map((p) => p.name)).toEqual(["demo", "other"]);
    const me = (await (await call(tokens["admin@demo"], "GET", "/me")).json()) as { token: Grant & { name: string } };
    expect(me.token).toMatchObject({ name: "admin@demo", admin: false, role: "admin", project: { name: "demo" } });
  });

  it("makes tokens shown once and stored hashed; a project's admin makes and revokes its project's only", async () => {
    const made = await make(tokens["admin@demo"], { name: "demo-ci", role: "member" });
    expect(made).toMatchObject({ name: "demo-ci", role: "member", project: "demo", admin: false, createdBy: "admin@demo", state: "active", expiresAt: null });
    expect(made.token).toMatch(/^vh_[A-Za-z0-9_-]{32}$/);
    const stored = await db.sql<{ token_hash: string }[]>`select token_hash from api_tokens where id = ${made.id}`;
    expect(stored[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(await db.sql`select * from api_tokens`)).not.toContain(made.token);
    // Listing never shows a secret or a hash.
    const listed = (await (await call(tokens["admin@demo"], "GET", "/tokens")).json()) as { results: Record<string, unknown>[] };
    expect(listed.results.map((t) => t["name"]).sort()).toEqual(["admin@demo", "demo-ci", "member@demo", "viewer@demo"]);
    expect(JSON.stringify(listed)).not.toMatch(/vh_|token_hash|[0-9a-f]{64}/);

    // Not for another project, not server-wide through the back door, and not by a member.
    const otherProject = await call(tokens["admin@demo"], "POST", "/tokens", { name: "x", role: "viewer", project: "other" });
    expect(otherProject.status).toBe(403);
    expect((await errorOf(otherProject)).message).toBe('This token is the admin of project "demo" only: it cannot make tokens of project "other".');
    const byMember = await call(tokens["member@*"], "POST", "/tokens", { name: "x", role: "viewer" });
    expect(byMember.status).toBe(403);
    expect((await errorOf(byMember)).message).toMatch(/^Tokens are managed by the server's admin, or by a project's admin/);
    expect((await call(tokens["member@*"], "GET", "/tokens")).status).toBe(403);
    const bad = await call(stack.vh.token, "POST", "/tokens", { name: "x", role: "owner" });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).message).toMatch(/role: /);
    // Nothing was made by the refused ones.
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from api_tokens where name = 'x'`;
    expect(n!.n).toBe(0);

    // The project's admin revokes its own project's token; not another's.
    const otherToken = (await (await call(stack.vh.token, "GET", "/tokens")).json()) as { results: TokenView[] };
    const ofOther = otherToken.results.find((t) => t.name === "member@other")!;
    expect((await call(tokens["admin@demo"], "DELETE", `/tokens/${ofOther.id}`)).status).toBe(403);
    const revoked = await call(tokens["admin@demo"], "DELETE", `/tokens/${made.id}`);
    expect(revoked.status).toBe(200);
    expect((await revoked.json()) as TokenView).toMatchObject({ state: "revoked", revokedAt: expect.any(String) });
    const after = await call(made.token, "GET", "/projects/demo");
    expect(after.status).toBe(401);
    expect((await errorOf(after)).message).toMatch(/^The token was revoked at \d{4}-/);
  });

  it("a token past its expiry is refused, saying when it expired; an unknown one says so", async () => {
    const made = await make(stack.vh.token, { name: "short", role: "viewer", expires: "1h" });
    expect(Date.parse(made.expiresAt!) - Date.now()).toBeGreaterThan(3_590_000);
    expect((await call(made.token, "GET", "/projects/demo")).status).toBe(200);
    await db.sql`update api_tokens set expires_at = now() - interval '1 second' where id = ${made.id}`;
    const res = await call(made.token, "GET", "/projects/demo");
    expect(res.status).toBe(401);
    expect((await errorOf(res)).message).toMatch(/^The token expired at \d{4}-/);
    const unknown = await call("vh_nothing", "GET", "/projects");
    expect((await errorOf(unknown)).message).toBe("The token is not valid (unknown to this vh server).");
    const past = await call(stack.vh.token, "POST", "/tokens", { name: "p", role: "viewer", expires: "2020-01-01" });
    expect(past.status).toBe(400);
    expect((await errorOf(past)).message).toBe("expires 2020-01-01: that time has passed");
  });

  it("parses --expires as a duration or an ISO time", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    expect(parseExpiry("30d", now).toISOString()).toBe("2026-01-31T00:00:00.000Z");
    expect(parseExpiry("12h", now).toISOString()).toBe("2026-01-01T12:00:00.000Z");
    expect(parseExpiry("90m", now).toISOString()).toBe("2026-01-01T01:30:00.000Z");
    expect(parseExpiry("2w", now).toISOString()).toBe("2026-01-15T00:00:00.000Z");
    expect(parseExpiry("2027-02-03", now).toISOString()).toBe("2027-02-03T00:00:00.000Z");
    expect(() => parseExpiry("soon", now)).toThrow("--expires soon: give a duration (30d, 12h, 90m, 2w) or an ISO time (2027-01-31 or 2027-01-31T12:00:00Z)");
    expect(() => parseExpiry("0d", now)).toThrow("positive");
  });

  it("vh token create|list|revoke: the token alone on stdout, usable at once, refused once revoked", async () => {
    const cli = (token: string, ...args: string[]) => runCli([...args, "--url", stack.vh.url, "--token", token], { cwd: tempDir() });
    const created = await cli(stack.vh.token, "token", "create", "--name", "ci", "--project", "demo", "--role", "viewer", "--expires", "30d");
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^vh_\S+$/);
    expect(created.stderr).toMatch(/Made token "ci" \(\S+\): role viewer, project demo, expires .*\. It is shown this once/);

    const shown = await cli(secret, "project", "list");
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("demo");
    expect(shown.stdout).not.toContain("other");
    const refused = await cli(secret, "project", "create", "third");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('This reaches across projects, and this token is scoped to project "demo"');

    const list = await cli(stack.vh.token, "token", "list");
    expect(list.code, list.stderr).toBe(0);
    const line = list.stdout.split("\n").find((l) => /\sci\s/.test(l))!;
    expect(line).toMatch(/^\S+\s+ci\s+viewer\s+demo\s+active\s/);
    expect(list.stdout).not.toContain(secret);
    const id = line.split(/\s+/)[0]!;

    const revoke = await cli(stack.vh.token, "token", "revoke", id);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.stderr).toMatch(/^Revoked token "ci"/m);
    const after = await cli(secret, "project", "list");
    expect(after.code).not.toBe(0);
    expect(after.stderr).toContain("The token was revoked at");
    expect((await cli(stack.vh.token, "token", "list")).stdout).not.toMatch(/\sci\s/);
    expect((await cli(stack.vh.token, "token", "list", "--all")).stdout).toMatch(/\sci\s+viewer\s+demo\s+revoked\s/);
  });

  it("a member of every project makes projects; a viewer, or a token of one project, does not", async () => {
    const made = await call(tokens["member@*"], "POST", "/projects", { name: "made-by-member" });
    expect(made.status).toBe(201);
    const viewer = await call(tokens["viewer@*"], "POST", "/projects", { name: "made-by-viewer" });
    expect(viewer.status).toBe(403);
    expect((await errorOf(viewer)).message).toBe("This needs the role member; this token's role is viewer.");
    const scoped = await call(tokens["admin@demo"], "POST", "/projects", { name: "made-by-scoped" });
    expect(scoped.status).toBe(403);
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from projects where name in ('made-by-viewer', 'made-by-scoped')`;
    expect(n!.n).toBe(0);
  });

  it("a project's admin sets its fork policy (REST and `vh project set`); a member may not; a bad value names the field", async () => {
    const member = await call(tokens["member@demo"], "PATCH", "/projects/demo", { forkCommands: true });
    expect(member.status).toBe(403);
    expect((await errorOf(member)).message).toBe('This needs the role admin on project "demo"; this token\'s role is member on project "demo".');
    const bad = await call(tokens["admin@demo"], "PATCH", "/projects/demo", { forkCommands: "yes" });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).message).toMatch(/^`forkCommands`: .*\. Send \{"forkCommands": true\|false, "forkConfigs": true\|false\}\.$/);
    const unknown = await call(tokens["admin@demo"], "PATCH", "/projects/demo", { name: "renamed" });
    expect(unknown.status).toBe(400);
    const [before] = await db.sql<{ fork_commands: boolean }[]>`select fork_commands from projects where name = 'demo'`;
    expect(before!.fork_commands).toBe(false);

    const cli = (token: string, ...args: string[]) => runCli([...args, "--url", stack.vh.url, "--token", token], { cwd: tempDir() });
    const on = await cli(tokens["admin@demo"], "project", "set", "demo", "--fork-commands", "on");
    expect(on.code, on.stderr).toBe(0);
    expect(on.stderr).toContain('Project "demo": commands run on fork pull requests; a fork\'s code runs with the base branch\'s valohai.yaml.');
    expect(((await (await call(tokens["viewer@demo"], "GET", "/projects/demo")).json()) as { forkCommands: boolean }).forkCommands).toBe(true);
    const wrong = await cli(tokens["admin@demo"], "project", "set", "demo", "--fork-commands", "maybe");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('--fork-commands takes on or off, not "maybe".');
    const off = await cli(tokens["admin@demo"], "project", "set", "demo", "--fork-commands", "off", "--json");
    expect(off.code, off.stderr).toBe(0);
    expect(JSON.parse(off.stdout)).toMatchObject({ name: "demo", forkCommands: false, forkConfigs: false });
    const configs = await call(tokens["admin@demo"], "PATCH", "/projects/demo", { forkConfigs: true });
    expect(await configs.json()).toMatchObject({ forkCommands: false, forkConfigs: true });
  });

  it("vh login says what the token may do", async () => {
    const home = tempDir();
    const login = (token: string) => runCli(["login", "--url", stack.vh.url, "--token", token], { cwd: home, env: { XDG_CONFIG_HOME: home } });
    expect((await login(tokens["viewer@demo"])).stderr).toMatch(/^Logged in to \S+ with token "viewer@demo" \(viewer of project demo\); saved in /);
    expect((await login(tokens["member@*"])).stderr).toMatch(/with token "member@\*" \(member of every project\)/);
    expect((await login(stack.vh.token)).stderr).toMatch(/with token "admin \(first start\)" \(the server's admin\)/);
  });
});
