/**
 * A syntax checker for `stop-condition` expressions (valohai-spec §2 step 4), which the reference
 * checks with leval: a Python expression in which keywords other than and/or/not/in/is/True/False/
 * None are plain names (so `metadata.class > 1` is legal). It accepts comparisons (chained),
 * boolean and arithmetic operators, attribute access, calls, subscripts, tuples/lists/dicts and
 * literals, and reports errors with Python's wording ("invalid syntax",
 * "unterminated string literal (detected at line 1)").
 */

export type ExpressionCheck = { ok: true } | { ok: false; message: string; column: number };

export type TokKind = "name" | "number" | "string" | "op" | "end";
/** A token of the expression language; `col` is 1-based. */
export interface Tok {
  kind: TokKind;
  text: string;
  col: number;
}

/** A syntax error with Python's wording and a 1-based column. */
export class ExprSyntaxError extends Error {
  readonly column: number;
  constructor(message: string, column: number) {
    super(message);
    this.column = column;
  }
}

const KEYWORDS = new Set(["and", "or", "not", "in", "is", "True", "False", "None", "for"]);
const OPERATORS = [
  "**=", "//=", ">>=", "<<=", "...",
  "==", "!=", "<=", ">=", "**", "//", "<<", ">>", "->", ":=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=",
  "<", ">", "+", "-", "*", "/", "%", "&", "|", "^", "~", "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "@", "=",
];

