import { describe, expect, it } from "vitest";
import { parse as yamlParse } from "yaml";
import { loadValohaiYaml, parseYaml11, pythonRepr, PyDate, PyFloat, resolvePlainScalar } from "../../app/valohai/index.js";

function kind(v: unknown): string {
  if (v === null) return "NoneType";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return "int";
  if (v instanceof PyFloat) return "float";
  if (v instanceof PyDate) return v.time ? "datetime" : "date";
  return "str";
}

// Expected values are what PyYAML 6 `safe_load` gives (type and Python repr).
const SCALARS: [string, string, string][] = [
  ["1e-4", "str", "'1e-4'"],
  ["1e20", "str", "'1e20'"],
  ["1e-08", "str", "'1e-08'"],
  ["1e3", "str", "'1e3'"],
  ["1.0e-4", "float", "0.0001"],
  ["1.0e+20", "float", "1e+20"],
  ["2.5e-5", "float", "2.5e-05"],
  ["0.00001", "float", "1e-05"],
  ["1.", "float", "1.0"],
  [".5", "float", "0.5"],
  ["-.5", "str", "'-.5'"],
  ["+.5", "str", "'+.5'"],
  ["yes", "bool", "True"],
  ["No", "bool", "False"],
  ["ON", "bool", "True"],
  ["off", "bool", "False"],
  ["y", "str", "'y'"],
  ["n", "str", "'n'"],
  ["Y", "str", "'Y'"],
  ["tRue", "str", "'tRue'"],
  ["0777", "int", "511"],
  ["09", "str", "'09'"],
  ["0o17", "str", "'0o17'"],
  ["0x1F", "int", "31"],
  ["0b101", "int", "5"],
  ["1_000", "int", "1000"],
  ["1:30", "int", "90"],
  ["1:30:00", "int", "5400"],
  ["-1:30", "int", "-90"],
  ["1:30.5", "float", "90.5"],
  ["12:60", "str", "'12:60'"],
  ["2020-09-02", "date", "datetime.date(2020, 9, 2)"],
  ["2020-09-02T00:00:00Z", "datetime", "datetime.datetime(2020, 9, 2, 0, 0, tzinfo=datetime.timezone.utc)"],
  ["2020-09-02 10:11:12", "datetime", "datetime.datetime(2020, 9, 2, 10, 11, 12)"],
  ["~", "NoneType", "None"],
  ["nUll", "str", "'nUll'"],
  [".inf", "float", "inf"],
  ["-.inf", "float", "-inf"],
  [".NaN", "float", "nan"],
  ["-0", "int", "0"],
  ["-1_000.5_5", "float", "-1000.55"],
];

describe("plain scalars resolve like PyYAML safe_load", () => {
  it.each(SCALARS)("%s → %s %s", (text, type, repr) => {
    const v = resolvePlainScalar(text);
    expect(kind(v)).toBe(type);
    expect(pythonRepr(v)).toBe(repr);
  });
});

describe("where the yaml package's own 1.1 schema differs from PyYAML", () => {
  const own = (s: string): unknown => (yamlParse(`k: ${s}`, { version: "1.1" }) as { k: unknown }).k;
  const ours = (s: string): unknown => (parseYaml11(`k: ${s}`).value as { k: unknown }).k;
  it("1e-4 stays a string (yaml makes it 0.0001)", () => {
    expect(own("1e-4")).toBe(0.0001);
    expect(ours("1e-4")).toBe("1e-4");
  });
  it("y / n stay strings (yaml makes them booleans)", () => {
    expect(own("y")).toBe(true);
    expect(ours("y")).toBe("y");
    expect(ours("n")).toBe("n");
  });
  it("09 is a string, not 9", () => {
    expect(own("09")).toBe(9);
    expect(ours("09")).toBe("09");
  });
  it("-.5 is a string", () => {
    expect(own("-.5")).toBe(-0.5);
    expect(ours("-.5")).toBe("-.5");
  });
  it("dates are PyDate values printed like Python, not JS Dates", () => {
    expect(own("2020-09-02")).toBeInstanceOf(Date);
    const d = ours("2020-09-02");
    expect(d).toBeInstanceOf(PyDate);
    expect(String(d)).toBe("2020-09-02");
    expect(String(ours("2020-09-02T00:00:00.000000Z"))).toBe("2020-09-02 00:00:00+00:00");
  });
  it("floats keep the float type (1.0 is not the int 1)", () => {
    expect(own("1.0")).toBe(1);
    expect(ours("1.0")).toBeInstanceOf(PyFloat);
    expect(String(ours("1.0"))).toBe("1.0");
  });
  it("sexagesimal, octal and underscores agree", () => {
    expect(ours("1:30")).toBe(90);
    expect(ours("0777")).toBe(511);
    expect(ours("1_000")).toBe(1000);
  });
});

describe("structure", () => {
  it("quoted scalars are strings", () => {
    expect(parseYaml11(`a: "1e-4"\nb: 'yes'\nc: "1"\nd: |\n  1.0\n`).value).toEqual({ a: "1e-4", b: "yes", c: "1", d: "1.0\n" });
  });
  it("explicit tags", () => {
    const v = parseYaml11("a: !!str 1\nb: !!int '7'\nc: !!float 1\n").value as Record<string, unknown>;
    expect(v["a"]).toBe("1");
    expect(v["b"]).toBe(7);
    expect(String(v["c"])).toBe("1.0");
    expect(parseYaml11("a: !custom x").problems[0]?.message).toMatch(/tag !custom/);
  });
  it("anchors, aliases and merge keys", () => {
    const v = parseYaml11("base: &b {image: x, command: y}\nstep:\n  <<: *b\n  command: z\nlist: [*b]\n").value as Record<string, unknown>;
    expect(v["step"]).toEqual({ image: "x", command: "z" });
    expect(v["list"]).toEqual([{ image: "x", command: "y" }]);
  });
  it("duplicate keys: the last one wins, like PyYAML", () => {
    expect(parseYaml11("a: 1\na: 2\n").value).toEqual({ a: 2 });
  });
  it("boolean keys become Python's str of the key", () => {
    expect(parseYaml11("on: 1\n").value).toEqual({ True: 1 });
  });
  it("an unquoted = is refused like PyYAML", () => {
    expect(parseYaml11("a: =\n").problems).toHaveLength(1);
  });
  it("alias bombs are refused instead of hanging", () => {
    let text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (let i = 1; i < 9; i++) text += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]\n`;
    const r = parseYaml11(text);
    expect(r.problems[0]?.message).toMatch(/too large/);
  });
  it("multiple documents are refused", () => {
    const r = loadValohaiYaml("- step: {name: a, image: b, command: c}\n---\n- step: {name: d, image: b, command: c}\n");
    expect(r.config).toBeNull();
    expect(r.problems[0]?.message).toMatch(/one YAML document/);
  });
  it("records positions of values and keys", () => {
    const r = parseYaml11("- step:\n    name: x\n    image: y\n");
    expect(r.positions.get("0.step.image")).toEqual({ line: 3, column: 12 });
    expect(r.positions.get("0.step.image#key")).toEqual({ line: 3, column: 5 });
  });
  it("an empty file is an empty config", () => {
    const r = loadValohaiYaml("");
    expect(r.problems).toEqual([]);
    expect(r.config?.steps.size).toBe(0);
    expect(loadValohaiYaml("# only a comment\n").config?.steps.size).toBe(0);
  });
});
