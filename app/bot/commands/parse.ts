/**
 * The `/vh` comment grammar. A pure function: text in, `command | reply | ignore` out; nothing
 * here knows valohai.yaml, permissions or the forge (app/bot/commands/run.ts checks those).
 *
 *   /vh run STEP [name=value | name=[v1,v2,…] | name=logspace(-5,-1,5) | name=uniform(a,b) | --name=value | --flag] …
 *           [--random N | --bayesian N] [--optimize METRIC:max|min] [--max-parallel N] [--sweep-seed S]
 *           [--early-stop asha|median [--grace N] [--eta N]]
 *   /vh help | /vh status | /vh stop [N|all] | /vh rerun N | /vh reproduce N [--verify] [--tolerance T]
 *   /vh approve model://NAME/VERSION | /vh reject model://NAME/VERSION REASON…
 *
 * Only the first line counts, and only when it starts with `/vh`; the rest of the comment is the
 * human's. A value list (`lr=[0.01,0.001]`) makes a grid sweep over the cartesian product; a
 * distribution with `--random N` or `--bayesian N` a random or Bayesian (TPE) search.
 */
import { codeSpan as code } from "../../errors.js";
import { suggest } from "../../valohai/index.js";
import { shellSplit } from "./shell-words.js";
import { parseRule } from "../../sweeps/expressions.js";
import type { ParameterRule, SweepTarget } from "../../contracts/sweeps.js";
import { MAX_RETRIES } from "../../contracts/compute.js";

/** The sweep options of `/vh run` (`--random 20`, `--bayesian 30 --optimize accuracy:max`, `--max-parallel 4`, `--early-stop asha`). */
export interface RunOptions {
  kind?: "random" | "bayesian_tpe";
  count?: number;
  target?: SweepTarget;
  maxParallel?: number;
  seed?: number;
  earlyStop?: { rule?: "median" | "asha"; gracePeriod?: number; reductionFactor?: number };
  /** `--environment NAME`: the environment its executions run in (VH_ENVIRONMENTS_FILE). */
  environment?: string;
  /** `--retries N`: each execution runs again after a failure, up to N times (worker/scheduler/settle.ts). */
  retries?: number;
  /** `--allow-fork`: run a fork's pull request although its project does not allow it for every command (app/bot/fork-policy.ts). */
  allowFork?: boolean;
}



export const COMMANDS = ["run", "help", "status", "stop", "rerun", "reproduce", "approve", "reject", "pipeline"] as const;
export type CommandName = (typeof COMMANDS)[number];

export type Command =
  | {
      name: "run";
      step: string;
      /** name → rule, in the order written: a value, a list, linear/logspace, or a distribution. */
      rules: Record<string, ParameterRule>;
      options: RunOptions;
    }
  | { name: "help" }
  | { name: "status" }
  | { name: "stop"; target: number | "all" }
  | { name: "rerun"; execution: number }
  | { name: "reproduce"; execution: number; verify: boolean; tolerance?: number }
  | { name: "approve"; uri: string }
  /** `/vh pipeline run NAME [--param NODE.PARAM=VALUE …] [--no-reuse]`, `/vh approve pipeline N NODE`. */
  | { name: "pipeline"; action: "run"; pipeline: string; nodeParameters: Record<string, string>; reuse: boolean }
  | { name: "pipeline"; action: "approve"; counter: number; node: string }
  | { name: "reject"; uri: string; reason: string };

export type ParseResult =
  | { kind: "command"; command: Command }
  /** A polite answer (usage, a mistake in the command); `error` says why it is not a command. */
  | { kind: "reply"; error: string; usage?: CommandName | "all" }
  | { kind: "ignore" };

const MAX_LINE = 10_000;
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function firstLine(body: string): string {
  const line = body.replace(/^\uFEFF/, "").split(/\r?\n/, 1)[0] ?? "";
  return line.trim().replace(/^`+|`+$/g, "").trim();
}

/** Does this comment address vh at all? (`/vh` as the first word of the first line.) */
export function addressesVh(body: string): boolean {
  return /^\/vh(\s|$)/i.test(firstLine(body));
}

