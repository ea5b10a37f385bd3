import { describe, expect, it } from "vitest";
import {
  applyStepOptions,
  clickConvert,
  parseBool,
  parseVars,
  splitRunArgs,
  stepOptionKinds,
  withDefaults,
} from "../../app/cli/run-args.js";
import { loadValohaiYaml, PyFloat, type Parameter, type Step } from "../../app/valohai/index.js";
import { FIXTURE_YAML } from "./helpers.js";

function trainStep(): Step {
  const { config } = loadValohaiYaml(FIXTURE_YAML);
  return config!.steps.get("train")!;
}

/** A one-step valohai.yaml's step; `params` is a YAML flow sequence. */
function stepOf(params: string): Step {
  const { config, problems } = loadValohaiYaml(`- step:\n    name: s\n    image: python:3.12\n    command: python t.py {parameters}\n    parameters: ${params}\n`);
  if (!config) throw new Error(problems.map((p) => p.message).join("\n"));
  return config.steps.get("s")!;
}

describe("splitRunArgs", () => {
  it("separates fixed options, the step and step options, in any order after the step", () => {
    const r = splitRunArgs(["-a", "train", "--lr=0.1", "--title", "T", "--epochs", "3", "-w", "--verbose", "--var", "A=1", "-v", "B=2", "--gpus=2"]);
    expect(r.errors).toEqual([]);
    expect(r.step).toBe("train");
    expect(r.fixed).toMatchObject({ adhoc: true, watch: true, title: "T", vars: ["A=1", "B=2"], gpus: 2, dryRun: false, json: false });
    expect(r.tokens).toEqual([{ name: "lr", value: "0.1" }, { name: "epochs", attached: "3" }, { name: "verbose" }]);
  });

  it("takes negative numbers as values and combined short flags", () => {
    const r = splitRunArgs(["train", "--lr", "-0.5", "-aw"]);
    expect(r.tokens).toEqual([{ name: "lr", attached: "-0.5" }]);
    expect(r.fixed.adhoc && r.fixed.watch).toBe(true);
  });

  it("rejects step options before the step, extra words and bad fixed values", () => {
    expect(splitRunArgs(["--lr=1", "train"]).errors[0]).toContain("go after the step name");
    expect(splitRunArgs(["train", "other"]).errors[0]).toContain('Unexpected argument "other"');
    expect(splitRunArgs(["train", "--gpus", "x"]).errors[0]).toContain("--gpus needs a whole number");
    expect(splitRunArgs(["train", "--joiner=semicolon"]).errors[0]).toContain('--joiner is "newline" or "and"');
    expect(splitRunArgs(["train", "--title"]).errors[0]).toContain("--title needs a value");
    expect(splitRunArgs(["train", "-x"]).errors[0]).toContain("Unknown option -x");
  });
});

describe("applyStepOptions", () => {
  it("maps sanitized names and lowercase twins; flags take words or nothing", () => {
    const step = trainStep();
    const r = applyStepOptions(step, [
      { name: "learning-rate", value: "0.5" },
      { name: "verbose" },
      { name: "layers", value: "1" },
      { name: "layers", attached: "2" },
      { name: "dataset", value: "s3://a" },
    ]);
    expect(r.errors).toEqual([]);
    expect(r.parameters).toEqual({ learning_rate: "0.5", verbose: true, layers: ["1", "2"] });
    expect(r.inputs).toEqual({ dataset: ["s3://a"] });
    expect(applyStepOptions(step, [{ name: "verbose", attached: "no" }]).parameters).toEqual({ verbose: false });
  });

  it("explains mistakes", () => {
    const step = trainStep();
    const r = applyStepOptions(step, [
      { name: "verbose", attached: "extra" },
      { name: "epochs" },
      { name: "dataset" },
      { name: "learning-rat", value: "1" },
    ]);
    expect(r.errors).toEqual([
      'Unexpected argument "extra" after the flag --verbose: write --verbose=true or --verbose=false.',
      'Parameter "epochs": --epochs needs a value (--epochs=VALUE).',
      'Input "dataset": --dataset needs a URI (--dataset=URI).',
      'Unknown option --learning-rat for step "train". Did you mean --learning-rate? (`vh exec run train --help` lists them.)',
    ]);
  });

  it("reads parameter-file keys by name or option name, typed as valohai-cli's click options type them, and warns about the rest", () => {
    const r = applyStepOptions(trainStep(), [{ name: "epochs", value: "9" }], { "learning-rate": 0.1, epochs: 1, nope: 2 });
    expect(r.parameters).toEqual({ learning_rate: new PyFloat(0.1), epochs: "9" });
    expect(r.warnings).toEqual(['Ignoring "nope" from the parameter file: step "train" has no such parameter.']);
  });
});

