/**
 * Byte progress for the CLI's transfers (the code snapshot upload, `exec outputs --download`).
 * On a terminal: a cli-progress bar redrawn in place, with bytes done, total, rate and ETA. Not on
 * a terminal (a pipe, a CI log): plain lines with no escape sequences, one each time another 10 %
 * is done but at most one every second, so a log shows a long transfer moving and a quick one not
 * at all; a transfer that printed lines ends with a 100 % line.
 *
 * The display wraps the bytes where they pass (`trackBytes`, `trackedBody`), so whoever moves
 * them counts nothing themselves.
 */
import cliProgress from "cli-progress";
import { formatBytes, formatDuration, printable } from "./format.js";
import { println, type Writer } from "./io.js";

export interface TransferOptions {
  /** What moves, as shown: "Uploading code", "Downloading model.pt" (made printable). */
  label: string;
  /** The bytes expected; null or undefined when unknown (then no bar, no percentage, no ETA). */
  total?: number | null | undefined;
  /** A clock in milliseconds (tests inject one; default Date.now). */
  now?: () => number;
  /** On a terminal, wipe the bar when done (the caller prints its own line for the transfer there). */
  clear?: boolean;
}

export interface TransferProgress {
  /** Counts bytes that went through. */
  add(bytes: number): void;
  /** The transfer ended: draws its final state (once); returns what moved and how long it took. */
  done(): { bytes: number; ms: number };
  /** The transfer failed or was cancelled: stops drawing, no final line. */
  abort(): void;
}

/** Lines off a terminal: one per this much of the total done, and at most one per `LINE_INTERVAL_MS`. */
export const LINE_STEP_PERCENT = 10;
export const LINE_INTERVAL_MS = 1000;
/** Off a terminal, with no known total: a line at most this often. */
export const UNKNOWN_TOTAL_INTERVAL_MS = 5000;
/** The longest label a bar shows (the end of it: a file name's end says most). */
const MAX_BAR_LABEL = 40;
/** Chunks an in-memory body is sent in, so its progress moves. */
const BODY_CHUNK_BYTES = 256 * 1024;

interface Figures {
  done: string;
  size: string;
  rate: string;
  eta: string;
  percent: number | null;
}

function figures(bytes: number, total: number | null, ms: number): Figures {
  const seconds = ms / 1000;
  const rate = seconds > 0 ? bytes / seconds : null;
  const left = total !== null ? Math.max(0, total - bytes) : null;
  const eta = left === null ? "-" : left === 0 ? "0s" : rate ? formatDuration(left / rate) : "-";
  return {
    done: formatBytes(bytes),
    size: total !== null ? formatBytes(total) : "?",
    rate: rate !== null ? `${formatBytes(Math.round(rate))}/s` : "-",
    eta,
    percent: total === null ? null : total === 0 ? 100 : Math.min(100, Math.floor((bytes / total) * 100)),
  };
}

function shortLabel(label: string): string {
  return label.length <= MAX_BAR_LABEL ? label : `…${label.slice(-(MAX_BAR_LABEL - 1))}`;
}

