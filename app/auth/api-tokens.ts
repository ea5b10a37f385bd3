/**
 * API tokens: random, shown once, stored as sha256; a role, optionally one project, an expiry
 * (app/auth/access.ts says what each may do). The first start creates the admin token file.
 */
import fs from "node:fs";
import path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import type { Sql } from "../../db/client.js";
import type { Grant, Role } from "./access.js";

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function newToken(): string {
  return `vh_${randomBytes(24).toString("base64url")}`;
}

export interface NewToken {
  name: string;
  /** The server's admin (every route); then role is admin and project null. */
  admin?: boolean;
  role: Role;
  project: { id: string; name: string } | null;
  expiresAt: Date | null;
  /** The name of the token that made it. */
  createdBy: string | null;
}

/** A token as the API shows it: never the secret, never its hash. */
export interface TokenView {
  id: string;
  name: string;
  admin: boolean;
  role: Role;
  project: string | null;
  createdBy: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  /** active, expired or revoked. */
  state: "active" | "expired" | "revoked";
}

/** Makes a token; the secret is returned once and only its sha256 is kept. */
export async function createToken(sql: Sql, t: NewToken): Promise<{ token: string; view: TokenView }> {
  const token = newToken();
  const admin = t.admin === true;
  if (admin && (t.role !== "admin" || t.project)) throw new Error("the server's admin token has the role admin and no project");
  const [row] = await sql<{ id: string }[]>`
    insert into api_tokens (name, token_hash, admin, role, project_id, expires_at, created_by)
    values (${t.name}, ${hashToken(token)}, ${admin}, ${t.role}, ${t.project?.id ?? null}, ${t.expiresAt}, ${t.createdBy})
    returning id`;
  const [view] = await listTokens(sql, { id: row!.id });
  return { token, view: view! };
}

/** What a request's token grants (app/auth/access.ts), with its id and name. */
export interface TokenRow extends Grant {
  id: string;
  name: string;
}

/** The token, if it is known, not revoked and not expired; records its use. */
export async function findToken(sql: Sql, token: string): Promise<TokenRow | null> {
  const [row] = await sql<{ id: string; name: string; admin: boolean; role: Role; project_id: string | null; project_name: string | null }[]>`
    with used as (
      update api_tokens set last_used_at = now()
      where token_hash = ${hashToken(token)} and revoked_at is null and (expires_at is null or expires_at > now())
      returning id, name, admin, role, project_id)
    select u.*, p.name as project_name from used u left join projects p on p.id = u.project_id`;
  if (!row) return null;
  return { id: row.id, name: row.name, admin: row.admin, role: row.role, project: row.project_id ? { id: row.project_id, name: row.project_name! } : null };
}

/** Why a token that is not accepted is not (revoked, expired, unknown): for the 401's message. */
export async function whyRefused(sql: Sql, token: string): Promise<string> {
  const [row] = await sql<{ revoked_at: Date | null; expires_at: Date | null }[]>`
    select revoked_at, expires_at from api_tokens where token_hash = ${hashToken(token)}`;
  if (!row) return "The token is not valid (unknown to this vh server).";
  if (row.revoked_at) return `The token was revoked at ${row.revoked_at.toISOString()}.`;
  return `The token expired at ${row.expires_at!.toISOString()}.`;
}

export async function listTokens(sql: Sql, where: { id?: string; projectId?: string } = {}): Promise<TokenView[]> {
  const rows = await sql<
    { id: string; name: string; admin: boolean; role: Role; project: string | null; created_by: string | null; created_at: Date; expires_at: Date | null; last_used_at: Date | null; revoked_at: Date | null }[]
  >`
    select t.id, t.name, t.admin, t.role, p.name as project, t.created_by, t.created_at, t.expires_at, t.last_used_at, t.revoked_at
    from api_tokens t left join projects p on p.id = t.project_id
    where (${where.id ?? null}::uuid is null or t.id = ${where.id ?? null}::uuid)
      and (${where.projectId ?? null}::uuid is null or t.project_id = ${where.projectId ?? null}::uuid)
    order by t.created_at, t.id`;
  const now = Date.now();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    admin: r.admin,
    role: r.role,
    project: r.project,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    expiresAt: r.expires_at?.toISOString() ?? null,
    lastUsedAt: r.last_used_at?.toISOString() ?? null,
    revokedAt: r.revoked_at?.toISOString() ?? null,
    state: r.revoked_at ? "revoked" : r.expires_at && r.expires_at.getTime() <= now ? "expired" : "active",
  }));
}

/** Revokes it (kept, for the record); a second revoke changes nothing. */
export async function revokeToken(sql: Sql, id: string): Promise<TokenView | null> {
  await sql`update api_tokens set revoked_at = coalesce(revoked_at, now()) where id = ${id}`;
  const [view] = await listTokens(sql, { id });
  return view ?? null;
}

export function adminTokenPath(dataDir: string): string {
  return path.join(dataDir, "admin-token");
}

/**
 * The admin token kept under the data dir (mode 0600), where the CLI on this machine finds it.
 * Reused across restarts while the database still knows it; made anew otherwise.
 */
export async function ensureAdminToken(sql: Sql, dataDir: string): Promise<{ token: string; file: string; created: boolean }> {
  const file = adminTokenPath(dataDir);
  if (fs.existsSync(file)) {
    const token = fs.readFileSync(file, "utf8").trim();
    const [row] = await sql`select 1 from api_tokens where token_hash = ${hashToken(token)} and admin and revoked_at is null`;
    if (row) return { token, file, created: false };
  }
  const { token } = await createToken(sql, { name: "admin (first start)", admin: true, role: "admin", project: null, expiresAt: null, createdBy: null });
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, token + "\n", { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return { token, file, created: true };
}
