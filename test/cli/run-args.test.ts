import { describe, expect, it } from "vitest";
import { applyStepOptions, parseBool, parseVars, splitRunArgs } from "../../app/cli/run-args.js";
import { loadValohaiYaml, type Step } from "../../app/valohai/index.js";
import { FIXTURE_YAML } from "./helpers.js";

function trainStep(): Step {
  const { config } = loadValohaiYaml(FIXTURE_YAML);
  return config!.steps.get("train")!;
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
      { name: "optimizer", value: "a" },
      { name: "optimizer", value: "b" },
      { name: "dataset" },
      { name: "learning-rat", value: "1" },
    ]);
    expect(r.errors).toEqual([
      'Unexpected argument "extra" after the flag --verbose: write --verbose=true or --verbose=false.',
      'Parameter "epochs": --epochs needs a value (--epochs=VALUE).',
      'Parameter "optimizer" was given more than once; it takes one value.',
      'Input "dataset": --dataset needs a URI (--dataset=URI).',
      'Unknown option --learning-rat for step "train". Did you mean --learning-rate? (`vh exec run train --help` lists them.)',
    ]);
  });

  it("reads parameter-file keys by name or option name and warns about the rest", () => {
    const r = applyStepOptions(trainStep(), [{ name: "epochs", value: "9" }], { "learning-rate": 0.1, epochs: 1, nope: 2 });
    expect(r.parameters).toEqual({ learning_rate: 0.1, epochs: "9" });
    expect(r.warnings).toEqual(['Ignoring "nope" from the parameter file: step "train" has no such parameter.']);
  });
});

describe("small parsers", () => {
  it("parses booleans and --var", () => {
    expect([parseBool("Yes"), parseBool("0"), parseBool("maybe")]).toEqual([true, false, undefined]);
    expect(parseVars(["A=1", "B==x", "bad"])).toEqual({ env: { A: "1", B: "=x" }, errors: ['--var needs NAME=VALUE with a shell variable name, not "bad".'] });
  });
});
