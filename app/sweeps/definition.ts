/**
 * A sweep definition (app/contracts/sweeps.ts) checked, sized and turned into points. Pure.
 *
 * - `definitionProblems`: every mistake at once, each naming the parameter.
 * - `sweepPlanSize`: how many executions it makes, computed from the rules (a million-point grid is
 *   counted, never built, so it is refused in microseconds).
 * - `points`: a lazy sequence of points (parameter → value text); a grid is walked like an
 *   odometer, first parameter slowest; `random` draws each point from a seeded generator; `manual`
 *   is the sets as given. `bayesian_tpe` makes its initial random batch here, the rest are proposed
 *   by the driver (app/sweeps/advance.ts) as executions end.
 * - `searchSpace`: the rules as the search algorithms' dimensions (app/sweeps/search/space.ts).
 */
import type { ParameterRule, SweepDefinition } from "../contracts/sweeps.js";
import { seededRng, type Rng } from "./search/rng.js";
import { checkSpace, samplePoint, type Dim, type Point, type Space } from "./search/space.js";

export type SweepPoint = Record<string, string>;

/** Shortest text of a number, to 12 significant digits (so 0.1 + 0.2 steps read 0.3). */
export function numberText(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return String(x);
  return String(Number(x.toPrecision(12)));
}

/** How the rule is written in a `/vh run` comment (reports show it for non-list rules). */
export function ruleText(rule: ParameterRule): string {
  switch (rule.style) {
    case "single":
      return rule.value;
    case "multiple":
      return `[${rule.items.map((v) => (/[,\s\]["']/.test(v) ? JSON.stringify(v) : v)).join(", ")}]`;
    case "linear":
      return `linear(${rule.start}, ${rule.end}, ${rule.step})`;
    case "logspace":
      return `logspace(${rule.start}, ${rule.end}, ${rule.count}${rule.base !== 10 ? `, ${rule.base}` : ""})`;
    case "random": {
      const count = rule.count !== undefined ? `, ${rule.count}` : "";
      if (rule.distribution === "normal") return `normal(${rule.mean}, ${rule.sd}${count})`;
      return `${rule.distribution === "integer" ? "randint" : rule.distribution}(${rule.min}, ${rule.max}${count})`;
    }
  }
}

function linearCount(r: { start: number; end: number; step: number }): number {
  return Math.floor((r.end - r.start) / r.step + 1e-9) + 1;
}

/** Values a rule gives in a grid, without building them: the grid's size is their product. */
function gridLength(rule: ParameterRule): number {
  switch (rule.style) {
    case "single":
      return 1;
    case "multiple":
      return rule.items.length;
    case "linear":
      return linearCount(rule);
    case "logspace":
      return rule.count;
    case "random":
      return rule.count ?? 0;
  }
}

/** The rule's problems (sentences naming the parameter); [] when it is usable in a sweep of `kind`. */
function ruleProblems(name: string, rule: ParameterRule, def: SweepDefinition): string[] {
  const where = `Parameter ${name}`;
  const finite = (label: string, v: unknown) => (typeof v === "number" && Number.isFinite(v) ? [] : [`${where}: ${label} must be a number (got ${String(v)}).`]);
  switch (rule.style) {
    case "single":
      return [];
    case "multiple":
      return rule.items.length === 0 ? [`${where}: the list is empty, which makes no executions; give at least one value.`] : [];
    case "linear": {
      const p = [...finite("start", rule.start), ...finite("end", rule.end), ...finite("step", rule.step)];
      if (p.length) return p;
      if (rule.step === 0) return [`${where}: linear(${rule.start}, ${rule.end}, ${rule.step}) has a step of 0; give a step that goes from start to end.`];
      if ((rule.end - rule.start) / rule.step < 0) return [`${where}: linear(${rule.start}, ${rule.end}, ${rule.step}) never reaches ${rule.end}: the step has the wrong sign.`];
      return [];
    }
    case "logspace": {
      const p = [...finite("start", rule.start), ...finite("end", rule.end), ...finite("base", rule.base)];
      if (p.length) return p;
      if (!Number.isInteger(rule.count) || rule.count < 1) return [`${where}: logspace needs a whole count of 1 or more (got ${rule.count}).`];
      if (!(rule.base > 0) || rule.base === 1) return [`${where}: logspace needs a base above 0 and not 1 (got ${rule.base}).`];
      return [];
    }
    case "random": {
      const problems: string[] = [];
      if (rule.count !== undefined && (!Number.isInteger(rule.count) || rule.count < 1)) problems.push(`${where}: the count of draws must be a whole number of 1 or more (got ${rule.count}).`);
      if ((def.kind === "grid" || (def.kind === "manual" && !def.parameterSets?.length)) && rule.count === undefined) {
        problems.push(`${where}: ${ruleText(rule)} in a grid needs a count of draws, e.g. ${ruleText({ ...rule, count: 10 })}; or make it a random search (--random N).`);
      }
      if (def.kind === "manual" && def.parameterSets?.length) problems.push(`${where}: a manual sweep takes the values of its parameter sets, not ${ruleText(rule)}.`);
      const dim = dimOf(rule);
      if (dim && "kind" in dim) {
        const space: Space = { [name]: dim };
        problems.push(...checkSpaceNamed(space));
      }
      return problems;
    }
  }
}

