import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lintCommand } from "../../app/cli/commands/lint.js";
import { fixturePath } from "./helpers.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-lint-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(files: string[], opts: { json: boolean; strictWarnings?: boolean }, cwd = dir) {
  let stdout = "";
  let stderr = "";
  const code = await lintCommand(files, opts, { stdout: (s) => (stdout += s), stderr: { write: (s: string) => (stderr += s) }, cwd });
  return { code, stdout, stderr };
}

describe("vh lint", () => {
  it("clean file: exit 0 and a summary", async () => {
    const r = await run([fixturePath("examples/config-with-every-step-field.yaml")], { json: false });
    expect(r).toMatchObject({ code: 0, stdout: "" });
    expect(r.stderr).toMatch(/^0 errors, 0 warnings/);
  });

  it("errors: FILE:LINE:COLUMN lines and exit 1", async () => {
    fs.writeFileSync(path.join(dir, "valohai.yaml"), "- step:\n    name: a\n    image: b\n    command: c\n    runtime-config-preset: p\n");
    const r = await run([], { json: false });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^valohai\.yaml:5:28: error: Step "a": missing "environment"/);
    expect(r.stderr).toBe("1 error, 0 warnings\n");
  });

  it("warnings pass unless --strict-warnings", async () => {
    const file = fixturePath("warning/config-with-duplicate-step-names.yaml");
    const lenient = await run([file], { json: false });
    expect(lenient.code).toBe(0);
    expect(lenient.stderr).toMatch(/^0 errors, 1 warning\b/);
    const strict = await run([file], { json: false, strictWarnings: true });
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain(`${file}:10:11: warning: Duplicate step name: clean data.`);
  });

  it("--json prints one array of problems", async () => {
    const file = fixturePath("error/config-with-missing-step-properties.yaml");
    const r = await run([file], { json: true });
    const problems = JSON.parse(r.stdout) as { severity: string; line: number; column: number; file: string }[];
    expect(problems.map((p) => [p.line, p.column])).toEqual([
      [2, 5],
      [2, 5],
      [4, 11],
      [10, 14],
    ]);
    expect(problems.every((p) => p.severity === "error" && p.file === file)).toBe(true);
    expect(r.code).toBe(1);
  });

  it("a missing file is an error", async () => {
    const r = await run(["nope.yaml"], { json: false });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/nope\.yaml: error: cannot read nope\.yaml: file not found/);
  });
});
