/**
 * The Action's inputs: the multi-line forms (parameters with the `/vh run` list syntax, inputs,
 * environment), the one reader of INPUT_* with its refusals (pipelines and tasks are not run by
 * the server yet), and action.yml declaring exactly the inputs and outputs the code knows.
 */
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { splitList as botSplitList } from "../../app/bot/commands/shell-words.js";
import { INPUT_NAMES, readContext, readInputs } from "../../action/src/inputs.js";
import { guessMetric, isSweep, parseEnvironment, parseInputs, parseMetric, parseParameters, splitList } from "../../action/src/parse.js";
import { outputsOf, type RunResult } from "../../action/src/main.js";

const root = path.resolve(import.meta.dirname, "../..");

const base = { "INPUT_SERVER-URL": "http://127.0.0.1:3000/", INPUT_TOKEN: "t0k3n", INPUT_PROJECT: "demo", INPUT_STEP: "train", GITHUB_SHA: "abc123" };

describe("parameters, inputs, environment", () => {
  it("reads name=value lines; a list is a sweep, as in a /vh run comment", () => {
    const p = parseParameters(`lr=[0.1, 0.2]\n\n# a comment\nepochs = 3\nnote="a b"\ntags=["x,y", z]\n`);
    expect(p).toEqual({ lr: ["0.1", "0.2"], epochs: "3", note: "a b", tags: ["x,y", "z"] });
    expect(isSweep(p)).toBe(true);
    expect(isSweep(parseParameters("lr=0.1"))).toBe(false);
    expect(parseParameters("")).toEqual({});
  });

  it("says which line is wrong and how to write it", () => {
    expect(() => parseParameters("lr=0.1\njust words")).toThrow('parameters, line 2: "just words" is not name=value (one a line, e.g. lr=[0.1,0.2]).');
    expect(() => parseParameters("lr=1\nlr=2")).toThrow('parameters, line 2: parameter "lr" is given twice; use one list instead, e.g. lr=[1,2].');
    expect(() => parseParameters("lr=[0.1,,0.2]")).toThrow('the list for "lr" has an empty value');
    expect(() => parseParameters("9lr=1")).toThrow('"9lr" is not a parameter name');
    expect(() => parseEnvironment("MY-VAR=1")).toThrow("is not an environment variable name");
  });

  it("splits lists with the comment parser's own rule (one function: app/sweeps/lists.ts)", () => {
    expect(splitList).toBe(botSplitList);
    expect(splitList('[0.1, "a,b", c]')).toEqual(["0.1", "a,b", "c"]);
  });

  it("inputs: a name on several lines gets every URL; variables: NAME=VALUE", () => {
    expect(parseInputs("data=https://a.example/1.csv\ndata=https://a.example/2.csv\nmodel=model://churn/latest")).toEqual({
      data: ["https://a.example/1.csv", "https://a.example/2.csv"],
      model: ["model://churn/latest"],
    });
    expect(parseEnvironment("A=1\nB=x=y")).toEqual({ A: "1", B: "x=y" });
  });

  it("metric: NAME[:min|max], else named like a loss or an accuracy", () => {
    expect(parseMetric("loss")).toEqual({ name: "loss", goal: "min" });
    expect(parseMetric("f1:min")).toEqual({ name: "f1", goal: "min" });
    expect(parseMetric("")).toBeNull();
    expect(guessMetric(["epoch", "accuracy", "val_loss"])).toEqual({ name: "val_loss", goal: "min" });
    expect(guessMetric(["epoch"])).toBeNull();
  });
});

