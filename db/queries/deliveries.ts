/**
 * Forge deliveries (webhooks, and the commits a poller saw), for every forge alike: recorded and
 * queued in one statement, so a redelivery or replay of the same (forge, id) does nothing; read
 * back by the `forge_event` task; marked handled with what the handling did.
 */
import type { ForgeKind } from "../../app/contracts/forge.js";
import type { Sql } from "../client.js";
import { addJobCall } from "./jobs.js";

export interface DeliveryInput {
  forge: ForgeKind;
  /** Unique per forge: GitHub's X-GitHub-Delivery, GitLab's idempotency key or event UUID, a poller's `repo:sha`. */
  id: string;
  event: string;
  action?: string | null;
  installationId?: number | null;
  payload: Record<string, unknown>;
}

export interface RecordedDelivery {
  event: string;
  action: string | null;
  installationId: number | null;
  payload: Record<string, unknown>;
  processedAt: Date | null;
}

/** Records the delivery and queues its `forge_event` job, exactly when this call inserted the row. */
export async function recordDelivery(sql: Sql, d: DeliveryInput): Promise<"queued" | "duplicate"> {
  const rows = await sql`
    with ins as (
      insert into forge_deliveries (forge, id, event, action, installation_id, payload)
      values (${d.forge}, ${d.id}, ${d.event}, ${d.action ?? null}, ${d.installationId ?? null}, ${sql.json(d.payload as never)})
      on conflict (forge, id) do nothing
      returning id
    )
    select ${addJobCall(sql, "forge_event", { forge: d.forge, deliveryId: d.id }, { jobKey: `forge_event:${d.forge}:${d.id}` })} from ins`;
  return rows.length ? "queued" : "duplicate";
}

export async function loadDelivery(sql: Sql, forge: ForgeKind, id: string): Promise<RecordedDelivery | null> {
  const [row] = await sql<{ event: string; action: string | null; installation_id: string | null; payload: Record<string, unknown>; processed_at: Date | null }[]>`
    select event, action, installation_id, payload, processed_at from forge_deliveries where forge = ${forge} and id = ${id}`;
  if (!row) return null;
  return {
    event: row.event,
    action: row.action,
    installationId: row.installation_id === null ? null : Number(row.installation_id),
    payload: row.payload,
    processedAt: row.processed_at,
  };
}

export async function markDeliveryHandled(sql: Sql, forge: ForgeKind, id: string, outcome: string): Promise<void> {
  await sql`update forge_deliveries set processed_at = now(), outcome = ${outcome.slice(0, 500)} where forge = ${forge} and id = ${id}`;
}
