/**
 * Sweep definitions (app/sweeps/definition.ts, plan.ts, expressions.ts, blueprint.ts), pure: what
 * each rule expands to, sizes counted without building (a million-point grid refused cheaply), the
 * order of a grid, seeded draws that repeat, every problem said at once naming the parameter, and
 * valohai.yaml task blueprints mapped onto definitions.
 */
import { describe, expect, it } from "vitest";
import { definitionProblems, points, specOf, sweepPlanSize, gridOf, definitionOfRun, searchSpace } from "../../app/sweeps/definition.js";
import { planSweep } from "../../app/sweeps/plan.js";
import { parseRule } from "../../app/sweeps/expressions.js";
import { definitionOfBlueprint } from "../../app/sweeps/blueprint.js";
import type { SweepDefinition } from "../../app/contracts/sweeps.js";
import { loadValohaiYaml } from "../../app/valohai/index.js";
import { VhError } from "../../app/errors.js";

const rule = (raw: string) => {
  const r = parseRule("lr", raw);
  if (!r.ok) throw new Error(r.message);
  return r.rule;
};
const all = (def: SweepDefinition) => [...points(def)];

describe("rules as written", () => {
  it("reads values, lists, linear, logspace and distributions", () => {
    expect(parseRule("lr", "0.1")).toEqual({ ok: true, rule: { style: "single", value: "0.1" }, list: false });
    expect(parseRule("lr", "[0.1, 0.2]")).toEqual({ ok: true, rule: { style: "multiple", items: ["0.1", "0.2"] }, list: true });
    expect(rule("linear(0.1, 0.5, 0.1)")).toEqual({ style: "linear", start: 0.1, end: 0.5, step: 0.1 });
    expect(rule("logspace(-5,-1,5)")).toEqual({ style: "logspace", start: -5, end: -1, count: 5, base: 10 });
    expect(rule("logspace(0, 3, 4, 2)")).toEqual({ style: "logspace", start: 0, end: 3, count: 4, base: 2 });
    expect(rule("uniform(1e-5, 1e-1)")).toEqual({ style: "random", distribution: "uniform", min: 1e-5, max: 0.1 });
    expect(rule("uniform(1e-5, 1e-1, 20)")).toEqual({ style: "random", distribution: "uniform", min: 1e-5, max: 0.1, count: 20 });
    expect(rule("LogUniform(1e-5,1e-1)")).toMatchObject({ distribution: "loguniform" });
    expect(rule("normal(0, 2)")).toEqual({ style: "random", distribution: "normal", mean: 0, sd: 2 });
    expect(rule("randint(1, 8, 3)")).toEqual({ style: "random", distribution: "integer", min: 1, max: 8, count: 3 });
    // Not one of the functions: a plain value (a string parameter may well look like a call).
    expect(rule("f(x)")).toEqual({ style: "single", value: "f(x)" });
  });

  it("says which argument is wrong, and why", () => {
    const bad = (raw: string) => {
      const r = parseRule("lr", raw);
      if (r.ok) throw new Error(`accepted ${raw}`);
      return r.message;
    };
    expect(bad("logspace(-5,-1)")).toBe("`lr=logspace(-5,-1)`: logspace takes (start, end, count[, base]); 2 arguments were given.");
    expect(bad("uniform(1e-5, x)")).toBe("`lr=uniform(1e-5, x)`: argument 2 of uniform (max), `x`, is not a number.");
    expect(bad("uniform(1, 0)")).toBe("`lr=uniform(1, 0)`: uniform needs min < max (got 1 and 0).");
    expect(bad("loguniform(0, 1)")).toBe("`lr=loguniform(0, 1)`: loguniform needs min above 0 (got 0).");
    expect(bad("logspace(-5,-1,2.5)")).toBe("`lr=logspace(-5,-1,2.5)`: the count (argument 3) must be a whole number of 1 or more, not 2.5.");
    expect(bad("normal(0, 0)")).toBe("`lr=normal(0, 0)`: normal's sd (argument 2) must be above 0.");
    expect(bad("[a,,b]")).toBe("The list for `lr` has an empty value: `[a,,b]`.");
  });
});

