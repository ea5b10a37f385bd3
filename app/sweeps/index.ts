/** Sweep expansion: one module per kind; `expandSweep` picks by kind. */
import { expandGrid, gridSize, type SweepPoint, type SweepSpec } from "./grid.js";

export type { SweepPoint, SweepSpec } from "./grid.js";
export type SweepKind = "grid";

export function sweepSize(kind: SweepKind, spec: SweepSpec): number {
  switch (kind) {
    case "grid":
      return gridSize(spec);
  }
}

export function expandSweep(kind: SweepKind, spec: SweepSpec): SweepPoint[] {
  switch (kind) {
    case "grid":
      return expandGrid(spec);
  }
}
