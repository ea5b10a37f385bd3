/**
 * `vh exec run STEP` as a sweep: when a parameter is given a list (`--lr "[0.1,0.01]"`), a rule
 * (`linear(…)`, `logspace(…)`) or a distribution (`uniform(…)`, …), or a sweep option is given
 * (`--task-type`, `--execution-count`, `--max-parallel`, `--optimize`, `--early-stop`). The rule
 * texts are read by the one rule parser (app/sweeps/expressions.ts) and sent to
 * `POST /projects/:p/sweeps` as rules, with the step's other values as a single execution's;
 * the server checks every point and creates the sweep all or none.
 */
import type { ParameterRule } from "../../contracts/sweeps.js";
import { parseRule } from "../../sweeps/expressions.js";
import type { Step } from "../../valohai/index.js";
import { CliError } from "../errors.js";
import { stepOptionTable, type RunFixed, type StepToken } from "../run-args.js";

export interface SweepParts {
  /** Parameter name → its rule (only those given as lists, rules or distributions). */
  rules: Record<string, ParameterRule>;
  /** The other step options, for the usual checks; a swept parameter is represented by its first value. */
  tokens: StepToken[];
}

/** Splits the step options into swept parameters and the rest; null when nothing asks for a sweep. */
export function sweepParts(step: Step, tokens: StepToken[], fixed: RunFixed): SweepParts | null {
  const { options } = stepOptionTable(step);
  const rules: Record<string, ParameterRule> = {};
  const rest: StepToken[] = [];
  const errors: string[] = [];
  for (const t of tokens) {
    const opt = options.get(t.name);
    const raw = t.value ?? t.attached;
    if (!opt || opt.kind !== "parameter" || raw === undefined || opt.target.type === "flag") {
      rest.push(t);
      continue;
    }
    const r = parseRule(opt.target.name, raw);
    if (!r.ok) {
      errors.push(r.message);
      continue;
    }
    if (r.rule.style === "single") {
      rest.push(t);
      continue;
    }
    if (opt.target.name in rules) errors.push(`Parameter "${opt.target.name}" is given twice; give one list instead.`);
    rules[opt.target.name] = r.rule;
    // Checked locally as one value of it (its type, min/max): the first of the list, the low end of a range.
    const sample = r.rule.style === "multiple" ? r.rule.items[0]! : r.rule.style === "linear" || r.rule.style === "logspace" ? String(r.rule.start) : r.rule.distribution === "normal" ? String(r.rule.mean) : String(r.rule.min);
    rest.push({ name: t.name, value: r.rule.style === "logspace" ? String(r.rule.base ** r.rule.start) : sample });
  }
  if (errors.length) throw new CliError(errors.join("\n"), 2);
  const asked = fixed.taskType !== undefined || fixed.executionCount !== undefined || fixed.maxParallel !== undefined || fixed.optimize !== undefined || fixed.earlyStop !== undefined;
  if (!asked && Object.keys(rules).length === 0) return null;
  return { rules, tokens: rest };
}

/** The sweep's `task` as the API takes it, from the fixed options. */
export function taskBody(fixed: RunFixed): Record<string, unknown> {
  const task: Record<string, unknown> = {};
  if (fixed.taskType !== undefined) task["type"] = fixed.taskType;
  if (fixed.executionCount !== undefined) task["count"] = fixed.executionCount;
  if (fixed.maxParallel !== undefined) task["maxParallel"] = fixed.maxParallel;
  if (fixed.optimize !== undefined) {
    const m = /^([^:\s]+?)(?::(max|min))?$/i.exec(fixed.optimize.trim());
    if (!m) throw new CliError(`--optimize takes a metadata key and a direction, e.g. --optimize accuracy:max, not "${fixed.optimize}".`, 2);
    task["target"] = { metric: m[1], direction: (m[2] ?? "max").toLowerCase() };
  }
  if (fixed.earlyStop !== undefined) {
    const rule = fixed.earlyStop.trim().toLowerCase();
    if (rule !== "asha" && rule !== "median") throw new CliError(`--early-stop is asha or median, not "${fixed.earlyStop}".`, 2);
    if (fixed.optimize === undefined) throw new CliError("--early-stop watches the --optimize metric: give --optimize METRIC:max|min too.", 2);
    task["earlyStopping"] = { rule };
  }
  return task;
}

/** The rules as the API takes them: a list as a list of texts, the others as rule objects. */
export function ruleParameters(rules: Record<string, ParameterRule>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(rules).map(([name, r]) => [name, r.style === "multiple" ? r.items : r]));
}
