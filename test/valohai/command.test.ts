import { describe, expect, it } from "vitest";
import { buildCommandList, buildScript, CommandBuildError, joinCommand, PyFloat, validateParameterValues } from "../../app/valohai/index.js";
import { firstStep, mustLoadFixture, stepWith } from "./helpers.js";

function build(command: string, parameters: string, values: Record<string, unknown>, extra = ""): string {
  const step = stepWith(command, parameters, extra);
  return buildCommandList(step, values).join("\n");
}

// valohai-spec §1.5, "Concrete cases (verified by running valohai-yaml)".
const TABLE: [string, string, string, Record<string, unknown>, string][] = [
  ["float 0.001", "python t.py {parameters}", "[{name: lr, type: float}]", { lr: 0.001 }, "python t.py --lr=0.001"],
  ["float 1.0 (JSON 1)", "x {parameters}", "[{name: lr, type: float}]", { lr: 1 }, "x --lr=1.0"],
  ["float 1.0 (PyFloat)", "x {parameters}", "[{name: lr, type: float}]", { lr: new PyFloat(1) }, "x --lr=1.0"],
  ["float 1e-7", "x {parameters}", "[{name: lr, type: float}]", { lr: 1e-7 }, "x --lr=1e-07"],
  ["float 1e16", "x {parameters}", "[{name: lr, type: float}]", { lr: 1e16 }, "x --lr=1e+16"],
  ["string with a space", "x {parameters}", "[{name: s, type: string}]", { s: "a b" }, "x '--s=a b'"],
  ["pass-as with two tokens", "x {parameters}", "[{name: s, pass-as: '-s {v}'}]", { s: "a b" }, "x -s 'a b'"],
  ["pass-as {v}, empty string", "x {parameters}", "[{name: s, pass-as: '{v}'}]", { s: "" }, "x ''"],
  ["parameter-value with a quote", "x {parameter-value:s}", "[{name: s}]", { s: "O'Neil" }, `x 'O'"'"'Neil'`],
  ["parameter-value, safe characters", "x {parameter-value:s}", "[{name: s}]", { s: "@%+=:,./-_" }, "x @%+=:,./-_"],
  ["parameter-value with *", "x {parameter-value:s}", "[{name: s}]", { s: "a*b" }, "x 'a*b'"],
  ["flag true", "x {parameters}", "[{name: f, type: flag}]", { f: true }, "x --f"],
  ["flag false", "x {parameters}", "[{name: f, type: flag}]", { f: false }, "x"],
  ["flag pass-as {v}", "x {parameters}", "[{name: f, type: flag, pass-as: '--f={v}'}]", { f: true }, "x --f=True"],
  ["flag pass-false-as", "x {parameters}", "[{name: f, type: flag, pass-true-as: --f=true, pass-false-as: --f=false}]", { f: false }, "x --f=false"],
  ["flag with only pass-false-as, true", "x {parameters}", "[{name: f, type: flag, pass-false-as: --no-f}]", { f: true }, "x"],
  ["repeat", "x {parameters}", "[{name: m, type: integer, multiple: repeat}]", { m: [1, 2] }, "x --m=1 --m=2"],
  ["separate", "x {parameters}", "[{name: m, type: integer, multiple: separate}]", { m: [1, 2] }, "x --m=1,2"],
  ["separate with a space separator", "x {parameters}", "[{name: m, multiple: separate, multiple-separator: ' '}]", { m: ["a", "b"] }, "x '--m=a b'"],
  ["separate, empty list", "x {parameters}", "[{name: m, multiple: separate}]", { m: [] }, "x"],
  ["{parameter:b}", "x {parameter:b}", "[{name: a}, {name: b}]", { a: "A", b: "B" }, "x --b=B"],
  ["{parameter:zzz} undeclared", "x {parameter:zzz}", "[{name: a}]", { a: "A" }, "x {parameter:zzz}"],
  ["string param given True", "x {parameters}", "[{name: s, type: string}]", { s: true }, "x --s=True"],
  ["parameter-value of a separate list", "x {parameter-value:m}", "[{name: m, multiple: separate}]", { m: ["a", "b"] }, `x '['"'"'a'"'"', '"'"'b'"'"']'`],
  ["parameter-value of an explicit null", "x {parameter-value:s}", "[{name: s, optional: true}]", { s: null }, "x None"],
  ["parameter-value of an unset parameter", "x {parameter-value:s}", "[{name: s, optional: true}]", {}, "x {parameter-value:s}"],
  ["params alias", "x {params}", "[{name: a, type: integer}]", { a: 3 }, "x --a=3"],
  ["spaces are not special", "x { parameters }", "[{name: a}]", { a: "b" }, "x { parameters }"],
  ["${parameters} still expands", "x ${parameters}", "[{name: a}]", { a: "b" }, "x $--a=b"],
  ["{{parameters}} does not", "x {{parameters}}", "[{name: a}]", { a: "b" }, "x {{parameters}}"],
  ["shell variables survive", "cp ${VH_INPUTS_DIR}/x {parameters}", "[]", {}, "cp ${VH_INPUTS_DIR}/x"],
  ["format spec", "x {parameters}", "[{name: lr, type: float, pass-as: '--lr={v:.3f}'}]", { lr: 0.1 }, "x --lr=0.100"],
  ["name placeholder", "x {parameters}", "[{name: my param, pass-as: '--{name}={value}'}]", { "my param": "v" }, "x '--my param=v'"],
  ["non-ASCII is quoted", "x {parameter-value:s}", "[{name: s}]", { s: "ä" }, "x 'ä'"],
  ["null value skips the parameter", "x {parameters}", "[{name: a, default: q}, {name: b, default: r}]", { a: null }, "x --b=r"],
  ["YAML float default 1.0", "x {parameters}", "[{name: lr, type: float, default: 1.0}]", {}, "x --lr=1.0"],
  ["YAML int default on a float param", "x {parameters}", "[{name: lr, type: float, default: 1}]", {}, "x --lr=1"],
  ["YAML 1e-4 default is a string", "x {parameters}", "[{name: lr, type: float, default: 1e-4}]", {}, "x --lr=1e-4"],
];

