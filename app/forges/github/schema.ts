/** zod schemas for the parts of GitHub's REST responses vh reads: a changed API fails loudly here. */
import { z } from "zod";

export const GhUser = z.object({ login: z.string(), id: z.number(), type: z.string().optional() });

export const GhPermission = z.object({
  permission: z.string(),
  role_name: z.string().optional(),
  user: GhUser.nullable().optional(),
});

export const GhPullRequest = z.object({
  number: z.number(),
  title: z.string(),
  state: z.enum(["open", "closed"]),
  user: GhUser,
  head: z.object({
    sha: z.string().regex(/^[0-9a-f]{40}$/),
    ref: z.string(),
    repo: z.object({ id: z.number(), full_name: z.string() }).nullable(),
  }),
  base: z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/).optional(), ref: z.string().optional(), repo: z.object({ id: z.number(), full_name: z.string() }) }),
});

export const GhCommit = z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/) });

export const GhContent = z.object({
  type: z.string(),
  encoding: z.string().optional(),
  content: z.string().optional(),
  size: z.number().optional(),
});

export const GhComment = z.object({ id: z.number(), body: z.string().nullable().optional(), user: GhUser.nullable().optional() });
export const GhCommentList = z.array(GhComment);

export const GhCheckRun = z.object({ id: z.number(), name: z.string().optional(), external_id: z.string().nullable().optional() });
export const GhCheckRunList = z.object({ total_count: z.number(), check_runs: z.array(GhCheckRun) });

export const GhCreated = z.object({ id: z.number() });

/** The answer to `POST /app-manifests/{code}/conversions`: the new App and its credentials (never logged). */
export const GhManifestConversion = z.object({
  id: z.number().int().positive(),
  slug: z.string().min(1),
  name: z.string().min(1),
  html_url: z.string().url(),
  owner: z.object({ login: z.string() }).nullable().optional(),
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
  webhook_secret: z.string().min(1),
  pem: z.string().includes("-----BEGIN"),
});
