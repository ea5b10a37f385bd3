import { describe, expect, it } from "vitest";
import { PyFloat, validateParameterValue, validateParameterValues, type Parameter } from "../../app/valohai/index.js";
import { stepWith } from "./helpers.js";

function param(over: Partial<Parameter>): Parameter {
  return { name: "p", type: "string", typeDeclared: true, optional: false, multiple: "none", multipleSeparator: ",", ...over };
}

const CASES: [string, Partial<Parameter>, unknown, { ok: unknown } | { message: string }][] = [
  ["integer from string", { type: "integer" }, "7", { ok: 7 }],
  ["integer with spaces and underscores", { type: "integer" }, " 1_000 ", { ok: 1000 }],
  ["integer from 5.3", { type: "integer" }, "5.3", { message: "5.3 is not an integer" }],
  ["integer from JSON 5.3", { type: "integer" }, 5.3, { message: "5.3 is not an integer" }],
  ["integer from True", { type: "integer" }, true, { message: "True is not an integer" }],
  ["integer from False", { type: "integer" }, false, { message: "False is not an integer" }],
  ["integer from YAML float 5.0", { type: "integer" }, new PyFloat(5), { message: "5.0 is not an integer" }],
  ["integer from empty string", { type: "integer" }, "", { message: "No value supplied" }],
  ["null", { type: "integer" }, null, { message: "No value supplied" }],
  ["list on a single parameter", { type: "integer" }, [1, 2], { message: "Only a single value is allowed" }],
  ["float from True", { type: "float" }, true, { message: "True is not a floating-point number" }],
  ["float from abc", { type: "float" }, "abc", { message: "abc is not a floating-point number" }],
  ["float from 1e-3 string", { type: "float" }, "1e-3", { ok: new PyFloat(0.001) }],
  ["float from JSON 1", { type: "float" }, 1, { ok: new PyFloat(1) }],
  ["minimum", { type: "integer", min: 0 }, -1, { message: "-1 is less than the minimum allowed (0)" }],
  ["maximum", { type: "integer", max: 100 }, 1337, { message: "1337 is greater than the maximum allowed (100)" }],
  ["float maximum keeps its float form", { type: "float", max: new PyFloat(1) }, 2, { message: "2.0 is greater than the maximum allowed (1.0)" }],
  ["choices", { choices: ["gauss", "railgun"] }, "boo", { message: "boo is not among the choices allowed (['gauss', 'railgun'])" }],
  ["choices compare numerically", { type: "integer", choices: [1, 2] }, "2", { ok: 2 }],
  ["string min/max comparisons are skipped", { min: 0 }, "abc", { ok: "abc" }],
  ["flag yes", { type: "flag" }, "yes", { ok: true }],
  ["flag 0", { type: "flag" }, "0", { ok: false }],
  ["flag FALSE", { type: "flag" }, "FALSE", { ok: false }],
  ["flag maybe", { type: "flag" }, "maybe", { message: "maybe is not among the choices allowed ([True, False])" }],
  ["multiple validates each atom", { type: "integer", multiple: "repeat" }, ["1", "x"], { message: "x is not an integer" }],
  ["multiple listifies a scalar", { type: "integer", multiple: "separate" }, "3", { ok: [3] }],
];

describe("validateParameterValue (spec §1.3 messages)", () => {
  it.each(CASES)("%s", (_label, over, value, expected) => {
    const r = validateParameterValue(param(over), value);
    if ("ok" in expected) {
      expect(r).toEqual({ ok: true, value: expected.ok });
    } else {
      expect(r).toEqual({ ok: false, message: expected.message });
    }
  });
});

describe("validateParameterValues", () => {
  const step = stepWith(
    "python train.py {parameters}",
    "[{name: lr, type: float, default: 0.01}, {name: epochs, type: integer}, {name: verbose, type: flag, default: true}, {name: max_steps, type: integer, optional: true}, {name: tag, optional: true}]",
  );

  it("unknown names get a suggestion and the list", () => {
    const r = validateParameterValues(step, { lrr: 1, epochs: 3 });
    expect(r.errors).toEqual([{ parameter: "lrr", message: "Step s has no parameter 'lrr'. Did you mean 'lr'? Parameters: lr, epochs, verbose, max_steps, tag" }]);
  });

  it("required parameters must be supplied", () => {
    const r = validateParameterValues(step, {});
    expect(r.errors.map((e) => e.parameter)).toEqual(["epochs"]);
    expect(r.errors[0]?.message).toMatch(/^No value supplied/);
  });

  it("merges defaults, casts values, applies flag defaults", () => {
    const r = validateParameterValues(step, { epochs: "5" });
    expect(r.errors).toEqual([]);
    expect(r.values).toEqual({ lr: new PyFloat(0.01), epochs: 5, verbose: true });
    expect(JSON.parse(JSON.stringify(r.values))).toEqual({ lr: 0.01, epochs: 5, verbose: true });
  });

  it("accepts valohai-cli's option spelling of a name", () => {
    const r = validateParameterValues(step, { epochs: 1, "max-steps": 10 });
    expect(r.errors).toEqual([]);
    expect(r.values["max_steps"]).toBe(10);
  });

  it("null on an optional parameter removes it; on a required one it is an error", () => {
    expect(validateParameterValues(step, { epochs: 1, tag: null }).values["tag"]).toBeNull();
    expect(validateParameterValues(step, { epochs: null }).errors).toEqual([{ parameter: "epochs", message: "No value supplied" }]);
  });

  it("reports invalid values with the parameter name", () => {
    expect(validateParameterValues(step, { epochs: "5.3" }).errors).toEqual([{ parameter: "epochs", message: "5.3 is not an integer" }]);
  });
});
