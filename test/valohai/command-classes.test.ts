/**
 * One table per class of difference a differential run against the reference found (valohai-yaml
 * 0.57.0 building commands, valohai-cli 0.35.0 / click 8 typing values; see
 * test/differential/README.md). Every expected command, value and Python message below is the
 * reference's actual output for the same input; warnings and located errors are ours (Python
 * warns nowhere and raises a traceback where we report FILE:LINE:COLUMN).
 */
import { describe, expect, it } from "vitest";
import {
  buildCommandList,
  CommandBuildError,
  formatValue,
  loadValohaiYaml,
  parseJsonExact,
  PyFloat,
  shlexQuote,
  stringifyJson,
  toJsonValue,
  validateParameterValues,
  type Problem,
  type Step,
} from "../../app/valohai/index.js";

/** A one-step valohai.yaml; `params` is a YAML flow sequence. */
function yamlText(params: string, command: string[] = ["python t.py {parameters}"]): string {
  return `- step:\n    name: s\n    image: python:3.12\n    command: ${JSON.stringify(command)}\n    parameters: ${params}\n`;
}

function load(params: string, command?: string[]): { step: Step | undefined; problems: Problem[] } {
  const { config, problems } = loadValohaiYaml(yamlText(params, command), { filename: "valohai.yaml" });
  return { step: config?.steps.get("s"), problems };
}

function stepOf(params: string, command?: string[]): Step {
  const { step, problems } = load(params, command);
  if (!step) throw new Error(problems.map((p) => p.message).join("\n"));
  return step;
}

/** The server's path: a JSON request body's parameters, validated, then the command. */
function viaApi(step: Step, json: string): { commands: string[] } | { errors: string[] } {
  const body = parseJsonExact(`{"parameters": ${json}}`, { pyFloatsUnder: ["parameters"] }) as { parameters: Record<string, unknown> };
  const r = validateParameterValues(step, body.parameters);
  if (r.errors.length) return { errors: r.errors.map((e) => `${e.parameter}: ${e.message}`) };
  return { commands: buildCommandList(step, r.values) };
}

const B = "12345678901234567";

describe("class: integers beyond 2^53 stay exact (YAML default, API value, format specs, JSON)", () => {
  it.each([
    ["YAML default", `[{name: n, type: integer, default: ${B}}]`, "python t.py --n=12345678901234567"],
    ["YAML default with {v:d}", `[{name: n, type: integer, default: ${B}, pass-as: "--n={v:d}"}]`, "python t.py --n=12345678901234567"],
    ["YAML default with {v:,}", `[{name: n, type: integer, default: ${B}, pass-as: "--n={v:,}"}]`, "python t.py --n=12,345,678,901,234,567"],
    ["YAML default with {v:x}", `[{name: n, type: integer, default: ${B}, pass-as: "--n={v:x}"}]`, "python t.py --n=2bdc545d6b4b87"],
    ["{v:.2f} converts to float first", `[{name: n, type: integer, default: ${B}, pass-as: "--n={v:.2f}"}]`, "python t.py --n=12345678901234568.00"],
    ["negative, 20 digits", "[{name: n, type: integer, default: -98765432109876543210}]", "python t.py --n=-98765432109876543210"],
    ["hex literal", "[{name: n, type: integer, default: 0x1FFFFFFFFFFFFF1}]", "python t.py --n=144115188075855857"],
  ])("%s", (_label, params, expected) => {
    expect(buildCommandList(stepOf(params), {})).toEqual([expected]);
  });

  it("{parameter-value:n}", () => {
    expect(buildCommandList(stepOf(`[{name: n, type: integer, default: ${B}}]`, ["echo {parameter-value:n}"]), {})).toEqual(["echo 12345678901234567"]);
  });

  it.each([
    ["JSON number", "[{name: n, type: integer}]", `{"n": ${B}}`, { commands: ["python t.py --n=12345678901234567"] }],
    ["JSON number with {v:d}", `[{name: n, type: integer, pass-as: "--n={v:d}"}]`, `{"n": ${B}}`, { commands: ["python t.py --n=12345678901234567"] }],
    ["decimal string", "[{name: n, type: integer}]", `{"n": "${B}"}`, { commands: ["python t.py --n=12345678901234567"] }],
    ["to a float parameter", "[{name: x, type: float}]", `{"x": ${B}}`, { commands: ["python t.py --x=1.2345678901234568e+16"] }],
    ["to a string parameter", "[{name: s, type: string}]", `{"s": ${B}}`, { commands: ["python t.py --s=12345678901234567"] }],
    ["separate list", "[{name: n, type: integer, multiple: separate}]", `{"n": [${B}, 98765432109876543210]}`, { commands: ["python t.py --n=12345678901234567,98765432109876543210"] }],
    ["max compares exactly", "[{name: n, type: integer, max: 12345678901234566}]", `{"n": ${B}}`, { errors: ["n: 12345678901234567 is greater than the maximum allowed (12345678901234566)"] }],
    ["min compares exactly", `[{name: n, type: integer, min: ${B}}]`, `{"n": ${B}}`, { commands: ["python t.py --n=12345678901234567"] }],
    ["choices compare exactly", `[{name: n, type: integer, choices: [${B}]}]`, `{"n": ${B}}`, { commands: ["python t.py --n=12345678901234567"] }],
  ])("API: %s", (_label, params, json, expected) => {
    expect(viaApi(stepOf(params), json)).toEqual(expected);
  });

  it.each([
    ["parseJsonExact keeps digits", () => parseJsonExact(`{"a": ${B}, "b": 1, "c": [-98765432109876543210]}`), { a: 12345678901234567n, b: 1, c: [-98765432109876543210n] }],
    ["stringifyJson writes digits and Python floats", () => stringifyJson({ a: 12345678901234567n, f: new PyFloat(1), z: new PyFloat(-0), e: new PyFloat(1e-7) }), `{"a":${B},"f":1.0,"z":-0.0,"e":1e-07}`],
    ["toJsonValue: decimal strings (what the server stores)", () => toJsonValue({ a: 12345678901234567n, z: new PyFloat(-0), i: new PyFloat(Infinity) }), { a: B, z: "-0.0", i: "inf" }],
  ])("JSON: %s", (_label, run, expected) => {
    expect(run()).toEqual(expected);
  });
});

