/**
 * A valohai.yaml task blueprint (top-level `task:`, valohai-spec §1.9) as a sweep definition:
 * Valohai's task type and variant-parameter styles mapped onto ours, every refusal naming the
 * blueprint, the parameter and the line. Pure.
 *
 * - type: grid_search → grid, random_search → random, manual_search → manual, bayesian_tpe →
 *   bayesian_tpe; `distributed` is refused (vh runs no distributed groups).
 * - styles: single `value`, multiple `items`, linear `start`/`end`/`step`, logspace
 *   `start`/`end`/`count`/`base` (base 10), random `min`/`max`/`count`/`distribution`/`seed`
 *   (`uniform` by default; `loguniform`, `integer`, or `integerify: true`; `normal` takes
 *   `mean`/`sd` when given, else the middle of min..max with a quarter of its width as sd).
 * - `execution-count` → count; `maximum-queued-executions` → max parallel;
 *   `optimization-target-metric`/`-value` → the target (lowest wins for loss/error-like names);
 *   `stop-condition` → the sweep's stop-condition; `parameter-sets` → a manual sweep's sets.
 */
import type { Distribution, ParameterRule, SweepDefinition, SweepKind } from "../contracts/sweeps.js";
import { VhError } from "../errors.js";
import { pythonStr, type TaskBlueprint } from "../valohai/index.js";
import type { ParamValue } from "../valohai/objects.js";
import { goalOf } from "../reporting/view.js";

const KINDS: Record<TaskBlueprint["type"], SweepKind | null> = {
  grid_search: "grid",
  random_search: "random",
  manual_search: "manual",
  bayesian_tpe: "bayesian_tpe",
  distributed: null,
};

function n(v: ParamValue | undefined): number | undefined {
  if (v === undefined || v === null) return undefined;
  const x = typeof v === "object" && "value" in (v as object) ? Number((v as { value: unknown }).value) : Number(v);
  return Number.isFinite(x) ? x : undefined;
}

function text(v: ParamValue): string {
  return pythonStr(v);
}

/** `Task "NAME" (valohai.yaml:LINE:COLUMN)`: how refusals name a blueprint. */
export function blueprintPlace(t: TaskBlueprint, yamlPath = "valohai.yaml"): string {
  const at = t.line !== undefined ? ` (${yamlPath}:${t.line}${t.column !== undefined ? `:${t.column}` : ""})` : "";
  return `Task "${t.name}"${at}`;
}

export function definitionOfBlueprint(t: TaskBlueprint, yamlPath = "valohai.yaml"): SweepDefinition {
  const owner = blueprintPlace(t, yamlPath);
  const kind = KINDS[t.type];
  if (!kind) throw new VhError("bad_request", `${owner} is a distributed task: vh does not run distributed groups; use a grid, random, manual or Bayesian task.`);
  const problems: string[] = [];
  const parameters: Record<string, ParameterRule> = {};
  for (const p of t.parameters) {
    const r = p.rules;
    const where = `${owner}, parameter ${p.name}`;
    const need = (key: string) => {
      const v = n(r[key]);
      if (v === undefined) problems.push(`${where}: style ${p.style} needs a number in rules.${key}.`);
      return v ?? 0;
    };
    switch (p.style) {
      case "single":
        if (r["value"] === undefined) problems.push(`${where}: style single needs rules.value.`);
        else parameters[p.name] = { style: "single", value: text(r["value"]) };
        break;
      case "multiple": {
        const items = Array.isArray(r["items"]) ? r["items"] : r["items"] === undefined ? [] : [r["items"]];
        if (items.length === 0) problems.push(`${where}: style multiple needs a list in rules.items.`);
        else parameters[p.name] = { style: "multiple", items: items.map(text) };
        break;
      }
      case "linear":
        parameters[p.name] = { style: "linear", start: need("start"), end: need("end"), step: need("step") };
        break;
      case "logspace":
        parameters[p.name] = { style: "logspace", start: need("start"), end: need("end"), count: need("count"), base: n(r["base"]) ?? 10 };
        break;
      case "random": {
        const dist = String(r["distribution"] ?? "uniform").toLowerCase().replace(/[-_ ]/g, "");
        const extra = { ...(n(r["count"]) !== undefined ? { count: n(r["count"])! } : {}), ...(n(r["seed"]) !== undefined ? { seed: n(r["seed"])! } : {}) };
        if (dist === "normal" || dist === "gaussian") {
          const min = n(r["min"]);
          const max = n(r["max"]);
          const mean = n(r["mean"]) ?? (min !== undefined && max !== undefined ? (min + max) / 2 : undefined);
          const sd = n(r["sd"]) ?? n(r["std"]) ?? (min !== undefined && max !== undefined ? (max - min) / 4 : undefined);
          if (mean === undefined || sd === undefined) problems.push(`${where}: a normal distribution needs rules.mean and rules.sd (or min and max).`);
          else parameters[p.name] = { style: "random", distribution: "normal", mean, sd, ...extra };
          break;
        }
        const known: Record<string, Exclude<Distribution, "normal">> = { uniform: "uniform", loguniform: "loguniform", integer: "integer", randint: "integer" };
        let d = known[dist];
        if (!d) {
          problems.push(`${where}: unknown distribution "${String(r["distribution"])}"; vh draws from uniform, loguniform, normal or integer.`);
          break;
        }
        if (d === "uniform" && r["integerify"] === true) d = "integer";
        parameters[p.name] = { style: "random", distribution: d, min: need("min"), max: need("max"), ...extra };
        break;
      }
      default:
        problems.push(`${where}: unknown style "${String(p.style)}"; styles are single, multiple, linear, logspace and random.`);
    }
  }
  if (problems.length) throw new VhError("bad_request", problems.join("\n"), { errors: problems });
  const def: SweepDefinition = { kind, parameters, blueprint: t.name };
  if (kind === "manual") def.parameterSets = t.parameterSets.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, text(v)])));
  if (kind === "random" || kind === "bayesian_tpe") def.count = t.executionCount ?? (kind === "random" ? 10 : 20);
  if (t.maximumQueuedExecutions !== undefined) def.maxParallel = t.maximumQueuedExecutions;
  if (t.optimizationTargetMetric) {
    def.target = { metric: t.optimizationTargetMetric, direction: goalOf(t.optimizationTargetMetric), ...(t.optimizationTargetValue !== undefined ? { value: t.optimizationTargetValue } : {}) };
  }
  if (t.stopCondition) def.stopCondition = t.stopCondition;
  return def;
}
