/**
 * `vh lint [FILES...]`: checks valohai.yaml files with the same loader the server uses and prints
 * `FILE:LINE:COLUMN: error|warning: message` lines and a summary, or a JSON array with `--json`.
 * Exit code 1 when any file has errors (or warnings with `--strict-warnings`), else 0.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { lintValohaiYaml, type Problem } from "../../valohai/index.js";

/** A sink: a function, or a stream-like object with `write` (the CLI's `Io` writers). */
export type Sink = ((s: string) => void) | { write(chunk: string): unknown };

export interface LintOutput {
  stdout: Sink;
  stderr: Sink;
  /** Directory relative file names are read from; defaults to `process.cwd()`. */
  cwd?: string;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function formatProblem(p: Problem, file: string): string {
  const where = [p.file ?? file, p.line, p.column].filter((x) => x !== undefined).join(":");
  return `${where}: ${p.severity}: ${p.message}`;
}

function emit(sink: Sink, s: string): void {
  if (typeof sink === "function") sink(s);
  else sink.write(s);
}

export async function lintCommand(files: string[], opts: { json: boolean; strictWarnings?: boolean }, out: LintOutput): Promise<number> {
  const cwd = out.cwd ?? process.cwd();
  const targets = files.length ? files : ["valohai.yaml"];
  const all: Problem[] = [];
  for (const file of targets) {
    let text: string;
    try {
      text = await readFile(path.resolve(cwd, file), "utf8");
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message;
      all.push({
        severity: "error",
        code: "file-unreadable",
        message: `cannot read ${file}: ${reason}${files.length ? "" : " (vh lint checks ./valohai.yaml when no file is given)"}`,
        file,
      });
      continue;
    }
    all.push(...lintValohaiYaml(text, { filename: file }));
  }
  const errors = all.filter((p) => p.severity === "error").length;
  const warnings = all.length - errors;
  if (opts.json) {
    emit(out.stdout, `${JSON.stringify(all, null, 2)}\n`);
  } else {
    for (const p of all) emit(out.stdout, `${formatProblem(p, p.file ?? "")}\n`);
    const summary = `${plural(errors, "error")}, ${plural(warnings, "warning")}`;
    if (errors || warnings) emit(out.stderr, `${summary}\n`);
    else emit(out.stderr, `${summary} (${targets.join(", ")} ${targets.length === 1 ? "is" : "are"} clean)\n`);
  }
  if (errors > 0) return 1;
  if (opts.strictWarnings && warnings > 0) return 1;
  return 0;
}
