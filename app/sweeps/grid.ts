/**
 * Grid sweeps: the cartesian product of every parameter's value list. Other kinds (linear,
 * logspace, random, Bayesian) will sit beside this file and produce the same shape: a list of
 * points, each a map of parameter name → one raw value.
 */
export type SweepSpec = Record<string, string[]>;
export type SweepPoint = Record<string, string>;

/** How many executions the grid makes, without building it (a 10,000-point ask is refused cheaply). */
export function gridSize(spec: SweepSpec): number {
  let n = 1;
  for (const values of Object.values(spec)) n *= values.length;
  return n;
}

/** The points, first parameter varying slowest (the order the user wrote the lists). */
export function expandGrid(spec: SweepSpec): SweepPoint[] {
  let points: SweepPoint[] = [{}];
  for (const [name, values] of Object.entries(spec)) {
    const next: SweepPoint[] = [];
    for (const p of points) for (const v of values) next.push({ ...p, [name]: v });
    points = next;
  }
  return points;
}
