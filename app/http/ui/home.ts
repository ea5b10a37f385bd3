/** The plain home page: executions across projects, newest first. The full UI comes later. */
import { Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { Sql } from "../../../db/client.js";
import { findToken } from "../../auth/api-tokens.js";
import { SESSION_COOKIE } from "../middleware/auth.js";
import { esc, page } from "./layout.js";

export function homeRoutes(deps: { sql: Sql }) {
  const app = new Hono();
  app.get("/", async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (!token || !(await findToken(deps.sql, token))) {
      return c.html(
        page(
          "vh — sign in",
          `<h1>vh</h1><p>Paste an API token (the admin token is in <code>VH_DATA_DIR/admin-token</code>).</p>
<form method="post" action="/login"><input type="password" name="token" size="50" autocomplete="off" required> <button>Sign in</button></form>`,
        ),
        token ? 401 : 200,
      );
    }
    const rows = await deps.sql<
      { project: string; counter: number; step: string; status: string; created_at: Date; started_at: Date | null; ended_at: Date | null }[]
    >`select p.name as project, e.counter, e.step, e.status, e.created_at, e.started_at, e.ended_at
      from executions e join projects p on p.id = e.project_id where e.deleted_at is null order by e.created_at desc limit 200`;
    const body = rows.length
      ? `<table><thead><tr><th>Project</th><th>#</th><th>Step</th><th>Status</th><th>Created</th><th>Duration</th></tr></thead><tbody>${rows
          .map((r) => {
            const dur = r.started_at ? `${Math.round(((r.ended_at ?? new Date()).getTime() - r.started_at.getTime()) / 100) / 10} s` : "";
            return `<tr><td>${esc(r.project)}</td><td>#${r.counter}</td><td>${esc(r.step)}</td><td class="s-${esc(r.status)}">${esc(r.status)}</td><td>${esc(r.created_at.toISOString())}</td><td>${esc(dur)}</td></tr>`;
          })
          .join("")}</tbody></table>`
      : `<p>No executions yet. From a directory with a <code>valohai.yaml</code>, run <code>vh exec run STEP --adhoc --watch</code>.</p>`;
    return c.html(page("vh — executions", `<h1>Executions</h1>${body}`));
  });
  app.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form["token"] === "string" ? form["token"].trim() : "";
    if (!token || !(await findToken(deps.sql, token))) {
      return c.html(page("vh — sign in", `<p>That token is not valid. <a href="/">Try again</a>.</p>`), 401);
    }
    setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
    return c.redirect("/");
  });
  return app;
}
