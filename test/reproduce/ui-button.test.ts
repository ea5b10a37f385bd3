/**
 * The home page's Reproduce button (app/http/ui/home.ts) on a whole vh: signed in by the session
 * cookie, it makes a verified reproduction (as `vh exec reproduce N --verify`), redirects back, and
 * the page then shows what the new execution reproduces and, once compared, the verdict. Without a
 * session, or from another site's form, nothing is created.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";

const YAML = `
- step:
    name: fixed
    image: python:3.12
    command:
      - printf 'same bytes' > "\${VH_OUTPUTS_DIR:-/valohai/outputs}"/out.txt
`;

type Exec = { id: string; counter: number; status: string };

describe("the Reproduce button", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;
  let orig: Exec;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
    const project = tempDir("vh-ui-reproduce-");
    fs.writeFileSync(path.join(project, "valohai.yaml"), YAML);
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
    code = await uploadSnapshot(stack, project);
    const e = await stack.api<Exec>("POST", "/api/v1/projects/demo/executions", { code, step: "fixed" });
    orig = await until(e.counter);
    expect(orig.status).toBe("completed");
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  const until = (n: number) =>
    waitFor(`execution #${n} to end`, async () => {
      const e = await stack.api<Exec>("GET", `/api/v1/projects/demo/executions/${n}`);
      return ["completed", "failed", "error", "stopped"].includes(e.status) ? e : undefined;
    }, 60_000);
  const count = async () => (await stack.api<{ results: unknown[] }>("GET", "/api/v1/projects/demo/executions")).results.length;
  const session = () => ({ cookie: `vh_token=${stack.vh.token}` });
  const press = (id: string, headers: Record<string, string>) => fetch(`${stack.vh.url}/executions/${id}/reproduce`, { method: "POST", headers, redirect: "manual" });

  it("is shown for an ended execution, makes a verified reproduction, and the page shows its verdict", async () => {
    const home = await (await fetch(`${stack.vh.url}/`, { headers: session() })).text();
    expect(home).toContain(`<form method="post" action="/executions/${orig.id}/reproduce"`);
    const res = await press(orig.id, { ...session(), origin: stack.vh.url });
    expect(res.status).toBe(303);
    const n = orig.counter + 1;
    expect(res.headers.get("location")).toBe(`/?reproduced=${encodeURIComponent(`${orig.counter} ${n}`)}`);
    const view = await stack.api<{ original: { counter: number }; verify: boolean; verdict: { result: string } | null }>("GET", `/api/v1/projects/demo/executions/${n}/reproduction?wait=60`);
    expect(view).toMatchObject({ original: { counter: orig.counter }, verify: true, verdict: { result: "equal" } });
    // the reproduction was made by the person signed in
    const [made] = await db.sql<{ triggered_by: string | null; admin_name: string }[]>`
      select e.triggered_by, (select name from api_tokens where admin order by created_at limit 1) as admin_name
      from executions e join projects p on p.id = e.project_id where p.name = 'demo' and e.counter = ${n}`;
    expect(made!.triggered_by).toBe(made!.admin_name);
    const after = await (await fetch(`${stack.vh.url}${res.headers.get("location")}`, { headers: session() })).text();
    expect(after).toContain(`Reproducing #${orig.counter} as #${n}`);
    expect(after).toMatch(new RegExp(`<td>#${n}</td>.*?<td class="ok">#${orig.counter}: equal</td>`));
  });

  it("creates nothing without a session, from another site's form, or for an unknown execution", async () => {
    const before = await count();
    const anon = await press(orig.id, {});
    expect(anon.status).toBe(401);
    const forged = await press(orig.id, { ...session(), origin: "https://evil.example.com" });
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain("A form from another site cannot start executions here.");
    const unknown = await press("00000000-0000-4000-8000-000000000000", { ...session(), origin: stack.vh.url });
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain("does not exist");
    expect(await count()).toBe(before);
  });
});
