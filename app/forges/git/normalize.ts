/** The poller's recorded payloads → ForgeEvent. Pure: no I/O; unknown events and shapes become `ignore`. */
import type { ForgeEvent } from "../../contracts/forge-events.js";
import { repoRefOf } from "./records.js";
import { GitPushPayload } from "./schema.js";

/** Does a commit message have a `/vh run` line (the lines the bot acts on in a push)? */
export function hasRunLines(message: string): boolean {
  return message.split(/\r?\n/).some((l) => /^\/vh\s+run(\s|$)/i.test(l.trim()));
}

/**
 * A recorded `push` (a new head commit on a watched branch) as the forge-neutral push event. The
 * pusher is the commit's author, by email (or name when the commit has no email): a plain Git host
 * says nothing more about who pushed, and anyone who can push to a watched branch is trusted.
 */
export function normalizeGit(event: string, payload: unknown): ForgeEvent {
  if (event !== "push") return { kind: "ignore", reason: `event ${event} is not used` };
  const p = GitPushPayload.safeParse(payload);
  if (!p.success) return { kind: "ignore", reason: "push: unexpected payload" };
  const d = p.data;
  return {
    kind: "push",
    repo: repoRefOf({ id: d.repositoryId, name: d.name }),
    ref: d.ref,
    headSha: d.sha,
    message: d.message,
    pusher: { login: d.author.email || d.author.name, id: 0, isBot: false },
  };
}
