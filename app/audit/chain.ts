/**
 * The canonical content and hash of an audit chain's rows, exactly as the insert trigger computes
 * them in Postgres (db/migrations/*_audit-chain.sql, db/schema/audit.ts). Pure.
 *
 * Canonical content, version vh-audit-1: `vh-audit-1|<table>`, then every field in a fixed order as
 * `|~` for NULL or `|<length in UTF-8 bytes>:<text>`: the length prefix keeps the form unambiguous
 * whatever a field holds (`|`, `:`, newlines). Times are UTC with microseconds
 * (`2026-12-02T10:25:38.123456Z`); jsonb is its `::text` output, which Postgres makes canonical
 * (keys sorted by length then bytes, duplicates dropped, one spacing), so a verifier reads it as
 * text rather than re-serialising a parsed object (JavaScript would reorder keys and reformat
 * numbers such as 1.0).
 *
 * hash = sha256_hex(prev_hash + "\n" + canonical); the first row's prev_hash is GENESIS.
 */
import { createHash } from "node:crypto";

export const CANONICAL_VERSION = "vh-audit-1";
export const GENESIS = "0".repeat(64);

/** The audited tables, each one chain. */
export const CHAINS = ["model_events", "execution_status_history"] as const;
export type ChainName = (typeof CHAINS)[number];

/** A model_events row as the verifier reads it: ids and times as text, details as jsonb's text. */
export interface ModelEventContent {
  id: string;
  modelId: string;
  versionId: string | null;
  kind: string;
  actor: string;
  source: string;
  sourceUrl: string | null;
  reason: string | null;
  /** `details::text`. */
  details: string;
  /** Microseconds since the epoch (`extract(epoch from at) * 1000000`). */
  atMicros: string;
}

export interface StatusEntryContent {
  id: string;
  executionId: string;
  status: string;
  reason: string | null;
  atMicros: string;
}

function field(v: string | null): string {
  return v === null ? "~" : `${Buffer.byteLength(v, "utf8")}:${v}`;
}

/** `YYYY-MM-DDTHH:MI:SS.USZ` in UTC from microseconds since the epoch (Postgres' to_char form). */
export function canonicalTime(epochMicros: string | bigint): string {
  const us = BigInt(epochMicros);
  let sec = us / 1_000_000n;
  let frac = us % 1_000_000n;
  if (frac < 0n) {
    frac += 1_000_000n;
    sec -= 1n;
  }
  const iso = new Date(Number(sec) * 1000).toISOString();
  return `${iso.slice(0, 19)}.${frac.toString().padStart(6, "0")}Z`;
}

function canonical(table: ChainName, fields: (string | null)[]): string {
  return [`${CANONICAL_VERSION}|${table}`, ...fields.map(field)].join("|");
}

export function canonicalModelEvent(r: ModelEventContent): string {
  return canonical("model_events", [r.id, r.modelId, r.versionId, r.kind, r.actor, r.source, r.sourceUrl, r.reason, r.details, canonicalTime(r.atMicros)]);
}

export function canonicalStatusEntry(r: StatusEntryContent): string {
  return canonical("execution_status_history", [r.id, r.executionId, r.status, r.reason, canonicalTime(r.atMicros)]);
}

export function chainHash(prevHash: string, canonicalContent: string): string {
  return createHash("sha256").update(`${prevHash}\n${canonicalContent}`, "utf8").digest("hex");
}
