/**
 * The seeded rng (same seed, same stream; different seeds, different streams; uniform-looking
 * output; a standard normal with mean 0 and sd 1) and search-space sampling (every kind within its
 * bounds: integers whole, loguniform spread evenly in log space, categorical only its choices) and
 * checkSpace's sentences.
 */
import { describe, expect, it } from "vitest";
import { normal, seededRng } from "../../../app/sweeps/search/rng.js";
import { checkSpace, samplePoint, type Space } from "../../../app/sweeps/search/space.js";

describe("seededRng", () => {
  it("gives the same stream for the same seed and a different one for another seed", () => {
    const a = seededRng(42);
    const b = seededRng(42);
    const c = seededRng(43);
    const xa = Array.from({ length: 20 }, () => a.next());
    const xb = Array.from({ length: 20 }, () => b.next());
    const xc = Array.from({ length: 20 }, () => c.next());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
    expect(xa.filter((x, i) => x === xc[i])).toEqual([]);
  });

  it("stays in [0, 1) and looks uniform (mean, deciles)", () => {
    const r = seededRng(7);
    const n = 20000;
    const bins = new Array<number>(10).fill(0);
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const x = r.next();
      if (!(x >= 0 && x < 1)) outside++;
      sum += x;
      bins[Math.floor(x * 10)]! += 1;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
    for (const b of bins) expect(Math.abs(b - n / 10)).toBeLessThan(0.1 * (n / 10));
  });

  it("folds fractional and negative seeds in instead of collapsing them", () => {
    expect(seededRng(1).next()).not.toBe(seededRng(1.5).next());
    expect(seededRng(-1).next()).not.toBe(seededRng(1).next());
    expect(() => seededRng(NaN)).toThrow(/finite/);
  });

  it("normal() has mean 0 and sd 1", () => {
    const r = seededRng(3);
    const xs = Array.from({ length: 20000 }, () => normal(r));
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
    expect(xs.every(Number.isFinite)).toBe(true);
  });
});

describe("samplePoint", () => {
  const space: Space = {
    lr: { kind: "loguniform", low: 1e-5, high: 1e-1 },
    dropout: { kind: "uniform", low: 0.1, high: 0.5 },
    layers: { kind: "integer", low: 2, high: 5 },
    init: { kind: "normal", mean: 10, sd: 2 },
    opt: { kind: "categorical", choices: ["adam", "sgd", 3, true] },
  };

  it("draws every kind within its bounds, in the space's order, deterministically", () => {
    const r = seededRng(11);
    const pts = Array.from({ length: 2000 }, () => samplePoint(space, r));
    expect(Object.keys(pts[0]!)).toEqual(["lr", "dropout", "layers", "init", "opt"]);
    for (const p of pts) {
      expect(p["lr"]).toBeGreaterThanOrEqual(1e-5);
      expect(p["lr"]).toBeLessThanOrEqual(1e-1);
      expect(p["dropout"]).toBeGreaterThanOrEqual(0.1);
      expect(p["dropout"]).toBeLessThan(0.5);
      expect(Number.isInteger(p["layers"])).toBe(true);
      expect([2, 3, 4, 5]).toContain(p["layers"]);
      expect(["adam", "sgd", 3, true]).toContain(p["opt"]);
    }
    // every integer and every choice turns up
    expect(new Set(pts.map((p) => p["layers"])).size).toBe(4);
    expect(new Set(pts.map((p) => p["opt"])).size).toBe(4);
    const init = pts.map((p) => p["init"] as number);
    const mean = init.reduce((a, b) => a + b, 0) / init.length;
    expect(Math.abs(mean - 10)).toBeLessThan(0.2);
    expect(samplePoint(space, seededRng(5))).toEqual(samplePoint(space, seededRng(5)));
  });

  it("spreads loguniform evenly over the decades", () => {
    const r = seededRng(12);
    const decades = new Array<number>(4).fill(0);
    const n = 8000;
    for (let i = 0; i < n; i++) {
      const lr = samplePoint({ lr: space["lr"]! }, r)["lr"] as number;
      decades[Math.min(3, Math.floor(Math.log10(lr) + 5))]! += 1;
    }
    // uniform in value would put ~90% in the last decade
    for (const d of decades) expect(Math.abs(d - n / 4)).toBeLessThan(0.1 * (n / 4));
  });

  it("refuses a bad space with checkSpace's sentences", () => {
    expect(() => samplePoint({ lr: { kind: "loguniform", low: 0, high: 1 } }, seededRng(1))).toThrow("lr: loguniform needs 0 < min < max (got min 0)");
  });
});

describe("checkSpace", () => {
  it("is empty for a good space", () => {
    expect(checkSpace({ a: { kind: "uniform", low: 0, high: 1 }, b: { kind: "integer", low: 3, high: 3 }, c: { kind: "categorical", choices: ["x"] } })).toEqual([]);
  });

  it("names the parameter and says what is wrong", () => {
    expect(
      checkSpace({
        lr: { kind: "loguniform", low: 0, high: 1 },
        lr2: { kind: "loguniform", low: 1, high: 0.5 },
        u: { kind: "uniform", low: 2, high: 2 },
        inf: { kind: "uniform", low: 0, high: Infinity },
        n: { kind: "normal", mean: 0, sd: 0 },
        i: { kind: "integer", low: 1.5, high: 4 },
        j: { kind: "integer", low: 5, high: 4 },
        c: { kind: "categorical", choices: [] },
      }),
    ).toEqual([
      "lr: loguniform needs 0 < min < max (got min 0)",
      "lr2: loguniform needs 0 < min < max (got min 1, max 0.5)",
      "u: uniform needs min < max (got min 2, max 2)",
      "inf: uniform needs finite min and max (got min 0, max Infinity)",
      "n: normal needs a standard deviation > 0 (got 0)",
      "i: integer needs whole-number min and max (got min 1.5, max 4)",
      "j: integer needs min <= max (got min 5, max 4)",
      "c: categorical needs at least one choice",
    ]);
  });
});
