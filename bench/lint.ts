/**
 * valohai.yaml loader benchmark: corpus files linted per second, and the time to load a generated
 * 1,000-step file (median of several runs). `bench/run.ts` prints the result as one JSON line.
 * The corpus is the compatibility corpus (VH_COMPAT_CORPUS, or ../shared/corpus/valohai-yaml beside
 * the clone) when there is one, else our own fixtures (test/fixtures/valohai); `corpus_files` says
 * how many files were linted, and stderr which set.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { lintValohaiYaml, loadValohaiYaml } from "../app/valohai/index.js";
import { SMOKE, size } from "./support.js";
import { fixturesRoot, locateCorpus } from "../test/valohai/helpers.js";


/** The compatibility corpus as the tests find it (VH_COMPAT_CORPUS, else beside the clone), else our own fixtures. */
function corpusRoot(): string {
  return locateCorpus() ?? fixturesRoot;
}

function corpusFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith(".yaml")) out.push(fs.readFileSync(p, "utf8"));
    }
  };
  walk(root);
  return out;
}

export function generateSteps(count: number): string {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(`- step:
    name: step-${i}
    image: python:3.12
    command:
      - pip install -r requirements.txt
      - python train.py {parameters}
    parameters:
      - name: learning_rate
        type: float
        default: 0.001
      - name: epochs
        type: integer
        default: ${i % 50}
        min: 0
      - name: tags
        multiple: separate
        default: [a, b]
      - name: verbose
        type: flag
    inputs:
      - name: dataset
        default: s3://bucket/data/${i}/*.csv
    time-limit: 1h 30m
`);
  }
  return parts.join("");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

export async function run(): Promise<Record<string, number>> {
  const root = corpusRoot();
  const files = corpusFiles(root);
  if (files.length === 0) throw new Error(`no .yaml files under ${root}`);
  process.stderr.write(`linting ${files.length} files from ${root}\n`);
  for (const text of files) lintValohaiYaml(text);
  let linted = 0;
  const start = performance.now();
  const budgetMs = SMOKE ? 100 : 1000;
  while (performance.now() - start < budgetMs) {
    for (const text of files) lintValohaiYaml(text);
    linted += files.length;
  }
  const filesPerS = linted / ((performance.now() - start) / 1000);

  const steps = size("BENCH_STEPS", 1000, 50);
  const big = generateSteps(steps);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const r = loadValohaiYaml(big);
    times.push(performance.now() - t);
    if (r.config?.steps.size !== steps) throw new Error(`the generated ${steps}-step file did not load`);
  }
  return { files_per_s: Math.round(filesPerS), corpus_files: files.length, parse_1000_steps_ms: Math.round(median(times) * 10) / 10 };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  run().then((r) => console.log(JSON.stringify(r)));
}
