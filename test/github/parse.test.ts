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
      parameters: { lr: ["0.01", "0.001"], epochs: ["3"], note: ["1", "2"], augment: ["true"] },
      lists: ["lr", "note"],
    });
    expect(cmd("/VH RUN train").name).toBe("run");
    expect(cmd("`/vh run train lr=0.1`\nthe rest is prose")).toMatchObject({ step: "train", parameters: { lr: ["0.1"] } });
  });

  it("keeps shell syntax literal", () => {
    expect(cmd("/vh run train note=$(reboot) x='a b' y=\"`id`\" z=a;b")).toMatchObject({
      parameters: { note: ["$(reboot)"], x: ["a b"], y: ["`id`"], z: ["a;b"] },
    });
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
