/**
 * Bayesian search by TPE, the Tree-structured Parzen Estimator (Bergstra et al. 2011), as hyperopt
 * and Optuna do it: the finite observations split into the best `gamma(n)` ("good") and the rest
 * ("bad"); a Parzen estimator is fitted to each set, l to the good and g to the bad; `candidates`
 * points are drawn from l and the one with the largest l(x)/g(x) is proposed. Until
 * `startupTrials` finite observations exist the proposal is a plain random draw.
 *
 * The estimators: Gaussian kernels truncated to [low, high] (in log space for loguniform, on
 * [low − ½, high + ½] then rounded for integer, unbounded for normal), one per observation plus a
 * prior kernel over the whole range (categorical: the choice counts smoothed by a uniform prior).
 * By default the density is joint (multivariate TPE, Falkner et al. 2018 / Optuna's
 * `multivariate=True`): one kernel per observation across all dimensions, widths by a Scott-like
 * rule (0.2·n^(−1/(d+4)) of each range); on Branin it beats the per-dimension estimator clearly
 * (bench/lib/sweeps-search.ts). With `multivariate: false` each dimension is proposed on its own,
 * with hyperopt's adaptive widths (the larger gap to the sorted neighbouring observations, clipped
 * to [range / min(100, n + 1), range]).
 */
import type { Rng } from "./rng.js";
import { normal } from "./rng.js";
import { checkSpace, samplePoint, type Dim, type Point, type Space } from "./space.js";

export interface Observation {
  point: Point;
  /** The objective as measured (not negated for minimisation). */
  value: number;
}

export interface TpeOptions {
  direction: "max" | "min";
  /** Random proposals until this many finite observations exist (default 10). */
  startupTrials?: number;
  /** Draws from the good density (per dimension when not multivariate), the best ratio of which is proposed (default 24). */
  candidates?: number;
  /** How many of n observations count as good (default: min(ceil(0.2·n), 25)). */
  gamma?: (n: number) => number;
  /** Weight (> 0) of the prior kernel of each estimator, relative to one observation's (default 1). */
  priorWeight?: number;
  /** One joint density over all dimensions (a kernel per observation, default) or one density per dimension (false). */
  multivariate?: boolean;
}

