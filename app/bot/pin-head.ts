/**
 * Which commit a pull request command runs: the head the comment was made on, not whatever the head
 * is when its delivery is handled (a fork can push between the two, and a queued delivery can wait).
 *
 * 1. The head the payload itself names (GitLab's note hooks carry the merge request's last commit).
 * 2. Otherwise the heads vh recorded from the forge's `pull_request` deliveries (table
 *    change_request_heads): the last one that became the head strictly before the comment (a push
 *    in the same second as the comment counts as after it: the commenter cannot have seen it).
 * 3. Otherwise (vh saw no head before the comment: installed later, or the event was lost) the
 *    head now, unless vh knows that head arrived after the comment: then nobody can say which
 *    commit the commenter saw, and the command is refused (comment again).
 */
import type { Sql } from "../../db/client.js";
import { VhError } from "../errors.js";
import { changeRequestName, type RepoRef } from "../contracts/forge.js";

export interface PinnedHead {
  sha: string;
  how: "payload" | "recorded" | "current";
  /** The head now, when it is not the pinned one (the pull request moved after the comment). */
  movedTo: string | null;
}

/** Keeps a head a `pull_request` delivery announced (a redelivery adds nothing). */
export async function recordHead(sql: Sql, repo: RepoRef, pr: number, sha: string, at: Date): Promise<void> {
  await sql`
    insert into change_request_heads (forge, repository_id, number, sha, at)
    values (${repo.forge}, ${repo.id}, ${pr}, ${sha}, ${at}) on conflict do nothing`;
}

export async function pinHead(
  sql: Sql,
  repo: RepoRef,
  pr: number,
  comment: { at: Date | null; payloadHead: string | null },
  currentHead: string,
): Promise<PinnedHead> {
  const moved = (sha: string) => (sha === currentHead ? null : currentHead);
  if (comment.payloadHead) return { sha: comment.payloadHead, how: "payload", movedTo: moved(comment.payloadHead) };
  if (!comment.at) return { sha: currentHead, how: "current", movedTo: null };
  const [before] = await sql<{ sha: string }[]>`
    select sha from change_request_heads
    where forge = ${repo.forge} and repository_id = ${repo.id} and number = ${pr} and at < ${comment.at}
    order by at desc, sha limit 1`;
  if (before) return { sha: before.sha, how: "recorded", movedTo: moved(before.sha) };
  const [later] = await sql<{ at: Date }[]>`
    select at from change_request_heads
    where forge = ${repo.forge} and repository_id = ${repo.id} and number = ${pr} and sha = ${currentHead} and at >= ${comment.at}
    order by at limit 1`;
  if (later) {
    throw new VhError(
      "conflict",
      `The head of ${changeRequestName(repo.forge, pr)} moved to \`${currentHead.slice(0, 7)}\` at ${later.at.toISOString()}, after your comment, and vh does not know which commit you commented on; comment again to run \`${currentHead.slice(0, 7)}\`.`,
    );
  }
  return { sha: currentHead, how: "current", movedTo: null };
}
