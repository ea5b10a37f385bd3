/**
 * Log ingestion: bytes from the runner → lines with stream and time → `log_lines`, and every stdout
 * line that is a JSON object → `metadata_events` (valohai-spec §3.4).
 *
 * Exactly-once across restarts: the byte offsets and the unfinished last line of each stream are
 * committed in the same transaction as the lines they cover, guarded by the supervision lease. A
 * supervisor that re-attaches resumes from the committed offsets, so no line is missed or stored twice.
 *
 * Nothing a job prints can stop ingestion (issue 20): a metadata line too long, nested too deep or
 * with numbers JSON cannot hold is a warning (the line is still stored as a log line), and past the
 * log quota (VH_MAX_LOG_MB, VH_MAX_LOG_LINES) lines are counted but not stored. vh's own warnings
 * go into `executions.warnings` (each kind once per execution) and into the log as `status` lines.
 */
import type { Sql } from "../../db/client.js";
import type { LogChunk } from "../../app/contracts/runner.js";
import { redact } from "../../app/executions/secrets.js";
import { MAX_JSON_DEPTH, jsonbSafe, mb, needsJsonbSafe, nestedDeeperThan, nonFiniteKeys, setOwn } from "./json-limits.js";

/** `status`: a line vh writes into the log itself (a warning), not one the job printed. */
export type Stream = "stdout" | "stderr" | "status";

/** Longest line kept whole; a longer run of bytes without a newline is cut into lines of this size. */
export const MAX_LINE_BYTES = 1024 * 1024;

/** Longest stdout line (in characters) still read as metadata; a longer one is a log line only. */
export const MAX_METADATA_LINE_CHARS = 256 * 1024;

/** Bounds of `metadata_latest` (one jsonb value rewritten on every commit): keys, and JSON characters in all. */
export const MAX_LATEST_KEYS = 10_000;
export const MAX_LATEST_CHARS = 8 * 1024 * 1024;

/** Lines per INSERT statement. */
const INSERT_SLICE = 20_000;

/** The per-execution log quota. Defaults: no byte limit; lines as many as an int4 seq holds. */
export interface IngestLimits {
  maxLogBytes: number;
  maxLogLines: number;
  /** Secret values of the execution's environment: replaced by *** in every line before it is stored (app/executions/secrets.ts). */
  redact?: readonly string[];
}
const NO_LIMITS: IngestLimits = { maxLogBytes: Number.MAX_SAFE_INTEGER, maxLogLines: 2 ** 31 - 2 };

/**
 * Kinds of warning vh gives about what a job printed, each at most once per execution: the text
 * of each starts with its prefix, which is how an execution's warnings say a kind was given.
 */
export const WARNING_PREFIXES = {
  "metadata-too-long": "Metadata line too long:",
  "metadata-too-deep": "Metadata nested too deep:",
  "metadata-non-finite": "Metadata number out of range:",
  "metadata-latest-full": "Metadata summary full:",
  "metadata-unstorable": "Metadata not stored:",
  "log-quota": "Log quota reached:",
} as const;
export type WarningKind = keyof typeof WARNING_PREFIXES;

/** The kinds an execution's warnings already hold (a supervisor that re-attaches gives none twice). */
export function warnedKinds(warnings: readonly string[]): Set<WarningKind> {
  const kinds = new Set<WarningKind>();
  for (const [kind, prefix] of Object.entries(WARNING_PREFIXES) as [WarningKind, string][]) {
    if (warnings.some((w) => w.startsWith(prefix))) kinds.add(kind);
  }
  return kinds;
}

/** JSON size of each key of `metadata_latest`, for its bounds. */
export function latestSizes(latest: Record<string, unknown>): Map<string, number> {
  return new Map(Object.entries(latest).map(([k, v]) => [k, k.length + (JSON.stringify(v)?.length ?? 4)]));
}

