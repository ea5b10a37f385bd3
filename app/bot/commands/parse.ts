/**
 * The `/vh` comment grammar. A pure function: text in, `command | reply | ignore` out; nothing
 * here knows valohai.yaml, permissions or the forge (app/bot/commands/run.ts checks those).
 *
 *   /vh run STEP [name=value | name=[v1,v2,…] | --name=value | --name value | --flag] …
 *   /vh help | /vh status | /vh stop [N|all] | /vh rerun N | /vh reproduce N [--verify] [--tolerance T]
 *   /vh approve model://NAME/VERSION | /vh reject model://NAME/VERSION REASON…
 *
 * Only the first line counts, and only when it starts with `/vh`; the rest of the comment is the
 * human's. A value list (`lr=[0.01,0.001]`) makes a grid sweep over the cartesian product.
 */
import { codeSpan as code } from "../../errors.js";
import { suggest } from "../../valohai/index.js";
import { shellSplit, splitList } from "./shell-words.js";



export const COMMANDS = ["run", "help", "status", "stop", "rerun", "reproduce", "approve", "reject"] as const;
export type CommandName = (typeof COMMANDS)[number];

export type Command =
  | {
      name: "run";
      step: string;
      /** name → values as written (one value: a list of one); `lists` names those given as lists. */
      parameters: Record<string, string[]>;
      lists: string[];
    }
  | { name: "help" }
  | { name: "status" }
  | { name: "stop"; target: number | "all" }
  | { name: "rerun"; execution: number }
  | { name: "reproduce"; execution: number; verify: boolean; tolerance?: number }
  | { name: "approve"; uri: string }
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
    case "approve": {
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

function parseRun(args: string[]): ParseResult {
  const [step, ...rest] = args;
  if (!step || step.startsWith("-") || step.includes("=")) {
    return { kind: "reply", error: "`/vh run` needs a step name first, e.g. `/vh run train lr=0.01`.", usage: "run" };
  }
  const parameters: Record<string, string[]> = {};
  const lists: string[] = [];
  const errors: string[] = [];
  const set = (name: string, raw: string) => {
    if (!NAME.test(name)) {
      errors.push(`${code(name)} is not a parameter name.`);
      return;
    }
    if (name in parameters) {
      errors.push(`Parameter ${code(name)} is given twice; use one list instead, e.g. ${code(`${name}=[1,2]`)}.`);
      return;
    }
    const list = splitList(raw);
    if (list === null) {
      parameters[name] = [raw];
      return;
    }
    if (list.length === 0 || list.some((v) => v === "")) {
      errors.push(`The list for ${code(name)} has an empty value: ${code(raw)}.`);
      return;
    }
    parameters[name] = list;
    lists.push(name);
  };
  for (let i = 0; i < rest.length; i++) {
    const tok = rest[i]!;
    if (tok.startsWith("--")) {
      const body = tok.slice(2);
      const eq = body.indexOf("=");
      if (eq > 0) {
        set(body.slice(0, eq), body.slice(eq + 1));
        continue;
      }
      const next = rest[i + 1];
      // `--flag` alone (at the end, or before another option) means true.
      if (next === undefined || next.startsWith("--") || /^[A-Za-z_][A-Za-z0-9_.-]*=/.test(next)) set(body, "true");
      else set(body, rest[++i]!);
      continue;
    }
    const eq = tok.indexOf("=");
    if (eq > 0) {
      set(tok.slice(0, eq), tok.slice(eq + 1));
      continue;
    }
    errors.push(`${code(tok)} is neither \`name=value\` nor \`--name=value\`.`);
  }
  if (errors.length) return { kind: "reply", error: errors.join("\n"), usage: "run" };
  return { kind: "command", command: { name: "run", step, parameters, lists } };
}