function checkSpaceNamed(space: Space): string[] {
  // The search module names the parameter itself ("lr: loguniform needs 0 < min < max …").
  return checkSpace(space).map((p) => `Parameter ${p}`);
}

/** A random rule as a search dimension. */
function dimOf(rule: ParameterRule): Dim | null {
  if (rule.style !== "random") return null;
  if (rule.distribution === "normal") return { kind: "normal", mean: rule.mean, sd: rule.sd };
  return { kind: rule.distribution, low: rule.min, high: rule.max };
}

/** Every problem of the definition at once; [] when it can run. */
export function definitionProblems(def: SweepDefinition): string[] {
  const problems: string[] = [];
  for (const [name, rule] of Object.entries(def.parameters)) problems.push(...ruleProblems(name, rule, def));
  const wholeAtLeast1 = (label: string, v: number | undefined) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) problems.push(`${label} must be a whole number of 1 or more (got ${v}).`);
  };
  wholeAtLeast1("The max parallel", def.maxParallel);
  if (def.kind === "random" || def.kind === "bayesian_tpe") {
    if (def.count === undefined) problems.push(`A ${def.kind === "random" ? "random search" : "Bayesian search"} needs a count of executions, e.g. ${def.kind === "random" ? "--random 20" : "--bayesian 30"}.`);
    wholeAtLeast1("The count of executions", def.count);
  }
  if (def.kind === "manual" && (!def.parameterSets || def.parameterSets.length === 0) && Object.keys(def.parameters).length === 0) {
    problems.push("A manual sweep needs at least one parameter set (or parameters, which it runs as a grid).");
  }
  if (def.kind === "bayesian_tpe") {
    if (!def.target) problems.push("A Bayesian search needs the metric to optimise, e.g. --optimize accuracy:max.");
    const tunable = Object.values(def.parameters).filter((r) => r.style !== "single");
    if (tunable.length === 0) problems.push("A Bayesian search needs at least one parameter to tune: a distribution like lr=loguniform(1e-5,1e-1), or a list.");
    wholeAtLeast1("The initial random batch", def.initialRandom);
  }
  if (def.seed !== undefined && (!Number.isInteger(def.seed) || def.seed < 0 || def.seed > 2 ** 32 - 1)) problems.push(`The seed must be a whole number from 0 to ${2 ** 32 - 1} (got ${def.seed}).`);
  if (def.earlyStopping) {
    const es = def.earlyStopping;
    if (!def.target) problems.push(`Early stopping (${es.rule}) needs the metric it watches, e.g. --optimize accuracy:max.`);
    if (!Number.isInteger(es.gracePeriod) || es.gracePeriod < 1) problems.push(`The early-stopping grace period must be a whole number of 1 or more (got ${es.gracePeriod}).`);
    if (es.reductionFactor !== undefined && !(es.reductionFactor >= 2)) problems.push(`ASHA's reduction factor must be 2 or more (got ${es.reductionFactor}).`);
  }
  return problems;
}

