import { describe, expect, it } from "vitest";
import {
  applyOverride,
  checkExpression,
  lintValohaiYaml,
  loadValohaiYaml,
  nodeStep,
  parseDuration,
  sanitizeOptionName,
  splitSocket,
  suggest,
  type ExecutionNode,
} from "../../app/valohai/index.js";
import { firstStep, mustLoad, readCorpus } from "./helpers.js";

describe("durations (spec §1.2)", () => {
  it.each([
    ["60 minutes", 3600],
    ["1h10m", 4200],
    ["1.5d 2hörs", 136800],
    ["2w", 1209600],
    ["1h 30m 5s", 5405],
    [300, 300],
    ["300", 300],
    ["", undefined],
    ["   ", undefined],
    [null, undefined],
    ["5 parsecs", undefined],
    [1.5, undefined],
  ] as [unknown, number | undefined][])("%j → %j", (v, s) => {
    expect(parseDuration(v)).toBe(s);
  });
  it("time-limit: \"300\" loads (the reference crashes)", () => {
    const step = firstStep(mustLoad(`- step: {name: a, image: b, command: c, time-limit: "300", no-output-timeout: 2h}`));
    expect(step.timeLimitSeconds).toBe(300);
    expect(step.noOutputTimeoutSeconds).toBe(7200);
  });
  it("a bad duration is a located error", () => {
    const [p] = lintValohaiYaml(`- step:\n    name: a\n    image: b\n    command: c\n    time-limit: 5 parsecs\n`);
    expect(p?.severity).toBe("error");
    expect(p?.message).toMatch(/unknown unit "parsecs"/);
    expect([p?.line, p?.column]).toEqual([5, 17]);
  });
  it("timeouts-example.yaml", () => {
    const steps = [...mustLoad(readCorpus("reference/examples/timeouts-example.yaml")).steps.values()];
    expect(steps.map((s) => [s.timeLimitSeconds, s.noOutputTimeoutSeconds])).toEqual([
      [300, undefined],
      [undefined, 86400],
      [5405, 172800],
    ]);
  });
});

describe("names", () => {
  it("suggest", () => {
    expect(suggest("lrr", ["lr", "epochs"])).toBe("lr");
    expect(suggest("epoch", ["lr", "epochs"])).toBe("epochs");
    expect(suggest("max-steps", ["max_steps"])).toBe("max_steps");
    expect(suggest("zzzzzz", ["lr", "epochs"])).toBeUndefined();
    expect(suggest("pre", ["preprocess", "train"])).toBe("preprocess");
  });
  it("sanitizeOptionName (valohai-cli)", () => {
    expect(sanitizeOptionName("max_steps")).toBe("max-steps");
    expect(sanitizeOptionName("Parameter With Highly Convoluted Name")).toBe("Parameter-With-Highly-Convoluted-Name");
    expect(sanitizeOptionName("  ärger!!x ")).toBe("arger-x");
  });
});

describe("stop-condition expressions", () => {
  it.each(["stop > 1", "metadata.class > 1", "metadata.accuracy < .8", "a and (b or not c)", "f(x, y=2)[0] >= 1e-3", "x is not None", "x not in [1, 2]", "execution.duration > 3600", "'a' == \"b\""])(
    "valid: %s",
    (e) => expect(checkExpression(e)).toEqual({ ok: true }),
  );
  it.each([
    ["stop me if you can", "invalid syntax"],
    ["can't stop me now", "unterminated string literal (detected at line 1)"],
    ["(a", "'(' was never closed"],
    ["a)", "unmatched ')'"],
    ["", "invalid syntax (the expression is empty)"],
  ])("invalid: %s", (e, message) => {
    const r = checkExpression(e);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toBe(message);
  });
});

