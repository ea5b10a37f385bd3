/**
 * Loading valohai.yaml: YAML 1.1 parse → structural validation → objects + semantic lint
 * (valohai-spec §2). Each phase runs only when the previous one found no errors, like the
 * reference linter.
 */
import { buildConfig } from "./build.js";
import type { LoadResult, Problem } from "./objects.js";
import { Reporter } from "./problems.js";
import { validateDocument } from "./schema.js";
import { parseYaml11 } from "./yaml11.js";

function sortProblems(problems: Problem[]): Problem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.line ?? 0) - (b.p.line ?? 0) || (a.p.column ?? 0) - (b.p.column ?? 0) || a.i - b.i)
    .map(({ p }) => p);
}

/** Parses and lints valohai.yaml text. `config` is null iff some problem is an error. */
export function loadValohaiYaml(text: string, opts: { filename?: string } = {}): LoadResult {
  const parsed = parseYaml11(text, opts.filename);
  if (parsed.problems.length) return { config: null, problems: parsed.problems };
  const reporter = new Reporter(parsed, opts.filename);
  validateDocument(parsed.value, reporter);
  if (reporter.hasErrors()) return { config: null, problems: sortProblems(reporter.problems) };
  const config = buildConfig(parsed.value, reporter);
  const problems = sortProblems(reporter.problems);
  return { config: reporter.hasErrors() ? null : config, problems };
}

/** All problems (errors and warnings) of valohai.yaml text. */
export function lintValohaiYaml(text: string, opts: { filename?: string } = {}): Problem[] {
  return loadValohaiYaml(text, opts).problems;
}