describe("class: a multiple parameter without a default is optional and omitted", () => {
  it.each([
    ["repeat, nothing given", "[{name: m, type: string, multiple: repeat}, {name: k, default: x}]", ["python t.py {parameters}"], "python t.py --k=x"],
    ["separate, nothing given", "[{name: m, type: string, multiple: separate}]", ["python t.py {parameters}"], "python t.py"],
    ["default: ~", "[{name: m, type: string, multiple: repeat, default: ~}]", ["python t.py {parameters}"], "python t.py"],
    ["{parameter-value:m} is the empty list", "[{name: m, type: string, multiple: repeat}]", ["echo {parameter-value:m} {parameter:m}"], "echo '[]'"],
  ])("%s", (_label, params, command, expected) => {
    const step = stepOf(params, command);
    const r = validateParameterValues(step, {});
    expect(r.errors).toEqual([]);
    expect(buildCommandList(step, r.values)).toEqual([expected]);
  });
});

describe("class: pass-as templates that str.format_map accepts build like Python", () => {
  it.each([
    ["integer {v.real}", "integer", "--x={v.real}", 5, "python t.py --x=5"],
    ["integer {v.imag}", "integer", "--x={v.imag}", 5, "python t.py --x=0"],
    ["integer {v.real:.2f}", "integer", "--x={v.real:.2f}", -7, "python t.py --x=-7.00"],
    ["integer {value.real!r}", "integer", "--x={value.real!r}", -7, "python t.py --x=-7"],
    ["integer {v.numerator}/{v.denominator}", "integer", "--x={v.numerator}/{v.denominator}", 6, "python t.py --x=6/1"],
    ["big integer {v.real}", "integer", "--x={v.real}", 12345678901234567n, "python t.py --x=12345678901234567"],
    ["float {v.real}", "float", "--x={v.real}", new PyFloat(2.5), "python t.py --x=2.5"],
    ["float {v.imag}", "float", "--x={v.imag}", new PyFloat(2.5), "python t.py --x=0.0"],
    ["float -0.0 {v.real:.2f}", "float", "--x={v.real:.2f}", new PyFloat(-0), "python t.py --x=-0.00"],
    ["flag {v.real}", "flag", "--x={v.real}", true, "python t.py --x=1"],
    ["flag {v.real:.2f}", "flag", "--x={v.real:.2f}", true, "python t.py --x=1.00"],
    ["string {v!a}", "string", "--x={v!a}", "日本 ä 🙂", `python t.py '--x='"'"'\\u65e5\\u672c \\xe4 \\U0001f642'"'"''`],
  ])("%s", (_label, type, passAs, value, expected) => {
    expect(buildCommandList(stepOf(`[{name: v, type: ${type}, pass-as: ${JSON.stringify(passAs)}}]`), { v: value })).toEqual([expected]);
  });

  it("a date default's fields", () => {
    expect(buildCommandList(stepOf(`[{name: v, type: string, default: 2020-01-02, pass-as: "--x={v.year}-{v.month}"}]`), {})).toEqual(["python t.py --x=2020-1"]);
  });

  // Python raises ValueError inside the substitution; build_command keeps that command line as
  // written (with a warning) and goes on with the next one. Our lint warns at the template.
  it.each([
    ["positional {0}", "--x={0}", "Format string contains positional fields"],
    ["positional {}", "--x={}", "Format string contains positional fields"],
    ["positional {0.real}", "--x={0.real}", "Format string contains positional fields"],
    ["unknown format code", "--x={v:q}", "Unknown format code 'q' for object of type 'int'"],
    ["single }", "--x={v}}", "Single '}' encountered in format string"],
  ])("ValueError, %s: the line stays as written", (_label, passAs, pyMessage) => {
    const { step, problems } = load(`[{name: v, type: integer, pass-as: ${JSON.stringify(passAs)}}]`, ["python t.py {parameters}", "echo done"]);
    expect(buildCommandList(step!, { v: 5 })).toEqual(["python t.py {parameters}", "echo done"]);
    const warning = problems.find((p) => p.code === "pass-as-template");
    expect(warning).toMatchObject({ severity: "warning", file: "valohai.yaml", line: 5, column: 52 });
    expect(warning!.message).toContain(pyMessage);
  });

  // Python raises (a traceback); we refuse the file at lint time, at the template.
  it.each([
    ["{v.real} on a string (AttributeError)", "string", "--x={v.real}", "'str' object has no attribute 'real'"],
    ["unknown field {w} (KeyError)", "string", "--x={w}", "unknown placeholder {w}"],
    ["{v[0]} on an integer (TypeError)", "integer", "--x={v[0]}", "'int' object is not subscriptable"],
    ["{v.numerator} on a float (AttributeError)", "float", "--x={v.numerator}", "'float' object has no attribute 'numerator'"],
    // Python prints a memory address ('<built-in method upper of str object at 0x…>'): never in a command.
    ["a method, {v.upper}", "string", "--x={v.upper}", "'str' object has no attribute 'upper' that a pass-as template can use"],
  ])("raises, %s: a located lint error", (_label, type, passAs, message) => {
    const { step, problems } = load(`[{name: v, type: ${type}, pass-as: ${JSON.stringify(passAs)}}]`);
    expect(step).toBeUndefined();
    const error = problems.find((p) => p.severity === "error");
    expect(error).toMatchObject({ code: "pass-as-template", file: "valohai.yaml", line: 5 });
    expect(error!.column).toBeGreaterThan(40);
    expect(error!.message).toContain(message);
  });

  it("a value-dependent failure at build time is a CommandBuildError with the template's position", () => {
    const step = stepOf(`[{name: v, type: string, pass-as: "--x={v[3]}"}]`);
    expect(buildCommandList(step, { v: "abcd" })).toEqual(["python t.py --x=d"]);
    let caught: unknown;
    try {
      buildCommandList(step, { v: "ab" });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CommandBuildError);
    expect((caught as CommandBuildError).problem).toMatchObject({ line: 5, column: 18 });
    expect((caught as CommandBuildError).pyType).toBe("IndexError");
  });
});