describe("step parsing", () => {
  it("example1: every field", () => {
    const step = firstStep(mustLoad(readCorpus("reference/examples/example1.yaml")));
    expect(step.name).toBe("run training");
    expect(step.uploadStore).toBe("my-store");
    expect(step.icon).toMatch(/valohai-logo/);
    expect(step.category).toBe("Training");
    expect(step.outputs).toEqual([{ name: "bar" }]);
    expect([...step.parameters.keys()]).toEqual(["num-epochs", "seed", "labeled-samples", "unlabeled-samples", "encoder-layers", "denoising-cost-x", "decoder-spec", "sql-query", "output-alias"]);
    expect(step.parameters.get("sql-query")?.widget).toBe("sql");
    expect(step.parameters.get("output-alias")?.widget).toEqual({ type: "datumalias", settings: { width: 123 } });
    expect(step.parameters.get("num-epochs")).toMatchObject({ type: "integer", optional: true, min: 1, typeDeclared: true });
    expect(step.line).toBe(1);
  });
  it("inputs (input-extras, example3)", () => {
    const step = firstStep(mustLoad(readCorpus("reference/examples/input-extras.yaml")));
    expect([...step.inputs.values()].map((i) => [i.name, i.filename, i.keepDirectories, i.download, i.default])).toEqual([
      ["model", "model.pb", "none", "always", ["s3://foo/model361100.pb"]],
      ["foos", undefined, "full", "always", ["s3://secret-bucket/foos/**.quux"]],
      ["bars", undefined, "suffix", "always", ["s3://secret-bucket/bars/**.quux"]],
      ["larges", undefined, "none", "on-demand", ["s3://foo/bigdata.tar"]],
    ]);
    const ex3 = firstStep(mustLoad(readCorpus("reference/examples/example3.yaml")));
    expect(ex3.inputs.get("images")?.default).toHaveLength(2);
    expect([...ex3.environmentVariables.values()]).toEqual([
      { name: "foo", default: "bar", optional: true },
      { name: "baz", default: "850", optional: false },
    ]);
    expect(ex3.environment).toBe("g2.superduperlarge");
  });
  it("mounts, resources, cache volumes, env var groups, preset", () => {
    expect(firstStep(mustLoad(readCorpus("reference/examples/mount-example.yaml"))).mounts).toEqual([
      { source: "/foo", destination: "/bar", readonly: false, options: {} },
      { source: "/baz", destination: "/quux", readonly: true, options: {} },
      { source: "hal.local:/dave", destination: "/dave", readonly: true, type: "nfs", options: { hot: true, superhot: false } },
    ]);
    expect(firstStep(mustLoad(readCorpus("reference/examples/step-with-resources.yaml"))).resources).toEqual({
      cpu: { min: 0.1, max: 1 },
      memory: { min: 50, max: 100 },
      devices: { "nvidia.com/gpu": 1, "nvidia.com/cpu": 2 },
    });
    const cv = [...mustLoad(readCorpus("reference/examples/step-with-cache-volumes.yaml")).steps.values()];
    expect(cv.map((s) => s.cacheVolumes)).toEqual([["pvc-1"], ["pvc-1", "pvc-2"]]);
    expect(firstStep(mustLoad(readCorpus("reference/examples/environment-variable-group-example.yaml"))).environmentVariableGroups).toEqual(["aaa"]);
    expect(firstStep(mustLoad(readCorpus("reference/examples/step-with-preset.yaml")))).toMatchObject({ environment: "test-environment", runtimeConfigPreset: "preset-1234" });
  });
  it("multiple defaults are listified; flags are optional with [True, False] choices", () => {
    const step = firstStep(mustLoad(`- step:\n    name: a\n    image: b\n    command: c\n    parameters:\n      - {name: m, multiple: repeat, default: x}\n      - {name: n, multiple: separate, default: null}\n      - {name: f, type: flag}\n`));
    expect(step.parameters.get("m")?.default).toEqual(["x"]);
    expect(step.parameters.get("n")?.default).toEqual([]);
    expect(step.parameters.get("f")).toMatchObject({ optional: true, choices: [true, false] });
  });
});

