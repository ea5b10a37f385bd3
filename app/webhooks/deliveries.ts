/**
 * Recording a delivery and queueing its handling, in one statement: the row keyed by
 * `X-GitHub-Delivery` is inserted only once, and the job is added only when it was, so a
 * redelivery or a replay of the same delivery does nothing.
 */
import type { Sql } from "../../db/client.js";

export const GITHUB_EVENT = "github_event";

/** Events vh acts on (app.yml subscribes to exactly these). Others are answered and dropped. */
export const HANDLED_EVENTS = new Set([
  "push",
  "pull_request",
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
  const rows = await sql`
    with ins as (
      insert into github_deliveries (id, event, action, installation_id, payload)
      values (${d.id}, ${d.event}, ${action}, ${installationId}, ${sql.json(d.payload as never)})
      on conflict (id) do nothing
      returning id
    )
    select graphile_worker.add_job(${GITHUB_EVENT}, json_build_object('deliveryId', ins.id), job_key => ${GITHUB_EVENT} || ':' || ins.id, max_attempts => 10)
    from ins`;
  return rows.length ? "queued" : "duplicate";
}