describe("command building (spec §1.5 table)", () => {
  it.each(TABLE)("%s", (_label, command, parameters, values, expected) => {
    expect(build(command, parameters, values)).toBe(expected);
  });
});

describe("command building (valohai-yaml repo tests, on our fixtures)", () => {
  it("a quote-laden value through `pass-as: --X {v}` and the {params} alias (tests/test_command.py)", () => {
    const step = firstStep(mustLoadFixture("examples/config-with-every-step-field.yaml"));
    const out = buildCommandList(step, { tokenizer: `a "b" 'c'; d` });
    expect(out).toHaveLength(5);
    expect(out[2]).toBe(`echo "mode: strict" > settings.yaml`);
    expect(out.at(-1)).toBe(
      `python fit.py --lags=24 --holidays=fi-uusimaa --tokenizer 'a "b" '"'"'c'"'"'; d' '--feature-query=SELECT hour, kwh FROM readings' --model-alias=demand-latest -- --dataset hourly`,
    );
  });

  it("parameter-value of empty string and zero", () => {
    const step = stepWith("env ds={parameter-value:decoder-spec} eps={parameter-value:num-epochs} runrunrun", "[{name: decoder-spec}, {name: num-epochs, type: integer}]");
    expect(buildCommandList(step, { "decoder-spec": "", "num-epochs": 0 })).toEqual(["env ds='' eps=0 runrunrun"]);
  });

  it("no parameters leaves two spaces", () => {
    const step = stepWith("Where are the ${shell_unicorns}? The {parameters} are here!", "[]");
    expect(buildCommandList(step, {})).toEqual(["Where are the ${shell_unicorns}? The  are here!"]);
  });

  it("{source-path}", () => {
    const step = stepWith("python {source-path}", "[]", "    source-path: foo.py\n");
    expect(buildCommandList(step, {})).toEqual(["python foo.py"]);
    expect(buildCommandList(stepWith("python {source-path}", "[]", "    source-path: my file.py\n"), {})).toEqual(["python 'my file.py'"]);
  });

  it("specials given by the caller", () => {
    const step = stepWith("run {x-special} {parameters}", "[]");
    expect(buildCommandList(step, {}, { "x-special": "a b" })).toEqual(["run 'a b'"]);
  });

  describe("multiple: separate with separators, repeat with pass-as (tests/test_multiple_param.py)", () => {
    const step = firstStep(mustLoadFixture("examples/config-with-multiple-params.yaml"));
    it("defaults, floats written the Python way", () => {
      expect(buildCommandList(step, {})).toEqual(["echo --batch=256 --widths=512:128:32 --dropouts=0.5/2.0/1e-05/3 --augment flip --augment crop"]);
    });
    it.each([[null], [[]]])("widths %j disappears", (v) => {
      expect(buildCommandList(step, { widths: v })).toEqual(["echo --batch=256 --dropouts=0.5/2.0/1e-05/3 --augment flip --augment crop"]);
    });
    it("a supplied list replaces the default", () => {
      expect(buildCommandList(step, { augment: ["blur"], widths: [7] })).toEqual(["echo --batch=256 --widths=7 --dropouts=0.5/2.0/1e-05/3 --augment blur"]);
    });
  });

  describe("optional and required parameters with and without defaults (tests/test_step_parsing.py)", () => {
    const step = firstStep(mustLoadFixture("examples/config-with-optional-default-params.yaml"));
    it("warmup supplied", () => expect(buildCommandList(step, { warmup: 3 })).toEqual(["train --warmup=3 --epochs=40"]));
    it("nothing supplied", () => expect(buildCommandList(step, {})).toEqual(["train --warmup=10 --epochs=40"]));
  });

  it("flag defaults are not applied by buildCommandList", () => {
    const step = firstStep(mustLoadFixture("examples/config-with-flags.yaml"));
    expect(buildCommandList(step, {})).toEqual(["predict"]);
    // …but validateParameterValues applies them, as the CLI does.
    const { values, errors } = validateParameterValues(step, {});
    expect(errors).toEqual([]);
    expect(buildCommandList(step, values)).toEqual(["predict --use-cache"]);
    expect(buildCommandList(step, validateParameterValues(step, { verbose: true, "use-cache": false }).values)).toEqual(["predict --verbose"]);
  });

  it("flag pass-true-as / pass-false-as, with a {name} placeholder", () => {
    const step = firstStep(mustLoadFixture("examples/config-with-flag-pass-as.yaml"));
    expect(buildCommandList(step, { colour: true, telemetry: true })).toEqual(["serve --with-colour"]);
    expect(buildCommandList(step, { "strict-mode": false, colour: false, telemetry: false })).toEqual(["serve --lenient --telemetry=off"]);
    expect(buildCommandList(step, { "strict-mode": true })).toEqual(["serve --strict"]);
  });

  it("keep-order: {parameters} in declaration order, {parameter:X} in command order", () => {
    const [all, picked] = [...mustLoadFixture("examples/config-with-keep-order.yaml").steps.values()];
    const names = ["down", "up", "west", "south", "east", "north"];
    const values = Object.fromEntries(names.map((n) => [n, n[0]!.toUpperCase()]));
    expect(buildCommandList(all!, values)).toEqual(["compass --north=N --east=E --south=S --west=W --up=U --down=D"]);
    expect([...all!.inputs.keys()]).toEqual(["maps", "tides", "stars"]);
    expect(buildCommandList(picked!, values)).toEqual(["compass --west=W --north=N --down=D"]);
  });
});