describe("class: float formatting and shell quoting (format(value, spec), shlex.quote)", () => {
  it.each([
    [new PyFloat(1e-7), ".17g", "9.9999999999999995e-08"],
    [new PyFloat(78.77524635242423), ".2", "7.9e+01"],
    [new PyFloat(100), ".3", "1e+02"],
    [new PyFloat(1.5), ".2", "1.5"],
    [new PyFloat(1.7976931348623157e308), "%", "inf%"],
    [255, "#.3g", "255."],
    [new PyFloat(-440918), "#g", "-440918."],
    [-8607311931, "_x", "-2_0109_283b"],
    [new PyFloat(2.675), ".2f", "2.67"],
    [new PyFloat(0.125), ".2f", "0.12"],
    [new PyFloat(1e16), "", "1e+16"],
    [new PyFloat(1e-5), "", "1e-05"],
    [new PyFloat(-0), "", "-0.0"],
    [new PyFloat(0.1 + 0.2), "", "0.30000000000000004"],
    [new PyFloat(Infinity), ".3f", "inf"],
    [new PyFloat(NaN), "e", "nan"],
    [new PyFloat(5e-324), ".3e", "4.941e-324"],
    [12345678901234567n, ".3e", "1.235e+16"],
    [new PyFloat(1e22), "f", "10000000000000000000000.000000"],
    [new PyFloat(-0), "z.1f", "0.0"],
    [new PyFloat(0.5), ".0f", "0"],
    [new PyFloat(1.5), ".0f", "2"],
    [new PyFloat(2.5), ".0f", "2"],
    [new PyFloat(9.995), ".2f", "9.99"],
    [new PyFloat(1234567.891), ",.2f", "1,234,567.89"],
    [new PyFloat(0.000123456), "g", "0.000123456"],
    [new PyFloat(123456789), "g", "1.23457e+08"],
  ])("format(%s, %j) = %j", (value, spec, expected) => {
    expect(formatValue(value, spec)).toBe(expected);
  });

  it.each([
    ["", "''"],
    ["a b", "'a b'"],
    ["O'Neil", `'O'"'"'Neil'`],
    ["ä", "'ä'"],
    ["@%+=:,./-_", "@%+=:,./-_"],
    ["a*b", "'a*b'"],
    ["$HOME", "'$HOME'"],
    ["--x=1", "--x=1"],
    ["tab\there", "'tab\there'"],
    ["'", `''"'"''`],
    ["1e-07", "1e-07"],
  ])("shlex.quote(%j) = %s", (s, expected) => {
    expect(shlexQuote(s)).toBe(expected);
  });
});