describe("pipelines (spec §1.8)", () => {
  it("edges are resolved once, splitting on the first two dots", () => {
    expect(splitSocket("train.output.model.pb")).toEqual(["train", "output", "model.pb"]);
    expect(splitSocket("deploy.file.predict-digit.model")).toEqual(["deploy", "file", "predict-digit.model"]);
    expect(splitSocket("a.b")).toEqual(["a", "b"]);
    const config = mustLoad(readCorpus("reference/examples/pipeline-example.yaml"));
    const medium = config.pipelines.get("My medium pipeline");
    expect(medium?.edges.at(-1)).toMatchObject({ sourceNode: "train", sourceType: "output", sourceKey: "model.pb", targetNode: "test", targetType: "input", targetKey: "model" });
    expect(medium?.edges.find((e) => Object.keys(e.configuration).length)?.configuration).toEqual({ hello: "world" });
    expect(config.pipelines.get("My little pipeline")?.reuseExecutions).toBe(true);
    const deploy = config.pipelines.get("My deployment pipeline")?.nodes.find((n) => n.type === "deployment");
    expect(deploy).toMatchObject({ type: "deployment", deployment: "MyDeployment", aliases: ["predictor-staging"], endpoints: ["predict-digit"] });
    const actions = config.pipelines.get("Last action pipeline")?.nodes[1]?.actions;
    expect(actions?.[1]).toEqual({ when: ["node-starting", "node-complete"], if: ["a", "b", "c"], then: ["noop"] });
  });

  it("override entries replace the step's by name, wholesale", () => {
    const config = mustLoad(`
- step:
    name: train
    image: busybox
    command: python train.py {parameters}
    parameters:
      - {name: a, type: integer, min: 0, default: 1}
      - {name: b, type: integer, default: 2}
    inputs:
      - {name: data, default: s3://x/y, keep-directories: full}
      - {name: other, default: s3://x/z}
- pipeline:
    name: p
    nodes:
      - name: t
        type: execution
        step: train
        override:
          image: other
          parameters: [{name: a, default: 5}]
          inputs: [{name: data}]
    edges: []
`);
    const node = config.pipelines.get("p")?.nodes[0] as ExecutionNode;
    const step = nodeStep(config, node)!;
    expect(step.image).toBe("other");
    expect(step.parameters.get("a")).toMatchObject({ type: "string", optional: false, default: 5 });
    expect(step.parameters.get("a")?.min).toBeUndefined();
    expect(step.parameters.get("b")).toMatchObject({ type: "integer", default: 2 });
    expect(step.inputs.get("data")).toMatchObject({ default: [], keepDirectories: "none" });
    expect(step.inputs.get("other")?.default).toEqual(["s3://x/z"]);
    expect(applyOverride(config.steps.get("train")!, undefined)).toBe(config.steps.get("train"));
  });

  it("pipeline parameters with target / targets", () => {
    const config = mustLoad(readCorpus("reference/examples/pipeline-with-parameters-example.yaml"));
    expect(config.pipelines.get("Example Pipeline with Parameters")?.parameters.get("id")?.targets).toEqual(["train.parameter.id", "train_parallel.parameter.id"]);
    expect(config.pipelines.get("Short hand parameter target")?.parameters.get("id")?.targets).toEqual(["train.parameter.id"]);
    expect(config.pipelines.get("Short hand parameter target 2")?.parameters.get("id")?.targets).toEqual(["train.parameter.id"]);
    expect(lintValohaiYaml(`- pipeline: {name: p, nodes: [], edges: [], parameters: [{name: x, target: a.parameter.b, targets: [a.parameter.b]}]}`)[0]?.message).toMatch(/both `target` and `targets`/);
  });

  it("task nodes, on-error, edge-merge-mode, commits", () => {
    const config = mustLoad(readCorpus("reference/examples/pipeline-with-tasks-example.yaml"));
    expect(config.pipelines.get("dynamic-task")?.nodes.map((n) => [n.type, n.onError])).toEqual([
      ["execution", "stop-all"],
      ["task", "continue"],
      ["task", "stop-next"],
      ["task", "stop-all"],
    ]);
    const merge = mustLoad(readCorpus("reference/examples/edge-merge-mode.yaml")).pipelines.get("check-edge-merge-mode");
    expect(merge?.nodes.map((n) => (n.type === "deployment" ? "" : n.edgeMergeMode))).toEqual(["replace", "replace", "append"]);
    const commits = mustLoad(readCorpus("reference/examples/pipeline-with-different-commit.yaml"));
    const node = commits.pipelines.get("Commits Specified")?.nodes[0];
    expect(node).toMatchObject({ commit: "library:generic-preprocessors/csv-into-parquet", step: "parquetify" });
    expect(nodeStep(commits, node!)).toBeUndefined();
    const bp = mustLoad(readCorpus("reference/examples/pipeline-with-task-blueprint-example.yaml"));
    const taskNode = bp.pipelines.get("train-pipeline")?.nodes[1];
    expect(taskNode).toMatchObject({ type: "task", task: "my-sweep" });
    expect(nodeStep(bp, taskNode!)?.name).toBe("train-model");
  });

  it("lint: edges and node references", () => {
    const problems = lintValohaiYaml(`
- step: {name: s, image: b, command: c}
- pipeline:
    name: p
    nodes:
      - {name: a, type: execution, step: s}
      - {name: a, type: execution, step: s}
      - {name: b, type: execution, step: ss}
    edges:
      - [a.outputs.*, b.input.x]
      - [a.output.*, nope.input.x]
`);
    const text = problems.map((p) => p.message).join("\n");
    expect(text).toContain("Pipeline p has 2 nodes with the same name of a");
    expect(text).toContain('source type "outputs" (between a and b) is not valid');
    expect(text).toContain('Did you mean "output"?');
    expect(text).toContain('edge target node "nope" does not exist');
    expect(text).toContain('step "ss" does not exist. Did you mean "s"?');
    expect(problems.every((p) => p.severity === "error" && p.line !== undefined)).toBe(true);
  });
});

