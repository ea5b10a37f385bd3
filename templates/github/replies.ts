/** The bot's replies to a command comment: done, refused, error (with usage), help, status, and vh's own failure. Pure. */
import type { MetricGoal, SweepView } from "../../app/reporting/view.js";
import { MAX_SWEEPS_SHOWN, sweepSection } from "./sweep.js";
import { RUN_ROLE, changeRequestNoun, type ForgeKind } from "../../app/contracts/forge.js";

/** "pull request" or "merge request": the forge's word. */
const noun = changeRequestNoun;

export const USAGE: Record<string, string> = {
  run: "`/vh run STEP name=value name=[v1,v2] --name=value`",
  status: "`/vh status`",
  stop: "`/vh stop N` or `/vh stop all`",
  rerun: "`/vh rerun N`",
  reproduce: "`/vh reproduce N [--verify]`",
  approve: "`/vh approve model://NAME/vN`",
  reject: "`/vh reject model://NAME/vN REASON`",
  pipeline: "`/vh pipeline run NAME [--param NODE.PARAM=VALUE …] [--no-reuse]` or `/vh approve pipeline N NODE`",
  help: "`/vh help`",
};

export function renderStatusReply(login: string, views: SweepView[], opts: { metrics: Map<string, MetricGoal | null>; now: Date; forge?: ForgeKind }): string {
  const pr = noun(opts.forge ?? "github");
  if (views.length === 0) return `@${login} Nothing has run on this ${pr} yet.\n`;
  const active = views.flatMap((v) => v.executions).filter((e) => !["completed", "failed", "error", "stopped", "lost"].includes(e.status)).length;
  const total = views.reduce((n, v) => n + v.executions.length, 0);
  const sweeps = views
    .slice(-MAX_SWEEPS_SHOWN)
    .reverse()
    .map((v) => sweepSection(v, opts.metrics.get(v.id) ?? null, opts.now).trimEnd() + "\n")
    .join("\n");
  return [`@${login} ${total} execution${total === 1 ? "" : "s"} on this ${pr}, ${active} still active.`, "", sweeps].join("\n") + "\n";
}

/** `usage`: a command's name (its usage line), "all" (every command), or nothing. */
export function renderError(login: string, message: string, usage?: string): string {
  const u =
    usage === undefined
      ? ""
      : usage === "all"
        ? `\nCommands: ${Object.values(USAGE).join(" · ")}\n`
        : `\nUsage: ${USAGE[usage] ?? USAGE["help"]} · \`/vh help\` lists every command.\n`;
  return `@${login} ${message}\n${u}`.trimEnd() + "\n";
}

export function renderRefused(login: string, reason: string, repo: string, forge: ForgeKind = "github"): string {
  return [`@${login} ${reason}`, "", `<sub>vh runs code only for people with ${RUN_ROLE[forge]} on ${repo}.</sub>`, ""].join("\n");
}

/** `cap`: the most executions one sweep may have; `steps`: the steps of valohai.yaml at the head (null: it has none). */
export function renderHelp(cap: number, steps: string[] | null, forge: ForgeKind = "github"): string {
  const pr = noun(forge);
  const stepText = steps === null ? "(no valohai.yaml at the head commit)" : steps.length ? steps.map((s) => `\`${s}\``).join(", ") : "(none)";
  return [
    `**vh commands** (first line of a comment on a ${pr}; you need ${RUN_ROLE[forge]} on the repository):`,
    "",
    "| command | what it does |",
    "|---|---|",
    `| \`/vh run STEP name=value …\` | runs a step of \`valohai.yaml\` at the ${pr}'s head commit |`,
    `| \`/vh run STEP lr=[0.01,0.001] batch=[32,64]\` | a grid sweep: one execution per combination (at most ${cap}) |`,
    '| `/vh run STEP --name=value` or `--name "[1, 2]"` | the same, in option style |',
    "| `/vh run STEP lr=logspace(-5,-1,5)` · `linear(0.1,1,0.1)` · `uniform(1e-5,1e-1,20)` | value lists made for you: count points of base^start…base^end; start…end by step; 20 seeded draws (also `loguniform`, `normal(mean,sd)`, `randint`) |",
    "| `/vh run STEP lr=uniform(1e-5,1e-1) --random 20` | a random search: 20 executions, each drawing its own values (lists are picked from); `--sweep-seed S` to draw the same again |",
    "| `/vh run STEP lr=loguniform(1e-5,1e-1) batch=[32,64] --bayesian 30 --optimize accuracy:max` | a Bayesian search (TPE): 10 random, then each next point proposed from the finished ones' metric |",
    "| `… --max-parallel 4` · `--optimize loss:min` | at most 4 of the sweep at once; rank by a metric (the table is ordered by it and names the best) |",
    "| `… --early-stop asha [--grace 1] [--eta 3]` · `--early-stop median [--grace 3]` | stops executions whose metric (from `--optimize`) falls behind the others as it is printed |",
    "| `… --environment NAME` | runs in that environment (e.g. EC2 spot GPUs; the step's `environment:` otherwise); its cost shows in the report |",
    "| `… --retries 2` | runs a failed execution again, up to 2 times (each attempt stays in its record) |",
    `| \`… --allow-fork\` | runs a fork's ${pr} although its project does not run fork commands (read the fork's code first: it runs on your hosts) |`,
    `| \`/vh status\` | the executions of this ${pr} |`,
    `| \`/vh stop N\` · \`/vh stop all\` | stops execution #N, or all of this ${pr}'s |`,
    "| `/vh rerun N` | runs execution #N again, with the same parameters at the same commit |",
    "| `/vh reproduce N` · `/vh reproduce N --verify` | runs #N again exactly (same commit, image, parameters, environment and input versions); `--verify` answers whether its outputs and metrics came out the same (`--tolerance 1e-9` for metrics) |",
    "| `/vh approve model://NAME/vN` · `/vh reject model://NAME/vN REASON` | approves or rejects a model version |",
    `| \`/vh pipeline run NAME [--param NODE.PARAM=VALUE …] [--no-reuse]\` | runs a pipeline of \`valohai.yaml\` at the ${pr}'s head commit; nodes start as their inputs are ready, unchanged ones are reused |`,
    "| `/vh approve pipeline N NODE` | lets a node that waits for approval (`require-approval`) start |",
    "| `/vh help` | this message |",
    "",
    `Steps here: ${stepText}. A line \`/vh run …\` in a pushed commit's message runs it on that commit.`,
    "",
  ].join("\n");
}

export function renderDone(login: string, message: string): string {
  return `@${login} ${message}\n`;
}

/**
 * vh failed (not the user): what it could not do, the operator-facing message of a VhError (never
 * a stack trace or a raw library error), how often it was tried, and the delivery to look up.
 */
export function renderVhFailure(login: string, f: { what: string; message: string; attempts: number; delivery: string }): string {
  return [
    `@${login} vh could not ${f.what}: ${f.message}`,
    "",
    `This went wrong on vh's side (its connection to the Git host, its artifact store, its runners, or a bug), not in your command, and it was tried ${f.attempts} times. Nothing was started. Ask whoever runs vh to look at its log for delivery \`${f.delivery}\`; the same comment can be posted again once it is fixed.`,
    "",
  ].join("\n");
}