export function parseComment(body: string): ParseResult {
  if (!addressesVh(body)) return { kind: "ignore" };
  const line = firstLine(body);
  if (line.length > MAX_LINE) return { kind: "reply", error: `The command is over ${MAX_LINE} characters.` };
  const split = shellSplit(line);
  if (!split.ok) return { kind: "reply", error: split.message, usage: "all" };
  const [, verbRaw, ...args] = split.tokens;
  if (verbRaw === undefined) return { kind: "command", command: { name: "help" } };
  const verb = verbRaw.toLowerCase();
  switch (verb) {
    case "help":
    case "-h":
    case "--help":
      return { kind: "command", command: { name: "help" } };
    case "run":
      return parseRun(args);
    case "status":
      if (args.length) return { kind: "reply", error: `\`/vh status\` takes no arguments (got ${code(args.join(" "))}).`, usage: "status" };
      return { kind: "command", command: { name: "status" } };
    case "stop": {
      if (args.length > 1) return { kind: "reply", error: "`/vh stop` takes one execution number, or `all`.", usage: "stop" };
      const a = args[0];
      if (a === undefined || a.toLowerCase() === "all") return { kind: "command", command: { name: "stop", target: "all" } };
      const n = executionNumber(a);
      if (n === null) return { kind: "reply", error: `${code(a)} is not an execution number: use \`/vh stop 12\` or \`/vh stop all\`.`, usage: "stop" };
      return { kind: "command", command: { name: "stop", target: n } };
    }
    case "rerun": {
      const n = args.length === 1 ? executionNumber(args[0]!) : null;
      if (n === null) return { kind: "reply", error: "`/vh rerun` takes one execution number, e.g. `/vh rerun 12`.", usage: "rerun" };
      return { kind: "command", command: { name: "rerun", execution: n } };
    }
    case "reproduce":
      return parseReproduce(args);
    case "pipeline":
      return parsePipeline(args);
    case "approve": {
      if (args[0]?.toLowerCase() === "pipeline") {
        const n = args.length === 3 ? /^=?(\d{1,9})$/.exec(args[1]!) : null;
        if (!n) return { kind: "reply", error: "`/vh approve pipeline` takes the run's number and the node, e.g. `/vh approve pipeline 3 deploy-gate`.", usage: "approve" };
        return { kind: "command", command: { name: "pipeline", action: "approve", counter: Number(n[1]), node: args[2]! } };
      }
      if (args.length !== 1 || !args[0]!.startsWith("model://")) {
        return { kind: "reply", error: "`/vh approve` takes one model version, e.g. `/vh approve model://churn/v3`.", usage: "approve" };
      }
      return { kind: "command", command: { name: "approve", uri: args[0]! } };
    }
    case "reject": {
      const [uri, ...reason] = args;
      if (!uri || !uri.startsWith("model://") || reason.length === 0) {
        return { kind: "reply", error: "`/vh reject` takes a model version and a reason, e.g. `/vh reject model://churn/v3 accuracy dropped`.", usage: "reject" };
      }
      return { kind: "command", command: { name: "reject", uri, reason: reason.join(" ") } };
    }
    default: {
      const hint = suggest(verb, [...COMMANDS]);
      return {
        kind: "reply",
        error: `${code(verbRaw)} is not a vh command.${hint ? ` Did you mean \`/vh ${hint}\`?` : ""}`,
        usage: "all",
      };
    }
  }
}

function executionNumber(s: string): number | null {
  const m = /^#?(\d{1,9})$/.exec(s);
  return m ? Number(m[1]) : null;
}

const REPRODUCE_USAGE = "`/vh reproduce` takes one execution number, and `--verify` to compare the outcome with it (`--tolerance 1e-9` for metrics), e.g. `/vh reproduce 12 --verify`.";

function parseReproduce(args: string[]): ParseResult {
  let execution: number | null = null;
  let verify = false;
  let tolerance: number | undefined;
  const errors: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.startsWith("--tolerance=") ? a.slice("--tolerance=".length) : null;
    if (a === "--verify") verify = true;
    else if (a === "--tolerance" || eq !== null) {
      const raw = eq ?? args[++i];
      const t = raw === undefined || raw.trim() === "" ? NaN : Number(raw);
      if (!Number.isFinite(t) || t < 0) errors.push(`${code(raw ?? "")} is not a tolerance: give a number from 0 up, e.g. \`--tolerance 1e-9\`.`);
      else tolerance = t;
    } else if (execution === null && executionNumber(a) !== null) execution = executionNumber(a);
    else errors.push(`${code(a)} is not an execution number nor \`--verify\` or \`--tolerance T\`.`);
  }
  if (execution === null && errors.length === 0) errors.push(REPRODUCE_USAGE);
  if (tolerance !== undefined && !verify && errors.length === 0) errors.push("`--tolerance` is for comparing: give it with `--verify`.");
  if (errors.length) return { kind: "reply", error: errors.join("\n"), usage: "reproduce" };
  return { kind: "command", command: { name: "reproduce", execution: execution!, verify, ...(tolerance !== undefined ? { tolerance } : {}) } };
}

