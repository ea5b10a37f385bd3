/**
 * Recording a delivery and queueing its handling, in one statement: the row keyed by
 * `X-GitHub-Delivery` is inserted only once, and the job is added only when it was, so a
 * redelivery or a replay of the same delivery does nothing.
 */
import type { Sql } from "../../../db/client.js";
import type { Cols } from "../../../db/queries/rows.js";
import type { githubDeliveries } from "../../../db/schema/github.js";
import { addJobCall } from "../../../db/queries/jobs.js";
import { handleEvent, type Attempt } from "../../bot/handle-event.js";
import type { BotDeps } from "../../bot/commands/types.js";
import { normalizeGitHub } from "./normalize.js";

/**
 * Events vh acts on (app.yml subscribes to exactly these, less the two every App gets; permissions.ts
 * says why each). Others are answered and dropped.
 */
export const HANDLED_EVENTS = new Set([
  "push",
  "issue_comment",
  "check_run",
  "check_suite",
  "pull_request_review",
  "installation",
  "installation_repositories",
]);

export async function recordDelivery(
  sql: Sql,
  d: { id: string; event: string; payload: Record<string, unknown> },
): Promise<"queued" | "duplicate"> {
  const action = typeof d.payload["action"] === "string" ? (d.payload["action"] as string) : null;
  const inst = d.payload["installation"] as { id?: unknown } | undefined;
  const installationId = typeof inst?.id === "number" ? inst.id : null;
  // The row and its job in one statement: the job is added exactly when this call inserted the row.
  const rows = await sql`
    with ins as (
      insert into github_deliveries (id, event, action, installation_id, payload)
      values (${d.id}, ${d.event}, ${action}, ${installationId}, ${sql.json(d.payload as never)})
      on conflict (id) do nothing
      returning id
    )
    select ${addJobCall(sql, "github_event", { deliveryId: d.id }, { jobKey: `github_event:${d.id}` })} from ins`;
  return rows.length ? "queued" : "duplicate";
}

/** Handling one recorded delivery (task `github_event`): normalise it to a forge-neutral event, hand it to the bot, mark it handled. */
export async function handleDelivery(deps: BotDeps, deliveryId: string, attempt: Attempt = { number: 1, max: 1 }): Promise<string> {
  const [row] = await deps.sql<Cols<typeof githubDeliveries, "event" | "payload" | "processed_at">[]>`
    select event, payload, processed_at from github_deliveries where id = ${deliveryId}`;
  if (!row) return "unknown delivery";
  if (row.processed_at) return "already handled";
  const event = normalizeGitHub(row.event, row.payload);
  const outcome = await handleEvent(deps, event, { deliveryId, attempt });
  await deps.sql`update github_deliveries set processed_at = now(), outcome = ${outcome.slice(0, 500)} where id = ${deliveryId}`;
  deps.log.debug("github delivery handled", { delivery: deliveryId, event: row.event, outcome });
  return outcome;
}