export const DEFAULT_STARTUP_TRIALS = 10;
export const DEFAULT_CANDIDATES = 24;
export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.2 * n), 25);
}

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** The standard normal CDF (via erfc, Numerical Recipes' Chebyshev fit, |error| < 1.2e-7). */
function phi(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851413 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
}

/**
 * One dimension's kernels for one set of observations, in the dimension's internal scale (log for
 * loguniform, the index for categorical): component c < n is the c-th observation's, component n
 * the prior's.
 */
interface Kernels {
  /** Components, the prior included. */
  size: number;
  sample(c: number, rng: Rng): number;
  logK(c: number, x: number): number;
}

/**
 * Gaussian kernels truncated to [low, high] (either may be infinite) at `xs` plus a prior at
 * `priorMu` of width `priorSigma`. Widths: `bandwidth` when given (the multivariate rule), else each
 * observation's larger gap to its sorted neighbours (the prior included), clipped to
 * [scale / min(100, n + 1), scale] (hyperopt's and Optuna's adaptive Parzen rule).
 */
function gaussianKernels(xs: readonly number[], sc: NumericScale, bandwidth?: number): Kernels {
  const mus = [...xs, sc.priorMu];
  const sigmas = new Array<number>(mus.length).fill(sc.priorSigma);
  const minSigma = sc.scale / Math.min(100, xs.length + 1);
  if (bandwidth !== undefined) {
    for (let i = 0; i < xs.length; i++) sigmas[i] = Math.max(minSigma, bandwidth);
  } else {
    const order = mus.map((_, i) => i).sort((a, b) => mus[a]! - mus[b]!);
    for (let r = 0; r < order.length; r++) {
      const i = order[r]!;
      if (i === xs.length) continue; // the prior keeps its own width
      const left = r > 0 ? mus[i]! - mus[order[r - 1]!]! : 0;
      const right = r < order.length - 1 ? mus[order[r + 1]!]! - mus[i]! : 0;
      sigmas[i] = Math.min(sc.scale, Math.max(minSigma, left, right));
    }
  }
  const { low, high } = sc;
  const logNorm = mus.map((mu, i) => {
    const s = sigmas[i]!;
    const mass = Math.max(1e-300, phi((high - mu) / s) - phi((low - mu) / s));
    return -Math.log(s) - Math.log(mass) - LOG_SQRT_2PI;
  });
  return {
    size: mus.length,
    sample(c, rng) {
      const mu = mus[c]!;
      const s = sigmas[c]!;
      for (let tries = 0; tries < 64; tries++) {
        const x = mu + s * normal(rng);
        if (x >= low && x <= high) return sc.integer ? Math.min(high - 0.5, Math.max(low + 0.5, Math.round(x))) : x;
      }
      return Math.min(high, Math.max(low, mu)); // a kernel far outside the range: its nearest end
    },
    logK(c, x) {
      const z = (x - mus[c]!) / sigmas[c]!;
      return logNorm[c]! - 0.5 * z * z;
    },
  };
}

/**
 * Categorical kernels: each observation's puts 1/(1 + smoothing) on its choice and spreads the rest
 * uniformly; the prior's is uniform. With smoothing 0 the mixture is the counts smoothed by the
 * prior (the univariate rule); the multivariate rule needs smoothing so that one differing choice
 * does not zero a kernel.
 */
function categoricalKernels(idx: readonly number[], k: number, smoothing: number): Kernels {
  const own = 1 / (1 + smoothing);
  const spread = smoothing / (1 + smoothing) / k;
  const logHit = Math.log(own + spread);
  const logMiss = smoothing > 0 ? Math.log(spread) : -Infinity;
  const logUniform = -Math.log(k);
  return {
    size: idx.length + 1,
    sample(c, rng) {
      if (c < idx.length && rng.next() < own) return idx[c]!;
      return Math.min(k - 1, Math.floor(rng.next() * k));
    },
    logK(c, x) {
      if (c === idx.length) return logUniform;
      return x === idx[c] ? logHit : logMiss;
    },
  };
}

/** log Σ_c w_c · Π_d K_{c,d}(x_d) over the components, with uniform observation weights and `priorWeight` for the prior. */
function logMixture(kernels: readonly Kernels[], x: readonly number[], priorWeight: number): number {
  const size = kernels[0]!.size;
  const logW = -Math.log(size - 1 + priorWeight);
  const logPrior = Math.log(priorWeight);
  let max = -Infinity;
  const terms = new Array<number>(size);
  for (let c = 0; c < size; c++) {
    let t = c === size - 1 ? logW + logPrior : logW;
    for (let d = 0; d < kernels.length; d++) t += kernels[d]!.logK(c, x[d]!);
    terms[c] = t;
    if (t > max) max = t;
  }
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (const t of terms) sum += Math.exp(t - max);
  return max + Math.log(sum);
}

function pickComponent(size: number, priorWeight: number, rng: Rng): number {
  const u = rng.next() * (size - 1 + priorWeight);
  return u >= size - 1 ? size - 1 : Math.floor(u);
}

/** A numeric observation value, or null when it is missing or not a number. */
function numberOf(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && v.trim() !== "") {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** Internal scale of a numeric dimension: bounds, prior, clipping scale, and the maps to and from it. */
interface NumericScale {
  low: number;
  high: number;
  priorMu: number;
  priorSigma: number;
  scale: number;
  integer: boolean;
  toInternal(v: number): number | null;
  fromInternal(x: number): number;
}

function numericScale(dim: Exclude<Dim, { kind: "categorical" }>): NumericScale {
  switch (dim.kind) {
    case "uniform":
    case "loguniform": {
      const log = dim.kind === "loguniform";
      const low = log ? Math.log(dim.low) : dim.low;
      const high = log ? Math.log(dim.high) : dim.high;
      return {
        low,
        high,
        priorMu: (low + high) / 2,
        priorSigma: high - low,
        scale: high - low,
        integer: false,
        toInternal: (v) => (v < dim.low || v > dim.high ? null : log ? Math.log(v) : v),
        fromInternal: (x) => Math.min(dim.high, Math.max(dim.low, log ? Math.exp(x) : x)),
      };
    }
    case "integer": {
      const low = dim.low - 0.5;
      const high = dim.high + 0.5;
      return {
        low,
        high,
        priorMu: (low + high) / 2,
        priorSigma: high - low,
        scale: high - low,
        integer: true,
        toInternal: (v) => (v < dim.low || v > dim.high ? null : Math.round(v)),
        fromInternal: (x) => Math.min(dim.high, Math.max(dim.low, Math.round(x))),
      };
    }
    case "normal":
      return {
        low: -Infinity,
        high: Infinity,
        priorMu: dim.mean,
        priorSigma: dim.sd,
        scale: 4 * dim.sd,
        integer: false,
        toInternal: (v) => v,
        fromInternal: (x) => x,
      };
  }
}

function choiceIndex(choices: readonly (string | number | boolean)[], v: unknown): number {
  const i = choices.findIndex((c) => c === v);
  if (i >= 0 || v === undefined) return i;
  return choices.findIndex((c) => String(c) === String(v)); // "3" for 3, "true" for true
}

/** How one dimension reads observations into its internal scale, fits kernels, and turns a proposal back into a value. */
interface DimModel {
  name: string;
  read(p: Point): number | null;
  fit(xs: readonly number[], nDims: number, multivariate: boolean, priorWeight: number): Kernels;
  write(x: number): string | number | boolean;
}

function dimModel(name: string, dim: Dim): DimModel {
  if (dim.kind === "categorical") {
    return {
      name,
      read: (p) => {
        const i = choiceIndex(dim.choices, p[name]);
        return i >= 0 ? i : null;
      },
      fit: (xs, _d, multivariate, priorWeight) => categoricalKernels(xs, dim.choices.length, multivariate ? priorWeight : 0),
      write: (x) => dim.choices[x]!,
    };
  }
  const sc = numericScale(dim);
  return {
    name,
    read: (p) => {
      const v = numberOf(p[name]);
      return v === null ? null : sc.toInternal(v);
    },
    // Multivariate: one width per dimension, Scott-like (Optuna's multivariate rule, 0.2·n^(-1/(d+4)) of the range).
    fit: (xs, d, multivariate) => gaussianKernels(xs, sc, multivariate ? 0.2 * Math.max(1, xs.length) ** (-1 / (d + 4)) * sc.scale : undefined),
    write: (x) => sc.fromInternal(x),
  };
}

/** Draws `candidates` points from the good kernels and returns the one with the largest l(x)/g(x). */
function bestCandidate(l: readonly Kernels[], g: readonly Kernels[], rng: Rng, candidates: number, priorWeight: number): number[] {
  let best: number[] = [];
  let bestScore = -Infinity;
  for (let i = 0; i < candidates; i++) {
    const c = pickComponent(l[0]!.size, priorWeight, rng);
    const x = l.map((k) => k.sample(c, rng));
    const score = logMixture(l, x, priorWeight) - logMixture(g, x, priorWeight);
    if (score > bestScore || best.length === 0) {
      best = x;
      bestScore = score;
    }
  }
  return best;
}

/**
 * The next point to try given what was measured so far. Observations whose value is not finite
 * are ignored, as are parameter values outside the space (a space changed since they ran).
 * Deterministic for a given rng state. Throws on a bad space.
 */
export function proposeTpe(space: Space, observations: readonly Observation[], rng: Rng, opts: TpeOptions): Point {
  const problems = checkSpace(space);
  if (problems.length) throw new Error(`proposeTpe: ${problems.join("; ")}`);
  const startup = opts.startupTrials ?? DEFAULT_STARTUP_TRIALS;
  const candidates = Math.max(1, Math.floor(opts.candidates ?? DEFAULT_CANDIDATES));
  const priorWeight = opts.priorWeight ?? 1;
  if (!(Number.isFinite(priorWeight) && priorWeight > 0)) throw new Error(`proposeTpe: priorWeight must be a number > 0 (got ${priorWeight})`);
  if (Object.keys(space).length === 0) return {};
  const finite = observations.filter((o) => Number.isFinite(o.value));
  if (finite.length === 0 || finite.length < startup) return samplePoint(space, rng);

  // Best first; the sort is stable, so ties keep the order they were observed in.
  const sign = opts.direction === "max" ? -1 : 1;
  const sorted = [...finite].sort((a, b) => sign * (a.value - b.value));
  const n = sorted.length;
  const asked = Math.floor((opts.gamma ?? defaultGamma)(n));
  if (!Number.isFinite(asked)) throw new Error(`proposeTpe: gamma(${n}) must be a number of observations (got ${asked})`);
  const nGood = Math.min(n, Math.max(1, asked));
  const good = sorted.slice(0, nGood);
  const bad = sorted.slice(nGood);

  const models = Object.entries(space).map(([name, dim]) => dimModel(name, dim));
  const p: Point = {};
  if (opts.multivariate ?? true) {
    // One component per observation across all dimensions: only observations valid in every one count.
    const rows = (obs: readonly Observation[]): number[][] =>
      obs.map((o) => models.map((m) => m.read(o.point))).filter((r): r is number[] => r.every((x) => x !== null));
    const gRows = rows(good);
    const bRows = rows(bad);
    const fit = (rs: number[][]): Kernels[] => models.map((m, d) => m.fit(rs.map((r) => r[d]!), models.length, true, priorWeight));
    const x = bestCandidate(fit(gRows), fit(bRows), rng, candidates, priorWeight);
    models.forEach((m, d) => (p[m.name] = m.write(x[d]!)));
    return p;
  }
  for (const m of models) {
    const xsOf = (obs: readonly Observation[]): number[] => obs.map((o) => m.read(o.point)).filter((x): x is number => x !== null);
    const l = m.fit(xsOf(good), 1, false, priorWeight);
    const g = m.fit(xsOf(bad), 1, false, priorWeight);
    p[m.name] = m.write(bestCandidate([l], [g], rng, candidates, priorWeight)[0]!);
  }
  return p;
}
