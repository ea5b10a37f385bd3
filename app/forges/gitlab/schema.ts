/**
 * zod schemas for the parts of GitLab's answers vh reads: the REST API's (a changed API fails
 * loudly here) and the webhook payloads' (a payload that lacks what vh needs becomes `ignore`).
 */
import { z } from "zod";

const Sha = z.string().regex(/^[0-9a-f]{40}$/);

// ---- REST API (/api/v4) ----

export const GlUser = z.object({ id: z.number(), username: z.string(), state: z.string().optional() });
export const GlUserList = z.array(GlUser);

/** `GET /projects/:id/members/all/:user_id`. */
export const GlMember = z.object({
  id: z.number(),
  username: z.string().optional(),
  access_level: z.number(),
  state: z.string().optional(),
  expires_at: z.string().nullable().optional(),
});

export const GlMergeRequest = z.object({
  iid: z.number(),
  title: z.string(),
  state: z.string(),
  /** Null once the source branch is gone. */
  sha: Sha.nullable(),
  source_branch: z.string(),
  source_project_id: z.number().nullable(),
  target_project_id: z.number(),
  author: GlUser,
  /** The target branch's commit the merge request is compared with (null while GitLab computes it). */
  diff_refs: z.object({ base_sha: Sha.nullable() }).nullable().optional(),
});

export const GlProject = z.object({ id: z.number(), path_with_namespace: z.string() });

export const GlCommit = z.object({ id: Sha });

export const GlNote = z.object({
  id: z.number(),
  body: z.string().nullable().optional(),
  system: z.boolean().optional(),
  author: z.object({ username: z.string() }).nullable().optional(),
});
export const GlNoteList = z.array(GlNote);

export const GlCreated = z.object({ id: z.number() });

export const GlCommitStatus = z.object({
  id: z.number(),
  name: z.string().nullable().optional(),
  status: z.string(),
  description: z.string().nullable().optional(),
  target_url: z.string().nullable().optional(),
});
export const GlCommitStatusList = z.array(GlCommitStatus);

// ---- Webhook payloads (docs.gitlab.com, "Webhook events") ----

/** A payload's project: `path_with_namespace` names it (`namespace` is the group's display name). */
export const HookProject = z.object({ id: z.number(), path_with_namespace: z.string().regex(/^[^/]+(\/[^/]+)+$/) });

/** Who triggered the hook; older GitLab versions sent no `id`. */
export const HookUser = z.object({ id: z.number().optional(), username: z.string() });

export const NoteHook = z.object({
  object_kind: z.literal("note"),
  user: HookUser,
  project: HookProject,
  object_attributes: z.object({
    id: z.number(),
    note: z.string().nullable(),
    noteable_type: z.string(),
    author_id: z.number().optional(),
    system: z.boolean().optional(),
    /** `create` or `update` (GitLab 16.11+; absent before, when only new notes were sent). */
    action: z.string().optional(),
    url: z.string(),
    created_at: z.string().optional(),
  }),
  merge_request: z.object({ iid: z.number(), last_commit: z.object({ id: Sha }).nullable().optional() }).optional(),
});

export const PushHook = z.object({
  object_kind: z.literal("push"),
  ref: z.string(),
  after: z.string(),
  checkout_sha: Sha.nullable(),
  user_id: z.number(),
  user_username: z.string(),
  project: HookProject,
  commits: z.array(z.object({ id: z.string(), message: z.string() })).default([]),
});

export const MergeRequestHook = z.object({
  object_kind: z.literal("merge_request"),
  user: HookUser.extend({ id: z.number() }),
  project: HookProject,
  object_attributes: z.object({
    iid: z.number(),
    action: z.string().optional(),
    url: z.string(),
    last_commit: z.object({ id: Sha }).nullable().optional(),
  }),
});
