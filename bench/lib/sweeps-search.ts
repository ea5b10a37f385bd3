/**
 * Measurements of the sweep search algorithms (app/sweeps/search/), as pure functions that
 * bench/sweeps.ts calls: nothing runs or prints at import. Every figure but the timing is
 * deterministic (fixed seeds).
 */
import { ashaStop } from "../../app/sweeps/search/early-stopping.js";
import { normal, seededRng, type Rng } from "../../app/sweeps/search/rng.js";
import { samplePoint, type Space } from "../../app/sweeps/search/space.js";
import { proposeTpe, type Observation, type TpeOptions } from "../../app/sweeps/search/tpe.js";

/** The Branin function (x1 ∈ [-5, 10], x2 ∈ [0, 15]); global minimum ≈ 0.397887 at three points. */
export function branin(x1: number, x2: number): number {
  const a = 1;
  const b = 5.1 / (4 * Math.PI * Math.PI);
  const c = 5 / Math.PI;
  const r = 6;
  const s = 10;
  const t = 1 / (8 * Math.PI);
  return a * (x2 - b * x1 * x1 + c * x1 - r) ** 2 + s * (1 - t) * Math.cos(x1) + s;
}

const BRANIN_SPACE: Space = { x1: { kind: "uniform", low: -5, high: 10 }, x2: { kind: "uniform", low: 0, high: 15 } };

function braninOf(p: Record<string, unknown>): number {
  return branin(p["x1"] as number, p["x2"] as number);
}

/** Best (lowest) Branin value TPE finds in `trials` trials, proposing one at a time. */
export function tpeBestOnBranin(rng: Rng, trials: number, tpe: Omit<TpeOptions, "direction"> = {}): number {
  const obs: Observation[] = [];
  let best = Infinity;
  for (let i = 0; i < trials; i++) {
    const p = proposeTpe(BRANIN_SPACE, obs, rng, { ...tpe, direction: "min" });
    const v = braninOf(p);
    obs.push({ point: p, value: v });
    best = Math.min(best, v);
  }
  return best;
}

/** Best (lowest) Branin value random search finds in `trials` trials. */
export function randomBestOnBranin(rng: Rng, trials: number): number {
  let best = Infinity;
  for (let i = 0; i < trials; i++) best = Math.min(best, braninOf(samplePoint(BRANIN_SPACE, rng)));
  return best;
}

/**
 * Share of seeds where TPE's best after `trials` Branin trials is strictly lower than random
 * search's best after the same number (each from its own rng stream derived from the seed).
 */
export function tpeVsRandomWinRate(opts: { seeds?: number; trials?: number } = {}): number {
  const seeds = opts.seeds ?? 20;
  const trials = opts.trials ?? 40;
  let wins = 0;
  for (let s = 0; s < seeds; s++) {
    const tpe = tpeBestOnBranin(seededRng(1000 + 2 * s), trials);
    const rnd = randomBestOnBranin(seededRng(1001 + 2 * s), trials);
    if (tpe < rnd) wins++;
  }
  return seeds > 0 ? wins / seeds : 0;
}