export interface Cursor {
  offsets: { stdout: number; stderr: number };
  /** Bytes after the last newline of each stream, base64 (a line may end mid-UTF-8 character). */
  partial: { stdout: string; stderr: string };
  logSeq: number;
  metadataSeq: number;
  /** The log quota's count: UTF-8 bytes of the lines stored, plus one per newline. Absent: 0. */
  logBytes?: number;
  /** Lines (and their bytes) counted but not stored, past the quota. Absent: 0. */
  droppedLines?: number;
  droppedBytes?: number;
  /** Warning kinds already given (not stored: rebuilt with `warnedKinds` on attach). */
  warned?: ReadonlySet<WarningKind>;
  /** JSON size of each key of metadata_latest (not stored: rebuilt with `latestSizes` on attach). */
  latest?: ReadonlyMap<string, number>;
}

export interface LogLine {
  seq: number;
  time: Date;
  stream: Stream;
  line: string;
}

export interface MetadataEvent {
  seq: number;
  time: Date;
  data: Record<string, unknown>;
}

export interface Batch {
  lines: LogLine[];
  metadata: MetadataEvent[];
  /** stdout lines that looked like a JSON object but did not parse; the first one's seq. */
  invalidJson: number;
  firstInvalidJsonSeq: number | null;
  /** Latest value per key over this batch's metadata events. */
  latest: Record<string, unknown>;
  /** Lines of this batch counted but not stored (past the log quota). */
  dropped: number;
  /** Warnings of kinds not given before (each kind once), for `executions.warnings`. */
  warnings: { kind: WarningKind; text: string }[];
  cursor: Cursor;
}

const decoder = new TextDecoder("utf-8", { fatal: false });

function decodeLine(buf: Buffer): string {
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0d) end -= 1; // CRLF
  // Postgres text cannot hold NUL.
  return decoder.decode(buf.subarray(0, end)).replaceAll("\u0000", "\uFFFD");
}

export type MetadataLine =
  | { kind: "none" }
  | { kind: "invalid" }
  | { kind: "too-long" }
  | { kind: "too-deep" }
  /** `dropped`: keys left out because their value holds a number JSON cannot hold (1e400). */
  | { kind: "ok"; data: Record<string, unknown>; dropped: string[] };

/** Reads one stdout line as metadata: a JSON object within the limits, or why not. */
export function inspectMetadataLine(line: string): MetadataLine {
  const t = line.trim();
  if (!t.startsWith("{")) return { kind: "none" };
  if (t.length > MAX_METADATA_LINE_CHARS) return { kind: "too-long" };
  if (nestedDeeperThan(t, MAX_JSON_DEPTH)) return { kind: "too-deep" };
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return { kind: "invalid" };
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return { kind: "invalid" };
  let data = needsJsonbSafe(t) ? (jsonbSafe(v) as Record<string, unknown>) : (v as Record<string, unknown>);
  const dropped = nonFiniteKeys(data);
  if (dropped.length > 0) data = Object.fromEntries(Object.entries(data).filter(([k]) => !dropped.includes(k)));
  return { kind: "ok", data, dropped };
}

/** JSON object on a line → its data; looks like JSON but fails (or is over the limits) → "invalid"; anything else → null. */
export function parseMetadataLine(line: string): Record<string, unknown> | "invalid" | null {
  const md = inspectMetadataLine(line);
  if (md.kind === "none") return null;
  return md.kind === "ok" ? md.data : "invalid";
}

const quoted = (keys: string[]) => keys.slice(0, 10).map((k) => JSON.stringify(k)).join(", ") + (keys.length > 10 ? `, … (${keys.length} keys)` : "");

/**
 * Turns runner chunks into a batch. Pure: the caller commits it with `commitBatch`.
 * Chunks of one stream must be contiguous with the cursor's offset (the runner guarantees it).
 */
