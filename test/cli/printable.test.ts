/**
 * The CLI never hands a job's terminal escapes to the terminal: log lines on a TTY, output names
 * and titles in tables are shown with control characters escaped; a redirected log stays exact.
 */
import { describe, expect, it } from "vitest";
import { columns, printable } from "../../app/cli/format.js";
import { printLogLine } from "../../app/cli/logs.js";
import type { Io } from "../../app/cli/io.js";

function io(tty: boolean): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: { write: (s: string) => (out.push(s), true), isTTY: tty },
      stderr: { write: (s: string) => (err.push(s), true), isTTY: tty },
    } as unknown as Io,
  };
}

describe("printable", () => {
  it.each([
    ["\x1b[2J\x1b[Hcleared", "\\x1b[2J\\x1b[Hcleared"],
    ["title\x1b]0;pwned\x07", "title\\x1b]0;pwned\\x07"],
    ["csi\x9b31m", "csi\\x9b31m"],
    ["back\rspace\x08", "back\\x0dspace\\x08"],
    ["del\x7f", "del\\x7f"],
    ["tab\tstays", "tab\tstays"],
    ["émoji ✓ stays", "émoji ✓ stays"],
  ])("%j → %j", (input, shown) => {
    expect(printable(input)).toBe(shown);
  });

  it("keeps newlines only when multi-line text is allowed", () => {
    expect(printable("a\nb")).toBe("a\\x0ab");
    expect(printable("a\nb", { multiline: true })).toBe("a\nb");
  });

  it("escapes table cells (output names, titles)", () => {
    expect(columns([["NAME"], ["evil\x1b[8mhidden"]])).toBe("NAME\nevil\\x1b[8mhidden\n");
  });

  it("escapes a log line on a terminal, keeps it exact when redirected, and always escapes vh's status lines", () => {
    const line = { seq: 1, time: "t", stream: "stdout", line: "\x1b[31mred" } as const;
    const tty = io(true);
    printLogLine(tty.io, line, { stdout: true, stderr: true, status: true });
    expect(tty.out).toEqual(["\\x1b[31mred\n"]);
    const file = io(false);
    printLogLine(file.io, line, { stdout: true, stderr: true, status: true });
    expect(file.out).toEqual(["\x1b[31mred\n"]);
    printLogLine(file.io, { ...line, stream: "status", line: "output \x1b[2Jx skipped" }, { stdout: true, stderr: true, status: true });
    expect(file.err).toEqual(["[vh] output \\x1b[2Jx skipped\n"]);
  });
});
