/**
 * From a sweep definition to what creation writes, for every way a sweep is asked for (comments,
 * commit messages, buttons, the API, task blueprints): the definition checked (every problem at
 * once), its size against the cap before a single point is built, then the points made up front
 * (all of them, or a Bayesian search's initial batch), which of them wait for a slot (max
 * parallel), and the record's `spec`.
 */
import type { SweepDefinition } from "../contracts/sweeps.js";
import { VhError } from "../errors.js";
import { definitionProblems, points, specOf, sweepPlanSize, upfrontCount, type SweepPoint } from "./definition.js";

export interface SweepPlan {
  definition: SweepDefinition;
  /** How many executions the sweep makes in all. */
  size: number;
  /** Made now, in order. */
  points: SweepPoint[];
  /** Index → the reason it waits (`created`), for those beyond max parallel. */
  held: (index: number) => string | undefined;
  spec: Record<string, string[]>;
}

export function heldReason(maxParallel: number): string {
  return `Waiting for a slot: at most ${maxParallel} of this sweep run at once (max parallel).`;
}

export function planSweep(def: SweepDefinition, cap: number, capHint = "Use fewer values, or split it into several commands."): SweepPlan {
  const problems = definitionProblems(def);
  if (problems.length) throw new VhError("bad_request", problems.join("\n"), { errors: problems });
  const size = sweepPlanSize(def);
  if (size > cap) {
    throw new VhError("too_large", `That sweep would make ${size.toLocaleString("en-US")} executions; the limit is ${cap} (VH_SWEEP_CAP). ${capHint}`, { size, cap });
  }
  if (size === 0) throw new VhError("bad_request", "That sweep makes no executions.");
  const made: SweepPoint[] = [];
  const n = upfrontCount(def);
  for (const p of points(def)) {
    if (made.length >= n) break;
    made.push(p);
  }
  const max = def.maxParallel;
  return { definition: def, size, points: made, held: (i) => (max !== undefined && i >= max ? heldReason(max) : undefined), spec: specOf(def) };
}