export function buildBatch(
  cursor: Cursor,
  chunks: LogChunk[],
  now: () => Date = () => new Date(),
  flushPartial = false,
  limits: IngestLimits = NO_LIMITS,
): Batch {
  const next = {
    offsets: { ...cursor.offsets },
    partial: { ...cursor.partial },
    logSeq: cursor.logSeq,
    metadataSeq: cursor.metadataSeq,
    logBytes: cursor.logBytes ?? 0,
    droppedLines: cursor.droppedLines ?? 0,
    droppedBytes: cursor.droppedBytes ?? 0,
    warned: cursor.warned ?? new Set<WarningKind>(),
    latest: cursor.latest ?? new Map<string, number>(),
  };
  const batch: Batch = { lines: [], metadata: [], invalidJson: 0, firstInvalidJsonSeq: null, latest: {}, dropped: 0, warnings: [], cursor: next };
  let latestSize = [...next.latest.values()].reduce((a, b) => a + b, 0);
  let latestCopied = false;

  // One read, one timestamp: lines read together were written within one poll interval.
  const time = now();
  const isoTime = time.toISOString();

  /** A line of vh's own; outside the quota (at most one per warning kind). */
  function status(line: string): void {
    next.logSeq += 1;
    batch.lines.push({ seq: next.logSeq, time, stream: "status", line });
  }
  /** A warning of a kind not given before: into the execution's warnings and, as `statusLine`, into the log. */
  function warnOnce(kind: WarningKind, text: string, statusLine: string): void {
    if (next.warned.has(kind)) return;
    next.warned = new Set([...next.warned, kind]);
    batch.warnings.push({ kind, text: `${WARNING_PREFIXES[kind]} ${text}` });
    status(statusLine);
  }

  const secrets = limits.redact ?? [];
  function emit(stream: "stdout" | "stderr", raw: string): void {
    const line = secrets.length > 0 ? redact(raw, secrets) : raw;
    const bytes = Buffer.byteLength(raw) + 1;
    if (next.droppedLines > 0 || next.logBytes + bytes > limits.maxLogBytes || next.logSeq >= limits.maxLogLines) {
      if (next.droppedLines === 0) {
        const quota = next.logSeq >= limits.maxLogLines ? `${limits.maxLogLines} lines (VH_MAX_LOG_LINES)` : `${mb(limits.maxLogBytes)} MB (VH_MAX_LOG_MB)`;
        next.warned = new Set([...next.warned, "log-quota"]);
        batch.warnings.push({ kind: "log-quota", text: `${WARNING_PREFIXES["log-quota"]} the log quota of ${quota} was reached after log line #${next.logSeq}; later output was counted but not stored.` });
        status(`log quota of ${quota} reached: later output is counted but not stored.`);
      }
      next.droppedLines += 1;
      next.droppedBytes += bytes;
      batch.dropped += 1;
      return;
    }
    next.logSeq += 1;
    next.logBytes += bytes;
    const seq = next.logSeq;
    batch.lines.push({ seq, time, stream, line });
    if (stream !== "stdout") return;
    const md = inspectMetadataLine(line);
    switch (md.kind) {
      case "none":
        return;
      case "invalid":
        batch.invalidJson += 1;
        batch.firstInvalidJsonSeq ??= seq;
        return;
      case "too-long":
        warnOnce("metadata-too-long", `log line #${seq} (and maybe later ones) is a JSON object of over ${MAX_METADATA_LINE_CHARS / 1024} K characters; it was stored as a log line only, not as metadata.`,
          `line #${seq} is a JSON object of over ${MAX_METADATA_LINE_CHARS / 1024} K characters: kept as a log line only, not as metadata.`);
        return;
      case "too-deep":
        warnOnce("metadata-too-deep", `log line #${seq} (and maybe later ones) is a JSON object nested deeper than ${MAX_JSON_DEPTH} levels; it was stored as a log line only, not as metadata.`,
          `line #${seq} is a JSON object nested deeper than ${MAX_JSON_DEPTH} levels: kept as a log line only, not as metadata.`);
        return;
      case "ok":
        break;
    }
    if (md.dropped.length > 0) {
      warnOnce("metadata-non-finite", `log line #${seq} (and maybe later ones) has numbers out of range for JSON (like 1e400) in ${quoted(md.dropped)}; those keys were left out of its metadata (stored, they would have become null).`,
        `line #${seq}: numbers out of range (like 1e400) in ${quoted(md.dropped)}; those keys were left out of its metadata.`);
    }
    if (Object.keys(md.data).length === 0) return;
    next.metadataSeq += 1;
    const data = { ...md.data, _time: md.data["_time"] ?? isoTime };
    batch.metadata.push({ seq: next.metadataSeq, time, data });
    for (const [k, v] of Object.entries(md.data)) {
      const size = k.length + (JSON.stringify(v)?.length ?? 4);
      const old = next.latest.get(k);
      if ((old === undefined && next.latest.size >= MAX_LATEST_KEYS) || latestSize - (old ?? 0) + size > MAX_LATEST_CHARS) {
        warnOnce("metadata-latest-full", `the latest value of each key is kept for at most ${MAX_LATEST_KEYS} keys and ${MAX_LATEST_CHARS / 2 ** 20} M characters; from log line #${seq} on, some keys (like ${JSON.stringify(k)}) are in the metadata events only.`,
          `line #${seq}: the metadata summary is full; key ${JSON.stringify(k)} is in the metadata events only.`);
        continue;
      }
      if (!latestCopied) {
        next.latest = new Map(next.latest);
        latestCopied = true;
      }
      (next.latest as Map<string, number>).set(k, size);
      latestSize += size - (old ?? 0);
      setOwn(batch.latest, k, v);
    }
  }

  /** Complete lines (ending in "\n"): decoded in one go, then split (a newline byte never sits inside a UTF-8 sequence). */
  function emitLines(stream: "stdout" | "stderr", bytes: Buffer): void {
    let text = decoder.decode(bytes);
    if (text.includes("\u0000")) text = text.replaceAll("\u0000", "\uFFFD"); // Postgres text cannot hold NUL
    for (const l of text.split("\n")) emit(stream, l.endsWith("\r") ? l.slice(0, -1) : l);
  }

  for (const chunk of chunks) {
    const stream = chunk.stream;
    if (chunk.offset !== next.offsets[stream]) {
      throw new Error(`log chunk for ${stream} starts at ${chunk.offset}, expected ${next.offsets[stream]}`);
    }
    let buf = Buffer.concat([Buffer.from(next.partial[stream], "base64"), chunk.data]);
    next.offsets[stream] += chunk.data.length;
    const lastNl = buf.lastIndexOf(0x0a);
    if (lastNl !== -1) {
      emitLines(stream, buf.subarray(0, lastNl));
      buf = buf.subarray(lastNl + 1);
    }
    while (buf.length > MAX_LINE_BYTES) {
      emit(stream, decodeLine(buf.subarray(0, MAX_LINE_BYTES)));
      buf = buf.subarray(MAX_LINE_BYTES);
    }
    next.partial[stream] = buf.toString("base64");
  }
  if (flushPartial) {
    for (const stream of ["stdout", "stderr"] as const) {
      const rest = Buffer.from(next.partial[stream], "base64");
      if (rest.length > 0) emit(stream, decodeLine(rest));
      next.partial[stream] = "";
    }
  }
  return batch;
}

