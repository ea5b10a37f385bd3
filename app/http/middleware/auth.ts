/**
 * Bearer-token authentication for /api/v1 (also `Token x`, as valohai-cli sends, and the UI's
 * cookie), then authorisation: the route's need (app/auth/access.ts) against the token's role and
 * project, before any handler runs.
 */
import { createMiddleware } from "hono/factory";
import { getCookie } from "hono/cookie";
import type { Sql } from "../../../db/client.js";
import { VhError } from "../../errors.js";
import { findToken, whyRefused, type TokenRow } from "../../auth/api-tokens.js";
import { needOf, refusal } from "../../auth/access.js";

declare module "hono" {
  interface ContextVariableMap {
    token: TokenRow;
  }
}

export const SESSION_COOKIE = "vh_token";

export interface AuthOptions {
  sql: Sql;
}

export function bearerAuth(options: AuthOptions) {
  return createMiddleware(async function authenticate(c, next) {
    const header = c.req.header("authorization") ?? "";
    const m = /^(?:Bearer|Token)\s+(\S+)$/i.exec(header.trim());
    const token = m?.[1] ?? getCookie(c, SESSION_COOKIE);
    if (!token) {
      throw new VhError("unauthorized", "This API needs a token: send `Authorization: Bearer <token>` (the admin token is in VH_DATA_DIR/admin-token).");
    }
    const row = await findToken(options.sql, token);
    if (!row) throw new VhError("unauthorized", await whyRefused(options.sql, token));
    const below = c.req.path.replace(/^\/api\/v1(?=\/|$)/, "") || "/";
    const why = refusal(row, needOf(c.req.method, below));
    if (why) throw new VhError("forbidden", why);
    c.set("token", row);
    await next();
  });
}
