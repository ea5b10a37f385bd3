/**
 * `/api/v1/tokens`: API tokens (app/auth/api-tokens.ts, app/auth/access.ts).
 *   GET    /tokens       the server's admin: every token; a project's admin: that project's
 *   POST   /tokens       {name, role, project?, expires?} → the token, shown this once
 *   DELETE /tokens/:id   revoke: the server's admin any; a project's admin its project's; anyone their own
 * A token is never shown again after it is made, and never stored (only its sha256).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Sql } from "../../../db/client.js";
import { createToken, listTokens, revokeToken, type TokenRow } from "../../auth/api-tokens.js";
import { describeGrant, parseExpiry, ROLES } from "../../auth/access.js";
import { VhError } from "../../errors.js";
import { findProject } from "./projects.js";

const NEEDS_ADMIN = "Tokens are managed by the server's admin, or by a project's admin for that project (a token made with --role admin --project P)";

function projectAdminOf(t: TokenRow): { id: string; name: string } | null {
  return !t.admin && t.role === "admin" && t.project ? t.project : null;
}

export function tokenRoutes(deps: { sql: Sql }) {
  const app = new Hono();
  app.get("/", async (c) => {
    const t = c.get("token");
    if (t.admin) return c.json({ results: await listTokens(deps.sql) });
    const own = projectAdminOf(t);
    if (!own) throw new VhError("forbidden", `${NEEDS_ADMIN}; ${describeGrant(t)}. GET /api/v1/me shows this token.`);
    return c.json({ results: await listTokens(deps.sql, { projectId: own.id }) });
  });

  app.post("/", async (c) => {
    const t = c.get("token");
    const parsed = z
      .object({
        name: z.string().trim().min(1).max(100),
        role: z.enum(ROLES),
        project: z.string().min(1).nullable().optional(),
        expires: z.string().min(1).nullable().optional(),
      })
      .strict()
      .safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) {
      throw new VhError(
        "bad_request",
        `Send {"name": "ci", "role": "viewer" | "member" | "admin", "project": "P" (optional: every project when left out), "expires": "30d" (optional)}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}`,
      );
    }
    const b = parsed.data;
    const own = projectAdminOf(t);
    if (!t.admin && !own) throw new VhError("forbidden", `${NEEDS_ADMIN}; ${describeGrant(t)}.`);
    let project: { id: string; name: string } | null = null;
    if (b.project) {
      const p = await findProject(deps.sql, b.project);
      project = { id: p.id, name: p.name };
    } else if (own) {
      project = own; // a project's admin makes tokens of its project
    }
    if (own && project?.id !== own.id) {
      throw new VhError("forbidden", `This token is the admin of project "${own.name}" only: it cannot make tokens of project "${project?.name}".`);
    }
    let expiresAt: Date | null = null;
    if (b.expires) {
      try {
        expiresAt = parseExpiry(b.expires);
      } catch (err) {
        throw new VhError("bad_request", (err as Error).message.replace(/^--expires/, "expires"));
      }
    }
    // The role admin of no project is the server's admin.
    const admin = b.role === "admin" && project === null;
    const made = await createToken(deps.sql, { name: b.name, admin, role: b.role, project, expiresAt, createdBy: t.name });
    return c.json({ ...made.view, token: made.token }, 201);
  });

  app.delete("/:id", async (c) => {
    const t = c.get("token");
    const id = c.req.param("id");
    const [found] = /^[0-9a-f-]{36}$/i.test(id) ? await listTokens(deps.sql, { id }) : [];
    if (!found) throw new VhError("not_found", `No token ${id}: \`vh token list\` shows them.`);
    const own = projectAdminOf(t);
    const allowed = t.admin || found.id === t.id || (own !== null && found.project === own.name);
    if (!allowed) throw new VhError("forbidden", `${NEEDS_ADMIN}; any token may revoke itself.`);
    return c.json(await revokeToken(deps.sql, found.id));
  });
  return app;
}
