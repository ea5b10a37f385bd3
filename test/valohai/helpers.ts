import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadValohaiYaml, type LoadResult, type Step, type ValohaiConfig } from "../../app/valohai/index.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Our own valohai.yaml fixtures: `examples/` and `valid/` lint clean, `warning/`, `error/`, `projects/`. */
export const fixturesRoot = path.join(repoRoot, "test/fixtures/valohai");

export function fixturePath(rel: string): string {
  return path.join(fixturesRoot, rel);
}

export function readFixture(rel: string): string {
  return fs.readFileSync(fixturePath(rel), "utf8");
}

/** `dir/name.yaml` for every YAML file in a folder, sorted. */
export function listYaml(root: string, dir: string): string[] {
  return fs
    .readdirSync(path.join(root, dir))
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort()
    .map((f) => `${dir}/${f}`);
}

/** Loads a fixture with its relative path as the file name that problems carry. */
export function loadFixture(rel: string): LoadResult {
  return loadValohaiYaml(readFixture(rel), { filename: rel });
}

/** Where the optional compatibility corpus is looked for when VH_COMPAT_CORPUS is unset. */
export const defaultCorpusRoot = path.resolve(repoRoot, "../shared/corpus/valohai-yaml");

export const CORPUS_SKIP_LINE = "corpus suite skipped: set VH_COMPAT_CORPUS=/path/to/valohai-yaml corpus (the folder holding INDEX.md, reference/ and real-world/) to run it";

/**
 * The compatibility corpus (real valohai.yaml files from valohai-yaml and public repositories) is not
 * part of this repository. VH_COMPAT_CORPUS names it; a VH_COMPAT_CORPUS that is empty or not a folder throws,
 * so CI that sets it can never skip silently. Unset, the folder beside our checkout is used when it
 * exists; otherwise the result is undefined and the corpus suite is skipped.
 */
export function locateCorpus(env: NodeJS.ProcessEnv = process.env, fallback = defaultCorpusRoot): string | undefined {
  const configured = env["VH_COMPAT_CORPUS"];
  if (configured !== undefined) {
    const root = path.resolve(configured);
    if (configured.trim() === "" || !fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
      throw new Error(`VH_COMPAT_CORPUS=${configured}: no such folder (${root}); point it at the valohai-yaml corpus or unset it`);
    }
    return root;
  }
  return fs.existsSync(fallback) ? fallback : undefined;
}

/** Loads YAML text that must be free of errors. */
export function mustLoad(text: string): ValohaiConfig {
  const r = loadValohaiYaml(text);
  if (!r.config) throw new Error(`expected to load:\n${r.problems.map((p) => `${p.line}:${p.column} ${p.message}`).join("\n")}`);
  return r.config;
}

/** Loads a fixture that must be free of errors. */
export function mustLoadFixture(rel: string): ValohaiConfig {
  return mustLoad(readFixture(rel));
}

export function firstStep(config: ValohaiConfig): Step {
  const step = [...config.steps.values()][0];
  if (!step) throw new Error("no step");
  return step;
}

/** A one-step config from a command and a YAML list of parameters (indented by 6). */
export function stepWith(command: string, parameters = "[]", extra = ""): Step {
  const text = `- step:\n    name: s\n    image: busybox\n    command: ${JSON.stringify(command)}\n    parameters: ${parameters}\n${extra}`;
  return firstStep(mustLoad(text));
}
