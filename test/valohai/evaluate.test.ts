import { describe, expect, it } from "vitest";
import {
  compileExpression,
  conditionHolds,
  evaluateExpression,
  isCompiled,
  MAX_EXPRESSION_LENGTH,
  type CompiledExpression,
  type EvalScope,
  type EvalValue,
} from "../../app/valohai/evaluate.js";
import { checkExpression } from "../../app/valohai/expression.js";

const scope: EvalScope = {
  metadata: { loss: 0.05, accuracy: 0.96, epoch: 4, "val/loss": 0.15, name: "resnet", tags: ["a", "b"], nested: { deep: { x: 1 } } },
  execution: { duration: 4000, status: "started" },
  parameters: { lr: 0.001, layers: 3 },
  nothing: null,
};

function value(src: string, s: EvalScope = scope): EvalValue {
  const r = evaluateExpression(src, s);
  if (!r.ok) throw new Error(`${src}: ${r.message} (column ${r.column})`);
  return r.value;
}

function error(src: string, s: EvalScope = scope): { message: string; column: number } {
  const r = evaluateExpression(src, s);
  if (r.ok) throw new Error(`${src}: expected an error, got ${JSON.stringify(r.value)}`);
  return { message: r.message, column: r.column };
}

function compiled(src: string): CompiledExpression {
  const c = compileExpression(src);
  if (!isCompiled(c)) throw new Error(`${src}: ${c.message}`);
  return c;
}

describe("Valohai stop-condition examples", () => {
  it.each([
    ["loss < 0.1", true],
    ["metadata.accuracy >= 0.95 and metadata.epoch > 3", true],
    ["metadata.accuracy >= 0.97 and metadata.epoch > 3", false],
    ["execution.duration > 3600", true],
    ['metadata["val/loss"] < .2', true],
    ["metadata['val/loss'] < .1", false],
  ])("%s → %s", (src, want) => {
    expect(value(src)).toBe(want);
  });
});

describe("literals", () => {
  it.each<[string, EvalValue]>([
    ["1", 1],
    ["1.5", 1.5],
    ["1e-3", 0.001],
    [".5", 0.5],
    ["5.", 5],
    ["1_000_000", 1000000],
    ["0x1F + 0o17 + 0b11", 31 + 15 + 3],
    ["'a' 'b' \"c\"", "abc"],
    ["'tab\\there'", "tab\there"],
    ["r'raw\\n'", "raw\\n"],
    ["'\\x41\\u00e9\\101'", "Aé\x41"],
    ["True", true],
    ["False", false],
    ["None", null],
    ["[1, 2, 3]", [1, 2, 3]],
    ["(1, 2)", [1, 2]],
    ["()", []],
    ["(1,)", [1]],
    ["1, 2", [1, 2]],
    ["{'a': 1}", { a: 1 }],
  ])("%s", (src, want) => {
    expect(value(src)).toEqual(want);
  });

  it("refuses what it does not support, with the column", () => {
    expect(error("1 + 2j")).toEqual({ message: "complex numbers are not supported in stop conditions", column: 5 });
    expect(error("b'x' == 1").message).toBe("bytes literals are not supported in stop conditions");
    expect(error("f'{loss}'").message).toBe("f-strings are not supported in stop conditions");
    expect(error("{1, 2}").message).toBe("set literals are not supported in stop conditions");
    expect(error("007").message).toMatch(/^leading zeros in decimal integer literals/);
  });
});

