/**
 * Search dimensions (the distributions a random or Bayesian sweep draws each parameter from), a
 * check that says what is wrong with one in a sentence naming the parameter, and seeded sampling
 * of a point. A space's insertion order is the parameter order.
 */
import type { Rng } from "./rng.js";
import { normal } from "./rng.js";

export type Dim =
  | { kind: "uniform"; low: number; high: number }
  | { kind: "loguniform"; low: number; high: number } // low > 0
  | { kind: "normal"; mean: number; sd: number }
  | { kind: "integer"; low: number; high: number } // inclusive integers
  | { kind: "categorical"; choices: readonly (string | number | boolean)[] };
export type Space = Record<string, Dim>;
export type Point = Record<string, string | number | boolean>;

const fin = Number.isFinite;

/** What is wrong with one dimension, as a sentence without the name; null when it is fine. */
function dimProblem(dim: Dim): string | null {
  switch (dim.kind) {
    case "uniform":
      if (!fin(dim.low) || !fin(dim.high)) return `uniform needs finite min and max (got min ${dim.low}, max ${dim.high})`;
      if (!(dim.low < dim.high)) return `uniform needs min < max (got min ${dim.low}, max ${dim.high})`;
      return null;
    case "loguniform":
      if (!fin(dim.low) || !fin(dim.high)) return `loguniform needs finite min and max (got min ${dim.low}, max ${dim.high})`;
      if (!(dim.low > 0)) return `loguniform needs 0 < min < max (got min ${dim.low})`;
      if (!(dim.low < dim.high)) return `loguniform needs 0 < min < max (got min ${dim.low}, max ${dim.high})`;
      return null;
    case "normal":
      if (!fin(dim.mean)) return `normal needs a finite mean (got ${dim.mean})`;
      if (!fin(dim.sd) || !(dim.sd > 0)) return `normal needs a standard deviation > 0 (got ${dim.sd})`;
      return null;
    case "integer":
      if (!Number.isInteger(dim.low) || !Number.isInteger(dim.high)) return `integer needs whole-number min and max (got min ${dim.low}, max ${dim.high})`;
      if (!(dim.low <= dim.high)) return `integer needs min <= max (got min ${dim.low}, max ${dim.high})`;
      return null;
    case "categorical":
      if (!Array.isArray(dim.choices) || dim.choices.length === 0) return "categorical needs at least one choice";
      return null;
    default:
      return `unknown distribution ${JSON.stringify((dim as { kind?: unknown }).kind)}`;
  }
}

/** Every problem of the space as a sentence naming the parameter, e.g. `lr: loguniform needs 0 < min < max (got min 0)`; [] when fine. */
export function checkSpace(space: Space): string[] {
  const out: string[] = [];
  for (const [name, dim] of Object.entries(space)) {
    const p = dimProblem(dim);
    if (p) out.push(`${name}: ${p}`);
  }
  return out;
}

/** One draw of a dimension. */
export function sampleDim(dim: Dim, rng: Rng): string | number | boolean {
  switch (dim.kind) {
    case "uniform": {
      const x = dim.low + rng.next() * (dim.high - dim.low);
      return x < dim.high ? x : dim.low; // rounding can land on high: stay in [low, high)
    }
    case "loguniform": {
      const lo = Math.log(dim.low);
      const x = Math.exp(lo + rng.next() * (Math.log(dim.high) - lo));
      return Math.min(Math.max(x, dim.low), dim.high);
    }
    case "normal":
      return dim.mean + dim.sd * normal(rng);
    case "integer":
      return Math.min(dim.high, dim.low + Math.floor(rng.next() * (dim.high - dim.low + 1)));
    case "categorical":
      return dim.choices[Math.min(dim.choices.length - 1, Math.floor(rng.next() * dim.choices.length))]!;
  }
}

/** A random point: each parameter drawn from its dimension, in the space's order. Throws on a bad space. */
export function samplePoint(space: Space, rng: Rng): Point {
  const problems = checkSpace(space);
  if (problems.length) throw new Error(`samplePoint: ${problems.join("; ")}`);
  const p: Point = {};
  for (const [name, dim] of Object.entries(space)) p[name] = sampleDim(dim, rng);
  return p;
}
