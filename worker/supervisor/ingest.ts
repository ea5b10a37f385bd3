/**
 * Log ingestion: bytes from the runner → lines with stream and time → `log_lines`, and every stdout
 * line that is a JSON object → `metadata_events` (valohai-spec §3.4).
 *
 * Exactly-once across restarts: the byte offsets and the unfinished last line of each stream are
 * committed in the same transaction as the lines they cover, guarded by the supervision lease. A
 * supervisor that re-attaches resumes from the committed offsets, so no line is missed or stored twice.
 */
import type { Sql } from "../../db/client.js";
import type { LogChunk } from "../runners/types.js";

export type Stream = "stdout" | "stderr";

/** Longest line kept whole; a longer run of bytes without a newline is cut into lines of this size. */
export const MAX_LINE_BYTES = 1024 * 1024;

/** Lines per INSERT statement. */
const INSERT_SLICE = 20_000;

export interface Cursor {
  offsets: { stdout: number; stderr: number };
  /** Bytes after the last newline of each stream, base64 (a line may end mid-UTF-8 character). */
  partial: { stdout: string; stderr: string };
  logSeq: number;
  metadataSeq: number;
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
  cursor: Cursor;
}

const decoder = new TextDecoder("utf-8", { fatal: false });

function decodeLine(buf: Buffer): string {
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0d) end -= 1; // CRLF
  // Postgres text cannot hold NUL.
  return decoder.decode(buf.subarray(0, end)).replaceAll("\u0000", "\uFFFD");
}

/**
 * Strings Postgres jsonb refuses: `\u0000` and lone surrogates, both legal in JSON text. Replaced
 * with U+FFFD (in keys too), so one odd line can never stop an execution's ingestion.
 */
function jsonbSafe(v: unknown): unknown {
  if (typeof v === "string") return v.replaceAll("\u0000", "\uFFFD").toWellFormed();
  if (Array.isArray(v)) return v.map(jsonbSafe);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [jsonbSafe(k) as string, jsonbSafe(x)]));
  }
  return v;
}

/** JSON object on a line → its data; looks like JSON but fails → "invalid"; anything else → null. */
export function parseMetadataLine(line: string): Record<string, unknown> | "invalid" | null {
  const t = line.trim();
  if (!t.startsWith("{")) return null;
  try {
    const v: unknown = JSON.parse(t);
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      return /\\u(0000|d[89a-f])/i.test(t) ? (jsonbSafe(v) as Record<string, unknown>) : (v as Record<string, unknown>);
    }
    return "invalid";
  } catch {
    return "invalid";
  }
}

/**
 * Turns runner chunks into a batch. Pure: the caller commits it with `commitBatch`.
 * Chunks of one stream must be contiguous with the cursor's offset (the runner guarantees it).
 */
export function buildBatch(cursor: Cursor, chunks: LogChunk[], now: () => Date = () => new Date(), flushPartial = false): Batch {
  const next: Cursor = {
    offsets: { ...cursor.offsets },
    partial: { ...cursor.partial },
    logSeq: cursor.logSeq,
    metadataSeq: cursor.metadataSeq,
  };
  const batch: Batch = { lines: [], metadata: [], invalidJson: 0, firstInvalidJsonSeq: null, latest: {}, cursor: next };

  // One read, one timestamp: lines read together were written within one poll interval.
  const time = now();
  const isoTime = time.toISOString();
  function emit(stream: Stream, line: string): void {
    next.logSeq += 1;
    batch.lines.push({ seq: next.logSeq, time, stream, line });
    if (stream !== "stdout") return;
    const md = parseMetadataLine(line);
    if (md === null) return;
    if (md === "invalid") {
      batch.invalidJson += 1;
      batch.firstInvalidJsonSeq ??= next.logSeq;
      return;
    }
    next.metadataSeq += 1;
    const data = { ...md, _time: md["_time"] ?? isoTime };
    batch.metadata.push({ seq: next.metadataSeq, time, data });
    for (const [k, v] of Object.entries(md)) batch.latest[k] = v;
  }

  /** Complete lines (ending in "\n"): decoded in one go, then split (a newline byte never sits inside a UTF-8 sequence). */
  function emitLines(stream: Stream, bytes: Buffer): void {
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
        invalid_json_lines = invalid_json_lines + ${batch.invalidJson},
        warnings = case when ${batch.firstInvalidJsonSeq}::int is not null and invalid_json_lines = 0
          then warnings || to_jsonb(${`stdout line #${batch.firstInvalidJsonSeq} (and maybe others) looked like a JSON metadata object but did not parse; it was kept as a log line only`}::text)
          else warnings end,
        last_output_at = case when ${batch.lines.length} > 0 then now() else last_output_at end,
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