describe("grids", () => {
  it("expand linear and logspace to exact texts, first parameter slowest", () => {
    const def: SweepDefinition = { kind: "grid", parameters: { lr: rule("logspace(-3,-1,3)"), step: rule("linear(0.1, 0.3, 0.1)") } };
    expect(sweepPlanSize(def)).toBe(9);
    expect(all(def).slice(0, 4)).toEqual([
      { lr: "0.001", step: "0.1" },
      { lr: "0.001", step: "0.2" },
      { lr: "0.001", step: "0.3" },
      { lr: "0.01", step: "0.1" },
    ]);
    expect(specOf(def)).toEqual({ lr: ["0.001", "0.01", "0.1"], step: ["0.1", "0.2", "0.3"] });
  });

  it("a distribution with a count is that many seeded draws, the same every time for a seed", () => {
    const def: SweepDefinition = { kind: "grid", parameters: { lr: rule("loguniform(1e-5, 1e-1, 4)"), b: rule("[1,2]") }, seed: 7 };
    const a = all(def);
    expect(a).toHaveLength(8);
    expect(all(def)).toEqual(a);
    const lrs = [...new Set(a.map((p) => Number(p["lr"])))];
    expect(lrs).toHaveLength(4);
    for (const v of lrs) expect(v).toBeGreaterThanOrEqual(1e-5), expect(v).toBeLessThanOrEqual(1e-1);
    expect(all({ ...def, seed: 8 })).not.toEqual(a);
  });

  it("a million-point grid is counted, never built, and refused with its count", () => {
    const def: SweepDefinition = { kind: "grid", parameters: { a: rule("linear(1, 1000, 1)"), b: rule("linear(1, 1000, 1)") } };
    expect(sweepPlanSize(def)).toBe(1_000_000);
    const t0 = performance.now();
    let err: unknown;
    try {
      planSweep(def, 1000);
    } catch (e) {
      err = e;
    }
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(err).toBeInstanceOf(VhError);
    expect((err as VhError).message).toBe("That sweep would make 1,000,000 executions; the limit is 1000 (VH_SWEEP_CAP). Use fewer values, or split it into several commands.");
    // Lazily: the first points come without the rest.
    const it = points(def);
    expect(it.next().value).toEqual({ a: "1", b: "1" });
    expect(it.next().value).toEqual({ a: "1", b: "2" });
  });

  it("holds those beyond max parallel", () => {
    const plan = planSweep({ kind: "grid", parameters: { lr: rule("[1,2,3]") }, maxParallel: 2 }, 10);
    expect([0, 1, 2].map(plan.held)).toEqual([undefined, undefined, "Waiting for a slot: at most 2 of this sweep run at once (max parallel)."]);
  });
});

