/**
 * Task `github_event` { deliveryId }: handles one recorded GitHub webhook delivery
 * (app/webhooks/handle.ts). Safe to run twice: a handled delivery is skipped and sweeps are keyed
 * by delivery. vh's own failures (GitHub, the store, a runner) throw and graphile-worker retries with
 * backoff; on the last attempt they are reported on the pull request as vh's failure instead.
 */
import { z } from "zod";
import type { Task } from "graphile-worker";
import { GITHUB_EVENT } from "../../app/webhooks/deliveries.js";
import { handleDelivery } from "../../app/webhooks/handle.js";
import type { ForgeProvider } from "../../app/forges/types.js";
import type { WorkerDeps } from "../deps.js";

export { GITHUB_EVENT };
const Payload = z.object({ deliveryId: z.string().min(1).max(200) });

export function githubEventTask(deps: WorkerDeps, forges: ForgeProvider): Task {
  return async function githubEvent(payload, helpers) {
    const { deliveryId } = Payload.parse(payload);
    const attempt = { number: helpers.job.attempts, max: helpers.job.max_attempts };
    await handleDelivery({ sql: deps.sql, store: deps.store, config: deps.config, log: deps.log, forges }, deliveryId, attempt);
  };
}