// valohai-cli lets its own options win wherever they stand: `vh exec run s --title=x` titles the
// execution and the parameter `title` keeps its default (its click parse gives title="x",
// args=[]); only `vh exec run s -- --title=x` reaches the parameter (args=["--title=x"], and the
// command is `python t.py --title=x`). vh never swallows the parameter: after STEP the step's
// option wins, and the caller prints a note (see dry-run.test.ts).
describe("class: a step parameter is never swallowed by vh's option of the same name", () => {
  it.each([
    ["--title", "title", ["s", "--title=x"], { name: "title", value: "x" }],
    ["--image", "image", ["s", "--image", "x"], { name: "image", attached: "x" }],
    ["--json", "json", ["s", "--json=x"], { name: "json", value: "x" }],
    ["--project", "project", ["s", "--project=x"], { name: "project", value: "x" }],
    ["--dry-run", "dry-run", ["s", "--dry-run=x"], { name: "dry-run", value: "x" }],
    ["--yaml", "yaml", ["s", "--yaml=x"], { name: "yaml", value: "x" }],
    ["--var", "var", ["s", "--var=x"], { name: "var", value: "x" }],
    ["--watch", "watch", ["s", "--watch=x"], { name: "watch", value: "x" }],
    ["--adhoc", "adhoc", ["s", "--adhoc=x"], { name: "adhoc", value: "x" }],
    ["--help", "help", ["s", "--help=x"], { name: "help", value: "x" }],
    ["--joiner", "joiner", ["s", "--joiner=x"], { name: "joiner", value: "x" }],
    ["--gpus", "gpus", ["s", "--gpus=x"], { name: "gpus", value: "x" }],
    ["--parameter-file", "parameter-file", ["s", "--parameter-file=x"], { name: "parameter-file", value: "x" }],
    ["the lowercase twin of Title", "Title", ["s", "--title=x"], { name: "title", value: "x" }],
  ])("%s after STEP is the parameter", (_label, name, args, token) => {
    const step = stepOf(`[{name: ${name}, type: string}]`);
    const r = splitRunArgs(args, stepOptionKinds(step));
    expect(r.errors).toEqual([]);
    expect(r.tokens).toEqual([token]);
    expect(r.overridden).toEqual([token.name]);
    expect(r.fixed).toMatchObject({ dryRun: false, json: false, adhoc: false, watch: false, help: false, vars: [] });
    expect(r.fixed.title ?? r.fixed.image ?? r.fixed.yaml ?? r.fixed.project ?? r.fixed.gpus ?? r.fixed.parameterFile).toBeUndefined();
  });

  it("a flag parameter named json takes --json, and vh's --json before STEP stays vh's", () => {
    const step = stepOf("[{name: json, type: flag}, {name: title, type: string}]");
    const r = splitRunArgs(["--json", "--title", "T", "s", "--json", "--title=x", "-t", "short"], stepOptionKinds(step));
    expect(r.errors).toEqual([]);
    expect(r.fixed).toMatchObject({ json: true, title: "short" });
    expect(r.tokens).toEqual([{ name: "json" }, { name: "title", value: "x" }]);
    expect(r.overridden).toEqual(["json", "title"]);
  });

  it("without a clash a fixed option after STEP is still vh's; after -- every option is the step's", () => {
    const step = stepOf("[{name: lr, type: float}]");
    expect(splitRunArgs(["s", "--title=T", "--lr=1"], stepOptionKinds(step))).toMatchObject({ fixed: { title: "T" }, tokens: [{ name: "lr", value: "1" }], overridden: [] });
    expect(splitRunArgs(["s", "--dry-run", "--", "--title=T"], stepOptionKinds(step))).toMatchObject({ fixed: { dryRun: true }, tokens: [{ name: "title", value: "T" }] });
  });
});

