/**
 * `vh token create|list|revoke`: API tokens (app/auth/access.ts says what each role may do).
 *
 *   vh token create --name ci --project P --role member --expires 30d   prints the token, once
 *   vh token list                                                        the tokens this token may manage
 *   vh token revoke ID                                                   revoked tokens are kept, for the record
 */
import type { Context } from "../context.js";
import type { TokenView } from "../../auth/api-tokens.js";
import { formatTime, jsonText, table } from "../format.js";
import { println } from "../io.js";

export interface TokenCreateOptions {
  name: string;
  role: string;
  project?: string;
  expires?: string;
  json?: boolean;
}

function scope(t: Pick<TokenView, "admin" | "project">): string {
  return t.admin ? "(server admin)" : (t.project ?? "(every project)");
}

export async function tokenCreateCommand(ctx: Context, opts: TokenCreateOptions): Promise<number> {
  const made = await ctx.client().json<TokenView & { token: string }>("POST", "/tokens", {
    json: { name: opts.name, role: opts.role, ...(opts.project ? { project: opts.project } : {}), ...(opts.expires ? { expires: opts.expires } : {}) },
  });
  if (opts.json) {
    ctx.io.stdout.write(jsonText(made));
    return 0;
  }
  // The token alone on stdout (`TOKEN=$(vh token create …)`); what it is on stderr.
  println(ctx.io.stdout, made.token);
  ctx.info(
    `Made token "${made.name}" (${made.id}): role ${made.role}, ${made.admin ? "the server's admin" : made.project ? `project ${made.project}` : "every project"}, ${made.expiresAt ? `expires ${formatTime(made.expiresAt)}` : "does not expire"}. It is shown this once: vh keeps only its sha256.`,
  );
  return 0;
}

export async function tokenListCommand(ctx: Context, opts: { json?: boolean; all?: boolean }): Promise<number> {
  const { results } = await ctx.client().json<{ results: TokenView[] }>("GET", "/tokens");
  const shown = opts.all ? results : results.filter((t) => t.state === "active");
  if (opts.json) {
    ctx.io.stdout.write(jsonText(shown));
    return 0;
  }
  if (shown.length === 0) {
    println(ctx.io.stdout, opts.all ? "No tokens." : "No active tokens (--all shows revoked and expired ones).");
    return 0;
  }
  const rows = shown.map((t) => [
    t.id,
    t.name,
    t.role,
    scope(t),
    t.state,
    t.expiresAt ? formatTime(t.expiresAt) : "never",
    t.lastUsedAt ? formatTime(t.lastUsedAt) : "never",
    t.createdBy ?? "—",
  ]);
  ctx.io.stdout.write(table(["ID", "NAME", "ROLE", "PROJECT", "STATE", "EXPIRES", "LAST USED", "MADE BY"], rows));
  return 0;
}

export async function tokenRevokeCommand(ctx: Context, id: string, opts: { json?: boolean }): Promise<number> {
  const t = await ctx.client().json<TokenView>("DELETE", `/tokens/${encodeURIComponent(id)}`);
  if (opts.json) ctx.io.stdout.write(jsonText(t));
  else ctx.info(`Revoked token "${t.name}" (${t.id}) at ${formatTime(t.revokedAt)}: it is refused from now on.`);
  return 0;
}