describe("arithmetic", () => {
  it.each<[string, EvalValue]>([
    ["1 + 2 * 3", 7],
    ["(1 + 2) * 3", 9],
    ["7 / 2", 3.5],
    ["7 // 2", 3],
    ["-7 // 2", -4],
    ["7 // -2", -4],
    ["1 // 0.1", 9],
    ["-7 % 2", 1],
    ["7 % -2", -1],
    ["7.5 % 2", 1.5],
    ["2 ** 10", 1024],
    ["2 ** -1", 0.5],
    ["2 ** 3 ** 2", 512],
    ["-2 ** 2", -4],
    ["-loss", -0.05],
    ["+True", 1],
    ["- - 3", 3],
    ["True + True", 2],
    ["10 - 2 - 3", 5],
    ["'ab' + 'cd'", "abcd"],
    ["'ab' * 3", "ababab"],
    ["2 * 'x'", "xx"],
    ["[1] * 3", [1, 1, 1]],
    ["[1, 2] + [3]", [1, 2, 3]],
    ["'x' * -1", ""],
    ["6 & 3, 6 | 3, 6 ^ 3, 1 << 4, 256 >> 4, ~5", [2, 7, 5, 16, 16, -6]],
    ["True & False", false],
  ])("%s", (src, want) => {
    expect(value(src)).toEqual(want);
  });

  it("division by zero is an error result with the operator's column", () => {
    expect(error("1 / 0")).toEqual({ message: "division by zero", column: 3 });
    expect(error("1.5 / 0").message).toBe("float division by zero");
    expect(error("1 // 0").message).toBe("integer division or modulo by zero");
    expect(error("1 % 0").message).toBe("integer modulo by zero");
    expect(error("loss / (epoch - 4)")).toEqual({ message: "float division by zero", column: 6 });
    expect(error("0 ** -1").message).toBe("0.0 cannot be raised to a negative power");
  });

  it("type errors use Python's wording", () => {
    expect(error("'a' + 1").message).toBe('can only concatenate str (not "int") to str');
    expect(error("1 + 'a'").message).toBe("unsupported operand type(s) for +: 'int' and 'str'");
    expect(error("[1] + (2,)").message).toBe('can only concatenate list (not "tuple") to list');
    expect(error("'a' - 'b'").message).toBe("unsupported operand type(s) for -: 'str' and 'str'");
    expect(error("'a' * 1.5").message).toBe("can't multiply sequence by non-int of type 'float'");
    expect(error("-'a'").message).toBe("bad operand type for unary -: 'str'");
    expect(error("None + 1").message).toBe("unsupported operand type(s) for +: 'NoneType' and 'int'");
    expect(error("'%d' % 3").message).toBe("string formatting with '%' is not supported in stop conditions");
    expect(error("1.5 & 1").message).toBe("unsupported operand type(s) for &: 'float' and 'int'");
    expect(error("10.0 ** 400").message).toBe("numeric result out of range");
  });
});

describe("comparisons", () => {
  it.each<[string, EvalValue]>([
    ["1 < 2", true],
    ["2 <= 2", true],
    ["3 > 4", false],
    ["3 >= 4", false],
    ["1 == 1.0", true],
    ["True == 1", true],
    ["'1' == 1", false],
    ["1 != 2", true],
    ["[1, [2]] == [1, [2]]", true],
    ["(1, 2) == [1, 2]", false],
    ["{'a': 1} == {'a': 1.0}", true],
    ["'abc' < 'abd'", true],
    ["[1, 2] < [1, 3]", true],
    ["[1, 2] < [1, 2, 0]", true],
    ["0 < loss < 1", true],
    ["0 < loss < 0.01", false],
    ["1 < 2 > 0 != 5", true],
    ["'a' in 'cat'", true],
    ["'z' not in 'cat'", true],
    ["'a' in metadata.tags", true],
    ["'loss' in metadata", true],
    ["'nope' in metadata", false],
    ["1 in {'1': 2}", false],
    ["2 in (1, 2)", true],
    ["nothing is None", true],
    ["loss is not None", true],
    ["None == None", true],
  ])("%s", (src, want) => {
    expect(value(src)).toBe(want);
  });

  it("a chain stops at the first false link (later links are not evaluated)", () => {
    expect(value("2 < 1 < undefined_name")).toBe(false);
    expect(error("1 < 2 < undefined_name")).toEqual({ message: 'name "undefined_name" is not defined', column: 9 });
  });

  it("ordering across types is a TypeError like Python's", () => {
    expect(error("'a' < 0.5")).toEqual({ message: "'<' not supported between instances of 'str' and 'float'", column: 5 });
    expect(error("metadata.name >= 1")).toEqual({ message: "'>=' not supported between instances of 'str' and 'int'", column: 15 });
    expect(error("None < 1").message).toBe("'<' not supported between instances of 'NoneType' and 'int'");
    expect(error("[1] < (1,)").message).toBe("'<' not supported between instances of 'list' and 'tuple'");
    expect(error("{} < {}").message).toBe("'<' not supported between instances of 'dict' and 'dict'");
    expect(error("1 in 5").message).toBe("argument of type 'int' is not iterable");
    expect(error("1 in 'abc'").message).toBe("'in <string>' requires string as left operand, not int");
    expect(error("[1] in metadata").message).toBe("unhashable type: 'list'");
  });
});