describe("joinCommand and shebangs", () => {
  it("spec example", () => {
    expect(joinCommand(["#!/bin/sh\nfoo", " ", "bar"], "and")).toBe("#!/bin/sh\nfoo && bar");
  });
  it("newline joiner drops blanks", () => {
    expect(joinCommand(["a", "", "  ", "b"], "newline")).toBe("a\nb");
    expect(joinCommand([], "newline")).toBe("");
  });
  it("a shebang in a block command and in a command list", () => {
    const config = mustLoadFixture("examples/config-with-shebang.yaml");
    const [block, list] = [...config.steps.values()];
    const expected = '#!/usr/bin/env bash\nfor f in /valohai/inputs/shards/*; do echo "$f at --rate=7"; done\n[[ -n "$VH_DEBUG" ]] && env';
    expect(buildScript(block!, { rate: 7 }, { joiner: "newline" })).toBe(expected);
    expect(buildScript(list!, { rate: 7 }, { joiner: "newline" })).toBe(expected);
    expect(buildScript(list!, { rate: 7 }, { joiner: "and" })).toBe('#!/usr/bin/env bash\nfor f in /valohai/inputs/shards/*; do echo "$f at --rate=7"; done && [[ -n "$VH_DEBUG" ]] && env');
  });
});

describe("template errors", () => {
  it("an unknown field in pass-as is a lint error", () => {
    const r = mustLoadOrProblems("[{name: a, pass-as: '--a={val}'}]");
    expect(r).toMatch(/unknown placeholder \{val\}/);
  });
  it("buildCommandList throws CommandBuildError where Python raises KeyError", () => {
    const step = stepWith("x {parameters}", "[{name: a}]");
    step.parameters.get("a")!.passAs = "--a={nope}";
    expect(() => buildCommandList(step, { a: "1" })).toThrow(CommandBuildError);
  });
  it("a ValueError (bad format spec) leaves the command as written, like the reference", () => {
    const step = stepWith("x {parameters}", "[{name: a, pass-as: '--a={v:.2f}'}]");
    expect(buildCommandList(step, { a: "text" })).toEqual(["x {parameters}"]);
  });
});

function mustLoadOrProblems(parameters: string): string {
  try {
    stepWith("x {parameters}", parameters);
    return "";
  } catch (err) {
    return (err as Error).message;
  }
}
