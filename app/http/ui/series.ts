/**
 * An execution's metric series for the charts: every metadata key whose values are numbers, each
 * plotted over its step key (the first of STEP_KEYS the same metadata lines carry) or, when its
 * lines carry none, over time (seconds since the epoch). Long series are cut down with LTTB
 * (`lttb.ts`) before they are sent; the full series is downloadable as CSV or JSON.
 */
import type { Sql } from "../../../db/client.js";
import { lttb } from "./lttb.js";

/** Keys that name a position in training rather than a metric, in the order a chart prefers them for x. */
export const STEP_KEYS = ["step", "epoch", "iteration", "iter", "batch"] as const;

/** Points a chart gets per series unless it asks for fewer (a screen is ~2,000 pixels wide). */
export const DEFAULT_MAX_POINTS = 2000;
/** The most a caller may ask for per series. */
export const MAX_POINTS = 5000;

export interface FullSeries {
  key: string;
  /** What x is: a step key, or "time" (seconds since the epoch). */
  x: string;
  xs: number[];
  ys: number[];
}

export interface ServedSeries extends FullSeries {
  /** Points in the whole series (before downsampling). */
  total: number;
  downsampled: boolean;
}

/**
 * The numeric keys of an execution's metadata, sorted: those whose latest value is a number
 * (`executions.metadata_latest`, kept as lines are ingested), so a page never scans the events.
 */
export async function numericKeys(sql: Sql, executionId: string): Promise<string[]> {
  const rows = await sql<{ key: string }[]>`
    select k.key from executions e, jsonb_each(e.metadata_latest) k
    where e.id = ${executionId} and jsonb_typeof(k.value) = 'number' order by k.key`;
  return rows.map((r) => r.key);
}

/** The chartable keys: numeric keys that are not step keys. */
export function metricKeys(keys: readonly string[]): string[] {
  return keys.filter((k) => !(STEP_KEYS as readonly string[]).includes(k));
}

/** One key's whole series, in metadata order; points whose x is not a finite number are left out. */
export async function fullSeries(sql: Sql, executionId: string, key: string): Promise<FullSeries> {
  // The x of the series: the first step key that a line carrying `key` also carries, as numbers.
  const [pick] = await sql<{ x: string | null }[]>`
    select (select s.k from unnest(${STEP_KEYS as unknown as string[]}::text[]) with ordinality s(k, o)
            where exists (select 1 from metadata_events m where m.execution_id = ${executionId} and m.data ? ${key}
                            and jsonb_typeof(m.data -> s.k) = 'number')
            order by s.o limit 1) as x`;
  const x = key !== pick?.x && pick?.x ? pick.x : "time";
  const rows = await sql<{ x: number | null; y: number }[]>`
    select ${x === "time" ? sql`extract(epoch from time)::float8` : sql`(data ->> ${x})::float8`} as x, (data ->> ${key})::float8 as y
    from metadata_events where execution_id = ${executionId} and jsonb_typeof(data -> ${key}) = 'number' order by seq`.values();
  const xs: number[] = [];
  const ys: number[] = [];
  for (const [rx, ry] of rows as unknown as [number | null, number][]) {
    if (rx === null || !Number.isFinite(rx) || !Number.isFinite(ry)) continue;
    xs.push(rx);
    ys.push(ry);
  }
  // LTTB (and a line chart) want x ascending; metadata order usually is, a resumed run may not be.
  if (!isSorted(xs)) sortTogether(xs, ys);
  return { key, x, xs, ys };
}

export function serveSeries(full: FullSeries, maxPoints: number): ServedSeries {
  const cut = lttb(full.xs, full.ys, maxPoints);
  return { ...full, xs: cut.xs, ys: cut.ys, total: full.xs.length, downsampled: cut.xs.length < full.xs.length };
}

/** CSV of a whole series: a header `x,key`, one line per point. */
export function seriesCsv(full: FullSeries): string {
  const q = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [`${q(full.x)},${q(full.key)}`];
  for (let i = 0; i < full.xs.length; i++) lines.push(`${full.xs[i]},${full.ys[i]}`);
  return lines.join("\n") + "\n";
}

function isSorted(xs: number[]): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i]! < xs[i - 1]!) return false;
  return true;
}

function sortTogether(xs: number[], ys: number[]): void {
  const idx = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]! || a - b);
  const x2 = idx.map((i) => xs[i]!);
  const y2 = idx.map((i) => ys[i]!);
  for (let i = 0; i < idx.length; i++) {
    xs[i] = x2[i]!;
    ys[i] = y2[i]!;
  }
}
