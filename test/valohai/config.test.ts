import { describe, expect, it } from "vitest";
import {
  applyOverride,
  buildScript,
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
import { firstStep, fixturesRoot, listYaml, loadFixture, mustLoad, mustLoadFixture, readFixture } from "./helpers.js";

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
  it("integer seconds and duration strings (config-with-timeouts)", () => {
    const steps = [...mustLoadFixture("examples/config-with-timeouts.yaml").steps.values()];
    expect(steps.map((s) => [s.name, s.timeLimitSeconds, s.noOutputTimeoutSeconds])).toEqual([
      ["quick check", 900, undefined],
      ["quiet download", undefined, 7200],
      ["long training", 8100, 259200],
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
  it("every documented step field (config-with-every-step-field)", () => {
    const step = firstStep(mustLoadFixture("examples/config-with-every-step-field.yaml"));
    expect(step.name).toBe("fit forecaster");
    expect(step.description).toBe("Fits the hourly demand forecaster on the cleaned meter readings.\n");
    expect(step.uploadStore).toBe("forecast-artifacts");
    expect(step.icon).toBe("https://example.com/icons/forecast.png");
    expect(step.category).toBe("Forecasting");
    expect(step.image).toBe("python:3.12-slim");
    expect(step.command).toHaveLength(5);
    expect(step.outputs).toEqual([{ name: "forecaster.pkl" }, { name: "report.html", description: "Backtest report" }]);
    expect([...step.parameters.keys()]).toEqual(["horizon", "lags", "holidays", "tokenizer", "feature-query", "model-alias"]);
    expect(step.parameters.get("feature-query")?.widget).toBe("sql");
    expect(step.parameters.get("model-alias")?.widget).toEqual({ type: "datumalias", settings: { height: 3 } });
    expect(step.parameters.get("horizon")).toMatchObject({ type: "integer", optional: true, min: 1, typeDeclared: true });
    expect(step.parameters.get("horizon")?.default).toBeUndefined();
    expect(step.parameters.get("lags")).toMatchObject({ type: "integer", optional: false, default: 24, category: "Features" });
    expect(step.parameters.get("tokenizer")).toMatchObject({ passAs: "--tokenizer {v}", default: "whitespace" });
    expect([step.line, step.column]).toEqual([1, 3]);
    expect([step.parameters.get("lags")?.line, step.parameters.get("lags")?.column]).toEqual([25, 9]);
  });
  it("inputs: filename, keep-directories (words and booleans), download (config-with-input-extras)", () => {
    const step = firstStep(mustLoadFixture("examples/config-with-input-extras.yaml"));
    expect([...step.inputs.values()].map((i) => [i.name, i.filename, i.keepDirectories, i.download, i.optional, i.default])).toEqual([
      ["calibration", "calibration.json", "none", "always", false, ["gs://camera-calibration/rig-07/latest.json"]],
      ["frames", undefined, "full", "always", false, ["s3://survey-frames/2024/**.jpg"]],
      ["masks", undefined, "suffix", "always", false, ["s3://survey-masks/2024/**.png"]],
      ["flat-masks", undefined, "none", "always", false, ["s3://survey-masks/2024/**.png"]],
      ["tree-masks", undefined, "full", "always", false, ["s3://survey-masks/2024/**.png"]],
      ["raw-video", undefined, "none", "on-demand", true, ["https://media.example.com/survey/raw.mkv"]],
    ]);
  });
  it("environment variables, environment, list defaults (config-with-environment-variables)", () => {
    const step = firstStep(mustLoadFixture("examples/config-with-environment-variables.yaml"));
    expect([...step.environmentVariables.values()]).toEqual([
      { name: "REPORT_LOCALE", default: "fi_FI", optional: true },
      { name: "PAGE_LIMIT", default: "120", optional: false },
      { name: "SMTP_HOST", optional: true, description: "Where to mail the report" },
    ]);
    expect(step.environment).toBe("cpu-small-eu");
    expect(step.inputs.get("template")?.default).toEqual(["s3://report-templates/weekly.html.j2"]);
    expect(step.inputs.get("charts")?.default).toEqual(["s3://charts/weekly/sales.svg", "s3://charts/weekly/returns.svg", "s3://charts/weekly/stock.svg"]);
    expect(step.inputs.get("appendix")).toMatchObject({ default: [], optional: true });
  });
  it("mounts, resources, cache volumes, env var groups, preset", () => {
    expect(firstStep(mustLoadFixture("examples/config-with-mounts.yaml")).mounts).toEqual([
      { source: "/var/cache/pip", destination: "/root/.cache/pip", readonly: false, options: {} },
      { source: "/datasets", destination: "/mnt/datasets", readonly: true, options: {} },
      { source: "storage.internal:/exports/shared", destination: "/shared", readonly: false, type: "nfs", options: { nolock: true, vers: 4 } },
    ]);
    const [full, partial] = [...mustLoadFixture("examples/config-with-resources.yaml").steps.values()];
    expect(full?.resources).toEqual({ cpu: { min: 0.5, max: 4 }, memory: { min: 2048, max: 8192 }, devices: { "nvidia.com/gpu": 2 } });
    expect(partial?.resources).toEqual({ memory: { min: 512 } });
    const cv = [...mustLoadFixture("examples/config-with-cache-volumes.yaml").steps.values()];
    expect(cv.map((s) => s.cacheVolumes)).toEqual([["model-cache"], ["model-cache", "pip-cache", "hf-cache"]]);
    expect(firstStep(mustLoadFixture("examples/config-with-environment-variable-groups.yaml")).environmentVariableGroups).toEqual(["warehouse-readonly", "6f1c2a9e-3b7d-4c55-9d0e-0a1b2c3d4e5f"]);
    expect(firstStep(mustLoadFixture("examples/config-with-preset.yaml"))).toMatchObject({ environment: "gpu-a10-spot", runtimeConfigPreset: "render-small" });
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
    const config = mustLoadFixture("examples/config-with-pipeline-edges.yaml");
    const longForm = config.pipelines.get("long-form edges");
    expect(longForm?.edges.at(-1)).toMatchObject({ sourceNode: "fit", sourceType: "output", sourceKey: "forecaster.pkl", targetNode: "backtest", targetType: "input", targetKey: "forecaster" });
    expect(longForm?.edges[0]).toMatchObject({ sourceNode: "clean", sourceType: "output", sourceKey: "readings/*.parquet", targetKey: "readings", configuration: {} });
    expect(longForm?.edges.map((e) => e.configuration)).toEqual([{}, { copy: "symlink" }, {}]);
    expect(config.pipelines.get("shorthand edges")?.reuseExecutions).toBe(true);
    expect(longForm?.reuseExecutions).toBe(false);
    expect(config.pipelines.get("shorthand edges")?.edges.map((e) => `${e.sourceNode}.${e.sourceType}.${e.sourceKey}>${e.targetNode}.${e.targetType}.${e.targetKey}`)).toEqual([
      "clean-a.parameter.window>clean-b.parameter.window",
      "clean-a.output.readings/*.parquet>clean-b.input.readings",
      "clean-b.input.calendar*>fit.input.calendar",
      "clean-b.metadata.best_alpha>fit.parameter.alpha",
    ]);
    const deploying = config.pipelines.get("deploying");
    expect(deploying?.nodes.filter((n) => n.type === "deployment")).toMatchObject([
      { name: "release", deployment: "forecasting", aliases: ["forecast-staging", "forecast-canary"], endpoints: ["forecast-api"] },
      { name: "bare-release", deployment: "forecasting", aliases: [], endpoints: [] },
    ]);
    expect(deploying?.edges[0]).toMatchObject({ targetNode: "release", targetType: "file", targetKey: "forecast-api.forecaster" });
    const [fit, backtest] = config.pipelines.get("gated")?.nodes ?? [];
    expect(fit?.actions).toEqual([{ when: ["node-complete"], if: ["metadata.mape > 0.2"], then: ["stop-pipeline"] }]);
    expect(backtest?.actions).toEqual([{ when: ["node-starting", "node-error"], if: ["metadata.a", "metadata.b"], then: ["noop", "error-pipeline"] }]);
  });

  it("node overrides: image, command, inputs, parameters, environment variables, presets", () => {
    const config = mustLoadFixture("examples/config-with-overrides.yaml");
    const [thumbs, untouched] = (config.pipelines.get("crop variants")?.nodes ?? []) as ExecutionNode[];
    const step = nodeStep(config, thumbs!)!;
    expect(step.image).toBe("python:3.13-slim");
    expect(step.command).toEqual(["python crop.py --thumbnails {parameters}"]);
    expect(step.inputs.get("photos")?.default).toEqual(["s3://photos/featured/a.jpg", "s3://photos/featured/b.jpg"]);
    expect(step.inputs.get("masks")?.default).toEqual(["s3://photos/masks/*.png"]);
    expect(step.inputs.get("watermark")).toMatchObject({ default: ["s3://brand/watermark.png"], optional: true });
    expect(step.parameters.get("size")).toMatchObject({ default: 128, type: "string" });
    expect(step.parameters.get("format")?.default).toBe("webp");
    expect(step.environmentVariables.get("CROP_QUALITY")?.default).toBe("70");
    expect(nodeStep(config, untouched!)).toBe(config.steps.get("crop"));
    const presets = mustLoadFixture("examples/config-with-override-presets.yaml");
    const [render, encode] = presets.pipelines.get("render and encode")?.nodes ?? [];
    expect(nodeStep(presets, render!)).toMatchObject({ environment: "gpu-h100-ondemand", runtimeConfigPreset: "render-large" });
    expect(nodeStep(presets, encode!)).toMatchObject({ environment: "cpu-large", runtimeConfigPreset: "encode-fast" });
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
    const config = mustLoadFixture("examples/config-with-pipeline-parameters.yaml");
    const two = config.pipelines.get("two fitters")?.parameters;
    expect([...(two?.keys() ?? [])]).toEqual(["region", "alpha", "depth", "calibrate", "regions"]);
    expect(two?.get("region")).toMatchObject({ targets: ["fit-a.parameter.region", "fit-b.parameter.region"], default: "eu-north", category: "Data", description: "Which region both fitters read" });
    expect(two?.get("regions")).toMatchObject({ targets: ["fit-a.parameter.regions", "fit-b.parameter.regions"], default: ["eu", "ap"] });
    expect(two?.get("calibrate")?.default).toBe(false);
    expect(config.pipelines.get("targets as a string")?.parameters.get("region")?.targets).toEqual(["fit-a.parameter.region"]);
    expect(config.pipelines.get("singular target")?.parameters.get("depth")?.targets).toEqual(["fit-a.parameter.depth"]);
    expect(lintValohaiYaml(`- pipeline: {name: p, nodes: [], edges: [], parameters: [{name: x, target: a.parameter.b, targets: [a.parameter.b]}]}`)[0]?.message).toMatch(/both `target` and `targets`/);
  });

  it("task nodes, on-error, edge-merge-mode, commits", () => {
    const config = mustLoadFixture("examples/config-with-pipeline-tasks.yaml");
    expect(config.pipelines.get("fan-out")?.nodes.map((n) => [n.name, n.type, n.onError])).toEqual([
      ["lister", "execution", "stop-all"],
      ["best-effort", "task", "continue"],
      ["skippable", "task", "stop-next"],
      ["must-pass", "task", "stop-all"],
      ["default-policy", "task", "stop-all"],
    ]);
    const retry = mustLoadFixture("examples/config-with-pipeline-retry.yaml").pipelines.get("retrying");
    expect(retry?.nodes[0]?.onError).toBe("retry");
    const merge = mustLoadFixture("examples/config-with-edge-merge-modes.yaml").pipelines.get("merge modes");
    expect(merge?.nodes.map((n) => (n.type === "deployment" ? "" : n.edgeMergeMode))).toEqual(["replace", "append", "replace"]);
    const commits = mustLoadFixture("examples/config-with-different-commit.yaml");
    const [convert, validate, summarize] = commits.pipelines.get("borrowed steps")?.nodes ?? [];
    expect(convert).toMatchObject({ type: "execution", commit: "library:converters/xlsx-to-csv", step: "xlsx2csv" });
    expect(validate).toMatchObject({ type: "task", commit: "3f9a7c1e", step: "validate-schema" });
    expect(nodeStep(commits, convert!)).toBeUndefined();
    expect(nodeStep(commits, validate!)).toBeUndefined();
    expect(nodeStep(commits, summarize!)?.name).toBe("summarize");
    const bp = mustLoadFixture("examples/config-with-task-blueprint-node.yaml");
    const taskNode = bp.pipelines.get("tagger")?.nodes[1];
    expect(taskNode).toMatchObject({ type: "task", task: "hidden-size-sweep" });
    expect(nodeStep(bp, taskNode!)?.name).toBe("fit tagger");
    expect(bp.tasks.get("hidden-size-sweep")).toMatchObject({ maximumQueuedExecutions: 3, onChildError: "continue-and-complete", parameters: [{ name: "hidden", style: "multiple", rules: { items: [64, 128, 256] } }] });
  });

  it("edge types: environment-variable, dependency, deployment, file", () => {
    const etl = mustLoadFixture("examples/config-with-edge-types.yaml").pipelines.get("etl");
    expect(etl?.edges.map((e) => [e.sourceType, e.sourceKey, e.targetType, e.targetKey])).toEqual([
      ["environment-variable", "SNAPSHOT", "environment-variable", "SNAPSHOT"],
      ["output", "rows.csv", "input", "rows"],
      ["dependency", "*", "dependency", "*"],
    ]);
    const ship = mustLoadFixture("examples/config-with-deployment-edges.yaml").pipelines.get("fit-and-announce");
    expect(ship?.edges.map((e) => [e.sourceNode, e.sourceType, e.sourceKey, e.targetNode, e.targetType, e.targetKey])).toEqual([
      ["fit", "output", "weights.bin", "ship", "file", "churn-score.weights"],
      ["ship", "deployment", "id", "announce", "parameter", "deployment-id"],
      ["ship", "deployment", "version_id", "announce", "parameter", "version-id"],
    ]);
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
  it("task blueprints: normalisation and fields (config-with-tasks)", () => {
    const config = mustLoadFixture("examples/config-with-tasks.yaml");
    expect([...config.tasks.keys()]).toEqual(["tpe search", "linear depths", "log rates", "hand picked", "spread out"]);
    expect(config.tasks.get("tpe search")).toMatchObject({ type: "bayesian_tpe", engine: "optuna", optimizationTargetMetric: "val_loss", optimizationTargetValue: 0.05, description: "Bayesian search over the rate." });
    expect(config.tasks.get("tpe search")?.parameters[0]).toMatchObject({ name: "rate", style: "random", rules: { count: 20, distribution: "uniform", seed: 11 } });
    expect(Number(config.tasks.get("tpe search")?.parameters[0]?.rules["max"])).toBe(0.3);
    expect(config.tasks.get("linear depths")).toMatchObject({ type: "grid_search", reuseChildren: false, parameters: [{ name: "depth", style: "linear", rules: { start: 2, end: 10, step: 2 } }] });
    const logRates = config.tasks.get("log rates");
    expect(logRates).toMatchObject({ type: "grid_search", onChildError: "continue-and-error", executionCount: 30, executionBatchSize: 5, maximumQueuedExecutions: 4, reuseChildren: false });
    expect(logRates?.parameters[0]).toEqual({ name: "rate", style: "logspace", rules: { start: -3, end: -1, count: 3, base: 10, integerify: false } });
    expect(config.tasks.get("hand picked")).toMatchObject({ type: "manual_search", parameters: [] });
    expect(config.tasks.get("hand picked")?.parameterSets.map((s) => [s["depth"], Number(s["rate"])])).toEqual([
      [3, 0.1],
      [6, 0.01],
    ]);
    expect(config.tasks.get("spread out")).toMatchObject({ type: "distributed", parameters: [{ name: "depth", style: "single", rules: { value: 5 } }] });
  });
  it("unknown task type is an error, not a crash", () => {
    const r = loadValohaiYaml(`- task: {name: t, step: s, type: grid-searchh, parameters: []}`);
    expect(r.config).toBeNull();
    expect(r.problems[0]?.message).toMatch(/must be one of grid_search.*grid-searchh.*did you mean "grid_search"/);
  });
  it("endpoints and deployments", () => {
    const config = mustLoadFixture("examples/config-with-endpoints.yaml");
    expect([...config.endpoints.keys()]).toEqual(["text-classifier", "wsgi-classifier", "bounded", "gpu-classifier", "tolerant", "scratch-space"]);
    expect(config.endpoints.get("text-classifier")).toMatchObject({ port: 8080, serverCommand: ["uvicorn classifier.api:app --port 8080"] });
    expect(config.endpoints.get("wsgi-classifier")).toMatchObject({
      port: 8000,
      wsgi: "classifier.wsgi:application",
      description: "the classifier behind gunicorn",
      files: [
        { name: "vocabulary", path: "vocab.txt", description: "Token list from the fit step" },
        { name: "weights", path: "model/weights.bin" },
      ],
    });
    expect(config.endpoints.get("bounded")).toMatchObject({ serverCommand: ["pip install -r requirements.txt", "python serve.py"], resources: { cpu: { min: 0.25, max: 2 }, memory: { min: 256, max: 1024 } } });
    expect(config.endpoints.get("gpu-classifier")).toMatchObject({ nodeSelector: "gpu-type=l4", resources: { devices: { "nvidia.com/gpu": 1 } } });
    expect(config.endpoints.get("scratch-space")?.resources).toEqual({ memory: { max: 512 }, ephemeralStorage: { min: 1024, max: 10240 } });
    expect(config.endpoints.get("tolerant")?.tolerations).toEqual([{ key: "dedicated", operator: "Equal", value: "inference", effect: "NoExecute" }, { operator: "Exists" }]);
    const dep = mustLoadFixture("examples/config-with-automatic-deployment.yaml");
    expect(dep.deployments.get("eu-production")?.defaults).toEqual({ target: "eu-gpu-cluster", "allow-cors": true });
    expect(dep.pipelines.get("fit-and-ship")?.nodes[1]).toMatchObject({ type: "deployment", deployment: "eu-production", endpoints: ["ranker"] });
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

/*
 * Our own fixtures, one per behaviour of the valohai-yaml fixture catalogue (spec §2.1) and of the
 * real-world corpus (spec §6). The optional corpus suite (corpus.test.ts) checks the same classes on
 * the original files when they are present; these run everywhere.
 */
describe("fixtures: clean files", () => {
  it.each([...listYaml(fixturesRoot, "examples"), ...listYaml(fixturesRoot, "valid"), "projects/config-with-real-world-features.yaml"])("%s lints clean", (file) => {
    const result = loadFixture(file);
    expect(result.problems).toEqual([]);
    expect(result.config).not.toBeNull();
  });
  it("valid/: names, stop conditions and merge modes the schema must accept", () => {
    expect([...mustLoadFixture("valid/config-with-valid-endpoint-names.yaml").endpoints.keys()]).toEqual(["ab", "scorer-v2-0"]);
    const stops = mustLoadFixture("valid/config-with-stop-conditions.yaml");
    expect(firstStep(stops).stopCondition).toBe("metadata.loss < 0.05 and execution.duration > 600");
    expect(stops.tasks.get("temperature-sweep")?.stopCondition).toBe("metadata.class == 3");
    const node = mustLoadFixture("valid/config-with-edge-merge-mode.yaml").pipelines.get("log-collection")?.nodes[0];
    expect(node).toMatchObject({ type: "execution", edgeMergeMode: "append" });
  });
});

/** `LINE:COLUMN PATH` of each problem, in the order reported, plus facts its messages must carry. */
type Expected = { at: string[]; facts: (string | RegExp)[] };

function located(file: string, severity: "error" | "warning") {
  const result = loadFixture(file);
  const problems = result.problems.filter((p) => p.severity === severity);
  return { result, problems, at: problems.map((p) => `${p.line}:${p.column} ${p.path ?? ""}`.trim()), text: problems.map((p) => p.message).join("\n") };
}

function expectFacts(text: string, facts: (string | RegExp)[]): void {
  for (const fact of facts) {
    if (typeof fact === "string") expect(text).toContain(fact);
    else expect(text).toMatch(fact);
  }
}

const ERROR_FIXTURES: Record<string, Expected> = {
  "config-with-invalid-endpoint-names": {
    at: ["3:11 0.endpoint.name", "8:11 1.endpoint.name", "13:11 2.endpoint.name", "18:11 3.endpoint.name", "23:11 4.endpoint.name"],
    facts: ['"Scoring-api" is not a valid endpoint name', '"9-lives"', '"score#api"', '"score_api"', '"x" is not a valid endpoint name', "^[a-z][a-z0-9-]+$"],
  },
  "config-with-too-long-input-name": {
    at: ["8:15 0.step.inputs.1.name"],
    facts: ['input "raw-corpus-shards-from-the-nightly-crawl-before-deduplication-v02"', "is 65 characters long; it may be at most 64 characters"],
  },
  // The reference (PyYAML) places this one at line 4, column 14: the colon after `command`.
  "config-with-bad-yaml-indentation": { at: ["3:12"], facts: [/^Indentation Error at line 3, column 12: /] },
  "config-with-misindented-step": {
    at: ["5:8 1.step"],
    facts: ["step (top-level item 2) must be a mapping (got an empty value)", "there might be an indentation error in the following configuration: 1.step"],
  },
  // The reference stops at the first bad specifier; we report each one.
  "config-with-bad-edge-parts": {
    at: ["17:10 1.pipeline.edges.0.0", "19:17 1.pipeline.edges.1.target"],
    facts: ["source specifier 'first.output' must have 3 parts (it has 2)", "target specifier 'second' must have 3 parts (it has 1)"],
  },
  "config-with-bad-shorthand-edge": {
    at: ["17:9 1.pipeline.edges.0"],
    facts: ["malformed edge shorthand ['first.output.a.csv', 'second.input.table', 'second.input.table']", "exactly two sockets"],
  },
  "config-with-bad-on-error": {
    at: ["15:19 1.pipeline.nodes.1.on-error"],
    facts: ['node "score-us": "on-error" must be one of stop-all, stop-next, continue, retry (got "ignore")'],
  },
  "config-with-bad-edge-merge-mode": {
    at: ["14:26 1.pipeline.nodes.0.edge-merge-mode"],
    facts: ['node "collector": "edge-merge-mode" must be one of replace, append (got "merge")'],
  },
  "config-with-bad-overrides": {
    at: ["32:15 2.pipeline.nodes.0.override.inputs.1", "36:15 2.pipeline.nodes.0.override.parameters.1", "40:15 2.pipeline.nodes.1.step"],
    facts: [
      'node "resampler": input audoi does not exist in step "resample". Did you mean "audio"?',
      'node "resampler": parameter language does not exist in step "resample"',
      'node "transcriber" step "transcribe-audio" does not exist. Did you mean "transcribe"?',
    ],
  },
  "config-with-unknown-task-blueprint": {
    at: ["20:15 2.pipeline.nodes.0.task"],
    facts: ['node "sweep" task "depth-sweeps" does not exist. Did you mean "depth-sweep"?'],
  },
  "config-with-too-long-upload-store": { at: ["11:19 1.step.upload-store"], facts: ['step "export-b": "upload-store" is 65 characters long'] },
  "config-with-override-preset-without-environment": {
    at: ["15:34 1.pipeline.nodes.0.override.runtime-config-preset"],
    facts: ['Pipeline "render-job" node "frames": missing "environment". When specifying a runtime config preset, you must also specify an environment'],
  },
  "config-with-preset-without-environment": {
    at: ["5:28 0.step.runtime-config-preset"],
    facts: ['Step "embed": missing "environment"', "runtime-config-preset: embeddings-default"],
  },
  "config-with-invalid-resources": { at: ["9:14 0.step.resources.memory.max"], facts: ['"resources.memory.max" must be a number (got "8 GB")'] },
  "config-with-missing-step-properties": {
    at: ["2:5 0.step", "2:5 0.step", "4:11 1.step.name", "10:14 2.step.command"],
    facts: ['missing the required key "name"', 'missing the required key "image"', '"name" must be a string (got no, which YAML reads as the boolean false)', '"command" must be a string or a list of strings (got 42)'],
  },
  "config-with-bad-step-stop-condition": {
    at: ["5:21 0.step.stop-condition"],
    facts: ['Step "anneal", `stop-condition` is not a valid expression: invalid syntax (at character 6 of "loss below 0.01")'],
  },
  "config-with-bad-task-stop-condition": {
    at: ["16:21 1.task.stop-condition"],
    facts: ['Task "temperature-sweep", `stop-condition` is not a valid expression: unterminated string literal (detected at line 1)'],
  },
  "config-with-broken-tasks": {
    at: ["11:5 1.task", "19:5 2.task", "29:9 3.task.parameters.0", "35:9 4.task.parameters.0", "42:14 5.task.parameters.0.name", "44:15 5.task.parameters.0.rules"],
    facts: [
      'task (top-level item 2) is missing the required key "name"',
      'task "no-step" is missing the required key "step"',
      'task "nameless-parameter": parameter #1 is missing the required key "name"',
      'task "styleless-parameter": parameter "rate" is missing the required key "style"',
      'task "empty-bits": parameter #1: "name" must be a string (got an empty value)',
      'task "empty-bits": parameter #1: "rules" must be a mapping (got an empty value)',
    ],
  },
};

describe("fixtures: error files are refused with located errors", () => {
  it.each(Object.entries(ERROR_FIXTURES))("%s", (name, expected) => {
    const file = `error/${name}.yaml`;
    const { result, problems, at, text } = located(file, "error");
    expect(result.config).toBeNull();
    expect(at).toEqual(expected.at);
    expect(problems.every((p) => p.file === file)).toBe(true);
    expect(result.problems.filter((p) => p.severity === "warning")).toEqual([]);
    expectFacts(text, expected.facts);
  });
  it("covers every error fixture", () => {
    expect(listYaml(fixturesRoot, "error").map((f) => f.replace(/^error\/|\.yaml$/g, ""))).toEqual(Object.keys(ERROR_FIXTURES).sort());
  });
});

const WARNING_FIXTURES: Record<string, Expected> = {
  "config-with-duplicate-step-names": { at: ["10:11 2.step.name"], facts: ["Duplicate step name: clean data."] },
  "config-with-optional-on-flag": { at: ["8:9 0.step.parameters.0.optional"], facts: ['Step "compress", parameter "keep-originals": `optional` has no effect on a flag'] },
  "config-with-bad-numeric-default": { at: ["8:18 0.step.parameters.0.default"], facts: ['parameter "strength": default high is not a floating-point number'] },
  "config-with-out-of-range-default": {
    at: ["10:18 0.step.parameters.0.default", "14:18 0.step.parameters.1.default"],
    facts: ['parameter "workers": default 32 is greater than the maximum allowed (16)', 'parameter "jitter": default -0.5 is less than the minimum allowed (0.0)'],
  },
  "config-with-date-string-default": { at: ["8:18 0.step.parameters.0.default"], facts: ['parameter "since": the default datetime.date(2024, 1, 31) is not a string (YAML read it as date)'] },
  "config-with-nonsensical-task-bits": {
    at: ["13:5 1.task.engine", "14:5 1.task.optimization-target-metric", "19:5 1.task.parameter-sets"],
    facts: ["`engine` (engine) only applies to bayesian_tpe tasks", "optimization_target_metric", "ignored on a random_search task", "parameter-sets only make sense for manual_search tasks (this one is random_search)"],
  },
  "config-with-targetless-pipeline-parameter": { at: ["14:9 1.pipeline.parameters.1"], facts: ['Pipeline "fit-pipeline" parameter "seed": no targets.'] },
  // The reference rejects this one by schema; we load it and warn (spec §2, "Override with unknown keys").
  "config-with-override-extra-field": { at: ["17:11 1.pipeline.nodes.0.override.depth"], facts: ['"override.depth" is not something an override can set', "nested under `parameters` or `inputs`"] },
};

describe("fixtures: warning files load, with located warnings", () => {
  it.each(Object.entries(WARNING_FIXTURES))("%s", (name, expected) => {
    const file = `warning/${name}.yaml`;
    const { result, problems, at, text } = located(file, "warning");
    expect(result.config).not.toBeNull();
    expect(result.problems.filter((p) => p.severity === "error")).toEqual([]);
    expect(at).toEqual(expected.at);
    expect(problems.every((p) => p.file === file)).toBe(true);
    expectFacts(text, expected.facts);
    // lintValohaiYaml reports the same problems as loadValohaiYaml.
    expect(lintValohaiYaml(readFixture(file)).map((p) => p.message)).toEqual(problems.map((p) => p.message));
  });
  it("covers every warning fixture", () => {
    expect(listYaml(fixturesRoot, "warning").map((f) => f.replace(/^warning\/|\.yaml$/g, ""))).toEqual(Object.keys(WARNING_FIXTURES).sort());
  });
});

describe("fixtures: whole projects with what public repositories do", () => {
  it("a mis-indented pipeline is refused with its line and the indentation hint", () => {
    const { result, problems, at } = located("projects/config-with-misindented-pipeline.yaml", "error");
    expect(result.config).toBeNull();
    expect(at).toEqual(["33:12 3.pipeline"]);
    expect(problems[0]?.message).toContain("pipeline (top-level item 4) must be a mapping");
    expect(problems[0]?.message).toContain("indentation error");
    expect(problems[0]?.file).toBe("projects/config-with-misindented-pipeline.yaml");
  });
  it("`then: require-approval` warns once per action and still loads", () => {
    const { result, at, text } = located("projects/config-with-approval-gates.yaml", "warning");
    expect(result.problems.filter((p) => p.severity === "error")).toEqual([]);
    expect(at).toEqual(["35:19 3.pipeline.nodes.2.actions.0.then", "51:19 4.pipeline.nodes.1.actions.0.then"]);
    expect(result.problems.map((p) => p.code)).toEqual(["unknown-action-then", "unknown-action-then"]);
    expectFacts(text, ['Pipeline "staged release" node "release": action `then: require-approval`', 'Pipeline "hotfix release" node "release"']);
    expect(result.config?.pipelines.get("hotfix release")?.nodes[1]?.actions).toEqual([{ when: ["node-starting"], if: [], then: ["require-approval"] }]);
  });
  it("an int default on a string parameter warns, with a type hint only when the type is implicit", () => {
    const { result, problems, at } = located("projects/config-with-int-default-on-string-param.yaml", "warning");
    expect(result.config).not.toBeNull();
    expect(at).toEqual(["14:18 0.step.parameters.1.default", "17:18 0.step.parameters.2.default"]);
    expect(problems.map((p) => p.message)).toEqual([
      'Step "fine-tune", parameter "batch-size": the default 16 is not a string (YAML read it as int); put it in quotes or declare the parameter\'s `type`.',
      'Step "fine-tune", parameter "max-tokens": the default 2048 is not a string (YAML read it as int); put it in quotes.',
    ]);
  });
  it("YAML 1.1 floats, short icons, templated input URIs, commands split around if/fi", () => {
    const config = mustLoadFixture("projects/config-with-real-world-features.yaml");
    const step = config.steps.get("warehouse-extract")!;
    expect(step.icon).toBe("redshift");
    expect(step.parameters.get("epsilon")?.default).toBe("1e-6");
    expect(Number(step.parameters.get("tolerance")?.default)).toBe(0.001);
    expect(Number(step.parameters.get("sample")?.default)).toBe(0.25);
    expect(step.inputs.get("lookup")?.default).toEqual(["dataset://{parameter:table}_lookup/latest"]);
    expect(buildScript(step, {}, { joiner: "newline" })).toBe(
      [
        "pip install -r requirements.txt",
        'if [ -n "$FULL_REFRESH" ]; then',
        "python extract.py --full --table=events --epsilon=1e-6 --tolerance=0.001 --sample=0.25",
        "else",
        "python extract.py --table=events --epsilon=1e-6 --tolerance=0.001 --sample=0.25",
        "fi",
      ].join("\n"),
    );
    expect(config.pipelines.get("nightly")?.parameters.get("table")).toMatchObject({ default: "sessions", targets: ["extract.parameter.table"] });
  });
  it("covers every project fixture", () => {
    expect(listYaml(fixturesRoot, "projects")).toEqual([
      "projects/config-with-approval-gates.yaml",
      "projects/config-with-int-default-on-string-param.yaml",
      "projects/config-with-misindented-pipeline.yaml",
      "projects/config-with-real-world-features.yaml",
    ]);
  });
});
