/**
 * The search bench's measurements (bench/lib/sweeps-search.ts) hold their goals, so that a change
 * to the algorithms that loses them fails here and not only in the bench: Branin's known minima,
 * TPE beating random search on Branin in ≥ 70% of the bench's 20 seeds, and ASHA on the fixed
 * learning-curve trace saving ≥ 40% of the epochs with ≤ 5% regret on the best final value.
 */
import { describe, expect, it } from "vitest";
import { ashaOnTrace, ashaTrace, branin, tpeProposeP50Ms, tpeVsRandomWinRate } from "../../../bench/lib/sweeps-search.js";

describe("sweeps-search bench", () => {
  it("branin has its three global minima ≈ 0.397887", () => {
    for (const [x1, x2] of [[-Math.PI, 12.275], [Math.PI, 2.275], [9.42478, 2.475]] as const) expect(branin(x1, x2)).toBeCloseTo(0.397887, 5);
    expect(branin(0, 0)).toBeCloseTo(55.6021, 3);
  });

  it("TPE beats random search on Branin in at least 70% of seeds", () => {
    expect(tpeVsRandomWinRate({ seeds: 20, trials: 40 })).toBeGreaterThanOrEqual(0.7);
  });

  it("proposes in well under 5 ms at 100 observations", () => {
    expect(tpeProposeP50Ms({ trials: 100, repeats: 50 })).toBeLessThan(5);
  });

  it("the trace is fixed and ASHA saves ≥ 40% of the epochs with ≤ 5% regret", () => {
    const t = ashaTrace();
    expect(t.length).toBe(60);
    expect(t[0]!.length).toBe(81);
    expect(ashaTrace()).toEqual(t);
    const r = ashaOnTrace();
    expect(r.computeSaved).toBeGreaterThanOrEqual(0.4);
    expect(r.computeSaved).toBeLessThan(1);
    expect(r.bestRegret).toBeGreaterThanOrEqual(0);
    expect(r.bestRegret).toBeLessThanOrEqual(0.05);
    expect(r.completed).toBeGreaterThan(0);
  });
});