/** How many executions the definition makes (never builds them). */
export function sweepPlanSize(def: SweepDefinition): number {
  switch (def.kind) {
    case "grid": {
      let n = 1;
      for (const rule of Object.values(def.parameters)) n *= gridLength(rule);
      return n;
    }
    case "manual":
      // Without sets, a manual sweep's parameters are run as a grid (Valohai's UI makes the sets from them).
      return def.parameterSets?.length ? def.parameterSets.length : sweepPlanSize({ ...def, kind: "grid" });
    case "random":
    case "bayesian_tpe":
      return def.count ?? 0;
  }
}

/** The seed the definition's draws use: its own, else one derived from the text of its rules (stable for the same request). */
export function seedOf(def: SweepDefinition): number {
  if (def.seed !== undefined) return def.seed;
  let h = 2166136261;
  for (const ch of JSON.stringify(def.parameters)) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h;
}

/** The i-th value of a grid rule (i < gridLength). Random rules draw their `count` values once from their own seed. */
function gridValue(rule: ParameterRule, i: number, drawn: Map<ParameterRule, string[]>, seed: number): string {
  switch (rule.style) {
    case "single":
      return rule.value;
    case "multiple":
      return rule.items[i]!;
    case "linear":
      return numberText(rule.start + i * rule.step);
    case "logspace": {
      const e = rule.count === 1 ? rule.start : rule.start + ((rule.end - rule.start) * i) / (rule.count - 1);
      return numberText(rule.base ** e);
    }
    case "random": {
      let values = drawn.get(rule);
      if (!values) {
        const rng = seededRng(rule.seed ?? seed);
        const dim = dimOf(rule)!;
        values = Array.from({ length: rule.count ?? 0 }, () => valueText(samplePoint({ v: dim }, rng)["v"]!));
        drawn.set(rule, values);
      }
      return values[i]!;
    }
  }
}

function valueText(v: string | number | boolean): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return String(v);
}

/** The rules as search dimensions: distributions as they are; lists, linear and logspace as their values; single values stay fixed (not in the space). */
export function searchSpace(def: SweepDefinition): { space: Space; fixed: SweepPoint } {
  const space: Space = {};
  const fixed: SweepPoint = {};
  const drawn = new Map<ParameterRule, string[]>();
  for (const [name, rule] of Object.entries(def.parameters)) {
    if (rule.style === "single") fixed[name] = rule.value;
    else if (rule.style === "random") space[name] = dimOf(rule)!;
    else {
      const n = gridLength(rule);
      space[name] = { kind: "categorical", choices: Array.from({ length: n }, (_, i) => gridValue(rule, i, drawn, 0)) };
    }
  }
  return { space, fixed };
}

/** A point drawn from (or proposed in) the space, as value texts, with the fixed values. */
export function pointText(p: Point, fixed: SweepPoint, order: readonly string[]): SweepPoint {
  const out: SweepPoint = {};
  for (const name of order) out[name] = name in fixed ? fixed[name]! : valueText(p[name]!);
  return out;
}

function* randomPoints(def: SweepDefinition, n: number, rng: Rng): Generator<SweepPoint> {
  const { space, fixed } = searchSpace(def);
  const order = Object.keys(def.parameters);
  for (let i = 0; i < n; i++) yield pointText(samplePoint(space, rng), fixed, order);
}

/** How many points `points` yields: all of them, except a Bayesian search's initial random batch only. */
export function upfrontCount(def: SweepDefinition): number {
  if (def.kind !== "bayesian_tpe") return sweepPlanSize(def);
  return Math.min(def.count ?? 0, def.initialRandom ?? Math.min(10, def.count ?? 0));
}

/**
 * The points made when the sweep is created, lazily (a caller stops early at a cap). A Bayesian
 * search's are its initial random batch; the driver proposes the rest.
 */