describe("class: values through the API are read as Python's json.loads reads them", () => {
  it.each([
    ["-0.0 keeps its sign", "[{name: x, type: float}]", ["python t.py {parameters}"], `{"x": -0.0}`, { commands: ["python t.py --x=-0.0"] }],
    ["1.0 is no integer", "[{name: n, type: integer}]", ["python t.py {parameters}"], `{"n": 1.0}`, { errors: ["n: 1.0 is not an integer"] }],
    ["1e16 to a string parameter is the float 1e+16", "[{name: s, type: string}]", ["python t.py {parameters}"], `{"s": 1e16}`, { commands: ["python t.py --s=1e+16"] }],
    ["Unicode digits for an integer", "[{name: n, type: integer}]", ["python t.py {parameters}"], `{"n": "١٢"}`, { commands: ["python t.py --n=12"] }],
    ["fullwidth digits for a float", "[{name: x, type: float}]", ["python t.py {parameters}"], `{"x": "１.５"}`, { commands: ["python t.py --x=1.5"] }],
    // valohai-yaml merges the raw YAML default: its ints stay ints.
    ["a float list default keeps its ints", "[{name: x, type: float, multiple: separate, default: [1000, 1, 0.01]}]", ["python t.py {parameters}"], "{}", { commands: ["python t.py --x=1000,1,0.01"] }],
    ["a flag given 1 prints 1", "[{name: f, type: flag}]", ["python t.py {parameters}", "echo {parameter-value:f}"], `{"f": 1}`, { commands: ["python t.py --f", "echo 1"] }],
  ])("%s", (_label, params, command, json, expected) => {
    expect(viaApi(stepOf(params, command), json)).toEqual(expected);
  });
});

describe("class: None values and separators as valohai-yaml reads them", () => {
  it.each([
    ["a flag given None renders nothing (not its pass-false-as)", "[{name: f, type: flag, pass-true-as: --yes, pass-false-as: --no}]", { f: null }, "python t.py"],
    ["an empty multiple-separator is a comma", "[{name: n, type: integer, multiple: separate, multiple-separator: ''}]", { n: [1, 2] }, "python t.py --n=1,2"],
  ])("%s", (_label, params, values, expected) => {
    expect(buildCommandList(stepOf(params), values)).toEqual([expected]);
  });
});