describe("boolean operators", () => {
  it.each<[string, EvalValue]>([
    ["True and False", false],
    ["True or False", true],
    ["not 0", true],
    ["not 'x'", false],
    ["not []", true],
    ["not {}", true],
    ["not None", true],
    ["0 or 'fallback'", "fallback"],
    ["1 and 'second'", "second"],
    ["'' and 1", ""],
    ["not loss > 1", true],
    ["1 or 2 and 0", 1],
  ])("%s", (src, want) => {
    expect(value(src)).toEqual(want);
  });

  it("short-circuits: the skipped operand is never evaluated", () => {
    expect(value("False and undefined_name")).toBe(false);
    expect(value("True or undefined_name")).toBe(true);
    expect(value("loss < 1 or 1 / 0")).toBe(true);
    expect(error("True and undefined_name")).toEqual({ message: 'name "undefined_name" is not defined', column: 10 });
    expect(error("False or 1 / 0")).toEqual({ message: "division by zero", column: 12 });
  });
});

describe("names, attributes and subscripts", () => {
  it("bare names resolve in the scope, then in scope.metadata", () => {
    expect(value("parameters.lr")).toBe(0.001);
    expect(value("epoch * 2")).toBe(8);
    expect(value("accuracy")).toBe(0.96);
    expect(value("loss", { loss: 1, metadata: { loss: 2 } })).toBe(1);
    expect(value("loss", { loss: undefined, metadata: { loss: 2 } })).toBe(2);
    expect(error("loss", { metadata: null })).toEqual({ message: 'name "loss" is not defined', column: 1 });
    expect(error("loss", { metadata: [1] }).message).toBe('name "loss" is not defined');
  });

  it("a missing name is an error with its column", () => {
    expect(error("loss < 1 and foo > 2")).toEqual({ message: 'name "foo" is not defined', column: 14 });
  });

  it("does not reach prototype properties", () => {
    expect(error("constructor").message).toBe('name "constructor" is not defined');
    expect(error("toString").message).toBe('name "toString" is not defined');
    expect(error("metadata.constructor").message).toBe('metadata has no key "constructor"');
    expect(error("metadata['__proto__']").message).toBe('metadata has no key "__proto__"');
    expect(error("{'a': 1}.hasOwnProperty").message).toBe('dict has no key "hasOwnProperty"');
  });

  it("missing keys name the path", () => {
    expect(error("metadata.foo > 1")).toEqual({ message: 'metadata has no key "foo"', column: 10 });
    expect(error('metadata["val/acc"]')).toEqual({ message: 'metadata has no key "val/acc"', column: 9 });
    expect(error("metadata.nested.deep.y").message).toBe('metadata.nested.deep has no key "y"');
    expect(error("metadata['nested']['zz']").message).toBe('metadata["nested"] has no key "zz"');
    expect(error("metadata[1]").message).toBe("metadata has no key 1");
  });

  it("attributes exist only as object keys", () => {
    expect(value("metadata.nested.deep.x")).toBe(1);
    expect(error("'x'.__class__")).toEqual({ message: "'str' object has no attribute '__class__'", column: 5 });
    expect(error("metadata.name.upper").message).toBe("'str' object has no attribute 'upper'");
    expect(error("metadata.tags.length").message).toBe("'list' object has no attribute 'length'");
    expect(error("(1).real").message).toBe("'int' object has no attribute 'real'");
  });

  it("indexes and slices lists and strings like Python", () => {
    expect(value("metadata.tags[0]")).toBe("a");
    expect(value("metadata.tags[-1]")).toBe("b");
    expect(value("'hello'[1]")).toBe("e");
    expect(value("[1, 2, 3, 4][1:3]")).toEqual([2, 3]);
    expect(value("[1, 2, 3, 4][::-1]")).toEqual([4, 3, 2, 1]);
    expect(value("'hello'[-3:]")).toBe("llo");
    expect(value("[1, 2, 3][5:]")).toEqual([]);
    expect(error("metadata.tags[2]").message).toBe("list index out of range");
    expect(error("'ab'[0.5]").message).toBe("str indices must be integers or slices, not float");
    expect(error("[1][::0]").message).toBe("slice step cannot be zero");
    expect(error("loss[0]").message).toBe("'float' object is not subscriptable");
  });
});

