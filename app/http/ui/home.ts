/**
 * The plain home page: executions across projects, newest first, with what each reproduces and the
 * verdict, and a Reproduce button (app/executions/reproduce.ts, as `vh exec reproduce N --verify`).
 * The full UI is issue 14. Signed in by an API token kept in a SameSite=Strict, HttpOnly cookie;
 * a form post must also come from this origin.
 */
import { Hono, type Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { Sql } from "../../../db/client.js";
import { findToken, type TokenRow } from "../../auth/api-tokens.js";
import { httpStatusOf, VhError } from "../../errors.js";
import { findExecutionRow } from "../../executions/present.js";
import { reproduceExecution } from "../../executions/reproduce.js";
import { isTerminal } from "../../executions/state.js";
import { SESSION_COOKIE } from "../middleware/auth.js";
import { refusal } from "../../auth/access.js";
import { esc, page } from "./layout.js";

async function signedIn(sql: Sql, c: Context): Promise<TokenRow | null> {
  const token = getCookie(c, SESSION_COOKIE);
  return token ? findToken(sql, token) : null;
}

/** A form post from another site carries no session (SameSite=Strict); an Origin that is not ours is refused as well. */
function sameOrigin(c: Context): boolean {
  const origin = c.req.header("origin");
  return !origin || origin === new URL(c.req.url).origin;
}

export function homeRoutes(deps: { sql: Sql }) {
  const app = new Hono();
  app.get("/", async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    const who = token ? await findToken(deps.sql, token) : null;
    if (!who) {
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
      {
        id: string;
        project: string;
        counter: number;
        step: string;
        status: string;
        created_at: Date;
        started_at: Date | null;
        ended_at: Date | null;
        original: number | null;
        verify: boolean | null;
        result: string | null;
      }[]
    >`select e.id, p.name as project, e.counter, e.step, e.status, e.created_at, e.started_at, e.ended_at,
        o.counter as original, r.verify, r.verdict ->> 'result' as result
      from executions e join projects p on p.id = e.project_id
      left join execution_reproductions r on r.execution_id = e.id left join executions o on o.id = r.original_id
      where e.deleted_at is null and (${who.project?.id ?? null}::uuid is null or e.project_id = ${who.project?.id ?? null}::uuid)
      order by e.created_at desc limit 200`;
    const made = c.req.query("reproduced");
    const notice = made && /^\d+ \d+$/.test(made) ? `<p class="ok">Reproducing #${made.split(" ")[0]} as #${made.split(" ")[1]}; it is compared with the original when it ends.</p>` : "";
    const body = rows.length
      ? `<table><thead><tr><th>Project</th><th>#</th><th>Step</th><th>Status</th><th>Created</th><th>Duration</th><th>Reproduces</th><th></th></tr></thead><tbody>${rows
          .map((r) => {
            const dur = r.started_at ? `${Math.round(((r.ended_at ?? new Date()).getTime() - r.started_at.getTime()) / 100) / 10} s` : "";
            const rep = r.original === null ? "" : `#${r.original}: ${r.result ?? (r.verify ? "comparing when it ends" : "not verified")}`;
            const repClass = r.result === "equal" ? ' class="ok"' : r.result === "different" ? ' class="error"' : "";
            const button = isTerminal(r.status as never)
              ? `<form method="post" action="/executions/${esc(r.id)}/reproduce" style="margin:0"><button title="Run it again with the same commit, image, command, parameters, environment and input versions, then compare outputs and metrics">Reproduce</button></form>`
              : "";
            return `<tr><td>${esc(r.project)}</td><td>#${r.counter}</td><td>${esc(r.step)}</td><td class="s-${esc(r.status)}">${esc(r.status)}</td><td>${esc(r.created_at.toISOString())}</td><td>${esc(dur)}</td><td${repClass}>${esc(rep)}</td><td>${button}</td></tr>`;
          })
          .join("")}</tbody></table>`
      : `<p>No executions yet. From a directory with a <code>valohai.yaml</code>, run <code>vh exec run STEP --adhoc --watch</code>.</p>`;
    return c.html(page("vh — executions", `<h1>Executions</h1><p><a href="/ui/executions">Open the full UI</a>: filters, live logs, metric charts, compare.</p>${notice}${body}`));
  });
  app.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form["token"] === "string" ? form["token"].trim() : "";
    if (!token || !(await findToken(deps.sql, token))) {
      return c.html(page("vh — sign in", `<p>That token is not valid. <a href="/">Try again</a>.</p>`), 401);
    }
    setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
    // Back to the UI page that asked for the sign-in (only a path of this server's UI).
    const next = typeof form["next"] === "string" && /^\/ui\/[^\\]*$/.test(form["next"]) && !form["next"].startsWith("//") ? form["next"] : "/";
    return c.redirect(next);
  });
  // The Reproduce button: always verified (that is what a button in front of a person is for).
  app.post("/executions/:id/reproduce", async (c) => {
    const who = await signedIn(deps.sql, c);
    if (!who) return c.html(page("vh — sign in", `<p>Sign in first. <a href="/">Sign in</a>.</p>`), 401);
    if (!sameOrigin(c)) return c.html(page("vh — refused", `<p class="error">A form from another site cannot start executions here.</p>`), 403);
    const id = c.req.param("id");
    try {
      if (!/^[0-9a-f-]{36}$/i.test(id)) throw new VhError("not_found", `Execution ${id} does not exist.`);
      // As the API's POST …/reproduce: a member of the execution's project (app/auth/access.ts).
      const original = await findExecutionRow(deps.sql, who.project?.id ?? null, id);
      const why = refusal(who, { kind: "project", project: original.project_name, role: "member" });
      if (why) throw new VhError("forbidden", why);
      const made = await reproduceExecution(deps.sql, original, { verify: true, tolerance: 0, triggeredBy: who.name });
      return c.redirect(`/?reproduced=${encodeURIComponent(`${original.counter} ${made.counter}`)}`, 303);
    } catch (e) {
      if (!(e instanceof VhError)) throw e;
      return c.html(page("vh — cannot reproduce", `<h1>Cannot reproduce</h1><p class="error">${esc(e.message)}</p><p><a href="/">Back to the executions</a></p>`), httpStatusOf[e.code] as 400);
    }
  });
  return app;
}
