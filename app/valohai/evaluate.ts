/**
 * A safe evaluator for `stop-condition` expressions (the language checkExpression in expression.ts
 * checks: Python expressions as leval evaluates them for Valohai). It parses with the shared
 * tokenizer into a small tree and walks it; nothing is ever handed to eval/Function, and only
 * plain data is reachable: bare names from the scope (or, as a convenience, from scope.metadata),
 * keys of objects (as `.attr` or `["key"]`), items of lists, and the calls abs/len/max/min/round.
 *
 * Semantics follow Python: int/float arithmetic (/ // % ** with Python's floor rules), string and
 * list concatenation/repetition, chained comparisons, ==/!= (deep, list ≠ tuple), in/not in,
 * is/is not, and/or returning an operand with short-circuit, Python truthiness. Errors (missing
 * names or keys, type errors with Python's TypeError wording, division by zero) are results with a
 * 1-based column, never exceptions. Numbers are JS doubles: an integral double is reported as
 * 'int' in messages, and ints beyond 2**53 lose precision (Python's are exact).
 *
 * Limits keep hostile input cheap: source ≤ 10,000 characters, ≤ 200 open brackets (the shared
 * tokenizer, as CPython), nesting ≤ 100 levels (sub-expressions and unary operators, counting the
 * top level), sequences built by + or * ≤ 1,000,000 items, and a work budget of 10,000,000 steps
 * per evaluation. Disallowed calls are refused at compile time, so even `False and open(...)` fails.
 */
import { ExprSyntaxError, TokenCursor, tokenize, type Tok } from "./expression.js";

export type EvalValue = number | string | boolean | null | EvalValue[] | { [k: string]: EvalValue };
export type EvalResult = { ok: true; value: EvalValue } | { ok: false; message: string; column: number /* 1-based */ };
export type EvalScope = Record<string, EvalValue | undefined>;

/** Parse once, evaluate many times (the supervisor evaluates on every metadata line). */
export interface CompiledExpression {
  evaluate(scope: EvalScope): EvalResult;
  /** Top-level names used (bare names, excluding called functions), in order of first use. */
  names: string[];
}
export type CompileError = { ok: false; message: string; column: number };

export const MAX_EXPRESSION_LENGTH = 10_000;
export const MAX_NESTING = 100;
export const MAX_SEQUENCE_LENGTH = 1_000_000;
export const MAX_WORK = 10_000_000;
export const ALLOWED_FUNCTIONS = ["abs", "len", "max", "min", "round"] as const;
type FnName = (typeof ALLOWED_FUNCTIONS)[number];

// ---------------------------------------------------------------------------------------------
// Tree

type Trailer =
  | { t: "attr"; name: string; col: number }
  | { t: "index"; index: Node; col: number }
  | { t: "slice"; lo: Node | null; hi: Node | null; step: Node | null; col: number };
type Link = { op: string; col: number; right: Node };
type Node =
  | { t: "const"; v: EvalValue; col: number }
  | { t: "name"; name: string; col: number }
  | { t: "seq"; items: Node[]; tuple: boolean; col: number }
  | { t: "dict"; keys: Node[]; values: Node[]; col: number }
  | { t: "logic"; first: Node; rest: Link[] }
  | { t: "not"; x: Node; col: number }
  | { t: "cmp"; first: Node; rest: Link[] }
  | { t: "bin"; first: Node; rest: Link[] }
  | { t: "unary"; op: string; x: Node; col: number }
  | { t: "pow"; base: Node; exp: Node; col: number }
  | { t: "call"; fn: FnName; args: Node[]; col: number }
  | { t: "postfix"; base: Node; trailers: Trailer[] };

const WORD_OPS = new Set(["and", "or", "not", "in", "is", "for"]);
const CONSTANTS = new Map<string, EvalValue>([["True", true], ["False", false], ["None", null]]);
const BIN_LEVELS = [["|"], ["^"], ["&"], ["<<", ">>"], ["+", "-"], ["*", "/", "//", "%", "@"]];

class Parser extends TokenCursor {
  private depth = 0;
  readonly names: string[] = [];
  private unsupported(what: string, col: number): never {
    throw new ExprSyntaxError(`${what} ${what.endsWith("s") ? "are" : "is"} not supported in stop conditions`, col);
  }
  private enter(): void {
    if (++this.depth > MAX_NESTING) {
      throw new ExprSyntaxError(`expression is nested too deeply (more than ${MAX_NESTING} levels)`, this.peek().col);
    }
  }