export function* points(def: SweepDefinition): Generator<SweepPoint> {
  const seed = seedOf(def);
  switch (def.kind) {
    case "grid": {
      const entries = Object.entries(def.parameters);
      const lengths = entries.map(([, r]) => gridLength(r));
      if (lengths.some((l) => l === 0)) return;
      const drawn = new Map<ParameterRule, string[]>();
      const idx = lengths.map(() => 0);
      for (;;) {
        const p: SweepPoint = {};
        entries.forEach(([name, rule], k) => (p[name] = gridValue(rule, idx[k]!, drawn, seed + k)));
        yield p;
        let k = entries.length - 1;
        while (k >= 0 && ++idx[k]! >= lengths[k]!) idx[k--] = 0;
        if (k < 0) return;
      }
    }
    case "manual": {
      if (!def.parameterSets?.length) {
        yield* points({ ...def, kind: "grid" });
        return;
      }
      const fixed = Object.fromEntries(Object.entries(def.parameters).flatMap(([n, r]) => (r.style === "single" ? [[n, r.value]] : [])));
      for (const set of def.parameterSets ?? []) yield { ...fixed, ...set };
      return;
    }
    case "random":
      yield* randomPoints(def, def.count ?? 0, seededRng(seed));
      return;
    case "bayesian_tpe":
      yield* randomPoints(def, upfrontCount(def), seededRng(seed));
      return;
  }
}

/** Every value list of a grid, for the record and the reports (`sweeps.spec`); other kinds: each rule as written. */
export function specOf(def: SweepDefinition): Record<string, string[]> {
  if (def.kind === "grid" || (def.kind === "manual" && !def.parameterSets?.length)) {
    const drawn = new Map<ParameterRule, string[]>();
    const seed = seedOf(def);
    return Object.fromEntries(
      Object.entries(def.parameters).map(([name, rule], k) => [name, Array.from({ length: gridLength(rule) }, (_, i) => gridValue(rule, i, drawn, seed + k))]),
    );
  }
  if (def.kind === "manual" && def.parameterSets?.length) {
    const names = [...new Set([...Object.keys(def.parameters), ...(def.parameterSets ?? []).flatMap((s) => Object.keys(s))])];
    return Object.fromEntries(names.map((n) => [n, [...new Set((def.parameterSets ?? []).map((s) => s[n] ?? (def.parameters[n]?.style === "single" ? (def.parameters[n] as { value: string }).value : "")))]]));
  }
  return Object.fromEntries(Object.entries(def.parameters).map(([name, rule]) => [name, [ruleText(rule)]]));
}

/** A grid of value lists (what comments and the API gave before any other kind): each list a `multiple` rule, a list of one a `single`. */
export function gridOf(spec: Record<string, string[]>): SweepDefinition {
  return {
    kind: "grid",
    parameters: Object.fromEntries(Object.entries(spec).map(([n, vs]) => [n, vs.length === 1 ? { style: "single", value: vs[0]! } : { style: "multiple", items: vs }])),
  };
}

/** What a `/vh run` (or `vh exec run`) asks besides the parameters. */
export interface RunSweepOptions {
  kind?: "random" | "bayesian_tpe" | "grid" | "manual";
  count?: number;
  target?: SweepDefinition["target"];
  maxParallel?: number;
  seed?: number;
  earlyStop?: { rule?: "median" | "asha"; gracePeriod?: number; reductionFactor?: number };
  /** `--environment NAME`: where its executions run (not part of the definition: each execution records it). */
  environment?: string;
}

/** The definition of a run command: a grid unless `--random`/`--bayesian` say otherwise; early stopping's grace defaults to 1 report (ASHA) or 3 (median). */
export function definitionOfRun(parameters: Record<string, ParameterRule>, o: RunSweepOptions): SweepDefinition {
  const def: SweepDefinition = { kind: o.kind ?? "grid", parameters };
  if (o.count !== undefined) def.count = o.count;
  if (o.target) def.target = o.target;
  if (o.maxParallel !== undefined) def.maxParallel = o.maxParallel;
  if (o.seed !== undefined) def.seed = o.seed;
  if (o.earlyStop?.rule) {
    def.earlyStopping = {
      rule: o.earlyStop.rule,
      gracePeriod: o.earlyStop.gracePeriod ?? (o.earlyStop.rule === "asha" ? 1 : 3),
      ...(o.earlyStop.reductionFactor !== undefined ? { reductionFactor: o.earlyStop.reductionFactor } : {}),
    };
  }
  return def;
}
