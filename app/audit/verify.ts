/**
 * `vh audit verify` (GET /api/v1/audit/verify): recomputes every audit chain in TypeScript from the
 * rows as stored, and reports per chain the rows checked and either "intact" or the first break:
 * - content_changed: a row's hash is not sha256(prev_hash, its canonical content) — a field was
 *   edited after the row was written (which needs the append-only trigger disabled);
 * - link_broken: a row's prev_hash is not the hash of the row before it — a row between them was
 *   removed, or rows were written around the chain trigger;
 * - row_missing: the chain ends before its head (audit_chain_heads) says — rows at the end removed.
 * One repeatable-read, read-only transaction: the rows and the heads are one consistent picture,
 * whatever is being appended meanwhile.
 */
import type { Sql } from "../../db/client.js";
import { canonicalModelEvent, canonicalStatusEntry, chainHash, CHAINS, GENESIS, type ChainName } from "./chain.js";

export type ChainCheck = "content_changed" | "link_broken" | "row_missing";

export interface ChainBreak {
  /** The first row that fails (for row_missing: the last row the head records); null when there is none to name. */
  id: number | null;
  check: ChainCheck;
  message: string;
}

export interface ChainStatus {
  table: ChainName;
  /** Rows read and checked. */
  rows: number;
  ok: boolean;
  /** The last row checked and its hash (what a later verification can be compared with). */
  lastId: number | null;
  lastHash: string;
  /** What the chain head records. */
  head: { lastId: number | null; lastHash: string; rows: number } | null;
  broken: ChainBreak | null;
}

export interface AuditVerification {
  ok: boolean;
  verifiedAt: string;
  chains: ChainStatus[];
}

interface ChainRow {
  id: string;
  prev_hash: string | null;
  hash: string | null;
  canonical: string;
}

const BATCH = 2000;

async function batchOf(tx: Sql, table: ChainName, after: string): Promise<ChainRow[]> {
  // Ordered by the bigint column (the table's alias), not by the text one the select names `id`.
  if (table === "model_events") {
    const rows = await tx<{ id: string; model_id: string; version_id: string | null; kind: string; actor: string; source: string; source_url: string | null; reason: string | null; details: string; at_us: string; prev_hash: string | null; hash: string | null }[]>`
      select id::text, model_id::text, version_id::text, kind, actor, source, source_url, reason, details::text as details,
        (extract(epoch from at) * 1000000)::bigint::text as at_us, prev_hash, hash
      from model_events e where e.id > ${after}::bigint order by e.id limit ${BATCH}`;
    return rows.map((r) => ({
      id: r.id,
      prev_hash: r.prev_hash,
      hash: r.hash,
      canonical: canonicalModelEvent({ id: r.id, modelId: r.model_id, versionId: r.version_id, kind: r.kind, actor: r.actor, source: r.source, sourceUrl: r.source_url, reason: r.reason, details: r.details, atMicros: r.at_us }),
    }));
  }
  const rows = await tx<{ id: string; execution_id: string; status: string; reason: string | null; at_us: string; prev_hash: string | null; hash: string | null }[]>`
    select id::text, execution_id::text, status, reason, (extract(epoch from at) * 1000000)::bigint::text as at_us, prev_hash, hash
    from execution_status_history h where h.id > ${after}::bigint order by h.id limit ${BATCH}`;
  return rows.map((r) => ({
    id: r.id,
    prev_hash: r.prev_hash,
    hash: r.hash,
    canonical: canonicalStatusEntry({ id: r.id, executionId: r.execution_id, status: r.status, reason: r.reason, atMicros: r.at_us }),
  }));
}

async function verifyChain(tx: Sql, table: ChainName): Promise<ChainStatus> {
  const [h] = await tx<{ last_id: string | null; last_hash: string; row_count: string }[]>`
    select last_id::text, last_hash, row_count::text from audit_chain_heads where chain = ${table}`;
  const head = h ? { lastId: h.last_id === null ? null : Number(h.last_id), lastHash: h.last_hash, rows: Number(h.row_count) } : null;
  let broken: ChainBreak | null = null;
  const fail = (b: ChainBreak) => {
    broken ??= b;
  };
  let rows = 0;
  let prevId: string | null = null;
  let prevHash = GENESIS;
  let after = "0";
  for (;;) {
    const batch = await batchOf(tx, table, after);
    for (const r of batch) {
      rows++;
      const id = Number(r.id);
      const before = prevId === null ? "it is the first row, whose prev_hash must be the genesis hash" : `row ${prevId}`;
      if (r.hash === null || r.prev_hash === null) {
        fail({ id, check: "link_broken", message: `${table} row ${r.id} has no hash: it was written around the chain trigger.` });
      } else if (chainHash(r.prev_hash, r.canonical) !== r.hash) {
        fail({ id, check: "content_changed", message: `${table} row ${r.id}: its content no longer matches its hash (a field was changed after the row was written).` });
      } else if (r.prev_hash !== prevHash) {
        fail({ id, check: "link_broken", message: `${table} row ${r.id}: its prev_hash is not the hash of the row before it (${before}): a row between them was removed, or the chain was re-linked.` });
      } else if (head && (head.lastId === null || id > head.lastId)) {
        fail({ id, check: "link_broken", message: `${table} row ${r.id} comes after the chain head (${head.lastId === null ? "an empty chain" : `row ${head.lastId}`}): it was written around the chain trigger.` });
      }
      prevId = r.id;
      prevHash = r.hash ?? prevHash;
    }
    if (batch.length < BATCH) break;
    after = batch[batch.length - 1]!.id;
  }
  if (!head) {
    fail({ id: null, check: "row_missing", message: `The chain head of ${table} is missing from audit_chain_heads: where the chain should end cannot be checked.` });
  } else if (head.rows > rows || (head.rows === rows && head.lastHash !== prevHash)) {
    fail({
      id: head.lastId,
      check: "row_missing",
      message: `The chain head of ${table} records ${head.rows} row(s) ending at row ${head.lastId ?? "–"}; the table holds ${rows} ending at row ${prevId ?? "–"}: rows at the end were removed.`,
    });
  }
  return { table, rows, ok: broken === null, lastId: prevId === null ? null : Number(prevId), lastHash: prevHash, head, broken };
}

/** Every chain, checked row by row (see the module comment). */
export async function verifyAuditChains(sql: Sql, now: () => Date = () => new Date()): Promise<AuditVerification> {
  const chains = await sql.begin("isolation level repeatable read read only", async (tx) => {
    const out: ChainStatus[] = [];
    for (const table of CHAINS) out.push(await verifyChain(tx as unknown as Sql, table));
    return out;
  });
  return { ok: chains.every((c) => c.ok), verifiedAt: now().toISOString(), chains };
}
