/**
 * The Action's multi-line inputs, one `name=value` a line (blank lines and lines starting with
 * `#` skipped), read into what the REST API takes. Pure.
 *
 * `parameters` uses the sweep syntax of `/vh run` comments: `lr=[0.1,0.2]` is a list (a grid
 * sweep over every list's values), items trimmed, quotes grouping commas (`note=["a,b", c]`);
 * any other value is one value, with one pair of surrounding quotes removed. The list rule is the
 * comment parser's own, from app/sweeps/lists.ts.
 */
import { splitList } from "../../app/sweeps/lists.js";

export { splitList };

export type ParameterValues = Record<string, string | string[]>;

/** Which line of which input is wrong, said as a person would fix it. */
export class InputError extends Error {
  override name = "InputError";
}

const PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Pair {
  line: number;
  name: string;
  value: string;
}

function pairs(input: string, text: string, what: string): Pair[] {
  const out: Pair[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new InputError(`${input}, line ${i + 1}: "${line}" is not ${what} (one a line, e.g. ${example(input)}).`);
    out.push({ line: i + 1, name: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim() });
  }
  return out;
}

function example(input: string): string {
  return input === "parameters" ? "lr=[0.1,0.2]" : input === "inputs" ? "dataset=https://example.com/data.csv" : "MY_SETTING=value";
}

function unquote(v: string): string {
  return v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0] ? v.slice(1, -1) : v;
}


/** `parameters`: name → one value, or a list (a sweep). */
export function parseParameters(text: string): ParameterValues {
  const out: ParameterValues = {};
  for (const p of pairs("parameters", text, "name=value")) {
    const where = `parameters, line ${p.line}`;
    if (!PARAMETER_NAME.test(p.name)) throw new InputError(`${where}: "${p.name}" is not a parameter name.`);
    if (p.name in out) throw new InputError(`${where}: parameter "${p.name}" is given twice; use one list instead, e.g. ${p.name}=[1,2].`);
    const list = splitList(p.value);
    if (list === null) {
      out[p.name] = unquote(p.value);
      continue;
    }
    if (list.length === 0 || list.some((v) => v === "")) throw new InputError(`${where}: the list for "${p.name}" has an empty value: ${p.value}.`);
    out[p.name] = list;
  }
  return out;
}

/** Does any parameter have a list of values (then the run is a sweep)? */
export function isSweep(parameters: ParameterValues): boolean {
  return Object.values(parameters).some((v) => Array.isArray(v));
}

/** `inputs`: name → URLs; a name given on several lines gets every one of them. */
export function parseInputs(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of pairs("inputs", text, "name=url")) {
    if (!PARAMETER_NAME.test(p.name)) throw new InputError(`inputs, line ${p.line}: "${p.name}" is not an input name.`);
    const url = unquote(p.value);
    if (url === "") throw new InputError(`inputs, line ${p.line}: input "${p.name}" has no URL.`);
    (out[p.name] ??= []).push(url);
  }
  return out;
}

/** `variables`: environment variables of the executions, NAME=VALUE. */
export function parseEnvironment(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs("variables", text, "NAME=VALUE")) {
    if (!ENV_NAME.test(p.name)) throw new InputError(`variables, line ${p.line}: "${p.name}" is not an environment variable name (letters, digits and "_", not starting with a digit).`);
    if (p.name in out) throw new InputError(`variables, line ${p.line}: ${p.name} is given twice.`);
    out[p.name] = unquote(p.value);
  }
  return out;
}

/** The metric that picks the best execution: `NAME`, `NAME:min` or `NAME:max` (default by name, as PR reports do). */
export interface MetricChoice {
  name: string;
  goal: "min" | "max";
}

const MINIMISE = /(loss|error|err|mse|mae|rmse|perplexity|wer|cer|time|latency)$/i;
const MAXIMISE = /(acc|accuracy|f1|auc|precision|recall|score|map|iou|bleu|reward|r2)$/i;

export function goalOf(name: string): "min" | "max" {
  return MINIMISE.test(name) ? "min" : "max";
}

export function parseMetric(text: string): MetricChoice | null {
  const t = text.trim();
  if (t === "") return null;
  const m = /^(.+?)(?::(min|max))?$/.exec(t)!;
  return { name: m[1]!.trim(), goal: (m[2] as "min" | "max" | undefined) ?? goalOf(m[1]!.trim()) };
}

/** Without a `metric` input: the first numeric metric named like a loss (lowest wins), else like an accuracy (highest wins). */
export function guessMetric(keys: readonly string[]): MetricChoice | null {
  const loss = keys.find((k) => MINIMISE.test(k));
  if (loss) return { name: loss, goal: "min" };
  const acc = keys.find((k) => MAXIMISE.test(k));
  return acc ? { name: acc, goal: "max" } : null;
}
