import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lintCommand } from "../../app/cli/commands/lint.js";
import { corpusRoot } from "./helpers.js";

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
    const r = await run([path.join(corpusRoot, "reference/examples/example1.yaml")], { json: false });
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
    const file = path.join(corpusRoot, "reference/warning/duplicate_step_names.yaml");
    expect((await run([file], { json: false })).code).toBe(0);
    const strict = await run([file], { json: false, strictWarnings: true });
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain(": warning: Duplicate step name: my step.");
  });

  it("--json prints one array of problems", async () => {
    const file = path.join(corpusRoot, "reference/error/step-missing-required-properties.yaml");
    const r = await run([file], { json: true });
    const problems = JSON.parse(r.stdout) as { severity: string; line: number; file: string }[];
    expect(problems).toHaveLength(4);
    expect(problems.every((p) => p.severity === "error" && p.file === file && p.line > 0)).toBe(true);
    expect(r.code).toBe(1);
  });

  it("a missing file is an error", async () => {
    const r = await run(["nope.yaml"], { json: false });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/nope\.yaml: error: cannot read nope\.yaml: file not found/);
  });
});
