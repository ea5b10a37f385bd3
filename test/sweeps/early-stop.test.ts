/** A metric's curve from metadata lines (app/sweeps/early-stop.ts curveOf), pure: step keys, ordinals, restarted epochs, non-numbers. */
import { describe, expect, it } from "vitest";
import { curveOf } from "../../app/sweeps/early-stop.js";

const rows = (...data: Record<string, unknown>[]) => data.map((d) => ({ data: d }));

describe("curveOf", () => {
  it("uses the epoch printed with the metric, else the report's ordinal", () => {
    expect(curveOf(rows({ epoch: 1, acc: 0.5 }, { epoch: 2, acc: 0.6 }, { loss: 1 }, { epoch: 3, acc: 0.7 }), "acc")).toEqual([
      { step: 1, value: 0.5 },
      { step: 2, value: 0.6 },
      { step: 3, value: 0.7 },
    ]);
    expect(curveOf(rows({ acc: 0.5 }, { acc: "n/a" }, { acc: 0.6 }), "acc")).toEqual([
      { step: 1, value: 0.5 },
      { step: 2, value: 0.6 },
    ]);
    expect(curveOf(rows({ step: 10, iteration: 99, acc: 0.1 }), "acc")).toEqual([{ step: 10, value: 0.1 }]);
  });

  it("a given step key wins; a step printed again replaces the later ones (a restarted epoch)", () => {
    expect(curveOf(rows({ epoch: 1, batch: 7, acc: 0.5 }), "acc", "batch")).toEqual([{ step: 7, value: 0.5 }]);
    expect(curveOf(rows({ epoch: 1, acc: 0.5 }, { epoch: 2, acc: 0.6 }, { epoch: 2, acc: 0.65 }, { epoch: 3, acc: 0.7 }), "acc")).toEqual([
      { step: 1, value: 0.5 },
      { step: 2, value: 0.65 },
      { step: 3, value: 0.7 },
    ]);
  });
});
