/**
 * What a sweep is asked to be, as stored with it (`sweeps.definition`) and read by everything that
 * drives it: the creation services (app/sweeps/), the driver that releases and proposes executions
 * as others end (app/sweeps/advance.ts), early stopping (app/sweeps/early-stop.ts) and reporting.
 * JSON only: values are the texts as written (each execution's are checked against valohai.yaml
 * when it is created), numbers plain.
 *
 * Kinds are Valohai's task types: `grid` (every combination), `random` (`count` points drawn from
 * the parameters' distributions and lists), `manual` (the given parameter sets, one execution each),
 * `bayesian_tpe` (an initial random batch, then each new point proposed by TPE from the finished
 * ones' target metric).
 */

export type SweepKind = "grid" | "random" | "manual" | "bayesian_tpe";
export const SWEEP_KINDS: readonly SweepKind[] = ["grid", "random", "manual", "bayesian_tpe"];

export type Distribution = "uniform" | "loguniform" | "normal" | "integer";

/** One parameter's rule (Valohai's variant parameter styles, plus distributions). */
export type ParameterRule =
  | { style: "single"; value: string }
  | { style: "multiple"; items: string[] }
  /** start..end inclusive by step (a step of the wrong sign, or 0, is refused). */
  | { style: "linear"; start: number; end: number; step: number }
  /** `count` points base^start … base^end, evenly spaced in the exponent. */
  | { style: "logspace"; start: number; end: number; count: number; base: number }
  /**
   * Drawn from a distribution: `uniform`/`loguniform`/`integer` within [min, max], `normal` with
   * `mean`/`sd`. In a grid, `count` draws (seeded) make the value list; in random and Bayesian
   * sweeps each execution draws (or is proposed) its own value.
   */
  | { style: "random"; distribution: Exclude<Distribution, "normal">; min: number; max: number; count?: number; seed?: number }
  | { style: "random"; distribution: "normal"; mean: number; sd: number; count?: number; seed?: number };

export interface SweepTarget {
  /** The metadata key ranked on (its last value in each execution). */
  metric: string;
  direction: "max" | "min";
  /** Valohai's optimization-target-value: once an execution reaches it, the sweep stops making more. */
  value?: number;
}

export interface EarlyStopping {
  rule: "median" | "asha";
  /** Reports of the metric (or steps of `stepKey`) before any stop. */
  gracePeriod: number;
  /** ASHA's eta (default 3). */
  reductionFactor?: number;
  /** The metadata key counting progress (e.g. `epoch`); absent: `epoch`, `step` or `iteration` when printed with the metric, else the report's ordinal. */
  stepKey?: string;
}

export interface SweepDefinition {
  kind: SweepKind;
  /** In the order written: a grid varies the first slowest. */
  parameters: Record<string, ParameterRule>;
  /** `manual`: one execution per set (name → value as written). */
  parameterSets?: Record<string, string>[];
  /** `random` and `bayesian_tpe`: how many executions in all. */
  count?: number;
  /** The seed every draw derives from (recorded so the sweep can be drawn again). */
  seed?: number;
  /** How many of the sweep's executions may be queued or running at once; the rest wait (`created`). */
  maxParallel?: number;
  /** Ranking (and what TPE optimises: required for `bayesian_tpe`). */
  target?: SweepTarget;
  /** `bayesian_tpe`: random points before proposals (default min(10, count)). */
  initialRandom?: number;
  earlyStopping?: EarlyStopping;
  /** A task's stop-condition: once it holds on any execution's metadata, the sweep stops the rest. */
  stopCondition?: string;
  /** The task blueprint it came from (valohai.yaml `task:`), when one. */
  blueprint?: string;
}
