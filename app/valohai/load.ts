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

/**
 * What the server reads of a valohai.yaml from a repository or an upload: parsing blocks its event
 * loop (about 0.5 s per 500 KB here), and real files are under 20 KB, so 256 KB leaves room.
 */
export const SERVER_MAX_YAML_BYTES = 256 * 1024;

/**
 * Parses and lints valohai.yaml text. `config` is null iff some problem is an error. `maxBytes`:
 * a larger text is refused with one located error before anything is parsed.
 */
export function loadValohaiYaml(text: string, opts: { filename?: string; maxBytes?: number } = {}): LoadResult {
  if (opts.maxBytes !== undefined && text.length > opts.maxBytes / 4) {
    const bytes = Buffer.byteLength(text);
    if (bytes > opts.maxBytes) {
      const kb = (n: number) => `${Math.round(n / 1024).toLocaleString("en-US")} KB`;
      return {
        config: null,
        problems: [
          {
            severity: "error",
            code: "too-large",
            message: `valohai.yaml is ${kb(bytes)}; vh reads files up to ${kb(opts.maxBytes)}. Split it, or generate steps with fewer repeats.`,
            ...(opts.filename ? { file: opts.filename } : {}),
            line: 1,
            column: 1,
          },
        ],
      };
    }
  }
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