/**
 * The same batch without its metadata (kept as log lines only), with a warning: what the
 * supervisor commits when Postgres refused a batch's metadata, so that no line can stop ingestion.
 */
export function withoutMetadata(batch: Batch, previous: Cursor, reason: string): Batch {
  if (batch.metadata.length === 0) return batch;
  const warned = new Set(batch.cursor.warned ?? []);
  const warnings = batch.warnings.slice();
  if (!warned.has("metadata-unstorable")) {
    warned.add("metadata-unstorable");
    warnings.push({ kind: "metadata-unstorable", text: `${WARNING_PREFIXES["metadata-unstorable"]} the metadata of log lines #${previous.logSeq + 1}–#${batch.cursor.logSeq} (and maybe later ones) could not be stored (${reason}); those lines were stored as log lines only.` });
  }
  return {
    ...batch,
    metadata: [],
    latest: {},
    warnings,
    cursor: { ...batch.cursor, metadataSeq: previous.metadataSeq, latest: previous.latest ?? new Map(), warned },
  };
}

export interface CommitResult {
  /** False when this worker no longer holds the lease: the batch was not stored. */
  held: boolean;
  status: string | null;
  stopRequested: boolean;
}

/**
 * Stores a batch and advances the cursor in one transaction, only while `owner` holds the lease
 * (and renews it). Returns the execution's current status so the caller sees stop requests.
 */
