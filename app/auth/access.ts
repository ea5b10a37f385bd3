/**
 * Who may call which REST route: one table, read by the API's auth middleware (app/http/middleware/auth.ts)
 * and by the tests' route × role matrix (test/auth/access.test.ts). Pure: no database, no Hono.
 *
 * A token carries a role (viewer < member < admin) and is either scoped to one project or not.
 * - The server's admin token (`admin`: the one in VH_DATA_DIR/admin-token, and those an admin makes
 *   with --role admin and no project) may do everything.
 * - A token scoped to a project may use that project's routes (`/projects/P/...`) within its role,
 *   upload code (content-addressed, shared by every project), and read its own project's datums and
 *   executions by id. Routes that reach across projects (models, lineage, hosts, environments, repos,
 *   audit) refuse it: nothing of another project is ever shown to it.
 * - A token of no project may use every project's routes and the cross-project ones within its role.
 * Reading needs viewer, changing needs member (making a project: a member of no one project); the
 * server's own set-up (hosts, quotas, repos, audit verify) needs its admin, tokens an admin.
 */

export const ROLES = ["viewer", "member", "admin"] as const;
export type Role = (typeof ROLES)[number];

export function atLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** What the caller's token grants. */
export interface Grant {
  /** The server's admin: every route. */
  admin: boolean;
  role: Role;
  /** The project it is scoped to (id and name), or null: every project. */
  project: { id: string; name: string } | null;
}

/**
 * What a route needs:
 * - `project`: the role on the project named in the path (by name or id);
 * - `shared`: the role, from a token of any project (content-addressed code);
 * - `server`: the role, from a token of no project (routes that span projects);
 * - `owned`: the role; a scoped token is let in and the route finds only its project's rows (a datum
 *   or an execution by id: another project's is "not found" to it);
 * - `admin`: the server's admin;
 * - `any`: a valid token (the route itself decides, e.g. /me and /tokens).
 */
export type Need =
  | { kind: "project"; project: string; role: Role }
  | { kind: "shared"; role: Role }
  | { kind: "server"; role: Role }
  | { kind: "owned"; role: Role }
  | { kind: "admin" }
  | { kind: "any" };

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Writes that change nothing: they validate or compute and answer. */
const READ_ONLY_POSTS = [/^\/projects\/[^/]+\/executions\/validate(\/.*)?$/];

/** `path` is below /api/v1 (e.g. `/projects/demo/executions`). */
export function needOf(method: string, path: string): Need {
  const m = method.toUpperCase();
  const reads = READS.has(m) || READ_ONLY_POSTS.some((re) => re.test(path));
  const role: Role = reads ? "viewer" : "member";
  if (path === "/me" || path === "/tokens" || path.startsWith("/tokens/")) return { kind: "any" };
  // Listing answers a scoped token with its project; making one needs a member of every project
  // (the GitHub Action makes its project on the first run).
  if (path === "/projects" || path === "/projects/") return reads ? { kind: "any" } : { kind: "server", role: "member" };
  const project = /^\/projects\/([^/]+)(\/.*)?$/.exec(path);
  // A project's own settings (its fork policy) are its admins'.
  if (project && m === "PATCH" && (project[2] ?? "/") === "/") return { kind: "project", project: decodeURIComponent(project[1]!), role: "admin" };
  if (project) return { kind: "project", project: decodeURIComponent(project[1]!), role };
  if (path.startsWith("/code/")) return { kind: "shared", role };
  if (/^\/(data|executions)\/[^/]+(\/download)?$/.test(path)) return { kind: "owned", role };
  // The server's own set-up: who runs where, and what the server watches.
  if (/^\/(hosts|quotas|repos)(\/|$)/.test(path)) return reads ? { kind: "server", role: "viewer" } : { kind: "admin" };
  if (path.startsWith("/audit/verify")) return { kind: "admin" };
  return { kind: "server", role };
}

/** What a refusal says the caller's token has: `this token's role is member on project "demo"`. */
export function describeGrant(grant: Pick<Grant, "role" | "project">): string {
  return `this token's role is ${grant.role}${grant.project ? ` on project "${grant.project.name}"` : ""}`;
}

/** null when allowed; otherwise why not, said to the caller (HTTP 403). */
export function refusal(grant: Grant, need: Need): string | null {
  if (grant.admin || need.kind === "any") return null;
  const has = describeGrant(grant);
  switch (need.kind) {
    case "admin":
      return `This needs the server's admin token (the one in VH_DATA_DIR/admin-token, or one made with \`vh token create --role admin\` and no --project); ${has}.`;
    case "shared":
    case "owned":
      return atLeast(grant.role, need.role) ? null : `This needs the role ${need.role}; ${has}.`;
    case "server":
      if (grant.project) {
        return `This reaches across projects, and this token is scoped to project "${grant.project.name}": use a token made without --project.`;
      }
      return atLeast(grant.role, need.role) ? null : `This needs the role ${need.role}; ${has}.`;
    case "project": {
      if (grant.project && need.project !== grant.project.name && need.project !== grant.project.id) {
        return `This token is scoped to project "${grant.project.name}", not "${need.project}".`;
      }
      return atLeast(grant.role, need.role) ? null : `This needs the role ${need.role} on project "${need.project}"; ${has}.`;
    }
  }
}

/** `30d`, `12h`, `90m`, `2w` or an ISO time → when it expires. */
export function parseExpiry(text: string, now = new Date()): Date {
  const rel = /^(\d+)\s*([mhdw])$/.exec(text.trim());
  if (rel) {
    const n = Number(rel[1]);
    const unit = { m: 60, h: 3600, d: 86_400, w: 604_800 }[rel[2] as "m" | "h" | "d" | "w"];
    if (n <= 0) throw new Error(`--expires ${text}: give a positive duration (e.g. 30d, 12h, 90m, 2w)`);
    return new Date(now.getTime() + n * unit * 1000);
  }
  const at = /^\d{4}-\d{2}-\d{2}/.test(text.trim()) ? new Date(text.trim()) : new Date(NaN);
  if (Number.isNaN(at.getTime())) throw new Error(`--expires ${text}: give a duration (30d, 12h, 90m, 2w) or an ISO time (2027-01-31 or 2027-01-31T12:00:00Z)`);
  if (at.getTime() <= now.getTime()) throw new Error(`--expires ${text}: that time has passed`);
  return at;
}
