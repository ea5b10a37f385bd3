/**
 * GitHub deliveries: recorded once per `X-GitHub-Delivery` and queued in one statement
 * (db/queries/deliveries.ts), then handled by the `forge_event` task: normalised to a
 * forge-neutral event for the bot, except the App's own housekeeping (installations and their
 * repositories), which is recorded here.
 */
import type { Sql } from "../../../db/client.js";
import { recordDelivery as recordForgeDelivery } from "../../../db/queries/deliveries.js";
import { markRepositoriesRemoved, upsertForgeRepository } from "../../../db/queries/forge-repositories.js";
import type { Attempt } from "../../bot/handle-event.js";
import { handleRecordedDelivery } from "../../bot/deliveries.js";
import type { BotDeps } from "../../bot/commands/types.js";
import { normalizeGitHub, type InstallationChange } from "./normalize.js";

/**
 * Events vh acts on (app.yml subscribes to exactly these, less the two every App gets; permissions.ts
 * says why each). Others are answered and dropped.
 */
export const HANDLED_EVENTS = new Set([
  "push",
  "issue_comment",
  "check_run",
  "check_suite",
  "pull_request",
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
  return recordForgeDelivery(sql, { forge: "github", id: d.id, event: d.event, action, installationId, payload: d.payload });
}

/** Handling one recorded delivery (task `forge_event`, forge github): the bot's event, or an installation change recorded here. */
export function handleDelivery(deps: BotDeps, deliveryId: string, attempt: Attempt = { number: 1, max: 1 }): Promise<string> {
  return handleRecordedDelivery(deps, "github", deliveryId, attempt, async (row) => {
    const event = normalizeGitHub(row.event, row.payload);
    return event.kind === "installation" ? { handled: await handleInstallation(deps.sql, event) } : event;
  });
}

async function handleInstallation(sql: Sql, ev: InstallationChange): Promise<string> {
  const i = ev.installation;
  const removed = ev.action === "deleted";
  await sql`
    insert into github_installations (id, account_login, account_type, suspended, removed_at)
    values (${i.id}, ${i.account}, ${i.accountType}, ${ev.action === "suspend"}, ${removed ? new Date() : null})
    on conflict (id) do update set account_login = excluded.account_login, account_type = excluded.account_type,
      suspended = case when ${ev.action} = 'suspend' then true when ${ev.action} = 'unsuspend' then false else github_installations.suspended end,
      removed_at = excluded.removed_at, updated_at = now()`;
  for (const r of ev.added) await upsertForgeRepository(sql, { forge: "github", id: r.id, installationId: i.id, fullName: r.fullName });
  await markRepositoriesRemoved(sql, "github", { ids: ev.removed.map((r) => r.id) });
  if (removed) await markRepositoriesRemoved(sql, "github", { installationId: i.id });
  return `installation ${ev.action}: +${ev.added.length} -${ev.removed.length}`;
}