describe("calls", () => {
  it.each<[string, EvalValue]>([
    ["abs(-3.5)", 3.5],
    ["len('héllo')", 5],
    ["len(metadata.tags)", 2],
    ["len({'a': 1, 'b': 2})", 2],
    ["min(3, 1, 2)", 1],
    ["max([4, 9, 2])", 9],
    ["max('abc')", "c"],
    ["min(loss, 1)", 0.05],
    ["round(2.5)", 2],
    ["round(3.5)", 4],
    ["round(-2.5)", -2],
    ["round(0.125, 2)", 0.12],
    ["round(2.675, 2)", 2.67],
    ["round(1234, -2)", 1200],
    ["round(loss, 1)", 0.1],
  ])("%s", (src, want) => {
    expect(value(src)).toEqual(want);
  });

  it("only allow-listed functions can be called", () => {
    expect(error("loss < 1 and exec('x')")).toEqual({
      message: 'function "exec" is not allowed (only abs, len, max, min, round can be called)',
      column: 14,
    });
    expect(error("False and open('f')").message).toMatch(/^function "open" is not allowed/);
    expect(error("metadata.foo()").message).toBe("only the functions abs, len, max, min, round can be called");
    expect(value("(abs)(-1)")).toBe(1);
    expect(error("[abs][0](1)").message).toBe("only the functions abs, len, max, min, round can be called");
    expect(error("round(x=1)").message).toBe("keyword arguments are not supported in stop conditions");
    expect(error("max(*metadata.tags)").message).toBe("star arguments are not supported in stop conditions");
  });

  it("reports bad arguments like Python", () => {
    expect(error("abs('x')").message).toBe("bad operand type for abs(): 'str'");
    expect(error("len(5)").message).toBe("object of type 'int' has no len()");
    expect(error("len(1, 2)").message).toBe("len() takes exactly one argument (2 given)");
    expect(error("min([])").message).toBe("min() iterable argument is empty");
    expect(error("max()").message).toBe("max expected at least 1 argument, got 0");
    expect(error("max(1, 'a')").message).toBe("'>' not supported between instances of 'str' and 'int'");
    expect(error("round('x')").message).toBe("type str doesn't define __round__ method");
  });
});

describe("syntax errors", () => {
  it("reuse the checker's Python wording and columns", () => {
    for (const src of ["", "loss <", "loss below 0.01", "'abc", "(1", "1)", "a.True", "x = 1", "a ! b"]) {
      const c = compileExpression(src);
      const check = checkExpression(src);
      expect(isCompiled(c), src).toBe(false);
      expect(check.ok, src).toBe(false);
      if (!isCompiled(c) && !check.ok) expect({ message: c.message, column: c.column }, src).toEqual({ message: check.message, column: check.column });
    }
    expect(error("loss below 0.01")).toEqual({ message: "invalid syntax", column: 6 });
  });
});