  parseAll(): Node {
    if (this.peek().kind === "end") throw new ExprSyntaxError("invalid syntax (the expression is empty)", 1);
    const col = this.peek().col;
    const first = this.expr();
    let node = first;
    if (this.isOp(",")) {
      const items = [first];
      while (this.isOp(",")) {
        this.i++;
        if (this.peek().kind === "end") break;
        items.push(this.expr());
      }
      node = { t: "seq", items, tuple: true, col };
    }
    if (this.peek().kind !== "end") this.fail();
    return node;
  }

  private expr(): Node {
    this.enter();
    const first = this.andTest();
    const rest: Link[] = [];
    while (this.isKw("or")) {
      const col = this.peek().col;
      this.i++;
      rest.push({ op: "or", col, right: this.andTest() });
    }
    this.depth--;
    return rest.length ? { t: "logic", first, rest } : first;
  }
  private andTest(): Node {
    const first = this.notTest();
    const rest: Link[] = [];
    while (this.isKw("and")) {
      const col = this.peek().col;
      this.i++;
      rest.push({ op: "and", col, right: this.notTest() });
    }
    return rest.length ? { t: "logic", first, rest } : first;
  }
  private notTest(): Node {
    if (this.isKw("not")) {
      const col = this.peek().col;
      this.i++;
      this.enter();
      const x = this.notTest();
      this.depth--;
      return { t: "not", x, col };
    }
    return this.comparison();
  }
  private comparison(): Node {
    const first = this.binLevel(0);
    const rest: Link[] = [];
    for (;;) {
      const t = this.peek();
      let op: string;
      if (t.kind === "op" && ["<", ">", "==", ">=", "<=", "!="].includes(t.text)) {
        op = t.text;
        this.i++;
      } else if (this.isKw("in")) {
        op = "in";
        this.i++;
      } else if (this.isKw("not")) {
        this.i++;
        if (!this.isKw("in")) this.fail();
        this.i++;
        op = "not in";
      } else if (this.isKw("is")) {
        this.i++;
        op = "is";
        if (this.isKw("not")) {
          this.i++;
          op = "is not";
        }
      } else {
        break;
      }
      rest.push({ op, col: t.col, right: this.binLevel(0) });
    }
    return rest.length ? { t: "cmp", first, rest } : first;
  }
  private binLevel(level: number): Node {
    const ops = BIN_LEVELS[level];
    if (!ops) return this.factor();
    const first = this.binLevel(level + 1);
    const rest: Link[] = [];
    while (this.peek().kind === "op" && ops.includes(this.peek().text)) {
      const t = this.peek();
      if (t.text === "@") this.unsupported("the '@' operator", t.col);
      this.i++;
      rest.push({ op: t.text, col: t.col, right: this.binLevel(level + 1) });
    }
    return rest.length ? { t: "bin", first, rest } : first;
  }
  private factor(): Node {
    const t = this.peek();
    if (t.kind === "op" && ["+", "-", "~"].includes(t.text)) {
      this.i++;
      this.enter();
      const x = this.factor();
      this.depth--;
      return { t: "unary", op: t.text, x, col: t.col };
    }
    return this.power();
  }
  private power(): Node {
    const base = this.postfix();
    if (this.isOp("**")) {
      const col = this.peek().col;
      this.i++;
      this.enter();
      const exp = this.factor();
      this.depth--;
      return { t: "pow", base, exp, col };
    }
    return base;
  }
  private postfix(): Node {
    let base = this.atom();
    if (base.t === "name" && this.isOp("(")) base = this.call(base);
    const trailers: Trailer[] = [];
    for (;;) {
      const t = this.peek();
      if (this.isOp(".")) {
        this.i++;
        const name = this.peek();
        if (name.kind !== "name" || CONSTANTS.has(name.text) || WORD_OPS.has(name.text)) this.fail();
        this.i++;
        trailers.push({ t: "attr", name: name.text, col: name.col });
      } else if (this.isOp("(")) {
        throw new ExprSyntaxError(`only the functions ${ALLOWED_FUNCTIONS.join(", ")} can be called`, t.col);
      } else if (this.isOp("[")) {
        this.i++;
        this.enter();
        trailers.push(this.subscript(t.col));
        this.depth--;
        this.expectOp("]");
      } else {
        break;
      }
    }
    return trailers.length ? { t: "postfix", base, trailers } : base;
  }
  private call(fn: { name: string; col: number }): Node {
    if (!(ALLOWED_FUNCTIONS as readonly string[]).includes(fn.name)) {
      throw new ExprSyntaxError(`function "${fn.name}" is not allowed (only ${ALLOWED_FUNCTIONS.join(", ")} can be called)`, fn.col);
    }
    this.i++; // (
    const args: Node[] = [];
    while (!this.isOp(")")) {
      const t = this.peek();
      if (this.isOp("*") || this.isOp("**")) this.unsupported("star arguments", t.col);
      if (t.kind === "name" && this.toks[this.i + 1]?.kind === "op" && this.toks[this.i + 1]?.text === "=") {
        this.unsupported("keyword arguments", t.col);
      }
      args.push(this.expr());
      if (!this.isOp(",")) break;
      this.i++;
    }
    this.expectOp(")");
    return { t: "call", fn: fn.name as FnName, args, col: fn.col };
  }
  private subscript(col: number): Trailer {
    if (this.isOp("]")) this.fail();
    const part = (): Node | null => (this.isOp(":") || this.isOp("]") || this.isOp(",") ? null : this.expr());
    const first = part();
    if (this.isOp(":")) {
      this.i++;
      const hi = part();
      let step: Node | null = null;
      if (this.isOp(":")) {
        this.i++;
        step = part();
      }
      if (this.isOp(",")) this.unsupported("multi-dimensional slices", this.peek().col);
      return { t: "slice", lo: first, hi, step, col };
    }
    if (!first) this.fail();
    if (!this.isOp(",")) return { t: "index", index: first, col };
    const items = [first];
    while (this.isOp(",")) {
      this.i++;
      if (this.isOp("]")) break;
      const p = part();
      if (!p || this.isOp(":")) this.unsupported("multi-dimensional slices", this.peek().col);
      items.push(p);
    }
    return { t: "index", index: { t: "seq", items, tuple: true, col: first.t === "name" || first.t === "const" ? first.col : col }, col };
  }
  private atom(): Node {
    const t = this.peek();
    if (t.kind === "number") {
      this.i++;
      return { t: "const", v: parseNumber(t), col: t.col };
    }
    if (t.kind === "string") {
      let v = "";
      while (this.peek().kind === "string") v += parseString(this.toks[this.i++] as Tok);
      return { t: "const", v, col: t.col };
    }
    if (t.kind === "name") {
      if (CONSTANTS.has(t.text)) {
        this.i++;
        return { t: "const", v: CONSTANTS.get(t.text) ?? null, col: t.col };
      }
      if (WORD_OPS.has(t.text)) this.fail();
      this.i++;
      const isCallee = this.isOp("(");
      if (!isCallee && !this.names.includes(t.text)) this.names.push(t.text);
      return { t: "name", name: t.text, col: t.col };
    }
    if (t.kind === "op" && t.text === "...") this.unsupported("Ellipsis", t.col);
    if (t.kind === "op" && (t.text === "(" || t.text === "[")) {
      const close = t.text === "(" ? ")" : "]";
      this.i++;
      const items: Node[] = [];
      let comma = false;
      while (!this.isOp(close)) {
        items.push(this.expr());
        if (!this.isOp(",")) break;
        comma = true;
        this.i++;
      }
      this.expectOp(close);
      if (close === ")" && items.length === 1 && !comma) return items[0] as Node;
      return { t: "seq", items, tuple: close === ")", col: t.col };
    }
    if (t.kind === "op" && t.text === "{") {
      this.i++;
      const keys: Node[] = [];
      const values: Node[] = [];
      while (!this.isOp("}")) {
        keys.push(this.expr());
        if (!this.isOp(":")) this.unsupported("set literals", t.col);
        this.i++;
        values.push(this.expr());
        if (!this.isOp(",")) break;
        this.i++;
      }
      this.expectOp("}");
      return { t: "dict", keys, values, col: t.col };
    }
    this.fail();
  }
}