/** p50 wall time (ms) of one proposeTpe call with `trials` finished observations over a 4-dimension space. */
export function tpeProposeP50Ms(opts: { trials?: number; repeats?: number } = {}): number {
  const n = opts.trials ?? 100;
  const repeats = opts.repeats ?? 200;
  const space: Space = {
    lr: { kind: "loguniform", low: 1e-5, high: 1e-1 },
    dropout: { kind: "uniform", low: 0, high: 0.5 },
    layers: { kind: "integer", low: 1, high: 8 },
    optimizer: { kind: "categorical", choices: ["adam", "sgd", "rmsprop"] },
  };
  const rng = seededRng(7);
  const obs: Observation[] = [];
  for (let i = 0; i < n; i++) {
    const p = samplePoint(space, rng);
    const value = -Math.abs(Math.log10(p["lr"] as number) + 3) - (p["dropout"] as number) + 0.1 * (p["layers"] as number) + (p["optimizer"] === "adam" ? 0.3 : 0);
    obs.push({ point: p, value });
  }
  const times: number[] = [];
  for (let r = 0; r < repeats + 10; r++) {
    const t0 = performance.now();
    proposeTpe(space, obs, rng, { direction: "max" });
    const dt = performance.now() - t0;
    if (r >= 10) times.push(dt); // the first calls warm the JIT
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export interface AshaTraceOptions {
  trials?: number;
  epochs?: number;
  parallel?: number;
  gracePeriod?: number;
  reductionFactor?: number;
  seed?: number;
}

/**
 * The trace: `trials` (60) synthetic training runs of `epochs` (81) epochs each, validation
 * accuracy at epoch e = final·(1 − exp(−e/τ)) + noise. final is spread widely: uniform in
 * [0.55, 0.95] (poor to good configurations alike); τ is
 * log-uniform in [1, 12] epochs for 85% of the runs and in [15, 40] for the other 15% ("late
 * bloomers", whose final value is drawn the same way, so one is sometimes the best); the noise is
 * N(0, 0.01²) per epoch. The curves are fixed by `seed`, not by what ASHA decides.
 */
export function ashaTrace(opts: AshaTraceOptions = {}): number[][] {
  const trials = opts.trials ?? 60;
  const epochs = opts.epochs ?? 81;
  const rng = seededRng(opts.seed ?? 20260601);
  const out: number[][] = [];
  for (let i = 0; i < trials; i++) {
    const final = 0.55 + 0.4 * rng.next();
    const late = rng.next() < 0.15;
    const [lo, hi] = late ? [15, 40] : [1, 12];
    const tau = Math.exp(Math.log(lo) + rng.next() * (Math.log(hi) - Math.log(lo)));
    const curve: number[] = [];
    for (let e = 1; e <= epochs; e++) curve.push(final * (1 - Math.exp(-e / tau)) + 0.01 * normal(rng));
    out.push(curve);
  }
  return out;
}

/**
 * ASHA (eta 3, grace 3 by default: rungs at epochs 3, 9, 27) on the trace: trials started in order,
 * `parallel` (6) at a time, each epoch one time unit; after every reported epoch ashaStop decides
 * for that trial from the curves reported so far (running and ended trials). computeSaved = 1 −
 * epochs run / epochs without stopping; bestRegret = (best final value of all trials − best final
 * value of the trials that ran to the end) / best final value of all (accuracy: maximised), the
 * final value being the one at the last epoch; completed: how many trials ran to the end.
 */
export function ashaOnTrace(opts: AshaTraceOptions = {}): { computeSaved: number; bestRegret: number; completed: number } {
  const trace = ashaTrace(opts);
  const epochs = trace[0]?.length ?? 0;
  const parallel = opts.parallel ?? 6;
  const asha = { direction: "max" as const, gracePeriod: opts.gracePeriod ?? 3, reductionFactor: opts.reductionFactor ?? 3, maxStep: epochs, metric: "accuracy" };
  const curves: { id: string; points: { step: number; value: number }[]; ended: boolean }[] = trace.map((_, i) => ({ id: `t${i}`, points: [], ended: false }));
  const completed: number[] = [];
  let next = 0;
  let run = 0;
  const running: number[] = [];
  while (next < trace.length || running.length > 0) {
    while (running.length < parallel && next < trace.length) running.push(next++);
    for (const i of [...running]) {
      const c = curves[i]!;
      const e = c.points.length + 1;
      c.points.push({ step: e, value: trace[i]![e - 1]! });
      run++;
      let done = false;
      if (e >= epochs) {
        completed.push(i);
        done = true;
      } else if (ashaStop(c, curves.filter((o) => o !== c && o.points.length > 0), asha).stop) {
        done = true;
      }
      if (done) {
        c.ended = true;
        running.splice(running.indexOf(i), 1);
      }
    }
  }
  const finalOf = (i: number): number => trace[i]![epochs - 1]!;
  const bestAll = Math.max(...trace.map((_, i) => finalOf(i)));
  const bestDone = Math.max(...completed.map(finalOf));
  return { computeSaved: 1 - run / (trace.length * epochs), bestRegret: (bestAll - bestDone) / bestAll, completed: completed.length };
}
