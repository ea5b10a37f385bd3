/**
 * Early-stopping decisions on streamed learning curves, stateless: each call decides from the
 * curves given (the target's and the other trials' of the same sweep, as seen so far).
 *
 * - Median stopping rule (Golovin et al., Google Vizier, 2017): stop the target at step s when its
 *   best value so far is worse than the median of the other trials' running averages up to s.
 * - ASHA, asynchronous successive halving (Li et al. 2020), in stopping mode: rungs at
 *   grace·eta^k; at every rung the target has reached, its value there is compared with the values
 *   the other trials had at that rung (only those that reached it), and it is stopped when it falls
 *   outside the top 1/eta.
 *
 * A trial that has ended is never stopped. Non-finite values are ignored.
 */
export interface CurvePoint {
  step: number;
  value: number;
}
export interface TrialCurve {
  id: string;
  /** Ascending step. */
  points: readonly CurvePoint[];
  ended: boolean;
}
export type StopDecision = { stop: false } | { stop: true; reason: string };

export interface MedianOptions {
  direction: "max" | "min";
  /** No stop before the target has reached this step. */
  gracePeriod: number;
  /** Other trials (that reached the target's step) needed before any stop; default 3. */
  minTrials: number;
  /** The metric's name, for the reason. */
  metric?: string;
}

export interface AshaOptions {
  direction: "max" | "min";
  /** The first rung's step (the minimum resource). */
  gracePeriod: number;
  /** eta, default 3. */
  reductionFactor: number;
  /** Rungs stop below this step (the step a trial that is never stopped ends at). */
  maxStep?: number;
  /** Other trials that must have reached a rung before it can stop anyone; default eta. */
  minTrials?: number;
  /** The metric's name, for the reason. */
  metric?: string;
}

const KEEP: StopDecision = { stop: false };

function finitePoints(c: TrialCurve): CurvePoint[] {
  return c.points.filter((p) => Number.isFinite(p.step) && Number.isFinite(p.value));
}

/** A number as a reason shows it: at most 4 significant digits, no exponent for ordinary metrics. */
function show(x: number): string {
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(4)));
}

/** The q-quantile of `xs` (linear interpolation between order statistics, numpy's default). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** The last value at or before `step`, or null when the curve has none. */
function valueAt(points: readonly CurvePoint[], step: number): number | null {
  let v: number | null = null;
  for (const p of points) {
    if (p.step > step) break;
    v = p.value;
  }
  return v;
}

function lastStep(points: readonly CurvePoint[]): number {
  return points.length ? points[points.length - 1]!.step : -Infinity;
}

/** Median stopping rule: see the file's comment. */
export function medianStop(target: TrialCurve, others: readonly TrialCurve[], opts: MedianOptions): StopDecision {
  if (target.ended) return KEEP;
  const pts = finitePoints(target);
  if (pts.length === 0) return KEEP;
  const step = lastStep(pts);
  if (step < opts.gracePeriod) return KEEP;
  const max = opts.direction === "max";
  const best = pts.reduce((b, p) => (max ? Math.max(b, p.value) : Math.min(b, p.value)), max ? -Infinity : Infinity);

  const averages: number[] = [];
  for (const o of others) {
    if (o.id === target.id) continue;
    const op = finitePoints(o);
    if (lastStep(op) < step) continue; // not at this step yet (or stopped before it): no comparable average
    let sum = 0;
    let n = 0;
    for (const p of op) {
      if (p.step > step) break;
      sum += p.value;
      n++;
    }
    if (n > 0) averages.push(sum / n);
  }
  const minTrials = Number.isFinite(opts.minTrials) ? opts.minTrials : 3;
  if (averages.length === 0 || averages.length < minTrials) return KEEP;
  const median = quantile(averages, 0.5);
  const worse = max ? best < median : best > median;
  if (!worse) return KEEP;
  const metric = opts.metric ?? "value";
  return {
    stop: true,
    reason: `median rule: best ${metric} ${show(best)} by step ${show(step)} is ${max ? "below" : "above"} the median ${show(median)} of ${averages.length} other trials' running averages up to that step`,
  };
}

function checkAsha(opts: AshaOptions): void {
  if (!(Number.isFinite(opts.gracePeriod) && opts.gracePeriod > 0)) throw new Error(`ASHA: the grace period must be a number > 0 (got ${opts.gracePeriod})`);
  if (!(Number.isFinite(opts.reductionFactor) && opts.reductionFactor > 1)) throw new Error(`ASHA: the reduction factor must be a number > 1 (got ${opts.reductionFactor})`);
}

/**
 * The rungs' steps: grace, grace·eta, grace·eta², … below `maxStep` when given (else up to 2^53).
 * Steps are rounded to whole numbers when grace and eta are whole.
 */
export function ashaRungs(opts: AshaOptions): number[] {
  checkAsha(opts);
  const limit = opts.maxStep ?? Number.MAX_SAFE_INTEGER;
  const out: number[] = [];
  for (let r = opts.gracePeriod; r < limit; r *= opts.reductionFactor) out.push(r);
  return out;
}

/** ASHA in stopping mode: see the file's comment. The first rung (lowest step) the target fails decides the reason. */
export function ashaStop(target: TrialCurve, others: readonly TrialCurve[], opts: AshaOptions): StopDecision {
  checkAsha(opts);
  if (target.ended) return KEEP;
  const pts = finitePoints(target);
  if (pts.length === 0) return KEEP;
  const reached = lastStep(pts);
  const eta = opts.reductionFactor;
  const max = opts.direction === "max";
  const minTrials = opts.minTrials ?? Math.ceil(eta);
  const others2 = others.filter((o) => o.id !== target.id).map(finitePoints);
  const metric = opts.metric ?? "value";

  for (const rung of ashaRungs(opts)) {
    if (rung > reached) break;
    const mine = valueAt(pts, rung);
    if (mine === null) continue;
    const theirs: number[] = [];
    for (const op of others2) {
      if (lastStep(op) < rung) continue; // did not reach this rung
      const v = valueAt(op, rung);
      if (v !== null) theirs.push(v);
    }
    if (theirs.length === 0 || theirs.length < minTrials) continue;
    const cutoff = quantile(theirs, max ? 1 - 1 / eta : 1 / eta);
    const out = max ? mine < cutoff : mine > cutoff;
    if (out) {
      return {
        stop: true,
        reason: `ASHA: ${metric} ${show(mine)} at step ${show(rung)} is ${max ? "below" : "above"} the top 1/${show(eta)} of ${theirs.length} trials at that rung (cut-off ${show(cutoff)})`,
      };
    }
  }
  return KEEP;
}