const PIPELINE_USAGE = "`/vh pipeline run NAME [--param NODE.PARAM=VALUE …] [--no-reuse]`, e.g. `/vh pipeline run train-and-eval --param train.epochs=5`.";

function parsePipeline(args: string[]): ParseResult {
  const [action, name, ...rest] = args;
  if (action?.toLowerCase() !== "run" || !name || name.startsWith("-")) return { kind: "reply", error: PIPELINE_USAGE, usage: "pipeline" };
  const nodeParameters: Record<string, string> = {};
  let reuse = true;
  const errors: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === "--no-reuse") {
      reuse = false;
      continue;
    }
    const value = a === "--param" ? rest[++i] : a.startsWith("--param=") ? a.slice("--param=".length) : undefined;
    const m = value === undefined ? null : /^([^.=\s]+\.[^=\s]+)=(.*)$/s.exec(value);
    if (!m) {
      errors.push(`${code(a === "--param" ? `--param ${value ?? ""}` : a)} is not \`--param NODE.PARAM=VALUE\` nor \`--no-reuse\`.`);
      continue;
    }
    nodeParameters[m[1]!] = m[2]!;
  }
  if (errors.length) return { kind: "reply", error: errors.join("\n"), usage: "pipeline" };
  return { kind: "command", command: { name: "pipeline", action: "run", pipeline: name, nodeParameters, reuse } };
}

/** vh's own options of `/vh run` (a step parameter of the same name is given as `name=value`). */
const RUN_OPTIONS = ["random", "bayesian", "optimize", "max-parallel", "sweep-seed", "early-stop", "grace", "eta", "environment", "retries"] as const;

function wholeNumber(raw: string | undefined): number | null {
  return raw !== undefined && /^\d{1,9}$/.test(raw.trim()) ? Number(raw) : null;
}

/** Parentheses and brackets still open in `s` (a value like `uniform(1e-5, 1e-1)` written with spaces spans tokens). */
function opened(s: string): number {
  let n = 0;
  for (const ch of s) {
    if (ch === "(" || ch === "[") n++;
    else if ((ch === ")" || ch === "]") && n > 0) n--;
  }
  return n;
}

function setOption(options: RunOptions, name: (typeof RUN_OPTIONS)[number], raw: string | undefined, errors: string[]): void {
  const whole = (what: string, min = 1) => {
    const n = wholeNumber(raw);
    if (n === null || n < min) errors.push(`\`--${name}\` takes ${what}${raw === undefined ? "" : `, not ${code(raw)}`}.`);
    return n ?? 0;
  };
  switch (name) {
    case "random":
    case "bayesian":
      if (options.kind && options.kind !== (name === "random" ? "random" : "bayesian_tpe")) errors.push("Give either `--random N` or `--bayesian N`, not both.");
      options.kind = name === "random" ? "random" : "bayesian_tpe";
      options.count = whole("the number of executions, e.g. `--" + name + " 20`");
      return;
    case "optimize": {
      const m = raw === undefined ? null : /^([^:\s]+?)(?::(max|min|maximize|minimize))?$/i.exec(raw.trim());
      if (!m) {
        errors.push(`\`--optimize\` takes a metadata key and a direction, e.g. \`--optimize accuracy:max\` or \`--optimize loss:min\`${raw === undefined ? "" : `, not ${code(raw)}`}.`);
        return;
      }
      const dir = (m[2] ?? "max").toLowerCase();
      options.target = { metric: m[1]!, direction: dir.startsWith("min") ? "min" : "max" };
      return;
    }
    case "max-parallel":
      options.maxParallel = whole("how many may run at once, e.g. `--max-parallel 4`");
      return;
    case "sweep-seed":
      options.seed = whole("a whole number, e.g. `--sweep-seed 7`", 0);
      return;
    case "early-stop": {
      const rule = raw?.trim().toLowerCase();
      if (rule !== "median" && rule !== "asha") {
        errors.push(`\`--early-stop\` takes \`median\` or \`asha\`${raw === undefined ? "" : `, not ${code(raw)}`}.`);
        return;
      }
      options.earlyStop = { ...options.earlyStop, rule };
      return;
    }
    case "retries": {
      const n = whole(`how many times a failed execution runs again (0 to ${MAX_RETRIES}), e.g. \`--retries 2\``, 0);
      if (n > MAX_RETRIES) errors.push(`\`--retries\` is at most ${MAX_RETRIES}, not ${n}.`);
      options.retries = n;
      return;
    }
    case "environment": {
      const name = raw?.trim() ?? "";
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
        errors.push(`\`--environment\` takes an environment's name, e.g. \`--environment gpu-spot\`${raw === undefined ? "" : `, not ${code(raw)}`}.`);
        return;
      }
      options.environment = name;
      return;
    }
    case "grace":
      options.earlyStop = { ...options.earlyStop, gracePeriod: whole("the reports of the metric before any stop, e.g. `--grace 3`") };
      return;
    case "eta":
      options.earlyStop = { ...options.earlyStop, reductionFactor: whole("ASHA's reduction factor, e.g. `--eta 3`", 2) };
      return;
  }
}