export async function commitBatch(
  sql: Sql,
  executionId: string,
  owner: string,
  batch: Batch,
  leaseSeconds: number,
): Promise<CommitResult> {
  return sql.begin(async (tx) => {
    const [row] = await tx<{ status: string; stop_requested_at: Date | null }[]>`
      update executions set
        log_offsets = ${tx.json(batch.cursor.offsets)},
        log_partial = ${tx.json(batch.cursor.partial)},
        log_seq = ${batch.cursor.logSeq},
        metadata_seq = ${batch.cursor.metadataSeq},
        metadata_latest = metadata_latest || ${tx.json(batch.latest as never)},
        log_bytes = ${batch.cursor.logBytes ?? 0},
        log_dropped_lines = ${batch.cursor.droppedLines ?? 0},
        log_dropped_bytes = ${batch.cursor.droppedBytes ?? 0},
        invalid_json_lines = invalid_json_lines + ${batch.invalidJson},
        warnings = case when ${batch.firstInvalidJsonSeq}::int is not null and invalid_json_lines = 0
          then warnings || to_jsonb(${`stdout line #${batch.firstInvalidJsonSeq} (and maybe others) looked like a JSON metadata object but did not parse; it was kept as a log line only`}::text)
          else warnings end
          -- each kind once per execution, even if two supervisors' batches both carry it
          || coalesce((
            select jsonb_agg(n.w order by n.ord)
            from unnest(${batch.warnings.map((w) => w.text)}::text[], ${batch.warnings.map((w) => WARNING_PREFIXES[w.kind])}::text[]) with ordinality as n(w, p, ord)
            where not exists (select 1 from jsonb_array_elements_text(executions.warnings) as e(x) where starts_with(e.x, n.p))), '[]'::jsonb),
        last_output_at = case when ${batch.lines.length + batch.dropped} > 0 then now() else last_output_at end,
        lease_until = now() + make_interval(secs => ${leaseSeconds})
      where id = ${executionId} and lease_owner = ${owner}
      returning status, stop_requested_at`;
    if (!row) return { held: false, status: null, stopRequested: false };
    // Lines go in as runs of one stream with consecutive seqs: one text[] per statement (no
    // per-line seq/time/stream arrays), in slices that bound the size of one statement.
    const time = batch.lines[0]?.time.toISOString() ?? new Date().toISOString();
    for (let i = 0; i < batch.lines.length; ) {
      const stream = batch.lines[i]!.stream;
      let j = i;
      while (j < batch.lines.length && j - i < INSERT_SLICE && batch.lines[j]!.stream === stream) j++;
      const firstSeq = batch.lines[i]!.seq;
      await tx`
        insert into log_lines (execution_id, seq, time, stream, line)
        select ${executionId}::uuid, ${firstSeq}::int + (u.ord::int - 1), ${time}::timestamptz, ${stream}::text, u.l
        from unnest(${batch.lines.slice(i, j).map((l) => l.line)}::text[]) with ordinality as u(l, ord)`;
      i = j;
    }
    for (let i = 0; i < batch.metadata.length; i += INSERT_SLICE) {
      const slice = batch.metadata.slice(i, i + INSERT_SLICE);
      await tx`
        insert into metadata_events (execution_id, seq, time, data)
        select ${executionId}::uuid, ${slice[0]!.seq}::int + (u.ord::int - 1), ${time}::timestamptz, u.d::jsonb
        from unnest(${slice.map((m) => JSON.stringify(m.data))}::text[]) with ordinality as u(d, ord)`;
    }
    return { held: true, status: row.status, stopRequested: row.stop_requested_at !== null };
  });
}
