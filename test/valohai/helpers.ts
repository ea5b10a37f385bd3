import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadValohaiYaml, type Step, type ValohaiConfig } from "../../app/valohai/index.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const corpusRoot = path.resolve(repoRoot, "../shared/corpus/valohai-yaml");

export function readCorpus(rel: string): string {
  return fs.readFileSync(path.join(corpusRoot, rel), "utf8");
}

export function listCorpus(dir: string): string[] {
  return fs
    .readdirSync(path.join(corpusRoot, dir))
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort()
    .map((f) => `${dir}/${f}`);
}

/** Loads YAML text that must be free of errors. */
export function mustLoad(text: string): ValohaiConfig {
  const r = loadValohaiYaml(text);
  if (!r.config) throw new Error(`expected to load:\n${r.problems.map((p) => `${p.line}:${p.column} ${p.message}`).join("\n")}`);
  return r.config;
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