/** A progress display for one transfer on `w`: a bar when `w` is a terminal, plain lines otherwise. */
export function transferProgress(w: Writer, opts: TransferOptions): TransferProgress {
  const now = opts.now ?? Date.now;
  const total = opts.total === undefined || opts.total === null || !Number.isFinite(opts.total) || opts.total < 0 ? null : opts.total;
  const label = printable(opts.label);
  const start = now();
  let bytes = 0;
  let finished = false;
  return w.isTTY ? barDisplay() : lineDisplay();

  function barDisplay(): TransferProgress {
    const columns = w.columns && w.columns > 0 ? w.columns : 80;
    const name = shortLabel(label);
    // The text around the bar is about 50 columns; the bar gets what is left, between 10 and 40.
    const barsize = Math.max(10, Math.min(40, columns - name.length - 52));
    const format = total === null ? "{label} {done} | {rate}" : "{label} {bar} {percentage}% | {done} / {size} | {rate} | ETA {etaText}";
    const bar = new cliProgress.SingleBar(
      // linewrap: true writes no escape to switch wrapping off (which a killed CLI would leave off);
      // the line is cut to the terminal's width instead. The cursor stays visible for the same reason.
      { stream: w as unknown as NodeJS.WritableStream, format, barsize, linewrap: true, hideCursor: false, fps: 10, clearOnComplete: opts.clear ?? false },
      cliProgress.Presets.shades_classic,
    );
    const payload = () => {
      const f = figures(bytes, total, now() - start);
      return { label: name, done: f.done, size: f.size, rate: f.rate, etaText: f.eta };
    };
    bar.start(total ?? 0, 0, payload());
    return {
      add(n) {
        if (finished) return;
        bytes += n;
        bar.update(bytes, payload());
      },
      done() {
        const ms = now() - start;
        if (!finished) {
          finished = true;
          bar.update(bytes, payload());
          bar.stop();
        }
        return { bytes, ms };
      },
      abort() {
        if (finished) return;
        finished = true;
        bar.stop();
      },
    };
  }

  function lineDisplay(): TransferProgress {
    let lastLineAt = start;
    let lastStep = 0;
    let printed = false;
    const line = (text: string) => {
      println(w, text);
      printed = true;
    };
    return {
      add(n) {
        if (finished) return;
        bytes += n;
        const t = now();
        const f = figures(bytes, total, t - start);
        if (f.percent === null) {
          if (t - lastLineAt < UNKNOWN_TOTAL_INTERVAL_MS) return;
          lastLineAt = t;
          line(`${label}: ${f.done} (${f.rate})`);
          return;
        }
        const step = Math.floor(f.percent / LINE_STEP_PERCENT);
        if (step <= lastStep || f.percent >= 100 || t - lastLineAt < LINE_INTERVAL_MS) return;
        lastStep = step;
        lastLineAt = t;
        line(`${label}: ${f.percent}% (${f.done} of ${f.size}, ${f.rate}, ETA ${f.eta})`);
      },
      done() {
        const ms = now() - start;
        if (!finished) {
          finished = true;
          const f = figures(bytes, total, ms);
          if (printed) line(`${label}: ${f.percent ?? 100}% (${f.done} in ${formatDuration(ms / 1000)}, ${f.rate})`);
        }
        return { bytes, ms };
      },
      abort() {
        finished = true;
      },
    };
  }
}

/**
 * `source`'s chunks, unchanged, counted into a progress display on `w` that ends when the source
 * ends (the final state drawn) or fails or is left early (the display stopped). For a download:
 *
 *   for await (const chunk of trackBytes(ctx.io.stderr, res.body, { label: `Downloading ${name}`, total: size })) …
 */
export async function* trackBytes(
  w: Writer,
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  opts: TransferOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const progress = transferProgress(w, opts);
  let ended = false;
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      progress.add(chunk.length);
      yield chunk;
    }
    ended = true;
  } finally {
    if (ended) progress.done();
    else progress.abort();
  }
}

async function* chunksOf(data: Uint8Array): AsyncGenerator<Uint8Array, void, undefined> {
  for (let i = 0; i < data.length; i += BODY_CHUNK_BYTES) yield data.subarray(i, Math.min(data.length, i + BODY_CHUNK_BYTES));
}

/** A request body (bytes in memory or a stream) as a stream whose bytes show on `w` as fetch reads them. */
export function trackedBody(w: Writer, body: Uint8Array | ReadableStream<Uint8Array>, opts: TransferOptions): ReadableStream<Uint8Array> {
  const source = body instanceof Uint8Array ? chunksOf(body) : body;
  const it = trackBytes(w, source, { ...opts, total: opts.total ?? (body instanceof Uint8Array ? body.length : null) });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await it.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await it.return(undefined);
    },
  });
}
