/**
 * Reading an execution's log: pages from `GET …/logs?after=SEQ`; with `follow`, polls every
 * `pollMs` until the server says `finished`. stdout lines go to stdout, stderr and status lines to
 * stderr, so `vh exec logs 3 > out.txt` captures exactly what the program printed.
 *
 * vh's own status lines are of two kinds, shown interleaved by time: those in the log itself
 * (stream `status`: a reached quota, say) and those made here from the execution's status history
 * (queued, starting, running, uploading with the exit code, the end, a deletion). The history is
 * read from the execution's record at the start and again whenever the log's page reports another
 * status; an entry is shown before the first log line stored at or after its time.
 *
 * `json`: every line, history ones too, as one JSON object per line (NDJSON) on stdout, with the
 * REST log API's fields; a line made from the history has `seq: null`.
 */
import type { ApiClient, Execution, LogLine } from "./api.js";
import { formatDuration, printable } from "./format.js";
import type { Io } from "./io.js";

export interface LogOptions {
  follow: boolean;
  stdout: boolean;
  stderr: boolean;
  status: boolean;
  /** Each line starts with its time (ISO 8601, UTC). */
  timestamps?: boolean;
  /** NDJSON on stdout instead of text. */
  json?: boolean;
  pollMs?: number;
}

const PAGE = 5000;

/** A log line, or one made from the status history (`seq: null`). */
export type ShownLine = Omit<LogLine, "seq"> & { seq: number | null };

/**
 * One line to its stream. On a terminal, control characters a job printed are shown, not obeyed
 * (`printable`); redirected to a file, the line is exactly what the program printed.
 */
export function printLogLine(io: Io, l: ShownLine, opts: Pick<LogOptions, "stdout" | "stderr" | "status" | "timestamps" | "json">): void {
  if (l.stream === "stdout" ? !opts.stdout : l.stream === "stderr" ? !opts.stderr : !opts.status) return;
  if (opts.json) {
    io.stdout.write(`${JSON.stringify({ seq: l.seq, time: l.time, stream: l.stream, line: l.line })}\n`);
    return;
  }
  const stamp = opts.timestamps ? `${l.time} ` : "";
  const text = (tty: boolean | undefined) => (tty ? printable(l.line) : l.line);
  if (l.stream === "stdout") io.stdout.write(`${stamp}${text(io.stdout.isTTY)}\n`);
  else if (l.stream === "stderr") io.stderr.write(`${stamp}${text(io.stderr.isTTY)}\n`);
  else io.stderr.write(`${stamp}[vh] ${printable(l.line)}\n`);
}

export interface HistoryEntry {
  status: string;
  at: string;
  reason: string | null;
}

/** The record's status history (absent from an older server's records: then none). */
export function historyOf(e: Execution): HistoryEntry[] {
  const h = e["statusHistory"];
  if (!Array.isArray(h)) return [];
  return h.filter(
    (x): x is HistoryEntry => !!x && typeof x === "object" && typeof (x as HistoryEntry).status === "string" && typeof (x as HistoryEntry).at === "string",
  );
}

function hostOf(e: Execution): string | null {
  const name = e.runtime?.["hostName"];
  return typeof name === "string" && name ? name : null;
}

/** What a status history entry says as a line of the log; null for `created` (it is always followed by `queued`). */
export function historyLine(h: HistoryEntry, e: Execution): string | null {
  const reason = h.reason ? `: ${h.reason}` : "";
  const host = hostOf(e);
  switch (h.status) {
    case "created":
      return null;
    case "queued":
      return `queued${reason || ": waiting for a host"}`;
    case "starting": {
      const n = e.inputs?.length ?? 0;
      return `starting${host ? ` on ${host}` : ""}: preparing the work dir (code${n ? `, downloading ${n} input file${n === 1 ? "" : "s"}` : ""}, config)`;
    }
    case "running": {
      const mode = e.runtime?.["mode"];
      return `running: the command started${typeof mode === "string" ? ` (${mode === "docker" ? `in ${e.image}` : "as a process"}${host ? ` on ${host}` : ""})` : ""}`;
    }
    case "uploading":
      return `${e.exitCode !== null && e.exitCode !== undefined ? `the command exited with code ${e.exitCode}; ` : ""}uploading outputs`;
    case "completed":
    case "failed":
    case "error":
    case "stopped":
    case "lost": {
      const took = e.durationSeconds !== null && e.durationSeconds !== undefined && e.endedAt ? ` after ${formatDuration(e.durationSeconds)}` : "";
      return `${h.status}${took}${reason}`;
    }
    default:
      return `${h.status}${reason}`;
  }
}

/** Prints the log from the start; returns the execution's status as of the last page. */
export async function printLogs(io: Io, client: ApiClient, project: string, ref: string | number, opts: LogOptions): Promise<{ status: string; finished: boolean }> {
  // The history's entries not shown yet, oldest first; `known`: how many of the record's entries were taken.
  const pending: ShownLine[] = [];
  let known = 0;
  let seenStatus: string | undefined;
  const readHistory = async () => {
    const e = await client.getExecution(project, ref);
    const h = historyOf(e);
    for (const entry of h.slice(known)) {
      const line = historyLine(entry, e);
      if (line !== null) pending.push({ seq: null, time: entry.at, stream: "status", line });
    }
    known = h.length;
    seenStatus = e.status;
  };
  /** Shows the entries older than `time` (all of them without one). */
  const flush = (time?: string) => {
    const until = time === undefined ? Number.POSITIVE_INFINITY : Date.parse(time);
    while (pending.length && !(Date.parse(pending[0]!.time) > until)) printLogLine(io, pending.shift()!, opts);
  };
  if (opts.status) await readHistory();
  let after = 0;
  for (;;) {
    const page = await client.logs(project, ref, after, PAGE);
    if (opts.status && page.status !== seenStatus) await readHistory();
    for (const l of page.lines) {
      flush(l.time);
      printLogLine(io, l, opts);
    }
    after = Math.max(after, page.next);
    if (page.finished) {
      flush();
      return { status: page.status, finished: true };
    }
    if (page.lines.length >= PAGE) continue;
    // Caught up with the log: what the history says happened since is the newest news.
    flush();
    if (!opts.follow) return { status: page.status, finished: false };
    await io.sleep(opts.pollMs ?? 500);
  }
}