describe("task blueprints, endpoints, deployments", () => {
  it("task-example.yaml: normalisation and fields", () => {
    const config = mustLoad(readCorpus("reference/examples/task-example.yaml"));
    const t4 = config.tasks.get("task 4 logspace");
    expect(t4).toMatchObject({ type: "random_search", onChildError: "stop-all-and-error", executionBatchSize: 42, executionCount: 420, maximumQueuedExecutions: 17, reuseChildren: true });
    expect(t4?.parameters[0]).toEqual({ name: "A", style: "logspace", rules: { start: 25, end: 25, count: 4, base: 10, integerify: false } });
    expect(config.tasks.get("task 1 single")).toMatchObject({ type: "bayesian_tpe", optimizationTargetMetric: "goodness", optimizationTargetValue: 7.2 });
    expect(config.tasks.get("parameter sets")?.parameterSets).toEqual([
      { A: 5, B: 6 },
      { A: 8, B: 9 },
      { A: 72, B: 42 },
    ]);
  });
  it("unknown task type is an error, not a crash", () => {
    const r = loadValohaiYaml(`- task: {name: t, step: s, type: grid-searchh, parameters: []}`);
    expect(r.config).toBeNull();
    expect(r.problems[0]?.message).toMatch(/must be one of grid_search.*grid-searchh.*did you mean "grid_search"/);
  });
  it("endpoints and deployments", () => {
    const config = mustLoad(readCorpus("reference/examples/endpoint-example.yaml"));
    expect(config.endpoints.get("server-endpoint")).toMatchObject({ port: 1453, serverCommand: ["python run_server.py"] });
    expect(config.endpoints.get("wsgi-endpoint")).toMatchObject({ port: 8000, wsgi: "predict_wsgi:predict_wsgi", files: [{ name: "model", path: "model.pb", description: "Model output file from TensorFlow" }] });
    expect(config.endpoints.get("ephemeral-storage-endpoint")?.resources).toEqual({ memory: { max: 64 }, ephemeralStorage: { min: 2048, max: 4096 } });
    expect(config.endpoints.get("tolerant-endpoint")?.tolerations).toEqual([{ key: "key1", operator: "Equal", value: "value1", effect: "NoSchedule" }]);
    const dep = mustLoad(readCorpus("reference/examples/pipeline-with-automatic-deployment-creation.yaml"));
    expect(dep.deployments.get("us-west-qa")?.defaults).toEqual({ target: "acme-corp-us-west-cluster" });
    expect(lintValohaiYaml("- deployment: {name: d}")[0]).toMatchObject({ severity: "warning", code: "deployment-target" });
  });
});

describe("lint messages: located, actionable", () => {
  it("a wrong parameter type names the step, the parameter and the choices", () => {
    const [p] = lintValohaiYaml(`- step:\n    name: train\n    image: b\n    command: c\n    parameters:\n      - name: lr\n        type: double\n`, { filename: "valohai.yaml" });
    expect(p).toMatchObject({ severity: "error", code: "schema", file: "valohai.yaml", line: 7, column: 15, path: "0.step.parameters.0.type" });
    expect(p?.message).toBe('step "train": parameter "lr": "type" must be one of string, integer, float, flag (got "double").');
  });
  it("unknown keys point at the key and suggest", () => {
    const [p] = lintValohaiYaml(`- step:\n    name: train\n    image: b\n    command: c\n    comand: d\n`);
    expect(p).toMatchObject({ line: 5, column: 5 });
    expect(p?.message).toMatch(/unknown key "comand"; did you mean "command"\?/);
  });
  it("multiple on a flag is a problem, not a crash", () => {
    const r = loadValohaiYaml(`- step: {name: a, image: b, command: c, parameters: [{name: f, type: flag, multiple: repeat}]}`);
    expect(r.config).toBeNull();
    expect(r.problems[0]?.message).toMatch(/cannot be used on a flag/);
  });
  it("a top-level mapping or unknown item", () => {
    expect(lintValohaiYaml("step: {name: a}")[0]?.message).toMatch(/must be a list/);
    const [w] = lintValohaiYaml("- stepp: {name: a}");
    expect(w).toMatchObject({ severity: "warning", code: "unknown-item" });
    expect(w?.message).toMatch(/did you mean "step"/);
  });
  it("pass-true-as on a non-flag and pass-as beside pass-true-as warn", () => {
    const problems = lintValohaiYaml(`- step: {name: a, image: b, command: c, parameters: [{name: x, pass-true-as: --x}, {name: f, type: flag, pass-as: --f, pass-true-as: --t}]}`);
    expect(problems.map((p) => p.code)).toEqual(["pass-true-false-on-non-flag", "flag-pass-as-ignored"]);
  });
  it("falsy defaults are never type-checked", () => {
    expect(lintValohaiYaml(`- step: {name: a, image: b, command: c, parameters: [{name: x, type: integer, default: ""}, {name: y, default: 0}]}`)).toEqual([]);
  });
});
