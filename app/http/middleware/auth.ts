/** Bearer-token authentication for /api/v1 (also `Token x`, as valohai-cli sends, and the UI's cookie). */
import { createMiddleware } from "hono/factory";
import { getCookie } from "hono/cookie";
import type { Sql } from "../../../db/client.js";
import { VhError } from "../../errors.js";
import { findToken, type TokenRow } from "../../auth/api-tokens.js";

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
    if (!row) throw new VhError("unauthorized", "The token is not valid (revoked, or from another vh server).");
    c.set("token", row);
    await next();
  });
}