describe("random, manual and Bayesian", () => {
  it("random draws each point from the rules, lists picked from, values fixed", () => {
    const def = definitionOfRun({ lr: rule("loguniform(1e-4, 1e-1)"), batch: rule("[32, 64]"), epochs: rule("3"), k: rule("randint(1, 5)") }, { kind: "random", count: 50, seed: 3 });
    const ps = all(def);
    expect(ps).toHaveLength(50);
    expect(all(def)).toEqual(ps);
    for (const p of ps) {
      expect(Number(p["lr"])).toBeGreaterThanOrEqual(1e-4);
      expect(Number(p["lr"])).toBeLessThanOrEqual(1e-1);
      expect(["32", "64"]).toContain(p["batch"]);
      expect(p["epochs"]).toBe("3");
      expect(Number.isInteger(Number(p["k"]))).toBe(true);
    }
    expect(new Set(ps.map((p) => p["batch"])).size).toBe(2);
    // Log-uniform: about as many below 1e-2.5 as above.
    const low = ps.filter((p) => Number(p["lr"]) < 10 ** -2.5).length;
    expect(low).toBeGreaterThan(10);
    expect(low).toBeLessThan(40);
    expect(specOf(def)).toEqual({ lr: ["loguniform(0.0001, 0.1)"], batch: ["[32, 64]"], epochs: ["3"], k: ["randint(1, 5)"] });
  });

  it("manual runs the sets as given; Bayesian makes its initial random batch only", () => {
    const manual: SweepDefinition = { kind: "manual", parameters: { epochs: { style: "single", value: "2" } }, parameterSets: [{ lr: "0.1", b: "1" }, { lr: "0.2", b: "2" }] };
    expect(all(manual)).toEqual([{ epochs: "2", lr: "0.1", b: "1" }, { epochs: "2", lr: "0.2", b: "2" }]);
    const tpe = definitionOfRun({ lr: rule("uniform(0, 1)") }, { kind: "bayesian_tpe", count: 30, target: { metric: "acc", direction: "max" } });
    expect(sweepPlanSize(tpe)).toBe(30);
    expect(all(tpe)).toHaveLength(10);
    expect(all({ ...tpe, initialRandom: 4 })).toHaveLength(4);
    expect(searchSpace(tpe).space).toEqual({ lr: { kind: "uniform", low: 0, high: 1 } });
  });

  it("says every problem at once, naming the parameter", () => {
    expect(
      definitionProblems({
        kind: "bayesian_tpe",
        parameters: { lr: { style: "linear", start: 1, end: 0, step: 0.5 }, b: { style: "logspace", start: 0, end: 1, count: 0, base: 10 } },
        maxParallel: 0,
        earlyStopping: { rule: "asha", gracePeriod: 0 },
      }),
    ).toEqual([
      "Parameter lr: linear(1, 0, 0.5) never reaches 0: the step has the wrong sign.",
      "Parameter b: logspace needs a whole count of 1 or more (got 0).",
      "The max parallel must be a whole number of 1 or more (got 0).",
      "A Bayesian search needs a count of executions, e.g. --bayesian 30.",
      "A Bayesian search needs the metric to optimise, e.g. --optimize accuracy:max.",
      "Early stopping (asha) needs the metric it watches, e.g. --optimize accuracy:max.",
      "The early-stopping grace period must be a whole number of 1 or more (got 0).",
    ]);
    expect(definitionProblems({ kind: "grid", parameters: { lr: rule("uniform(0, 1)") } })).toEqual([
      "Parameter lr: uniform(0, 1) in a grid needs a count of draws, e.g. uniform(0, 1, 10); or make it a random search (--random N).",
    ]);
  });

  it("a grid of value lists is what old sweeps were", () => {
    expect(gridOf({ lr: ["0.1", "0.2"], e: ["3"] })).toEqual({ kind: "grid", parameters: { lr: { style: "multiple", items: ["0.1", "0.2"] }, e: { style: "single", value: "3" } } });
  });
});

describe("task blueprints", () => {
  const yaml = `
- step:
    name: train
    image: python:3.12
    command: python3 train.py {parameters}
    parameters:
      - name: lr
        type: float
      - name: epochs
        type: integer
- task:
    name: search
    step: train
    type: random_search
    execution-count: 12
    maximum-queued-executions: 3
    optimization-target-metric: loss
    parameters:
      - name: lr
        style: random
        rules: {min: 0.0001, max: 0.1, distribution: loguniform}
      - name: epochs
        style: multiple
        rules: {items: [1, 2, 4]}
- task:
    name: grid
    step: train
    parameters:
      - name: lr
        style: logspace
        rules: {start: -3, end: -1, count: 3}
      - name: epochs
        style: linear
        rules: {start: 1, end: 3, step: 1}
- task:
    name: sets
    step: train
    type: manual_search
    parameter-sets:
      - {lr: 0.1, epochs: 1}
      - {lr: 0.01, epochs: 3}
- task:
    name: dist
    step: train
    type: distributed
    parameters:
      - name: lr
        style: single
        rules: {value: 0.1}
`;
  const config = loadValohaiYaml(yaml, { filename: "valohai.yaml" }).config!;
  const task = (name: string) => config.tasks.get(name)!;

  it("maps type, styles, count, maximum queued executions and the target", () => {
    expect(definitionOfBlueprint(task("search"))).toEqual({
      kind: "random",
      blueprint: "search",
      parameters: { lr: { style: "random", distribution: "loguniform", min: 0.0001, max: 0.1 }, epochs: { style: "multiple", items: ["1", "2", "4"] } },
      count: 12,
      maxParallel: 3,
      target: { metric: "loss", direction: "min" },
    });
    const grid = definitionOfBlueprint(task("grid"));
    expect(specOf(grid)).toEqual({ lr: ["0.001", "0.01", "0.1"], epochs: ["1", "2", "3"] });
    expect(all(definitionOfBlueprint(task("sets")))).toEqual([{ lr: "0.1", epochs: "1" }, { lr: "0.01", epochs: "3" }]);
  });

  it("refuses a distributed task, naming it and its line", () => {
    expect(() => definitionOfBlueprint(task("dist"))).toThrow(/^Task "dist" \(valohai\.yaml:\d+:\d+\) is a distributed task: vh does not run distributed groups/);
  });
});
