/**
 * The optional compatibility suite: real valohai.yaml files from the reference project valohai-yaml and
 * from public repositories, kept outside this repository (see locateCorpus in helpers.ts). Everything it
 * checks is also checked on our own fixtures in config.test.ts, so a fresh clone loses no coverage.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadValohaiYaml, lintValohaiYaml } from "../../app/valohai/index.js";
import { CORPUS_SKIP_LINE, listYaml, locateCorpus } from "./helpers.js";

const corpusRoot = locateCorpus();
if (corpusRoot === undefined) console.log(CORPUS_SKIP_LINE);

function readCorpus(rel: string): string {
  if (corpusRoot === undefined) throw new Error("no corpus");
  return fs.readFileSync(path.join(corpusRoot, rel), "utf8");
}

/** Empty without a corpus, so that the skipped suites still collect. */
function listCorpus(dir: string): string[] {
  return corpusRoot === undefined ? [] : listYaml(corpusRoot, dir);
}

function counts(file: string) {
  const result = loadValohaiYaml(readCorpus(file), { filename: file });
  const errors = result.problems.filter((p) => p.severity === "error");
  const warnings = result.problems.filter((p) => p.severity === "warning");
  return { result, errors, warnings };
}

describe("locating the corpus", () => {
  const here = fs.mkdtempSync(path.join(os.tmpdir(), "vh-corpus-"));
  const missing = path.join(here, "missing");
  afterAll(() => fs.rmSync(here, { recursive: true, force: true }));
  it("VH_COMPAT_CORPUS wins over the folder beside the checkout", () => {
    expect(locateCorpus({ VH_COMPAT_CORPUS: here }, missing)).toBe(here);
  });
  it("a VH_COMPAT_CORPUS that does not exist, or is empty, fails loudly instead of skipping", () => {
    expect(() => locateCorpus({ VH_COMPAT_CORPUS: missing }, here)).toThrow(/VH_COMPAT_CORPUS=.*missing: no such folder/);
    expect(() => locateCorpus({ VH_COMPAT_CORPUS: "" }, here)).toThrow(/VH_COMPAT_CORPUS=: no such folder/);
    const file = path.join(here, "INDEX.md");
    fs.writeFileSync(file, "");
    expect(() => locateCorpus({ VH_COMPAT_CORPUS: file }, here)).toThrow(/INDEX\.md: no such folder/);
  });
  it("unset: the folder beside the checkout when present, else nothing", () => {
    expect(locateCorpus({}, here)).toBe(here);
    expect(locateCorpus({}, missing)).toBeUndefined();
  });
});

const corpusSuite = describe.skipIf(corpusRoot === undefined);

corpusSuite("reference examples and valid files lint clean", () => {
  it.each([...listCorpus("reference/examples"), ...listCorpus("reference/valid")])("%s", (file) => {
    const { result } = counts(file);
    expect(result.problems).toEqual([]);
    expect(result.config).not.toBeNull();
  });
});

corpusSuite("reference warning files load with at least one warning", () => {
  it.each(listCorpus("reference/warning"))("%s", (file) => {
    const { result, errors, warnings } = counts(file);
    expect(errors).toEqual([]);
    expect(result.config).not.toBeNull();
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    for (const w of warnings) {
      expect(w.line).toBeTypeOf("number");
      expect(w.column).toBeTypeOf("number");
    }
  });
});

corpusSuite("reference error files are refused with located errors", () => {
  it.each(listCorpus("reference/error"))("%s", (file) => {
    const { result, errors } = counts(file);
    expect(result.config).toBeNull();
    expect(errors.length).toBeGreaterThanOrEqual(1);
    for (const e of errors) {
      expect(e.line, e.message).toBeTypeOf("number");
      expect(e.column, e.message).toBeTypeOf("number");
      expect(e.file).toBe(file);
    }
  });
});

/** Expected counts per error file, with the key facts the reference's messages carry. */
const ERROR_FACTS: Record<string, { count: number; facts: (string | RegExp)[] }> = {
  "endpoint-names-invalid": { count: 4, facts: ["Server-endpoint", "3-server-endpoint", "server@endpoint", "wsgi_endpoint", "^[a-z][a-z0-9-]+$"] },
  "input-name-too-long": { count: 1, facts: ["64"] },
  "invalid-YAML-indentation": { count: 1, facts: [/Indentation Error at line \d+, column \d+/] },
  "invalid-indentation-with-valid-YAML": { count: 1, facts: ["indentation error", "0.step"] },
  "invalid-edge-parts": { count: 1, facts: ["'batch2.input' must have 3 parts (it has 2)"] },
  "invalid-shorthand-edge": { count: 1, facts: ["malformed edge shorthand ['batch1.input.training-labels*']"] },
  "invalid-on-error-value": { count: 1, facts: ["report-to-sentry", "on-error"] },
  "wrong-edge-merge-mode": { count: 1, facts: ["boo-boo", "edge-merge-mode"] },
  "invalid-pipeline-with-override-example": { count: 3, facts: ["training-labels-error", "parameter d does not exist", "secon step"] },
  "invalid-task-blueprint-reference": { count: 1, facts: ['task "my-non-existent-task" does not exist'] },
  "invalid-upload-store-value": { count: 1, facts: ["upload-store", "65 characters"] },
  "pipeline-with-preset-override-without-environment": { count: 1, facts: ['missing "environment"'] },
  "step-preset-without-environment": { count: 1, facts: ['missing "environment"'] },
  "step-invalid-resources": { count: 1, facts: ["resources.cpu.min", "Not a number"] },
  "step-missing-required-properties": { count: 4, facts: ['"command"', '"name"', "yes", "(got 8)"] },
  "step-stop-condition": { count: 1, facts: ["invalid syntax"] },
  "task-stop-condition": { count: 1, facts: ["unterminated string literal"] },
  "step-with-error-tasks": { count: 7, facts: ['"name"', '"step"', '"style"', '"rules"'] },
};

