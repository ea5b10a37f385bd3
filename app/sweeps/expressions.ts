/**
 * A parameter's value as written in a `/vh run` comment, a commit message or `vh exec run`, read
 * as a sweep rule. Pure.
 *
 *   lr=0.01                       one value
 *   lr=[0.01,0.001]               a list (quotes group commas: note=["a,b", c])
 *   lr=linear(0.1, 1, 0.1)        start..end inclusive by step
 *   lr=logspace(-5, -1, 5[, base]) count points base^start … base^end (base 10 by default)
 *   lr=uniform(1e-5, 1e-1[, n])   a distribution: uniform, loguniform, normal(mean, sd), randint(min, max)
 *
 * With a count, a distribution in a grid is that many seeded draws; without one it is for random
 * and Bayesian searches, where each execution draws (or is proposed) its own value. Grid.ai's
 * quoted forms (`lr="[1, 2]"`, `"uniform(1e-5, 1e-1, 20)"`) are the same text once the shell
 * split has removed the quotes. Anything else that looks like `name(…)` with a name that is not
 * one of these is a plain value.
 */
import type { ParameterRule } from "../contracts/sweeps.js";
import { splitList } from "./lists.js";

export type RuleResult = { ok: true; rule: ParameterRule; list: boolean } | { ok: false; message: string };

const FUNCTIONS: Record<string, { args: string; min: number; max: number }> = {
  linear: { args: "start, end, step", min: 3, max: 3 },
  logspace: { args: "start, end, count[, base]", min: 3, max: 4 },
  uniform: { args: "min, max[, count]", min: 2, max: 3 },
  loguniform: { args: "min, max[, count]", min: 2, max: 3 },
  normal: { args: "mean, sd[, count]", min: 2, max: 3 },
  randint: { args: "min, max[, count]", min: 2, max: 3 },
  integer: { args: "min, max[, count]", min: 2, max: 3 },
};

/** The known function names, for `/vh help`. */
export const RULE_FUNCTIONS = Object.keys(FUNCTIONS);

/** Python-style number text (1e-5, .5, -3, 1_000); NaN when it is not one. */
function num(text: string): number {
  const t = text.trim().replace(/(\d)_(?=\d)/g, "$1");
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return NaN;
  return Number(t);
}

/** `name=raw` read as a rule; the message names the parameter and the argument that is wrong. */
export function parseRule(name: string, raw: string): RuleResult {
  const list = splitList(raw);
  if (list !== null) {
    if (list.length === 0 || list.some((v) => v === "")) return { ok: false, message: `The list for \`${name}\` has an empty value: \`${raw}\`.` };
    return { ok: true, rule: list.length === 1 ? { style: "single", value: list[0]! } : { style: "multiple", items: list }, list: true };
  }
  const m = /^\s*([A-Za-z_]+)\s*\((.*)\)\s*$/s.exec(raw);
  const fn = m ? m[1]!.toLowerCase() : "";
  const shape = m ? FUNCTIONS[fn] : undefined;
  if (!m || !shape) return { ok: true, rule: { style: "single", value: raw }, list: false };
  const written = `\`${name}=${raw.trim()}\``;
  const argTexts = m[2]!.trim() === "" ? [] : m[2]!.split(",");
  if (argTexts.length < shape.min || argTexts.length > shape.max) {
    return { ok: false, message: `${written}: ${fn} takes (${shape.args}); ${argTexts.length} argument${argTexts.length === 1 ? " was" : "s were"} given.` };
  }
  const args: number[] = [];
  for (const [i, a] of argTexts.entries()) {
    const v = num(a);
    if (!Number.isFinite(v)) return { ok: false, message: `${written}: argument ${i + 1} of ${fn} (${shape.args.replace(/[[\]]/g, "").split(", ")[i]}), \`${a.trim()}\`, is not a number.` };
    args.push(v);
  }
  const countArg = (i: number, label = "count"): number | undefined | string => {
    const c = args[i];
    if (c === undefined) return undefined;
    if (!Number.isInteger(c) || c < 1) return `${written}: the ${label} (argument ${i + 1}) must be a whole number of 1 or more, not ${argTexts[i]!.trim()}.`;
    return c;
  };
  switch (fn) {
    case "linear":
      return { ok: true, rule: { style: "linear", start: args[0]!, end: args[1]!, step: args[2]! }, list: true };
    case "logspace": {
      const count = countArg(2);
      if (typeof count === "string") return { ok: false, message: count };
      return { ok: true, rule: { style: "logspace", start: args[0]!, end: args[1]!, count: count!, base: args[3] ?? 10 }, list: true };
    }
    default: {
      const count = countArg(2, "count of draws");
      if (typeof count === "string") return { ok: false, message: count };
      const c = count === undefined ? {} : { count };
      if (fn === "normal") {
        if (!(args[1]! > 0)) return { ok: false, message: `${written}: normal's sd (argument 2) must be above 0.` };
        return { ok: true, rule: { style: "random", distribution: "normal", mean: args[0]!, sd: args[1]!, ...c }, list: count !== undefined };
      }
      const distribution = fn === "randint" || fn === "integer" ? "integer" : (fn as "uniform" | "loguniform");
      if (!(args[0]! < args[1]!)) return { ok: false, message: `${written}: ${fn} needs min < max (got ${argTexts[0]!.trim()} and ${argTexts[1]!.trim()}).` };
      if (distribution === "loguniform" && !(args[0]! > 0)) return { ok: false, message: `${written}: loguniform needs min above 0 (got ${argTexts[0]!.trim()}).` };
      if (distribution === "integer" && !(Number.isInteger(args[0]) && Number.isInteger(args[1]))) return { ok: false, message: `${written}: randint needs whole numbers for min and max.` };
      return { ok: true, rule: { style: "random", distribution, min: args[0]!, max: args[1]!, ...c }, list: count !== undefined };
    }
  }
}
