/** LTTB (app/http/ui/lttb.ts) and the series helpers that serve charts (app/http/ui/series.ts). */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { lttb } from "../../app/http/ui/lttb.js";
import { seriesCsv, serveSeries } from "../../app/http/ui/series.js";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("lttb", () => {
  it("returns a short series unchanged, and copies it", () => {
    const xs = [1, 2, 3];
    const out = lttb(xs, [4, 5, 6], 10);
    expect(out).toEqual({ xs: [1, 2, 3], ys: [4, 5, 6] });
    expect(out.xs).not.toBe(xs);
  });

  it("keeps the first and last point and exactly `threshold` points", () => {
    const xs = range(1000);
    const ys = xs.map((x) => Math.sin(x / 10));
    const out = lttb(xs, ys, 100);
    expect(out.xs).toHaveLength(100);
    expect(out.xs[0]).toBe(0);
    expect(out.xs[99]).toBe(999);
    expect(out.ys[99]).toBe(ys[999]);
  });

  it("keeps a single spike that a stride would drop", () => {
    const xs = range(10_000);
    const ys = xs.map((x) => (x === 4321 ? 1000 : 0));
    const out = lttb(xs, ys, 50);
    expect(out.xs).toContain(4321);
    expect(Math.max(...out.ys)).toBe(1000);
  });

  it("picks only points of the input, in order, for any series", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { minLength: 0, maxLength: 400 }), fc.integer({ min: 3, max: 50 }), (ys, t) => {
        const xs = range(ys.length);
        const out = lttb(xs, ys, t);
        expect(out.xs.length).toBe(Math.min(t, ys.length));
        for (let i = 0; i < out.xs.length; i++) {
          expect(ys[out.xs[i]!]).toBe(out.ys[i]);
          if (i > 0) expect(out.xs[i]!).toBeGreaterThan(out.xs[i - 1]!);
        }
      }),
    );
  });

  it("handles the small thresholds and refuses a bad one", () => {
    expect(lttb([1, 2, 3, 4], [1, 2, 3, 4], 2)).toEqual({ xs: [1, 4], ys: [1, 4] });
    expect(lttb([1, 2, 3, 4], [1, 2, 3, 4], 1)).toEqual({ xs: [1], ys: [1] });
    expect(lttb([1, 2, 3, 4], [1, 2, 3, 4], 0)).toEqual({ xs: [], ys: [] });
    expect(() => lttb([1], [1], -1)).toThrow(RangeError);
    expect(() => lttb([1], [1], 2.5)).toThrow(RangeError);
  });

  it("cuts a 1,000,000-point series to the asked size", () => {
    const n = 1_000_000;
    const xs = range(n);
    const ys = xs.map((x) => Math.cos(x / 1000) + (x % 7919 === 0 ? 5 : 0));
    const served = serveSeries({ key: "loss", x: "step", xs, ys }, 2000);
    expect(served).toMatchObject({ total: n, downsampled: true });
    expect(served.xs).toHaveLength(2000);
  });
});

describe("seriesCsv", () => {
  it("writes a header and one line per point, quoting a key that needs it", () => {
    expect(seriesCsv({ key: 'a,"b"', x: "step", xs: [1, 2], ys: [0.5, 0.25] })).toBe('step,"a,""b"""\n1,0.5\n2,0.25\n');
  });
});