describe("readInputs", () => {
  it("reads every input, with the runner's defaults", () => {
    const i = readInputs({ ...base, INPUT_PARAMETERS: "lr=[0.1,0.2]", INPUT_VARIABLES: "A=1", "INPUT_TIMEOUT-MINUTES": "1.5" });
    expect(i).toEqual({
      serverUrl: "http://127.0.0.1:3000",
      token: "t0k3n",
      project: "demo",
      step: "train",
      parameters: { lr: ["0.1", "0.2"] },
      inputs: {},
      environmentVariables: { A: "1" },
      code: { kind: "commit", commit: "abc123" },
      wait: true,
      timeoutMinutes: 1.5,
      failOnFailure: true,
      metric: null,
    });
    expect(readInputs({ ...base, INPUT_ADHOC: "true", GITHUB_WORKSPACE: "/w" }).code).toEqual({ kind: "adhoc", workspace: "/w" });
    expect(readInputs({ ...base, INPUT_COMMIT: "main" }).code).toEqual({ kind: "commit", commit: "main" });
  });

  it("refuses pipelines, tasks and environments, saying the server does not have them yet", () => {
    const { INPUT_STEP: _s, ...noStep } = base;
    expect(() => readInputs({ ...base, INPUT_ENVIRONMENT: "gpu-large" })).toThrow("environment: the vh server has no environments (machine types) yet");
    expect(() => readInputs({ ...noStep, INPUT_PIPELINE: "train-and-deploy" })).toThrow("pipeline: the vh server cannot run pipelines yet");
    expect(() => readInputs({ ...noStep, INPUT_TASK: "search" })).toThrow("task: the vh server cannot run tasks yet");
    expect(() => readInputs({ ...base, INPUT_TASK: "search" })).toThrow("Give one of step, pipeline and task, not step and task.");
    expect(() => readInputs(noStep)).toThrow("Give step");
  });

  it("lists every problem of the inputs at once, each naming its input", () => {
    let message = "";
    try {
      readInputs({ INPUT_STEP: "train", INPUT_WAIT: "yes", "INPUT_TIMEOUT-MINUTES": "soon" });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split("\n")).toEqual([
      "server-url is required: the vh server's address, e.g. https://vh.example.com",
      "token is required: an API token of the vh server, from a secret (token: ${{ secrets.VH_TOKEN }})",
      "project is required: the vh project to run in",
      'wait must be true or false, not "yes"',
      'timeout-minutes must be a number of minutes above 0, not "soon"',
    ]);
    expect(() => readInputs({ ...base, INPUT_ADHOC: "true" })).toThrow("GITHUB_WORKSPACE, which is not set");
    expect(() => readInputs({ ...base, INPUT_ADHOC: "true", GITHUB_WORKSPACE: "/w", INPUT_COMMIT: "main" })).toThrow("not both");
    const { GITHUB_SHA: _g, ...noSha } = base;
    expect(() => readInputs(noSha)).toThrow("commit is required outside GitHub Actions");
  });

  it("reads the runner's context: the run's page, the post step's state", () => {
    expect(readContext({ GITHUB_SERVER_URL: "https://github.com", GITHUB_REPOSITORY: "o/r", GITHUB_RUN_ID: "7", "STATE_vh-phase": "post", "STATE_vh-started": "{}" })).toEqual({
      runUrl: "https://github.com/o/r/actions/runs/7",
      state: { started: "{}", settled: false },
      savesState: false,
      isPost: true,
      hasSummary: false,
    });
  });
});

describe("action.yml", () => {
  const yml = YAML.parse(fs.readFileSync(path.join(root, "action/action.yml"), "utf8")) as {
    inputs: Record<string, { required?: boolean; default?: string }>;
    outputs: Record<string, unknown>;
    runs: Record<string, string>;
  };

  it("runs the committed bundle on node24, as main and as the post step", () => {
    expect(yml.runs).toEqual({ using: "node24", main: "dist/index.js", post: "dist/index.js", "post-if": "always()" });
  });

  it("declares exactly the inputs the reader reads, and the outputs the Action sets", () => {
    expect(Object.keys(yml.inputs).sort()).toEqual([...INPUT_NAMES].sort());
    // commit has no default of its own: adhoc and an explicit commit exclude each other.
    expect(yml.inputs["commit"]!.default).toBeUndefined();
    const r: RunResult = {
      project: "p",
      step: "s",
      sweepId: "x",
      url: "u",
      code: { kind: "commit", commit: "c" },
      executions: [],
      waited: true,
      timedOut: null,
      status: "completed",
      metric: null,
      best: { counter: 1, value: 0 },
    };
    expect(Object.keys(outputsOf(r)).sort()).toEqual(Object.keys(yml.outputs).sort());
  });
});