describe("class: valohai-cli's value coercions (click)", () => {
  it.each([
    ["t", true],
    ["f", false],
    ["", false],
    ["T", true],
    ["F", false],
    [" yes ", true],
    ["ON", true],
    ["n", false],
    ["maybe", undefined],
  ])("flag word %j is %s", (word, expected) => {
    expect(parseBool(word)).toBe(expected);
    const r = applyStepOptions(stepOf("[{name: f, type: flag}]"), [{ name: "f", value: word }]);
    if (expected === undefined) expect(r.errors).toEqual([`Parameter "f": --f takes true/false/yes/no/1/0, not "${word}".`]);
    else expect(r.parameters).toEqual({ f: expected });
  });

  it.each([
    ["the last of a repeated option wins", "[{name: n, type: integer}]", ["--n=1", "--n=2", "--n", "3"], { n: "3" }],
    ["an earlier bad value is never read", "[{name: n, type: integer}]", ["--n=abc", "--n=2"], { n: "2" }],
    ["also for flags", "[{name: f, type: flag}]", ["--f=maybe", "--f=t"], { f: true }],
    ["a value option takes the next word even if it looks like an option", "[{name: args, type: string}]", ["--args", "--fast"], { args: "--fast" }],
    ["a negative number after a space", "[{name: n, type: integer}]", ["--n", "-5"], { n: "-5" }],
    ["multiple collects every occurrence", "[{name: m, type: string, multiple: repeat}]", ["--m=a", "--m", "b c"], { m: ["a", "b c"] }],
  ])("%s", (_label, params, argv, expected) => {
    const step = stepOf(params);
    const split = splitRunArgs(["s", ...argv], stepOptionKinds(step));
    expect(split.errors).toEqual([]);
    const r = applyStepOptions(step, split.tokens);
    expect(r.errors).toEqual([]);
    expect(r.parameters).toEqual(expected);
  });

  const P = (type: Parameter["type"]): Parameter => ({ name: "p", type, typeDeclared: true, optional: false, multiple: "none", multipleSeparator: "," });
  // click's int()/float()/BOOL/str of a YAML default; values from Python, warnings ours.
  it.each([
    ["int(0.5)", "integer", new PyFloat(0.5), { value: 0, warns: true }],
    ["int(-0.5)", "integer", new PyFloat(-0.5), { value: 0, warns: true }],
    ["int(True)", "integer", true, { value: 1, warns: true }],
    ["int('7')", "integer", "7", { value: 7 }],
    ["int('١٢')", "integer", "١٢", { value: 12 }],
    ["int(1e16)", "integer", new PyFloat(1e16), { value: 10000000000000000n, warns: true }],
    ["int(12345678901234567)", "integer", 12345678901234567n, { value: 12345678901234567n }],
    ["int(inf): OverflowError", "integer", new PyFloat(Infinity), { error: "int() cannot convert float infinity to integer" }],
    ["int(nan): not a valid integer", "integer", new PyFloat(NaN), { error: "int() cannot convert float NaN to integer" }],
    ["int('abc'): not a valid integer", "integer", "abc", { error: "the default 'abc' is not a valid integer" }],
    ["float(True)", "float", true, { value: new PyFloat(1), warns: true }],
    ["float(7)", "float", 7, { value: new PyFloat(7) }],
    ["float('0.5')", "float", "0.5", { value: new PyFloat(0.5) }],
    ["float(10**400): OverflowError", "float", 10n ** 400n, { error: "int too large to convert to float" }],
    ["BOOL('t')", "flag", "t", { value: true }],
    ["BOOL('')", "flag", "", { value: false }],
    ["BOOL('maybe'): not a valid boolean", "flag", "maybe", { error: "the default 'maybe' is not a valid boolean" }],
    // click itself crashes here (AttributeError: 'int' object has no attribute 'strip').
    ["BOOL(1)", "flag", 1, { value: true, warns: true }],
    ["str(1.5)", "string", new PyFloat(1.5), { value: "1.5" }],
    ["str(True)", "string", true, { value: "True" }],
    ["str([1, 'a'])", "string", [1, "a"], { value: "[1, 'a']" }],
  ] as [string, Parameter["type"], unknown, { value?: unknown; warns?: boolean; error?: string }][])("%s", (_label, type, input, expected) => {
    const r = clickConvert(P(type), input);
    if (expected.error !== undefined) {
      expect(r.ok).toBe(false);
      expect(r.ok ? "" : r.message).toContain(expected.error);
      return;
    }
    expect(r).toMatchObject({ ok: true, value: expected.value });
    expect(r.ok && r.warning !== undefined).toBe(expected.warns === true);
  });

  it("withDefaults types the YAML defaults, warns where that changes a number, and leaves out an empty multiple", () => {
    const step = stepOf("[{name: n, type: integer, default: 0.5}, {name: m, type: string, multiple: repeat}, {name: s, type: string, optional: true}, {name: f, type: flag}]");
    const r = withDefaults(step, {});
    expect(r.values).toEqual({ n: 0, s: null });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual(['Parameter "n" (integer): the default 0.5 is not an integer; valohai-cli reads it as 0, and so does this run. Write it as 0 to say so.']);
  });
});

describe("small parsers", () => {
  it("parses booleans and --var", () => {
    expect([parseBool("Yes"), parseBool("0"), parseBool("maybe")]).toEqual([true, false, undefined]);
    expect(parseVars(["A=1", "B==x", "bad"])).toEqual({ env: { A: "1", B: "=x" }, errors: ['--var needs NAME=VALUE with a shell variable name, not "bad".'] });
  });
});