/** Splits `src` into tokens (ending with an "end" token); throws ExprSyntaxError. Shared with evaluate.ts. */
export function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const opens: { ch: string; col: number }[] = [];
  while (i < src.length) {
    const ch = src[i] ?? "";
    if (ch === " " || ch === "\t" || ch === "\f") {
      i++;
      continue;
    }
    if (ch === "\n" || ch === "\r") {
      if (opens.length === 0) throw new ExprSyntaxError("invalid syntax (an expression must be on one line)", i + 1);
      i++;
      continue;
    }
    if (ch === "\\" && (src[i + 1] === "\n" || src[i + 1] === "\r")) {
      i += 2;
      continue;
    }
    if (ch === "#") break;
    const strStart = /^([rRbBuUfF]{0,2})(['"])/.exec(src.slice(i));
    if (strStart && (strStart[1] === "" || /^(?:[rR]|[bB]|[uU]|[fF]|[rR][bBfF]|[bBfF][rR])$/.test(strStart[1] ?? ""))) {
      const prefix = strStart[1] ?? "";
      const quote = strStart[2] ?? "'";
      const raw = /[rR]/.test(prefix);
      const start = i;
      let j = i + prefix.length;
      const triple = src.startsWith(quote.repeat(3), j);
      const delim = triple ? quote.repeat(3) : quote;
      j += delim.length;
      let closed = false;
      while (j < src.length) {
        const c = src[j];
        if (c === "\\" && !raw) {
          j += 2;
          continue;
        }
        if (c === "\\" && raw) {
          j += 2;
          continue;
        }
        if (!triple && (c === "\n" || c === "\r")) break;
        if (src.startsWith(delim, j)) {
          j += delim.length;
          closed = true;
          break;
        }
        j++;
      }
      if (!closed) {
        throw new ExprSyntaxError(
          triple ? "unterminated triple-quoted string literal (detected at line 1)" : "unterminated string literal (detected at line 1)",
          start + 1,
        );
      }
      toks.push({ kind: "string", text: src.slice(start, j), col: start + 1 });
      i = j;
      continue;
    }
    const num = /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][-+]?\d(?:_?\d)*)?[jJ]?)/.exec(src.slice(i));
    if (num && /[0-9.]/.test(ch) && !(ch === "." && !/\d/.test(src[i + 1] ?? ""))) {
      const text = num[0];
      const after = src[i + text.length] ?? "";
      if (/[\p{L}_0-9]/u.test(after)) throw new ExprSyntaxError("invalid decimal literal", i + 1);
      toks.push({ kind: "number", text, col: i + 1 });
      i += text.length;
      continue;
    }
    const name = /^[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*/u.exec(src.slice(i));
    if (name) {
      toks.push({ kind: "name", text: name[0], col: i + 1 });
      i += name[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (op) {
      if (op === "(" || op === "[" || op === "{") {
        // CPython's tokenizer stops at 200 open brackets (MAXLEVEL); this also bounds the parsers' recursion.
        if (opens.length >= 200) throw new ExprSyntaxError("too many nested parentheses", i + 1);
        opens.push({ ch: op, col: i + 1 });
      }
      if (op === ")" || op === "]" || op === "}") {
        const open = opens.pop();
        if (!open) throw new ExprSyntaxError(`unmatched '${op}'`, i + 1);
        const want = open.ch === "(" ? ")" : open.ch === "[" ? "]" : "}";
        if (want !== op) throw new ExprSyntaxError(`closing parenthesis '${op}' does not match opening parenthesis '${open.ch}'`, i + 1);
      }
      toks.push({ kind: "op", text: op, col: i + 1 });
      i += op.length;
      continue;
    }
    if (ch === "!" ) throw new ExprSyntaxError("invalid syntax", i + 1);
    throw new ExprSyntaxError(`invalid character '${ch}' (U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")})`, i + 1);
  }
  const unclosed = opens[0];
  if (unclosed) throw new ExprSyntaxError(`'${unclosed.ch}' was never closed`, unclosed.col);
  toks.push({ kind: "end", text: "", col: src.length + 1 });
  return toks;
}

/** A cursor over the tokens, shared by this checker's parser and the evaluator's (app/valohai/evaluate.ts). */
export class TokenCursor {
  protected i = 0;
  constructor(protected readonly toks: Tok[]) {}

  protected peek(): Tok {
    return this.toks[this.i] ?? { kind: "end", text: "", col: 0 };
  }
  protected next(): Tok {
    const t = this.peek();
    this.i++;
    return t;
  }
  protected isOp(text: string): boolean {
    const t = this.peek();
    return t.kind === "op" && t.text === text;
  }
  protected isKw(text: string): boolean {
    const t = this.peek();
    return t.kind === "name" && t.text === text;
  }
  protected expectOp(text: string): void {
    if (!this.isOp(text)) this.fail();
    this.i++;
  }
  protected fail(): never {
    throw new ExprSyntaxError("invalid syntax", this.peek().col);
  }
}

class Parser extends TokenCursor {
  parseAll(): void {
    if (this.peek().kind === "end") throw new ExprSyntaxError("invalid syntax (the expression is empty)", 1);
    this.exprList();
    if (this.peek().kind !== "end") this.fail();
  }

  private exprList(): void {
    this.expr();
    while (this.isOp(",")) {
      this.i++;
      if (this.startsExpr()) this.expr();
      else break;
    }
  }

  private startsExpr(): boolean {
    const t = this.peek();
    if (t.kind === "end") return false;
    if (t.kind === "op") return ["(", "[", "{", "-", "+", "~", "..."].includes(t.text);
    if (t.kind === "name") return !["and", "or", "in", "is", "for"].includes(t.text);
    return true;
  }

  private expr(): void {
    this.orTest();
  }
  private orTest(): void {
    this.andTest();
    while (this.isKw("or")) {
      this.i++;
      this.andTest();
    }
  }
  private andTest(): void {
    this.notTest();
    while (this.isKw("and")) {
      this.i++;
      this.notTest();
    }
  }
  private notTest(): void {
    if (this.isKw("not")) {
      this.i++;
      this.notTest();
      return;
    }
    this.comparison();
  }
  private comparison(): void {
    this.bitOr();
    for (;;) {
      const t = this.peek();
      if (t.kind === "op" && ["<", ">", "==", ">=", "<=", "!="].includes(t.text)) {
        this.i++;
      } else if (this.isKw("in")) {
        this.i++;
      } else if (this.isKw("not")) {
        this.i++;
        if (!this.isKw("in")) this.fail();
        this.i++;
      } else if (this.isKw("is")) {
        this.i++;
        if (this.isKw("not")) this.i++;
      } else {
        return;
      }
      this.bitOr();
    }
  }
  private binary(ops: string[], operand: () => void): void {
    operand();
    while (this.peek().kind === "op" && ops.includes(this.peek().text)) {
      this.i++;
      operand();
    }
  }
  private bitOr(): void {
    this.binary(["|"], () => this.bitXor());
  }
  private bitXor(): void {
    this.binary(["^"], () => this.bitAnd());
  }
  private bitAnd(): void {
    this.binary(["&"], () => this.shift());
  }
  private shift(): void {
    this.binary(["<<", ">>"], () => this.arith());
  }
  private arith(): void {
    this.binary(["+", "-"], () => this.term());
  }
  private term(): void {
    this.binary(["*", "/", "//", "%", "@"], () => this.factor());
  }
  private factor(): void {
    if (this.peek().kind === "op" && ["+", "-", "~"].includes(this.peek().text)) {
      this.i++;
      this.factor();
      return;
    }
    this.power();
  }
  private power(): void {
    this.primary();
    if (this.isOp("**")) {
      this.i++;
      this.factor();
    }
  }
  private primary(): void {
    this.atom();
    for (;;) {
      if (this.isOp(".")) {
        this.i++;
        const t = this.next();
        if (t.kind !== "name" || ["True", "False", "None", "and", "or", "not", "in", "is", "for"].includes(t.text)) {
          this.i--;
          this.fail();
        }
      } else if (this.isOp("(")) {
        this.i++;
        this.callArgs();
        this.expectOp(")");
      } else if (this.isOp("[")) {
        this.i++;
        this.subscript();
        this.expectOp("]");
      } else {
        return;
      }
    }
  }
  private callArgs(): void {
    while (!this.isOp(")")) {
      if (this.isOp("*") || this.isOp("**")) this.i++;
      else if (this.peek().kind === "name" && this.toks[this.i + 1]?.kind === "op" && this.toks[this.i + 1]?.text === "=") this.i += 2;
      this.expr();
      if (!this.isOp(",")) return;
      this.i++;
    }
  }
  private subscript(): void {
    const slicePart = (): void => {
      if (!this.isOp(":") && !this.isOp("]") && !this.isOp(",")) this.expr();
      if (this.isOp(":")) {
        this.i++;
        if (!this.isOp(":") && !this.isOp("]") && !this.isOp(",")) this.expr();
        if (this.isOp(":")) {
          this.i++;
          if (!this.isOp("]") && !this.isOp(",")) this.expr();
        }
      }
    };
    if (this.isOp("]")) this.fail();
    slicePart();
    while (this.isOp(",")) {
      this.i++;
      if (this.isOp("]")) return;
      slicePart();
    }
  }
  private atom(): void {
    const t = this.peek();
    if (t.kind === "number") {
      this.i++;
      return;
    }
    if (t.kind === "string") {
      while (this.peek().kind === "string") this.i++;
      return;
    }
    if (t.kind === "name") {
      if (KEYWORDS.has(t.text) && !["True", "False", "None"].includes(t.text)) this.fail();
      this.i++;
      return;
    }
    if (t.kind === "op" && t.text === "...") {
      this.i++;
      return;
    }
    if (t.kind === "op" && (t.text === "(" || t.text === "[")) {
      const close = t.text === "(" ? ")" : "]";
      this.i++;
      if (this.isOp(close)) {
        this.i++;
        return;
      }
      this.expr();
      while (this.isOp(",")) {
        this.i++;
        if (this.isOp(close)) break;
        this.expr();
      }
      this.expectOp(close);
      return;
    }
    if (t.kind === "op" && t.text === "{") {
      this.i++;
      if (this.isOp("}")) {
        this.i++;
        return;
      }
      this.expr();
      const isDict = this.isOp(":");
      if (isDict) {
        this.i++;
        this.expr();
      }
      while (this.isOp(",")) {
        this.i++;
        if (this.isOp("}")) break;
        this.expr();
        if (isDict) {
          this.expectOp(":");
          this.expr();
        }
      }
      this.expectOp("}");
      return;
    }
    this.fail();
  }
}

/** Checks that `source` parses as a (leval-style) Python expression. */
export function checkExpression(source: string): ExpressionCheck {
  try {
    new Parser(tokenize(source)).parseAll();
    return { ok: true };
  } catch (err) {
    if (err instanceof ExprSyntaxError) return { ok: false, message: err.message, column: err.column };
    // Long runs of unary operators (`not not ...`, `- - ...`) recurse; report rather than crash.
    if (err instanceof RangeError) return { ok: false, message: "expression is nested too deeply", column: 1 };
    throw err;
  }
}
