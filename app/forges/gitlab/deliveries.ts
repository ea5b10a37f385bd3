/**
 * GitLab deliveries: recorded once per idempotency key and queued in one statement by the webhook
 * route (db/queries/deliveries.ts), then handled by the `forge_event` task: normalised to a
 * forge-neutral event for the bot. GitLab has no housekeeping events of its own.
 */
import type { Attempt } from "../../bot/handle-event.js";
import { handleRecordedDelivery } from "../../bot/deliveries.js";
import type { BotDeps } from "../../bot/commands/types.js";
import { normalizeGitLab, type NormalizeOptions } from "./normalize.js";

/**
 * Handling one recorded delivery (task `forge_event`, forge gitlab). `opts.botUsername` is the
 * token's user (`GitLabProvider.botUser()`): its own notes are marked as a bot's.
 */
export function handleDelivery(deps: BotDeps, deliveryId: string, attempt: Attempt = { number: 1, max: 1 }, opts: NormalizeOptions = {}): Promise<string> {
  return handleRecordedDelivery(deps, "gitlab", deliveryId, attempt, (row) => normalizeGitLab(row.event, row.payload, opts));
}
