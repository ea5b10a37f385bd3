import { describe, expect, it } from "vitest";
import { formatMap, formatValue, PyFloat, pythonRepr, pythonStr, PyDate } from "../../app/valohai/index.js";

describe("pythonStr", () => {
  it.each([
    [true, "True"],
    [false, "False"],
    [null, "None"],
    [1, "1"],
    [0.5, "0.5"],
    [new PyFloat(1), "1.0"],
    [new PyFloat(1e-7), "1e-07"],
    [new PyFloat(1e16), "1e+16"],
    [new PyFloat(1e15), "1000000000000000.0"],
    [new PyFloat(0.0001), "0.0001"],
    [new PyFloat(0.00001), "1e-05"],
    [new PyFloat(123456789.123), "123456789.123"],
    [new PyFloat(-0), "-0.0"],
    [new PyFloat(Infinity), "inf"],
    [new PyFloat(NaN), "nan"],
    [new PyFloat(1.5e300), "1.5e+300"],
    [1e21, "1000000000000000000000"],
    [["a", "b"], "['a', 'b']"],
    [["it's"], `["it's"]`],
    [[1, new PyFloat(2), true, null], "[1, 2.0, True, None]"],
    [{ a: 1 }, "{'a': 1}"],
    ["tab\there", "tab\there"],
    [new PyDate(2020, 9, 2), "2020-09-02"],
  ] as [unknown, string][])("%j → %s", (v, s) => {
    expect(pythonStr(v)).toBe(s);
  });
  it("repr of strings escapes like Python", () => {
    expect(pythonRepr("a'b")).toBe(`"a'b"`);
    expect(pythonRepr(`a'b"`)).toBe(`'a\\'b"'`);
    expect(pythonRepr("x\ny\\")).toBe(`'x\\ny\\\\'`);
    expect(pythonRepr("\u0001ä")).toBe(`'\\x01ä'`);
  });
});

describe("format specs (values checked against CPython 3.11)", () => {
  it.each([
    [new PyFloat(9.99), ".1e", "1.0e+01"],
    [new PyFloat(0.5), ".0f", "0"],
    [new PyFloat(2.5), ".0f", "2"],
    [new PyFloat(1e16), ">8", "   1e+16"],
    [new PyFloat(1), ".3", "1.0"],
    [new PyFloat(100), ".2", "1e+02"],
    [new PyFloat(123456), "g", "123456"],
    [new PyFloat(1234567), ",.2f", "1,234,567.00"],
    [true, ">5", "    1"],
    [true, "", "True"],
    [new PyFloat(-0.0001), "z.2f", "0.00"],
    [new PyFloat(0.0001234), "g", "0.0001234"],
    [new PyFloat(1e-5), ".3", "1e-05"],
    ["ab", "05", "ab000"],
    [12, "#x", "0xc"],
    [5, "08.3f", "0005.000"],
    [0.1, ".3f", "0.100"],
    [new PyFloat(0.125), ".2f", "0.12"],
    [new PyFloat(0.375), ".2f", "0.38"],
    [new PyFloat(0.25), ".1%", "25.0%"],
    [-42, "+d", "-42"],
    [42, "+d", "+42"],
    [42, "*^8", "***42***"],
    [1234567, "_", "1_234_567"],
    ["abc", ".2", "ab"],
    ["abc", ">5", "  abc"],
  ] as [unknown, string, string][])("format(%j, %j) = %j", (v, spec, out) => {
    expect(formatValue(v, spec)).toBe(out);
  });

  it("errors where Python raises", () => {
    expect(() => formatValue("x", ".2f")).toThrow(/Unknown format code 'f' for object of type 'str'/);
    expect(() => formatValue(null, ">3")).toThrow(/NoneType/);
    expect(() => formatValue(3, ".2d")).toThrow(/Precision not allowed/);
  });
});

describe("formatMap", () => {
  it("fills fields, escapes braces, applies conversions", () => {
    expect(formatMap("--{name}={v:.2f}", { name: "lr", v: new PyFloat(0.1) })).toBe("--lr=0.10");
    expect(formatMap("{{x}}{v!r}", { v: "a" })).toBe("{x}'a'");
    expect(formatMap("{v[1]}", { v: ["a", "b"] })).toBe("b");
    expect(formatMap("{v:>{w}}", { v: "a", w: 3 })).toBe("  a");
  });
  it("raises like Python", () => {
    expect(() => formatMap("{nope}", { v: 1 })).toThrow("'nope'");
    expect(() => formatMap("a}", {})).toThrow(/Single '}'/);
    expect(() => formatMap("{v", { v: 1 })).toThrow(/expected '}'/);
    expect(() => formatMap("{}", { v: 1 })).toThrow(/positional/);
  });
});
