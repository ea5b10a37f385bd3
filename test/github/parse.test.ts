import { describe, expect, it } from "vitest";
import { parseComment } from "../../app/bot/commands/parse.js";
import { shellSplit, splitList } from "../../app/bot/commands/shell-words.js";
import { expandGrid, gridSize } from "../../app/sweeps/grid.js";

const cmd = (body: string) => {
  const r = parseComment(body);
  if (r.kind !== "command") throw new Error(`not a command: ${JSON.stringify(r)}`);
  return r.command;
};

describe("the /vh grammar", () => {
  it("ignores comments that do not start with /vh", () => {
    for (const b of ["LGTM", "please /vh run train", "/vhrun train", "", "> /vh run train"]) expect(parseComment(b)).toEqual({ kind: "ignore" });
  });

  it("parses run with name=value, lists, --name=value, --name value and flags", () => {
    expect(cmd("/vh run train lr=[0.01,0.001] --epochs=3 --note \"[1, 2]\" --augment")).toEqual({
      name: "run",
      step: "train",
      rules: {
        lr: { style: "multiple", items: ["0.01", "0.001"] },
        epochs: { style: "single", value: "3" },
        note: { style: "multiple", items: ["1", "2"] },
        augment: { style: "single", value: "true" },
      },
      options: {},
    });
    expect(cmd("/VH RUN train").name).toBe("run");
    expect(cmd("`/vh run train lr=0.1`\nthe rest is prose")).toMatchObject({ step: "train", rules: { lr: { style: "single", value: "0.1" } } });
  });

  it("keeps shell syntax literal", () => {
    expect(cmd("/vh run train note=$(reboot) x='a b' y=\"`id`\" z=a;b")).toMatchObject({
      rules: { note: { value: "$(reboot)" }, x: { value: "a b" }, y: { value: "`id`" }, z: { value: "a;b" } },
    });
  });

  it("parses sweep rules and options, Grid.ai's quoted forms and values written with spaces", () => {
    expect(cmd("/vh run train lr=logspace(-5,-1,5) batch=[32,64]")).toMatchObject({
      rules: { lr: { style: "logspace", start: -5, end: -1, count: 5, base: 10 }, batch: { style: "multiple", items: ["32", "64"] } },
      options: {},
    });
    expect(cmd("/vh run train lr=uniform(1e-5,1e-1) --random 20 --sweep-seed 4 --max-parallel 3")).toMatchObject({
      rules: { lr: { style: "random", distribution: "uniform", min: 1e-5, max: 0.1 } },
      options: { kind: "random", count: 20, seed: 4, maxParallel: 3 },
    });
    expect(cmd("/vh run train lr=loguniform(1e-5,1e-1) --bayesian 30 --optimize accuracy:max --early-stop asha --grace 2 --eta 4")).toMatchObject({
      options: { kind: "bayesian_tpe", count: 30, target: { metric: "accuracy", direction: "max" }, earlyStop: { rule: "asha", gracePeriod: 2, reductionFactor: 4 } },
    });
    expect(cmd('/vh run train lr="[1, 2]" wd="uniform(1e-5, 1e-1, 20)"')).toMatchObject({
      rules: { lr: { style: "multiple", items: ["1", "2"] }, wd: { style: "random", distribution: "uniform", count: 20 } },
    });
    expect(cmd("/vh run train lr=uniform(1e-5, 1e-1) b=[1, 2] --random 5")).toMatchObject({
      rules: { lr: { style: "random", min: 1e-5, max: 0.1 }, b: { style: "multiple", items: ["1", "2"] } },
      options: { kind: "random", count: 5 },
    });
    expect(cmd("/vh run train --optimize loss:min")).toMatchObject({ options: { target: { metric: "loss", direction: "min" } } });
  });

  it("says where a sweep expression or option is wrong", () => {
    expect(parseComment("/vh run train lr=logspace(-5,-1)")).toMatchObject({ kind: "reply", usage: "run", error: "`lr=logspace(-5,-1)`: logspace takes (start, end, count[, base]); 2 arguments were given." });
    expect(parseComment("/vh run train --random lots")).toMatchObject({ kind: "reply", error: "`--random` takes the number of executions, e.g. `--random 20`, not `lots`." });
    expect(parseComment("/vh run train --random 3 --bayesian 4")).toMatchObject({ kind: "reply", error: expect.stringContaining("not both") });
    expect(parseComment("/vh run train --early-stop soon")).toMatchObject({ kind: "reply", error: "`--early-stop` takes `median` or `asha`, not `soon`." });
    expect(parseComment("/vh run train --grace 3")).toMatchObject({ kind: "reply", error: expect.stringContaining("--early-stop asha") });
  });

  it("answers mistakes with a reply", () => {
    expect(parseComment("/vh run")).toMatchObject({ kind: "reply", usage: "run" });
    expect(parseComment("/vh run train lr")).toMatchObject({ kind: "reply", error: expect.stringMatching(/neither/) });
    expect(parseComment("/vh run train lr=1 lr=2")).toMatchObject({ kind: "reply", error: expect.stringMatching(/twice/) });
    expect(parseComment("/vh run train lr=[]")).toMatchObject({ kind: "reply", error: expect.stringMatching(/empty/) });
    expect(parseComment("/vh run train 'oops")).toMatchObject({ kind: "reply", error: expect.stringMatching(/quote/) });
    expect(parseComment("/vh rnu train")).toMatchObject({ kind: "reply", error: "`rnu` is not a vh command. Did you mean `/vh run`?" });
    expect(parseComment("/vh stop soon")).toMatchObject({ kind: "reply", usage: "stop" });
    expect(parseComment("/vh reject model://m/v1")).toMatchObject({ kind: "reply", usage: "reject" });
  });

  it("parses the other commands", () => {
    expect(cmd("/vh")).toEqual({ name: "help" });
    expect(cmd("/vh help")).toEqual({ name: "help" });
    expect(cmd("/vh status")).toEqual({ name: "status" });
    expect(cmd("/vh stop")).toEqual({ name: "stop", target: "all" });
    expect(cmd("/vh stop #12")).toEqual({ name: "stop", target: 12 });
    expect(cmd("/vh rerun 3")).toEqual({ name: "rerun", execution: 3 });
    expect(cmd("/vh approve model://churn/v3")).toEqual({ name: "approve", uri: "model://churn/v3" });
    expect(cmd("/vh reject model://churn/v3 accuracy dropped")).toEqual({ name: "reject", uri: "model://churn/v3", reason: "accuracy dropped" });
  });

  it("splits like a shell without expanding", () => {
    expect(shellSplit(`a "b c" 'd e' f\\ g "h\\"i"`)).toEqual({ ok: true, tokens: ["a", "b c", "d e", "f g", 'h"i'] });
    expect(splitList(`[1, "a,b", ' c ']`)).toEqual(["1", "a,b", " c "]);
    expect(splitList("1")).toBeNull();
  });
});

describe("grid sweeps", () => {
  it("is the cartesian product, first parameter slowest", () => {
    const spec = { lr: ["0.1", "0.01"], bs: ["32", "64", "128"], opt: ["adam"] };
    expect(gridSize(spec)).toBe(6);
    expect(expandGrid(spec)).toEqual([
      { lr: "0.1", bs: "32", opt: "adam" },
      { lr: "0.1", bs: "64", opt: "adam" },
      { lr: "0.1", bs: "128", opt: "adam" },
      { lr: "0.01", bs: "32", opt: "adam" },
      { lr: "0.01", bs: "64", opt: "adam" },
      { lr: "0.01", bs: "128", opt: "adam" },
    ]);
    expect(expandGrid({})).toEqual([{}]);
    expect(gridSize({ a: Array(100).fill("x"), b: Array(100).fill("y") })).toBe(10_000);
  });
});