corpusSuite("reference error files: counts and key facts", () => {
  it.each(Object.entries(ERROR_FACTS))("%s", (name, expected) => {
    const { errors } = counts(`reference/error/${name}.yaml`);
    expect(errors).toHaveLength(expected.count);
    const text = errors.map((e) => e.message).join("\n");
    for (const fact of expected.facts) {
      if (typeof fact === "string") expect(text).toContain(fact);
      else expect(text).toMatch(fact);
    }
  });

  it("covers every error file", () => {
    expect(listCorpus("reference/error").map((f) => f.replace(/^.*\/|\.yaml$/g, "")).sort()).toEqual(Object.keys(ERROR_FACTS).sort());
  });
});

corpusSuite("reference warning files: key facts", () => {
  const facts: Record<string, { count: number; facts: string[] }> = {
    duplicate_step_names: { count: 1, facts: ["Duplicate step name: my step."] },
    "ineffective-optional-on-flag": { count: 1, facts: ["optional", "case-insensitive"] },
    "invalid-numeric-parameter-default": { count: 1, facts: ["default zoom is not an integer"] },
    "invalid-numeric-range-parameter-default": { count: 1, facts: ["default 1337 is greater than the maximum allowed (100)"] },
    "invalid-string-parameter-default": { count: 1, facts: ["datetime", "not a string"] },
    "nonsensical-task-bits": { count: 3, facts: ["parameter-sets", "optimization_target_metric", "optimization_target_value"] },
    "targetless-pipeline-params": { count: 1, facts: ['parameter "id": no targets.'] },
    "override-with-extra-fields-warning": { count: 1, facts: ["training-images", "nested under `parameters` or `inputs`"] },
  };
  it.each(Object.entries(facts))("%s", (name, expected) => {
    const problems = lintValohaiYaml(readCorpus(`reference/warning/${name}.yaml`));
    expect(problems.filter((p) => p.severity === "warning")).toHaveLength(expected.count);
    const text = problems.map((p) => p.message).join("\n");
    for (const fact of expected.facts) expect(text).toContain(fact);
  });
});

/** Rows of the real-world table in INDEX.md: file → expected reference linter result. */
function realWorldExpectations(): [string, { errors: number; warnings: number }][] {
  if (corpusRoot === undefined) return [];
  const index = readCorpus("INDEX.md");
  const rows: [string, { errors: number; warnings: number }][] = [];
  for (const line of index.split("\n")) {
    const m = /^\|\s*([^|]+\.yaml)\s*\|[^|]*\|\s*([^|]+?)\s*\|$/.exec(line);
    if (!m || !m[1] || !m[2]) continue;
    const result = m[2];
    const warn = /(\d+) warnings?/.exec(result);
    const err = /(\d+) (?:schema )?errors?/.exec(result);
    if (result.startsWith("clean")) rows.push([m[1], { errors: 0, warnings: 0 }]);
    else if (err) rows.push([m[1], { errors: Number(err[1]), warnings: 0 }]);
    else if (warn) rows.push([m[1], { errors: 0, warnings: Number(warn[1]) }]);
    else throw new Error(`cannot read INDEX row: ${line}`);
  }
  return rows;
}

corpusSuite("real-world files match the INDEX", () => {
  const rows = realWorldExpectations();
  it("lists every real-world file", () => {
    expect(rows.map(([f]) => `real-world/${f}`).sort()).toEqual(listCorpus("real-world"));
  });
  it.each(rows)("%s", (file, expected) => {
    const { result, errors, warnings } = counts(`real-world/${file}`);
    expect({ errors: errors.length, warnings: warnings.length }).toEqual(expected);
    expect(result.config === null).toBe(expected.errors > 0);
    for (const p of result.problems) {
      expect(p.line).toBeTypeOf("number");
      expect(p.column).toBeTypeOf("number");
    }
  });
  it("the mis-indented pipeline carries the indentation hint", () => {
    const { errors } = counts("real-world/valohai__mmdetection3d@02d10bc.yaml");
    expect(errors[0]?.message).toContain("indentation error");
    expect(errors[0]?.line).toBe(114);
  });
});
