/**
 * zod schemas of what the plain-Git forge reads back: the delivery payload its poller records (read
 * again by `normalizeGit` in the `forge_event` task, possibly after a deploy, so it is checked).
 * A plain Git host has no API, so there are no API responses to check.
 */
import { z } from "zod";

/** What the poller records for a new head commit whose message has `/vh run` lines (event `push`). */
export const GitPushPayload = z.object({
  repositoryId: z.number().int().positive(),
  name: z.string().min(1),
  /** `refs/heads/<branch>`. */
  ref: z.string().min(1),
  sha: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/),
  message: z.string(),
  author: z.object({ name: z.string(), email: z.string() }),
});
export type GitPushPayload = z.infer<typeof GitPushPayload>;
