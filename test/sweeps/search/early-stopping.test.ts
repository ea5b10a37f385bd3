/**
 * Early stopping on hand-made curves: the median rule (stop below the others' median running
 * average, not before the grace period, not with too few others, direction min, ended trials left
 * alone) and ASHA (rung steps, the top-1/eta cut-off at each rung reached, only trials that
 * reached the rung compared, direction min, the reason sentence).
 */
import { describe, expect, it } from "vitest";
import { ashaRungs, ashaStop, medianStop, quantile, type TrialCurve } from "../../../app/sweeps/search/early-stopping.js";

/** A curve from values at steps 1, 2, 3, … */
function curve(id: string, values: number[], ended = false): TrialCurve {
  return { id, points: values.map((value, i) => ({ step: i + 1, value })), ended };
}

describe("quantile", () => {
  it("interpolates linearly between order statistics", () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([4, 1, 3, 2, 5], 0.5)).toBe(3);
    expect(quantile([0, 10], 2 / 3)).toBeCloseTo(6.6667, 4);
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe("medianStop", () => {
  // running averages up to step 4: 0.5, 0.6, 0.7 → median 0.6
  const others = [curve("a", [0.2, 0.4, 0.6, 0.8, 0.9]), curve("b", [0.3, 0.5, 0.7, 0.9]), curve("c", [0.4, 0.6, 0.8, 1.0, 1.0])];
  const opts = { direction: "max" as const, gracePeriod: 3, minTrials: 3, metric: "accuracy" };

  it("stops a trial whose best so far is below the median of the others' running averages at its step", () => {
    const d = medianStop(curve("t", [0.1, 0.3, 0.5, 0.55]), others, opts);
    expect(d).toEqual({ stop: true, reason: "median rule: best accuracy 0.55 by step 4 is below the median 0.6 of 3 other trials' running averages up to that step" });
  });

  it("keeps one at or above the median", () => {
    expect(medianStop(curve("t", [0.1, 0.3, 0.6, 0.5]), others, opts)).toEqual({ stop: false });
    expect(medianStop(curve("t", [0.1, 0.3, 0.5, 0.61]), others, opts)).toEqual({ stop: false });
  });

  it("respects the grace period", () => {
    // at step 2 the others' averages are 0.3, 0.4, 0.5: 0.01 is far below, but the grace period is 3
    expect(medianStop(curve("t", [0.0, 0.01]), others, opts)).toEqual({ stop: false });
    expect(medianStop(curve("t", [0.0, 0.01, 0.02]), others, opts).stop).toBe(true);
  });

  it("needs minTrials other trials that reached the step, and leaves ended trials alone", () => {
    const t = curve("t", [0.1, 0.3, 0.5, 0.55]);
    expect(medianStop(t, others.slice(0, 2), opts)).toEqual({ stop: false });
    // with two, the median is 0.55 (0.5 and 0.6): 0.55 is not below it, 0.54 is
    expect(medianStop(t, others.slice(0, 2), { ...opts, minTrials: 2 })).toEqual({ stop: false });
    expect(medianStop(curve("t", [0.1, 0.3, 0.5, 0.54]), others.slice(0, 2), { ...opts, minTrials: 2 }).stop).toBe(true);
    // a trial that stopped at step 2 has no average up to step 4: it does not count
    expect(medianStop(t, [...others.slice(0, 2), curve("short", [0.9, 0.9], true)], opts)).toEqual({ stop: false });
    // the target itself among the others does not count either
    expect(medianStop(t, [...others.slice(0, 2), t], opts)).toEqual({ stop: false });
    expect(medianStop({ ...t, ended: true }, others, opts)).toEqual({ stop: false });
  });

  it("direction min: stops a trial whose best (lowest) is above the median", () => {
    const losses = [curve("a", [2.0, 1.5, 1.0, 0.8]), curve("b", [2.0, 1.4, 1.0, 0.6]), curve("c", [1.8, 1.2, 0.9, 0.7])];
    // running averages to step 4: 1.325, 1.25, 1.15 → median 1.25
    const min = { direction: "min" as const, gracePeriod: 1, minTrials: 3, metric: "loss" };
    expect(medianStop(curve("t", [2.5, 2.0, 1.6, 1.3]), losses, min)).toEqual({
      stop: true,
      reason: "median rule: best loss 1.3 by step 4 is above the median 1.25 of 3 other trials' running averages up to that step",
    });
    expect(medianStop(curve("t", [2.5, 2.0, 1.6, 1.2]), losses, min)).toEqual({ stop: false });
  });
});

describe("ashaRungs", () => {
  it("is grace·eta^k, below maxStep when given", () => {
    expect(ashaRungs({ direction: "max", gracePeriod: 1, reductionFactor: 3, maxStep: 81 })).toEqual([1, 3, 9, 27]);
    expect(ashaRungs({ direction: "max", gracePeriod: 1, reductionFactor: 3, maxStep: 82 })).toEqual([1, 3, 9, 27, 81]);
    expect(ashaRungs({ direction: "max", gracePeriod: 2, reductionFactor: 2, maxStep: 20 })).toEqual([2, 4, 8, 16]);
    expect(ashaRungs({ direction: "min", gracePeriod: 5, reductionFactor: 4, maxStep: 5 })).toEqual([]);
    const open = ashaRungs({ direction: "max", gracePeriod: 1, reductionFactor: 3 });
    expect(open.slice(0, 4)).toEqual([1, 3, 9, 27]);
    expect(open.length).toBe(34); // up to 2^53
  });

  it("refuses a reduction factor <= 1 or a grace period <= 0", () => {
    expect(() => ashaRungs({ direction: "max", gracePeriod: 1, reductionFactor: 1 })).toThrow("ASHA: the reduction factor must be a number > 1 (got 1)");
    expect(() => ashaRungs({ direction: "max", gracePeriod: 0, reductionFactor: 3 })).toThrow("ASHA: the grace period must be a number > 0 (got 0)");
  });
});

describe("ashaStop", () => {
  const opts = { direction: "max" as const, gracePeriod: 3, reductionFactor: 3, maxStep: 81, metric: "accuracy" };
  // values at step 3 (the first rung) of six others: 0.5 … 0.8; the top third's cut-off is the 2/3 quantile, 0.7167
  const others = [0.5, 0.55, 0.6, 0.7, 0.75, 0.8].map((v, i) => curve(`o${i}`, [v / 2, v / 1.5, v, v]));

  it("stops a trial below the top 1/eta of the others at a rung it reached", () => {
    expect(ashaStop(curve("t", [0.3, 0.5, 0.65]), others, opts)).toEqual({
      stop: true,
      reason: "ASHA: accuracy 0.65 at step 3 is below the top 1/3 of 6 trials at that rung (cut-off 0.7167)",
    });
  });

  it("keeps one in the top 1/eta, and decides nothing before the first rung (the grace period)", () => {
    expect(ashaStop(curve("t", [0.3, 0.5, 0.72]), others, opts)).toEqual({ stop: false });
    expect(ashaStop(curve("t", [0.01, 0.02]), others, opts)).toEqual({ stop: false });
  });

  it("uses the value at the rung (the last point at or before it), not the latest", () => {
    // at step 3 it had 0.65; it has climbed to 0.99 by step 5, but rung 3 has already judged it
    expect(ashaStop(curve("t", [0.3, 0.5, 0.65, 0.9, 0.99]), others, opts).stop).toBe(true);
    // no point exactly at the rung: the last one before it counts (0.75 at step 2)
    const gap: TrialCurve = { id: "t", points: [{ step: 2, value: 0.75 }, { step: 5, value: 0.1 }], ended: false };
    expect(ashaStop(gap, others, opts)).toEqual({ stop: false });
  });

  it("compares only trials that reached the rung, and needs eta of them by default", () => {
    const t = curve("t", [0.3, 0.5, 0.65]);
    // four of the others stopped at step 2: two left at rung 3, fewer than eta (3)
    const cut = others.map((o, i) => (i < 4 ? { ...o, points: o.points.slice(0, 2), ended: true } : o));
    expect(ashaStop(t, cut, opts)).toEqual({ stop: false });
    expect(ashaStop(t, cut, { ...opts, minTrials: 2 }).stop).toBe(true);
    expect(ashaStop({ ...t, ended: true }, others, opts)).toEqual({ stop: false });
  });

  it("judges every rung reached: a trial that fell behind at a later rung is stopped there", () => {
    // rung 9: others at 0.8 … 0.9 (cut-off: the 2/3 quantile, 0.87); the target passed rung 3 (0.9) but has 0.7 at step 9
    const long = [0.8, 0.82, 0.85, 0.88, 0.9].map((v, i) => curve(`l${i}`, Array.from({ length: 10 }, (_, s) => (s + 1 >= 9 ? v : 0.5))));
    const t = curve("t", Array.from({ length: 9 }, (_, s) => (s + 1 < 9 ? 0.9 : 0.7)));
    const d = ashaStop(t, long, opts);
    expect(d).toEqual({ stop: true, reason: "ASHA: accuracy 0.7 at step 9 is below the top 1/3 of 5 trials at that rung (cut-off 0.87)" });
  });

  it("direction min: stops a trial above the bottom 1/eta cut-off", () => {
    const losses = [1.0, 1.1, 1.2, 1.3, 1.4, 1.5].map((v, i) => curve(`o${i}`, [v + 1, v + 0.5, v]));
    const min = { direction: "min" as const, gracePeriod: 3, reductionFactor: 3, metric: "loss" };
    // 1/3 quantile of 1.0 … 1.5 = 1.1667
    expect(ashaStop(curve("t", [3, 2, 1.2]), losses, min)).toEqual({
      stop: true,
      reason: "ASHA: loss 1.2 at step 3 is above the top 1/3 of 6 trials at that rung (cut-off 1.167)",
    });
    expect(ashaStop(curve("t", [3, 2, 1.1]), losses, min)).toEqual({ stop: false });
  });
});
