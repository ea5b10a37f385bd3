/** One audited row as the API shows it, with its place in the chain. */
import type { Sql } from "../../db/client.js";

export interface ModelEventRecord {
  id: number;
  model: string;
  /** `model://NAME/vN`, or null for a model-wide event (an alias change, a policy change). */
  version: string | null;
  kind: string;
  actor: string;
  source: string;
  sourceUrl: string | null;
  reason: string | null;
  details: Record<string, unknown>;
  at: string;
  prevHash: string;
  hash: string;
}

export async function modelEventRecord(sql: Sql, id: string): Promise<ModelEventRecord | null> {
  const [r] = await sql<{ id: string; name: string; number: number | null; kind: string; actor: string; source: string; source_url: string | null; reason: string | null; details: Record<string, unknown>; at: Date; prev_hash: string; hash: string }[]>`
    select e.id, m.name, v.number, e.kind, e.actor, e.source, e.source_url, e.reason, e.details, e.at, e.prev_hash, e.hash
    from model_events e join models m on m.id = e.model_id left join model_versions v on v.id = e.version_id
    where e.id = ${id}::bigint`;
  if (!r) return null;
  return {
    id: Number(r.id),
    model: r.name,
    version: r.number === null ? null : `model://${r.name}/v${r.number}`,
    kind: r.kind,
    actor: r.actor,
    source: r.source,
    sourceUrl: r.source_url,
    reason: r.reason,
    details: r.details,
    at: r.at.toISOString(),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
