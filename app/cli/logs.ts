/**
 * Reading an execution's log: pages from `GET …/logs?after=SEQ`; with `follow`, polls every
 * `pollMs` until the server says `finished`. stdout lines go to stdout, stderr and status lines to
 * stderr, so `vh exec logs 3 > out.txt` captures exactly what the program printed.
 */
import type { ApiClient, LogLine } from "./api.js";
import { printable } from "./format.js";
import type { Io } from "./io.js";

export interface LogOptions {
  follow: boolean;
  stdout: boolean;
  stderr: boolean;
  status: boolean;
  pollMs?: number;
}

const PAGE = 5000;

/**
 * One line to its stream. On a terminal, control characters a job printed are shown, not obeyed
 * (`printable`); redirected to a file, the line is exactly what the program printed.
 */
export function printLogLine(io: Io, l: LogLine, opts: Pick<LogOptions, "stdout" | "stderr" | "status">): void {
  const text = (tty: boolean | undefined) => (tty ? printable(l.line) : l.line);
  if (l.stream === "stdout") {
    if (opts.stdout) io.stdout.write(`${text(io.stdout.isTTY)}\n`);
  } else if (l.stream === "stderr") {
    if (opts.stderr) io.stderr.write(`${text(io.stderr.isTTY)}\n`);
  } else if (opts.status) {
    io.stderr.write(`[vh] ${printable(l.line)}\n`);
  }
}

/** Prints the log from the start; returns the execution's status as of the last page. */
export async function printLogs(io: Io, client: ApiClient, project: string, ref: string | number, opts: LogOptions): Promise<{ status: string; finished: boolean }> {
  let after = 0;
  for (;;) {
    const page = await client.logs(project, ref, after, PAGE);
    for (const l of page.lines) printLogLine(io, l, opts);
    after = Math.max(after, page.next);
    if (page.finished) return { status: page.status, finished: true };
    if (page.lines.length >= PAGE) continue;
    if (!opts.follow) return { status: page.status, finished: false };
    await io.sleep(opts.pollMs ?? 500);
  }
}