function parseRun(args: string[]): ParseResult {
  const [step, ...rest] = args;
  if (!step || step.startsWith("-") || step.includes("=")) {
    return { kind: "reply", error: "`/vh run` needs a step name first, e.g. `/vh run train lr=0.01`.", usage: "run" };
  }
  const rules: Record<string, ParameterRule> = {};
  const options: RunOptions = {};
  const errors: string[] = [];
  const set = (name: string, raw: string) => {
    if (!NAME.test(name)) {
      errors.push(`${code(name)} is not a parameter name.`);
      return;
    }
    if (name in rules) {
      errors.push(`Parameter ${code(name)} is given twice; use one list instead, e.g. ${code(`${name}=[1,2]`)}.`);
      return;
    }
    const r = parseRule(name, raw);
    if (r.ok) rules[name] = r.rule;
    else errors.push(r.message);
  };
  // A value whose parentheses or brackets are still open takes the following words (`lr=uniform(1e-5, 1e-1)`).
  const words: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    let w = rest[i]!;
    while (opened(w) > 0 && i + 1 < rest.length && !/^(--)?[A-Za-z_][A-Za-z0-9_.-]*=/.test(rest[i + 1]!)) w += " " + rest[++i]!;
    words.push(w);
  }
  for (let i = 0; i < words.length; i++) {
    const tok = words[i]!;
    if (tok.startsWith("--")) {
      const body = tok.slice(2);
      const eq = body.indexOf("=");
      const key = eq > 0 ? body.slice(0, eq) : body;
      if (key.toLowerCase() === "allow-fork") {
        if (eq > 0) errors.push("`--allow-fork` takes no value.");
        options.allowFork = true;
        continue;
      }
      const option = RUN_OPTIONS.find((o) => o === key.toLowerCase());
      if (option) {
        setOption(options, option, eq > 0 ? body.slice(eq + 1) : words[i + 1]?.startsWith("--") ? undefined : words[++i], errors);
        continue;
      }
      if (eq > 0) {
        set(body.slice(0, eq), body.slice(eq + 1));
        continue;
      }
      const next = words[i + 1];
      // `--flag` alone (at the end, or before another option) means true.
      if (next === undefined || next.startsWith("--") || /^[A-Za-z_][A-Za-z0-9_.-]*=/.test(next)) set(body, "true");
      else set(body, words[++i]!);
      continue;
    }
    const eq = tok.indexOf("=");
    if (eq > 0) {
      set(tok.slice(0, eq), tok.slice(eq + 1));
      continue;
    }
    errors.push(`${code(tok)} is neither \`name=value\` nor \`--name=value\`.`);
  }
  if (options.earlyStop && !options.earlyStop.rule) errors.push("`--grace` and `--eta` are for early stopping: give `--early-stop asha` or `--early-stop median` too.");
  if (errors.length) return { kind: "reply", error: errors.join("\n"), usage: "run" };
  return { kind: "command", command: { name: "run", step, rules, options } };
}
