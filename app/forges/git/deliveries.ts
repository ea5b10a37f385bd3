/**
 * Plain-Git deliveries: the poller records one per new head commit with `/vh run` lines
 * (forge_deliveries (git, `<repository id>:<sha>`), event `push`; poll.ts), and the `forge_event`
 * task hands it to the bot as a push, like GitHub's.
 */
import type { Attempt } from "../../bot/handle-event.js";
import { handleRecordedDelivery } from "../../bot/deliveries.js";
import type { BotDeps } from "../../bot/commands/types.js";
import { normalizeGit } from "./normalize.js";

/** Handling one recorded delivery (task `forge_event`, forge git). */
export function handleDelivery(deps: BotDeps, deliveryId: string, attempt: Attempt = { number: 1, max: 1 }): Promise<string> {
  return handleRecordedDelivery(deps, "git", deliveryId, attempt, (row) => normalizeGit(row.event, row.payload));
}