function parseNumber(t: Tok): number {
  const text = t.text.replace(/_/g, "");
  if (/[jJ]$/.test(text)) throw new ExprSyntaxError("complex numbers are not supported in stop conditions", t.col);
  if (/^0[xX]/.test(text)) return parseInt(text.slice(2), 16);
  if (/^0[oO]/.test(text)) return parseInt(text.slice(2), 8);
  if (/^0[bB]/.test(text)) return parseInt(text.slice(2), 2);
  if (/^0+[1-9]\d*$/.test(text)) {
    throw new ExprSyntaxError("leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers", t.col);
  }
  return Number(text);
}

const SIMPLE_ESCAPES: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b", f: "\f", v: "\v" };

function parseString(t: Tok): string {
  const m = /^([a-zA-Z]*)('''|"""|'|")/.exec(t.text);
  const prefix = (m?.[1] ?? "").toLowerCase();
  const delim = m?.[2] ?? "'";
  if (prefix.includes("b")) throw new ExprSyntaxError("bytes literals are not supported in stop conditions", t.col);
  if (prefix.includes("f")) throw new ExprSyntaxError("f-strings are not supported in stop conditions", t.col);
  const body = t.text.slice(prefix.length + delim.length, t.text.length - delim.length);
  if (prefix.includes("r")) return body;
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = body[i + 1] ?? "";
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      out += simple;
      i++;
    } else if (e === "\n") {
      i++;
    } else if (e === "\r") {
      i += body[i + 2] === "\n" ? 2 : 1;
    } else if (/[0-7]/.test(e)) {
      const oct = /^[0-7]{1,3}/.exec(body.slice(i + 1))?.[0] ?? e;
      out += String.fromCodePoint(parseInt(oct, 8));
      i += oct.length;
    } else if (e === "x" || e === "u" || e === "U") {
      const n = e === "x" ? 2 : e === "u" ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + n);
      const code = /^[0-9a-fA-F]+$/.test(hex) && hex.length === n ? parseInt(hex, 16) : -1;
      if (code < 0 || code > 0x10ffff) {
        throw new ExprSyntaxError(`(unicode error) 'unicodeescape' codec can't decode bytes: truncated \\${e}${"X".repeat(n)} escape`, t.col);
      }
      out += String.fromCodePoint(code);
      i += 1 + n;
    } else if (e === "N") {
      throw new ExprSyntaxError("\\N{...} escapes are not supported in stop conditions", t.col);
    } else {
      out += c; // unknown escapes keep the backslash, as in Python
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Values

class EvalError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
  }
}

type Dict = { [k: string]: EvalValue };
const tuples = new WeakSet<EvalValue[]>();
const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
const isDict = (v: unknown): v is Dict => typeof v === "object" && v !== null && !Array.isArray(v);
const isNum = (v: EvalValue): v is number | boolean => typeof v === "number" || typeof v === "boolean";
const isInt = (v: EvalValue): v is number | boolean => typeof v === "boolean" || (typeof v === "number" && Number.isInteger(v));
const num = (v: number | boolean): number => (typeof v === "boolean" ? (v ? 1 : 0) : v);

function tuple(items: EvalValue[]): EvalValue[] {
  tuples.add(items);
  return items;
}

function typeName(v: EvalValue | undefined): string {
  if (v === null || v === undefined) return "NoneType";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "string") return "str";
  if (Array.isArray(v)) return tuples.has(v) ? "tuple" : "list";
  return "dict";
}

/** Python truthiness. */
export function truthy(v: EvalValue): boolean {
  if (v === null) return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  return Object.keys(v).length > 0;
}

function describeKey(k: EvalValue): string {
  return typeof k === "string" ? JSON.stringify(k) : pyRepr(k);
}

function pyRepr(v: EvalValue): string {
  if (v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : v > 0 ? "inf" : v < 0 ? "-inf" : "nan";
  if (typeof v === "string") return `'${v}'`;
  if (Array.isArray(v)) return tuples.has(v) ? `(${v.map(pyRepr).join(", ")}${v.length === 1 ? "," : ""})` : `[${v.map(pyRepr).join(", ")}]`;
  return "{...}";
}

class Evaluator {
  private work = 0;
  constructor(private readonly scope: EvalScope) {}

  private charge(n: number, col: number): void {
    this.work += n;
    if (this.work > MAX_WORK) throw new EvalError(`expression is too expensive to evaluate (more than ${MAX_WORK} steps)`, col);
  }

  eval(n: Node): EvalValue {
    switch (n.t) {
      case "const":
        return n.v;
      case "name":
        return this.lookup(n.name, n.col);
      case "seq": {
        this.charge(n.items.length, n.col);
        const items = n.items.map((x) => this.eval(x));
        return n.tuple ? tuple(items) : items;
      }
      case "dict": {
        const out: Dict = Object.create(null) as Dict;
        n.keys.forEach((kn, i) => {
          const k = this.eval(kn);
          if (typeof k !== "string") throw new EvalError(`dict keys must be strings, not '${typeName(k)}'`, n.col);
          out[k] = this.eval(n.values[i] as Node);
        });
        return out;
      }
      case "logic": {
        let v = this.eval(n.first);
        for (const link of n.rest) {
          if (link.op === "and" ? !truthy(v) : truthy(v)) return v;
          v = this.eval(link.right);
        }
        return v;
      }
      case "not":
        return !truthy(this.eval(n.x));
      case "cmp": {
        let left = this.eval(n.first);
        for (const link of n.rest) {
          const right = this.eval(link.right);
          if (!this.compare(link.op, left, right, link.col)) return false;
          left = right;
        }
        return true;
      }
      case "bin": {
        let v = this.eval(n.first);
        for (const link of n.rest) v = this.binary(link.op, v, this.eval(link.right), link.col);
        return v;
      }
      case "unary":
        return this.unary(n.op, this.eval(n.x), n.col);
      case "pow":
        return this.power(this.eval(n.base), this.eval(n.exp), n.col);
      case "call":
        return this.call(n);
      case "postfix":
        return this.postfix(n);
    }
  }

  private lookup(name: string, col: number): EvalValue {
    if (hasOwn(this.scope, name) && this.scope[name] !== undefined) return this.scope[name] as EvalValue;
    const meta = hasOwn(this.scope, "metadata") ? this.scope["metadata"] : undefined;
    if (isDict(meta) && hasOwn(meta, name)) return meta[name] as EvalValue;
    throw new EvalError(`name "${name}" is not defined`, col);
  }

  private postfix(n: Extract<Node, { t: "postfix" }>): EvalValue {
    let v = this.eval(n.base);
    let path: string | null = n.base.t === "name" ? n.base.name : null;
    for (const tr of n.trailers) {
      this.charge(1, tr.col);
      if (tr.t === "attr") {
        if (!isDict(v)) throw new EvalError(`'${typeName(v)}' object has no attribute '${tr.name}'`, tr.col);
        if (!hasOwn(v, tr.name)) throw new EvalError(`${path ?? "dict"} has no key ${JSON.stringify(tr.name)}`, tr.col);
        v = v[tr.name] as EvalValue;
        path = path === null ? null : `${path}.${tr.name}`;
      } else if (tr.t === "index") {
        const k = this.eval(tr.index);
        v = this.index(v, k, path, tr.col);
        path = path === null || !(typeof k === "string" || typeof k === "number") ? null : `${path}[${describeKey(k)}]`;
      } else {
        v = this.slice(v, tr);
        path = null;
      }
    }
    return v;
  }

  private index(v: EvalValue, k: EvalValue, path: string | null, col: number): EvalValue {
    if (isDict(v)) {
      if (Array.isArray(k) || isDict(k)) throw new EvalError(`unhashable type: '${typeName(k)}'`, col);
      if (typeof k !== "string" || !hasOwn(v, k)) throw new EvalError(`${path ?? "dict"} has no key ${describeKey(k)}`, col);
      return v[k] as EvalValue;
    }
    if (Array.isArray(v) || typeof v === "string") {
      const kind = typeName(v);
      if (!isInt(k)) throw new EvalError(`${kind} indices must be integers or slices, not ${typeName(k)}`, col);
      const items = typeof v === "string" ? Array.from(v) : v;
      if (typeof v === "string") this.charge(items.length, col);
      let i = num(k);
      if (i < 0) i += items.length;
      if (i < 0 || i >= items.length) throw new EvalError(`${kind === "str" ? "string" : kind} index out of range`, col);
      return items[i] as EvalValue;
    }
    throw new EvalError(`'${typeName(v)}' object is not subscriptable`, col);
  }

  private slice(v: EvalValue, tr: Extract<Trailer, { t: "slice" }>): EvalValue {
    const part = (x: Node | null): number | null => {
      if (!x) return null;
      const p = this.eval(x);
      if (p === null) return null;
      if (!isInt(p)) throw new EvalError("slice indices must be integers or None", tr.col);
      return num(p);
    };
    const lo = part(tr.lo);
    const hi = part(tr.hi);
    const step = part(tr.step) ?? 1;
    if (step === 0) throw new EvalError("slice step cannot be zero", tr.col);
    if (isDict(v)) throw new EvalError("unhashable type: 'slice'", tr.col);
    if (!Array.isArray(v) && typeof v !== "string") throw new EvalError(`'${typeName(v)}' object is not subscriptable`, tr.col);
    const items = typeof v === "string" ? Array.from(v) : v;
    const len = items.length;
    this.charge(len, tr.col);
    const clamp = (x: number | null, dflt: number, min: number, max: number): number => {
      if (x === null) return dflt;
      const y = x < 0 ? x + len : x;
      return y < min ? min : y > max ? max : y;
    };
    const out: EvalValue[] = [];
    if (step > 0) {
      const start = clamp(lo, 0, 0, len);
      const stop = clamp(hi, len, 0, len);
      for (let i = start; i < stop; i += step) out.push(items[i] as EvalValue);
    } else {
      const start = clamp(lo, len - 1, -1, len - 1);
      const stop = clamp(hi, -1, -1, len - 1);
      for (let i = start; i > stop; i += step) out.push(items[i] as EvalValue);
    }
    if (typeof v === "string") return out.join("");
    return tuples.has(v as EvalValue[]) ? tuple(out) : out;
  }

  // --- comparisons -------------------------------------------------------------------------

  private compare(op: string, a: EvalValue, b: EvalValue, col: number): boolean {
    switch (op) {
      case "==":
        return this.equal(a, b, col);
      case "!=":
        return !this.equal(a, b, col);
      case "is":
        return a === b;
      case "is not":
        return a !== b;
      case "in":
        return this.contains(b, a, col);
      case "not in":
        return !this.contains(b, a, col);
      default:
        return this.order(op, a, b, col);
    }
  }

  private equal(a: EvalValue, b: EvalValue, col: number): boolean {
    this.charge(1, col);
    if (a === b) return true;
    if (isNum(a) && isNum(b)) return num(a) === num(b);
    if (Array.isArray(a) && Array.isArray(b)) {
      if (tuples.has(a) !== tuples.has(b) || a.length !== b.length) return false;
      return a.every((x, i) => this.equal(x, b[i] as EvalValue, col));
    }
    if (isDict(a) && isDict(b)) {
      const ka = Object.keys(a);
      if (ka.length !== Object.keys(b).length) return false;
      return ka.every((k) => hasOwn(b, k) && this.equal(a[k] as EvalValue, b[k] as EvalValue, col));
    }
    return false;
  }

  private order(op: string, a: EvalValue, b: EvalValue, col: number): boolean {
    this.charge(1, col);
    if (isNum(a) && isNum(b)) return cmpOp(op, num(a), num(b));
    if (typeof a === "string" && typeof b === "string") return cmpOp(op, compareCodePoints(a, b), 0);
    if (Array.isArray(a) && Array.isArray(b) && tuples.has(a) === tuples.has(b)) {
      const n = Math.min(a.length, b.length);
      for (let i = 0; i < n; i++) {
        const x = a[i] as EvalValue;
        const y = b[i] as EvalValue;
        if (!this.equal(x, y, col)) return this.order(op, x, y, col);
      }
      return cmpOp(op, a.length, b.length);
    }
    throw new EvalError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`, col);
  }

  private contains(container: EvalValue, item: EvalValue, col: number): boolean {
    if (typeof container === "string") {
      if (typeof item !== "string") throw new EvalError(`'in <string>' requires string as left operand, not ${typeName(item)}`, col);
      this.charge(container.length, col);
      return container.includes(item);
    }
    if (Array.isArray(container)) return container.some((x) => this.equal(x, item, col));
    if (isDict(container)) {
      if (Array.isArray(item) && !tuples.has(item)) throw new EvalError(`unhashable type: 'list'`, col);
      if (isDict(item)) throw new EvalError(`unhashable type: 'dict'`, col);
      return typeof item === "string" && hasOwn(container, item);
    }
    throw new EvalError(`argument of type '${typeName(container)}' is not iterable`, col);
  }

  // --- arithmetic --------------------------------------------------------------------------

  private unsupportedOperands(op: string, a: EvalValue, b: EvalValue, col: number): never {
    throw new EvalError(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`, col);
  }

  private sized<T extends string | EvalValue[]>(v: T, col: number): T {
    if (v.length > MAX_SEQUENCE_LENGTH) throw new EvalError(`result is too large (more than ${MAX_SEQUENCE_LENGTH} items)`, col);
    this.charge(v.length, col);
    return v;
  }

  private repeat(seq: string | EvalValue[], times: number, col: number): EvalValue {
    const n = Math.max(0, times);
    if (seq.length * n > MAX_SEQUENCE_LENGTH) throw new EvalError(`result is too large (more than ${MAX_SEQUENCE_LENGTH} items)`, col);
    this.charge(seq.length * n, col);
    if (typeof seq === "string") return seq.repeat(n);
    const out: EvalValue[] = [];
    for (let i = 0; i < n; i++) out.push(...seq);
    return tuples.has(seq) ? tuple(out) : out;
  }

  private binary(op: string, a: EvalValue, b: EvalValue, col: number): EvalValue {
    this.charge(1, col);
    if (op === "+") {
      if (isNum(a) && isNum(b)) return num(a) + num(b);
      if (typeof a === "string") {
        if (typeof b !== "string") throw new EvalError(`can only concatenate str (not "${typeName(b)}") to str`, col);
        return this.sized(a + b, col);
      }
      if (Array.isArray(a) && Array.isArray(b) && tuples.has(a) === tuples.has(b)) {
        const out = this.sized([...a, ...b], col);
        return tuples.has(a) ? tuple(out) : out;
      }
      if (Array.isArray(a)) {
        const kind = typeName(a);
        throw new EvalError(`can only concatenate ${kind} (not "${typeName(b)}") to ${kind}`, col);
      }
      this.unsupportedOperands(op, a, b, col);
    }
    if (op === "*") {
      if (isNum(a) && isNum(b)) return num(a) * num(b);
      const [seq, times] = typeof a === "string" || Array.isArray(a) ? [a, b] : [b, a];
      if (typeof seq === "string" || Array.isArray(seq)) {
        if (!isInt(times)) throw new EvalError(`can't multiply sequence by non-int of type '${typeName(times)}'`, col);
        return this.repeat(seq, num(times), col);
      }
      this.unsupportedOperands(op, a, b, col);
    }
    if (op === "%" && typeof a === "string") throw new EvalError("string formatting with '%' is not supported in stop conditions", col);
    if (!isNum(a) || !isNum(b)) this.unsupportedOperands(op, a, b, col);
    const bothInt = isInt(a) && isInt(b);
    const x = num(a);
    const y = num(b);
    switch (op) {
      case "-":
        return x - y;
      case "/":
        if (y === 0) throw new EvalError(bothInt ? "division by zero" : "float division by zero", col);
        return x / y;
      case "//":
        if (y === 0) throw new EvalError(bothInt ? "integer division or modulo by zero" : "float floor division by zero", col);
        return floorDiv(x, y);
      case "%":
        if (y === 0) throw new EvalError(bothInt ? "integer modulo by zero" : "float modulo by zero", col);
        return pyMod(x, y);
    }
    // Bitwise operators: ints only, exact through BigInt.
    if (!isInt(a) || !isInt(b)) this.unsupportedOperands(op, a, b, col);
    const bx = BigInt(x);
    const by = BigInt(y);
    let r: bigint;
    switch (op) {
      case "&":
        r = bx & by;
        break;
      case "|":
        r = bx | by;
        break;
      case "^":
        r = bx ^ by;
        break;
      default:
        if (by < 0n) throw new EvalError("negative shift count", col);
        if (op === ">>") r = bx >> (by > 64n ? 64n : by);
        else if (by > 64n) throw new EvalError("integer result is too large", col);
        else r = bx << by;
    }
    if (typeof a === "boolean" && typeof b === "boolean" && (op === "&" || op === "|" || op === "^")) return r !== 0n;
    if (r > BigInt(Number.MAX_SAFE_INTEGER) || r < BigInt(Number.MIN_SAFE_INTEGER)) throw new EvalError("integer result is too large", col);
    return Number(r);
  }

  private unary(op: string, v: EvalValue, col: number): EvalValue {
    if (op === "~") {
      if (!isInt(v)) throw new EvalError(`bad operand type for unary ~: '${typeName(v)}'`, col);
      return -num(v) - 1;
    }
    if (!isNum(v)) throw new EvalError(`bad operand type for unary ${op}: '${typeName(v)}'`, col);
    return op === "-" ? -num(v) : num(v);
  }

  private power(a: EvalValue, b: EvalValue, col: number): EvalValue {
    this.charge(1, col);
    if (!isNum(a) || !isNum(b)) this.unsupportedOperands("** or pow()", a, b, col);
    const x = num(a);
    const y = num(b);
    if (x === 0 && y < 0) throw new EvalError("0.0 cannot be raised to a negative power", col);
    if (x < 0 && !Number.isInteger(y) && Number.isFinite(y)) throw new EvalError("complex results are not supported in stop conditions", col);
    const r = x ** y;
    if (!Number.isFinite(r) && Number.isFinite(x) && Number.isFinite(y)) throw new EvalError("numeric result out of range", col);
    return r;
  }

  // --- calls -------------------------------------------------------------------------------

  private call(n: Extract<Node, { t: "call" }>): EvalValue {
    this.charge(1, n.col);
    const args = n.args.map((a) => this.eval(a));
    const arity = (min: number, max: number): void => {
      if (args.length >= min && args.length <= max) return;
      if (min === max) throw new EvalError(`${n.fn}() takes exactly one argument (${args.length} given)`, n.col);
      throw new EvalError(
        args.length < min ? `${n.fn}() missing required argument 'number' (pos 1)` : `${n.fn}() takes at most ${max} arguments (${args.length} given)`,
        n.col,
      );
    };
    switch (n.fn) {
      case "abs": {
        arity(1, 1);
        const v = args[0] as EvalValue;
        if (!isNum(v)) throw new EvalError(`bad operand type for abs(): '${typeName(v)}'`, n.col);
        return Math.abs(num(v));
      }
      case "len": {
        arity(1, 1);
        const v = args[0] as EvalValue;
        if (typeof v === "string") return Array.from(v).length;
        if (Array.isArray(v)) return v.length;
        if (isDict(v)) return Object.keys(v).length;
        throw new EvalError(`object of type '${typeName(v)}' has no len()`, n.col);
      }
      case "round": {
        arity(1, 2);
        const v = args[0] as EvalValue;
        const digits = args[1] ?? null;
        if (!isNum(v)) throw new EvalError(`type ${typeName(v)} doesn't define __round__ method`, n.col);
        if (digits !== null && !isInt(digits)) throw new EvalError(`'${typeName(digits)}' object cannot be interpreted as an integer`, n.col);
        const x = num(v);
        if (digits === null) {
          if (Number.isNaN(x)) throw new EvalError("cannot convert float NaN to integer", n.col);
          if (!Number.isFinite(x)) throw new EvalError("cannot convert float infinity to integer", n.col);
          return roundHalfEven(x);
        }
        return roundDigits(x, num(digits));
      }
      case "min":
      case "max": {
        if (args.length === 0) throw new EvalError(`${n.fn} expected at least 1 argument, got 0`, n.col);
        let items: EvalValue[];
        if (args.length === 1) {
          const v = args[0] as EvalValue;
          if (typeof v === "string") items = Array.from(v);
          else if (Array.isArray(v)) items = v;
          else if (isDict(v)) items = Object.keys(v);
          else throw new EvalError(`'${typeName(v)}' object is not iterable`, n.col);
          if (items.length === 0) throw new EvalError(`${n.fn}() iterable argument is empty`, n.col);
        } else {
          items = args;
        }
        let best = items[0] as EvalValue;
        const op = n.fn === "min" ? "<" : ">";
        for (let i = 1; i < items.length; i++) {
          const x = items[i] as EvalValue;
          if (this.order(op, x, best, n.col)) best = x;
        }
        return best;
      }
    }
  }
}

function cmpOp(op: string, a: number, b: number): boolean {
  switch (op) {
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    default:
      return a >= b;
  }
}

function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    if (x.value !== y.value) return (x.value.codePointAt(0) ?? 0) - (y.value.codePointAt(0) ?? 0);
  }
}

/** Python's float modulo: the result has the sign of the divisor. */
function pyMod(x: number, y: number): number {
  const m = x % y;
  if (m === 0) return y < 0 ? -0 : 0;
  return m < 0 !== y < 0 ? m + y : m;
}

/** Python's float floor division (as CPython's float_divmod computes it). */
function floorDiv(x: number, y: number): number {
  let mod = x % y;
  let div = (x - mod) / y;
  if (mod !== 0 && mod < 0 !== y < 0) {
    mod += y;
    div -= 1;
  }
  if (div === 0) return x / y < 0 ? -0 : 0;
  let fl = Math.floor(div);
  if (div - fl > 0.5) fl += 1;
  return fl;
}

function roundHalfEven(x: number): number {
  const fl = Math.floor(x);
  const diff = x - fl;
  if (diff > 0.5) return fl + 1;
  if (diff < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
}

/** round(x, n): the double nearest the decimal rounding of x's exact value, ties to even. */
function roundDigits(x: number, n: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  if (n > 100) return x;
  if (n < 0) {
    const p = 10 ** -n;
    if (!Number.isFinite(p)) return 0 * x;
    return roundHalfEven(x / p) * p;
  }
  // An exact tie at digit n+1 needs x * 2**(n+1) integral while x * 2**n is not; then x * 10**n is exact.
  const t = x * 10 ** n;
  if (n <= 22 && Math.abs(t) < 2 ** 52 && Number.isInteger(x * 2 ** (n + 1)) && !Number.isInteger(x * 2 ** n)) {
    return roundHalfEven(t) / 10 ** n;
  }
  return Number(x.toFixed(n));
}

// ---------------------------------------------------------------------------------------------
// Public API

function fromError(err: unknown): CompileError {
  if (err instanceof ExprSyntaxError || err instanceof EvalError) return { ok: false, message: err.message, column: err.column };
  if (err instanceof RangeError) return { ok: false, message: "expression is too complex to evaluate", column: 1 };
  throw err;
}

/** Parses `source` once; the result evaluates against any number of scopes. */
export function compileExpression(source: string): CompiledExpression | CompileError {
  if (source.length > MAX_EXPRESSION_LENGTH) {
    return { ok: false, message: `expression is too long (${source.length} characters; the limit is ${MAX_EXPRESSION_LENGTH})`, column: MAX_EXPRESSION_LENGTH + 1 };
  }
  let tree: Node;
  let names: string[];
  try {
    const parser = new Parser(tokenize(source));
    tree = parser.parseAll();
    names = parser.names;
  } catch (err) {
    return fromError(err);
  }
  return {
    names,
    evaluate(scope: EvalScope): EvalResult {
      try {
        return { ok: true, value: new Evaluator(scope).eval(tree) };
      } catch (err) {
        return fromError(err);
      }
    },
  };
}

/** Whether compileExpression succeeded. */
export function isCompiled(c: CompiledExpression | CompileError): c is CompiledExpression {
  return !("ok" in c);
}

/** Parses and evaluates `source` against `scope`. */
export function evaluateExpression(source: string, scope: EvalScope): EvalResult {
  const c = compileExpression(source);
  return isCompiled(c) ? c.evaluate(scope) : c;
}

/** Truthiness for a stop decision: a missing name or an error is false (never stops). */
export function conditionHolds(c: CompiledExpression, scope: EvalScope): boolean {
  const r = c.evaluate(scope);
  return r.ok && truthy(r.value);
}