describe("hostile input", () => {
  it("refuses over-long source", () => {
    const src = "1+".repeat(MAX_EXPRESSION_LENGTH) + "1";
    expect(error(src).message).toMatch(/^expression is too long \(20001 characters; the limit is 10000\)$/);
  });

  it("evaluates long flat chains without deep recursion", () => {
    expect(value("1+".repeat(4000) + "1")).toBe(4001);
    expect(value("x." + "a.".repeat(2000) + "a", { x: nestedA(2001) })).toBe(0);
    expect(value(Array(1000).fill("True").join(" and "))).toBe(true);
  });

  it("refuses deep nesting with a clear error instead of overflowing the stack", () => {
    expect(error("(".repeat(4000) + "1" + ")".repeat(4000))).toEqual({ message: "too many nested parentheses", column: 201 });
    expect(checkExpression("[".repeat(4000) + "]".repeat(4000))).toEqual({ ok: false, message: "too many nested parentheses", column: 201 });
    for (const src of ["(".repeat(150) + "1" + ")".repeat(150), "[".repeat(150) + "]".repeat(150), "not ".repeat(2000) + "1", "-".repeat(5000) + "1", "2**".repeat(3000) + "2", "abs(".repeat(150) + "1" + ")".repeat(150)]) {
      expect(error(src).message, src.slice(0, 10)).toBe("expression is nested too deeply (more than 100 levels)");
    }
    expect(value("(".repeat(50) + "1" + ")".repeat(50))).toBe(1);
    expect(checkExpression("(".repeat(200) + "1" + ")".repeat(200))).toEqual({ ok: true });
    // The checker does not crash on them either.
    for (const src of ["not ".repeat(2400) + "1", "-".repeat(9999) + "1", "abs(".repeat(150) + "1" + ")".repeat(150)]) {
      expect(checkExpression(src).ok, src.slice(0, 10)).toBeTypeOf("boolean");
    }
  });

  it("caps the size of built sequences and the work done", () => {
    expect(error("'a' * 10**9").message).toBe("result is too large (more than 1000000 items)");
    expect(error("[0] * 1000 * 1000 * 1000").message).toBe("result is too large (more than 1000000 items)");
    expect(error("[[0] * 1000000] * 100 == [[0] * 1000000] * 100").message).toMatch(/^expression is too expensive to evaluate/);
    expect(error("1 << 100").message).toBe("integer result is too large");
  });
});

function nestedA(levels: number): EvalValue {
  let v: EvalValue = 0;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

describe("compile once, evaluate many", () => {
  it("re-evaluates against each new scope and lists the top-level names", () => {
    const c = compiled("loss < 0.1 and metadata.epoch > 3 and abs(loss - prev) < 1e-3");
    expect(c.names).toEqual(["loss", "metadata", "prev"]);
    const lines = [
      { metadata: { loss: 0.5, epoch: 1 }, prev: 0.6 },
      { metadata: { loss: 0.09, epoch: 2 }, prev: 0.5 },
      { metadata: { loss: 0.0905, epoch: 5 }, prev: 0.09 },
    ];
    expect(lines.map((s) => conditionHolds(c, s))).toEqual([false, false, true]);
    expect(c.evaluate(lines[0] as EvalScope)).toEqual({ ok: true, value: false });
  });

  it("conditionHolds is false on errors and missing names, never throwing", () => {
    const c = compiled("val_loss < 0.2");
    expect(conditionHolds(c, {})).toBe(false);
    expect(conditionHolds(c, { metadata: { val_loss: "x" } })).toBe(false);
    expect(conditionHolds(c, { metadata: { val_loss: 0.1 } })).toBe(true);
    expect(conditionHolds(compiled("metadata.tags"), scope)).toBe(true);
    expect(conditionHolds(compiled("0.0"), scope)).toBe(false);
  });

  it("compile errors come back as results", () => {
    expect(compileExpression("loss <")).toEqual({ ok: false, message: "invalid syntax", column: 7 });
    expect(compileExpression("eval('1')")).toEqual({
      ok: false,
      message: 'function "eval" is not allowed (only abs, len, max, min, round can be called)',
      column: 1,
    });
  });

  it("does not mutate the scope", () => {
    const s: EvalScope = { metadata: { tags: ["a"] } };
    value("metadata.tags + ['b']", s);
    value("metadata.tags * 3", s);
    expect(s).toEqual({ metadata: { tags: ["a"] } });
  });
});
