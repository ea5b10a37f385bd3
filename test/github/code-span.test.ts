import { describe, expect, it } from "vitest";
import { codeSpan as code } from "../../app/errors.js";

describe("user text in replies", () => {
  it("cannot break out of its code span", () => {
    expect(code("a`@org/everyone`b")).toBe("``a`@org/everyone`b``");
    expect(code("`x`")).toBe("`` `x` ``");
    expect(code("line1\nline2")).toBe("`line1 line2`");
    expect(code("x".repeat(500))).toHaveLength(202);
  });
});
