/**
 * Handling one recorded delivery (the `forge_event` task), for any forge: read it, turn it into a
 * forge-neutral event with the forge's own normaliser, hand that to the bot, and mark it handled
 * with what happened. A handled delivery is skipped, so a second run of the job does nothing.
 */
import type { ForgeKind } from "../contracts/forge.js";
import type { ForgeEvent } from "../contracts/forge-events.js";
import { loadDelivery, markDeliveryHandled, type RecordedDelivery } from "../../db/queries/deliveries.js";
import { handleEvent, type Attempt } from "./handle-event.js";
import type { BotDeps } from "./commands/types.js";

/**
 * A forge's normaliser: the event for the bot, or — for the forge's own housekeeping (GitHub's
 * installations) — the outcome of having handled it itself.
 */
export type Normalize = (row: RecordedDelivery, deps: BotDeps) => Promise<ForgeEvent | { handled: string }> | ForgeEvent | { handled: string };

export async function handleRecordedDelivery(
  deps: BotDeps,
  forge: ForgeKind,
  deliveryId: string,
  attempt: Attempt,
  normalize: Normalize,
): Promise<string> {
  const row = await loadDelivery(deps.sql, forge, deliveryId);
  if (!row) return "unknown delivery";
  if (row.processedAt) return "already handled";
  const event = await normalize(row, deps);
  const outcome = "handled" in event ? event.handled : await handleEvent(deps, event, { forge, deliveryId, attempt });
  await markDeliveryHandled(deps.sql, forge, deliveryId, outcome);
  deps.log.debug("forge delivery handled", { forge, delivery: deliveryId, event: row.event, outcome });
  return outcome;
}
