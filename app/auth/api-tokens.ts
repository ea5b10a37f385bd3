/** API tokens: random, shown once, stored as sha256. The first start creates an admin token file. */
import fs from "node:fs";
import path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import type { Sql } from "../../db/client.js";
import type { Cols } from "../../db/queries/rows.js";
import type { apiTokens } from "../../db/schema/projects.js";

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function newToken(): string {
  return `vh_${randomBytes(24).toString("base64url")}`;
}

export async function createToken(sql: Sql, name: string, admin: boolean): Promise<string> {
  const token = newToken();
  await sql`insert into api_tokens (name, token_hash, admin) values (${name}, ${hashToken(token)}, ${admin})`;
  return token;
}

export type TokenRow = Cols<typeof apiTokens, "id" | "name" | "admin">;

export async function findToken(sql: Sql, token: string): Promise<TokenRow | null> {
  const [row] = await sql<TokenRow[]>`
    update api_tokens set last_used_at = now() where token_hash = ${hashToken(token)} returning id, name, admin`;
  return row ?? null;
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
    const [row] = await sql`select 1 from api_tokens where token_hash = ${hashToken(token)} and admin`;
    if (row) return { token, file, created: false };
  }
  const token = await createToken(sql, "admin (first start)", true);
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, token + "\n", { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return { token, file, created: true };
}
