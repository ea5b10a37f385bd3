/**
 * Repositories on plain Git hosts, linked by URL and polled (docs/git-hosts.md), mounted at the API root:
 * - `POST /repos` `{ url, project?, branches?, pollSeconds?, key?, tokenEnv?, webhookSecret? }`: link
 *   one. It is reached at once (an unreachable URL or a refused key fails here, 4xx/502), its
 *   branches are the baseline (commits already there never run), and its first poll is queued. `key`
 *   is the deploy key's text (ssh; the CLI sends the file's content), stored on the server 0600 and
 *   never returned; `tokenEnv` names a `VH_GIT_TOKEN_*` variable on the server holding an https
 *   token (the token never travels through the API). file:// URLs need an admin token.
 * - `GET /repos`: every linked repository with its poll state.
 * - `GET /repos/:repo` (id or name): one, with its last poll, last error, last commit seen, lint and next poll.
 * - `DELETE /repos/:repo`: unlink (polling stops; the project and its executions stay).
 *
 * The work is the plain-Git forge's (app/forges/git/repos.ts), handed in by the registry as `repos`.
 */
import { Hono } from "hono";
import { z } from "zod";
import { VhError } from "../../errors.js";

/** What linking takes (the REST body, with `key` named for what it is). */
export interface LinkRepositoryRequest {
  url: string;
  project?: string | undefined;
  branches?: string[] | undefined;
  pollSeconds?: number | undefined;
  keyPem?: string | undefined;
  tokenEnv?: string | undefined;
  webhookSecret?: string | undefined;
}

/** The linking service these routes need (the registry passes the plain-Git forge's). Views are sent as they are. */
export interface RepoService {
  link(input: LinkRepositoryRequest, by: { admin: boolean }): Promise<object>;
  list(): Promise<object[]>;
  status(repo: string): Promise<object>;
  remove(repo: string): Promise<{ id: number; name: string }>;
}

const LinkBody = z.object({
  url: z.string().min(1).max(2048),
  project: z.string().min(1).max(100).optional(),
  branches: z.array(z.string().min(1).max(255)).max(50).optional(),
  pollSeconds: z.number().int().positive().optional(),
  /** The deploy key's text (PEM or OpenSSH). */
  key: z.string().min(1).max(64 * 1024).optional(),
  tokenEnv: z.string().min(1).max(120).optional(),
  webhookSecret: z.string().min(1).max(256).optional(),
});

const HINT = 'Send {"url": "ssh://git@host/team/repo.git", "key": "-----BEGIN OPENSSH PRIVATE KEY-----\\n…", "branches": ["main"]} (or an https URL with "tokenEnv": "VH_GIT_TOKEN_…")';

export function repoRoutes(deps: { repos: RepoService }): Hono {
  const app = new Hono();
  app.post("/repos", async (c) => {
    const parsed = LinkBody.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) {
      throw new VhError("bad_request", `${HINT} (${parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")})`);
    }
    const { key, ...rest } = parsed.data;
    const view = await deps.repos.link({ ...rest, ...(key !== undefined ? { keyPem: key } : {}) }, { admin: c.get("token")?.admin === true });
    return c.json(view, 201);
  });
  app.get("/repos", async (c) => c.json({ results: await deps.repos.list() }));
  app.get("/repos/:repo", async (c) => c.json(await deps.repos.status(c.req.param("repo"))));
  app.delete("/repos/:repo", async (c) => c.json({ removed: await deps.repos.remove(c.req.param("repo")) }));
  return app;
}
