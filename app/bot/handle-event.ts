/**
 * Handling one recorded delivery (the `forge_event` task), whichever forge it came from: normalise →
 * parse → check who asks → run the command. Safe to run twice: a handled delivery is skipped, and sweeps are keyed by the
 * delivery (a second handling finds the first one's sweep). Errors are told apart by who can fix
 * them (app/errors.ts `whoCanFix`): a refusal or a user's mistake is answered with a reply and never
 * retried; a failure of the forge, the store, a runner or vh itself is thrown so the queue retries it,
 * and on the last attempt it is answered as vh's failure (never as the user's) and recorded.
 */
import type { ForgeEvent } from "../contracts/forge-events.js";
import { ForgeError, isUsersMistake, VhError } from "../errors.js";
import { CAN_RUN, FORGE_NAMES, RUN_ROLE, changeRequestName, changeRequestNoun, hasCheckRuns, hasComments, hasCommitStatuses, type Actor, type Forge, type RepoRef } from "../contracts/forge.js";
import { NEEDS_WRITE, placeRefusal, runCommand } from "./commands/index.js";
import { parseComment, type CommandName } from "./commands/parse.js";
import { startSweep } from "../sweeps/start.js";
import { gridOf } from "../sweeps/definition.js";
import { approveNode, stopPipeline } from "../pipelines/control.js";
import type { SweepDefinition } from "../contracts/sweeps.js";
import type { BotDeps, CommandContext } from "./commands/types.js";
import { stopExecution } from "../executions/stop.js";
import { ACTIVE } from "../executions/state.js";
import type { SweepSource } from "../../db/schema/sweeps.js";
import { APPROVAL_BUTTONS, APPROVAL_EXTERNAL_PREFIX, PIPELINE_EXTERNAL_PREFIX, renderDone, renderError, renderRefused, renderVhFailure } from "../../templates/github/render.js";
import { reportTargetOfPr, reportTargetOfSweep, scheduleReport } from "../reporting/schedule.js";
import { approveVersion, rejectVersion } from "../models/approval.js";
import { parseModelUri } from "../models/uri.js";
import { applyReview } from "./review.js";
import { pinHead, recordHead, type PinnedHead } from "./pin-head.js";
import { forkDecision, runsHead, type ForkDecision } from "./fork-policy.js";
import { executionsOfSweeps, sourceOf } from "../../db/queries/sweeps.js";
import type { ForgeKind } from "../contracts/forge.js";

const USAGE_OF_CODE: Partial<Record<string, CommandName>> = { unknown_step: "run", invalid_parameter: "run", too_large: "run" };

/** Which attempt of the queue's this handling is: on the last one, vh's own failures are reported instead of thrown. */
export interface Attempt {
  number: number;
  max: number;
}

/** The handling of one delivery: its forge and id, and whether the queue will try again after this. */
export interface Handling {
  forge: ForgeKind;
  deliveryId: string;
  attempt: Attempt;
}


export async function handleEvent(deps: BotDeps, ev: ForgeEvent, h: Handling): Promise<string> {
  switch (ev.kind) {
    case "ignore":
      return `ignored: ${ev.reason}`;
    case "comment":
      return handleComment(deps, ev, h);
    case "push":
      return handlePush(deps, ev, h);
    case "check_run":
      return handleCheckRun(deps, ev, h);
    case "check_suite":
      return handleCheckSuite(deps, ev, h);
    case "review":
      return applyReview(deps, ev);
    case "pr_head":
      await recordHead(deps.sql, ev.repo, ev.pr, ev.sha, ev.at);
      return `recorded: head of ${changeRequestName(ev.repo.forge, ev.pr)} is ${ev.sha.slice(0, 7)} since ${ev.at.toISOString()}`;
  }
}

/**
 * vh's own failure (the forge, the store, a runner, a bug): thrown while the queue has attempts left;
 * on the last one, `report` tells the user it was vh's failure (best effort: the forge may be what
 * failed) and the outcome is recorded. The comment names only what kind of part failed: details
 * (bucket names, endpoints, hosts) are for the operator, in the log, not for a public pull request.
 */
async function operatorFailure(deps: BotDeps, h: Handling, err: unknown, report: (message: string) => Promise<void>): Promise<string> {
  if (h.attempt.number < h.attempt.max) throw err;
  const message = whatFailed(err, h.forge);
  deps.log.error("forge delivery failed on its last attempt", { forge: h.forge, delivery: h.deliveryId, attempts: h.attempt.number, err });
  try {
    await report(message);
  } catch (reportErr) {
    deps.log.warn("could not report vh's failure on the forge", { forge: h.forge, delivery: h.deliveryId, err: reportErr });
  }
  const code = err instanceof VhError ? err.code : "internal";
  const detail = err instanceof Error ? err.message : String(err);
  return `failed after ${h.attempt.number} attempt${h.attempt.number === 1 ? "" : "s"}: ${code}: ${detail.split("\n")[0]}`;
}

function whatFailed(err: unknown, forge: ForgeKind): string {
  if (err instanceof ForgeError) return `${FORGE_NAMES[forge]}'s API failed${err.status ? ` (HTTP ${err.status})` : ""}.`;
  if (err instanceof VhError && err.code === "store_error") return "its artifact store failed.";
  if (err instanceof VhError && err.code === "runner_error") return "a runner failed.";
  return "an internal error (a bug in vh).";
}

async function handleComment(deps: BotDeps, ev: Extract<ForgeEvent, { kind: "comment" }>, h: Handling): Promise<string> {
  if (ev.action !== "created") return `ignored: ${ev.action} comment`;
  if (ev.comment.author.isBot) return "ignored: a bot's comment";
  const parsed = parseComment(ev.comment.body);
  if (parsed.kind === "ignore") return "ignored: not a command";
  const forge = await deps.forges.forRepo(ev.repo);
  if (!hasComments(forge)) return `ignored: ${FORGE_NAMES[ev.repo.forge]} comments are not read`;
  const login = ev.comment.author.login;
  try {
    await forge.addReaction(ev.repo, { pr: ev.issue, commentId: ev.comment.id }, "eyes");
  } catch (err) {
    deps.log.warn("could not add the 👀 reaction", { err });
  }
  if (ev.pr === null) {
    await forge.createComment(ev.repo, ev.issue, renderError(login, "vh commands work on pull requests, not on issues."));
    return "replied: not a pull request";
  }
  const pr = ev.pr;
  const reply = async (body: string) => {
    await forge.createComment(ev.repo, pr, body);
  };
  if (parsed.kind === "reply") {
    await reply(renderError(login, parsed.error, parsed.usage));
    return `replied: ${parsed.error.split("\n")[0]}`;
  }
  const command = parsed.command;
  const permission = await forge.getPermission(ev.repo, login);
  let pull = await forge.getPullRequest(ev.repo, pr);
  if (NEEDS_WRITE[command.name] && !CAN_RUN.includes(permission)) {
    const reason = pull.isFork
      ? `this ${changeRequestNoun(ev.repo.forge)} comes from a fork (${pull.headRepo ?? "a deleted repository"}), and vh runs code from a fork only when someone with ${RUN_ROLE[ev.repo.forge]} on ${ev.repo.fullName} asks. Your permission is \`${permission}\`.`
      : `\`/vh ${command.name}\` needs ${RUN_ROLE[ev.repo.forge]} on ${ev.repo.fullName}; yours is \`${permission}\`.`;
    await reply(renderRefused(login, reason, ev.repo.fullName, ev.repo.forge));
    return `refused: ${login} has ${permission}${pull.isFork ? " (fork)" : ""}`;
  }
  const requestKey = `${ev.repo.forge}:comment:${ev.repo.fullName}:${ev.comment.id}`;
  let configFrom: string | null = null;
  if (runsHead(command)) {
    // What runs is the commit the comment was made on (app/bot/pin-head.ts), and a fork's only where allowed.
    let pin: PinnedHead;
    let fork: ForkDecision;
    try {
      pin = await pinHead(deps.sql, ev.repo, pr, { at: ev.commentedAt, payloadHead: ev.headSha }, pull.headSha);
      pull = { ...pull, headSha: pin.sha };
      fork = await forkDecision(deps.sql, ev.repo, pr, pull, command);
    } catch (err) {
      if (!isUsersMistake(err)) throw err;
      await reply(renderError(login, err.message));
      return `refused: ${err.code}`;
    }
    if ("refused" in fork) {
      await reply(renderError(login, fork.refused));
      return `refused: fork ${changeRequestNoun(ev.repo.forge)}s are not run in this project`;
    }
    configFrom = fork.configFrom;
    // Said once: a redelivery of a comment that already started something says nothing more.
    if (pin.movedTo && !(await startedFor(deps, requestKey))) {
      await reply(renderDone(login, `The head moved to \`${pin.movedTo.slice(0, 7)}\` after your comment; vh runs \`${pin.sha.slice(0, 7)}\`, the commit you commented on. Comment again to run the new head.`));
    }
  }
  const ctx: CommandContext = {
    deps,
    forge,
    repo: ev.repo,
    place: { kind: "pull_request", pr, pull, configFrom },
    actor: ev.comment.author,
    permission,
    commentId: ev.comment.id,
    commentUrl: ev.comment.url,
    // Keyed by what the signed payload names, not by the (unsigned) delivery id: a captured
    // payload re-sent under a new X-GitHub-Delivery finds the sweep it already started.
    requestKey,
    reply,
  };
  try {
    return await runCommand(ctx, command);
  } catch (err) {
    if (!isUsersMistake(err)) {
      return operatorFailure(deps, h, err, (message) =>
        reply(renderVhFailure(login, { what: `run \`/vh ${command.name}\``, message, attempts: h.attempt.number, delivery: h.deliveryId })),
      );
    }
    await reply(renderError(login, err.message, USAGE_OF_CODE[err.code]));
    return `refused: ${err.code}`;
  }
}

/**
 * A failure with no comment to reply to (a push, a button), shown where the forge can: a completed
 * check run that says why (GitHub), a failed commit status with the title (GitLab); a plain Git
 * host shows nothing (the delivery's outcome records it, for `vh repo status` and the log).
 */
async function failCheck(forge: Forge, repo: RepoRef, sha: string, externalId: string, title: string, message: string): Promise<void> {
  if (hasCheckRuns(forge)) {
    await forge.ensureCheckRun({
      repo,
      spec: { sha, name: "vh", externalId, status: "completed", conclusion: "failure", completedAt: new Date(), title: title.slice(0, 200), summary: message },
    });
  } else if (hasCommitStatuses(forge)) {
    await forge.ensureCommitStatus({ repo, status: { sha, name: `vh: ${externalId}`.slice(0, 255), state: "failed", description: `${title}: ${message.replace(/\s+/g, " ")}` } });
  }
}

async function handlePush(deps: BotDeps, ev: Extract<ForgeEvent, { kind: "push" }>, h: Handling): Promise<string> {
  const { deliveryId } = h;
  if (!ev.headSha) return "ignored: branch deleted";
  if (ev.pusher.isBot) return "ignored: pushed by a bot";
  const lines = ev.message
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => /^\/vh(\s|$)/i.test(l));
  if (lines.length === 0) return "ignored: no /vh command in the head commit";
  const forge = await deps.forges.forRepo(ev.repo);
  const permission = await forge.getPermission(ev.repo, ev.pusher.login);
  if (!CAN_RUN.includes(permission)) {
    await failCheck(forge, ev.repo, ev.headSha, `push:${deliveryId}`, "Not run: write permission needed",
      `@${ev.pusher.login} pushed \`/vh run\` in a commit message, but has \`${permission}\` permission on ${ev.repo.fullName}; vh runs code only for people with ${RUN_ROLE[ev.repo.forge]}.`);
    return `refused: ${ev.pusher.login} has ${permission}`;
  }
  const out: string[] = [];
  const sha = ev.headSha;
  for (const [i, line] of lines.entries()) {
    const parsed = parseComment(line);
    const externalId = `push:${deliveryId}:${i}`;
    const refusal = parsed.kind === "reply" ? parsed.error : parsed.kind === "command" ? placeRefusal(parsed.command.name, "commit") : "not a command";
    if (parsed.kind !== "command" || refusal) {
      await failCheck(forge, ev.repo, sha, externalId, "Not run: the command has a mistake", `\`${line}\`\n\n${refusal}`);
      out.push(`refused: ${refusal!.split("\n")[0]}`);
      continue;
    }
    // The same command path as a comment's, at this commit; answers go where a commit can show them.
    const ctx: CommandContext = {
      deps,
      forge,
      repo: ev.repo,
      place: { kind: "commit", sha, ref: ev.ref },
      actor: ev.pusher,
      permission,
      commentId: null,
      commentUrl: null,
      requestKey: `${ev.repo.forge}:push:${ev.repo.fullName}:${sha}:${i}`,
      reply: (body) => failCheck(forge, ev.repo, sha, externalId, "vh", body),
    };
    try {
      out.push(await runCommand(ctx, parsed.command));
    } catch (err) {
      if (!isUsersMistake(err)) {
        out.push(await operatorFailure(deps, h, err, (message) =>
          failCheck(forge, ev.repo, sha, externalId, "Not run: vh failed (not your command)", `\`${line}\`\n\nvh could not start this: ${message}\n\nThis went wrong on vh's side, not in the command; it was tried ${h.attempt.number} times (delivery \`${deliveryId}\`).`),
        ));
        continue;
      }
      await failCheck(forge, ev.repo, sha, externalId, "Not run: the command was refused", `\`${line}\`\n\n${err.message}`);
      out.push(`refused: ${err.code}`);
    }
  }
  return out.join("; ");
}

/** Whether a sweep or a pipeline was started for this request already (a redelivered comment). */
async function startedFor(deps: BotDeps, requestKey: string): Promise<boolean> {
  const rows = await deps.sql`
    select 1 from sweeps where request_key = ${requestKey} union all select 1 from pipelines where request_key = ${requestKey} limit 1`;
  return rows.length > 0;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function loadSweep(deps: BotDeps, id: string | null, repo: RepoRef) {
  if (!id || !UUID.test(id)) return null;
  const [s] = await deps.sql<{ id: string; step: string; spec: Record<string, string[]>; definition: SweepDefinition | null; commit_sha: string; code_sha256: string; source: SweepSource }[]>`
    select id, step, spec, definition, commit_sha, code_sha256, source from sweeps where id = ${id} and source @> ${deps.sql.json(sourceOf(repo) as never)}::jsonb`;
  return s ?? null;
}

async function rerunSweep(deps: BotDeps, forge: Forge, repo: RepoRef, sweep: NonNullable<Awaited<ReturnType<typeof loadSweep>>>, actor: Actor, requestKey: string) {
  const pr = sweep.source.kind === "forge" ? sweep.source.pr : null;
  return startSweep(deps, forge, { repo, commitSha: sweep.commit_sha, code: sweep.code_sha256, step: sweep.step, definition: sweep.definition ?? gridOf(sweep.spec), trigger: "button", pr, commentId: null, actor, requestKey });
}

async function handleCheckRun(deps: BotDeps, ev: Extract<ForgeEvent, { kind: "check_run" }>, h: Handling): Promise<string> {
  const { deliveryId } = h;
  if (ev.action !== "requested_action" && ev.action !== "rerequested") return `ignored: check_run ${ev.action}`;
  if (ev.externalId?.startsWith(APPROVAL_EXTERNAL_PREFIX)) return handleModelButton(deps, ev, h);
  if (ev.externalId?.startsWith(PIPELINE_EXTERNAL_PREFIX)) return handlePipelineButton(deps, ev);
  const sweep = await loadSweep(deps, ev.externalId, ev.repo);
  if (!sweep) return "ignored: not a vh sweep's check run";
  const forge = await deps.forges.forRepo(ev.repo);
  const permission = await forge.getPermission(ev.repo, ev.actor.login);
  if (!CAN_RUN.includes(permission)) return `refused: ${ev.actor.login} has ${permission}`;
  if (ev.action === "requested_action" && ev.identifier === "stop") {
    const ids = await executionsOfSweeps(deps.sql, [sweep.id], ACTIVE);
    for (const r of ids) await stopExecution(deps.sql, r.id);
    const target = await reportTargetOfSweep(deps.sql, sweep.id);
    if (target) await scheduleReport(deps.sql, target, 0);
    return `stopped ${ids.length}`;
  }
  if (ev.action === "requested_action" && ev.identifier !== "rerun") return `ignored: button ${ev.identifier}`;
  try {
    const s = await rerunSweep(deps, forge, ev.repo, sweep, ev.actor, `${h.forge}:${deliveryId}`);
    return `rerun: ${s.counters.map((c) => `#${c}`).join(", ")}`;
  } catch (err) {
    if (!isUsersMistake(err)) {
      return operatorFailure(deps, h, err, (message) =>
        failCheck(forge, ev.repo, sweep.commit_sha, `rerun:${deliveryId}`, "Re-run failed: vh's error, not yours", `vh could not re-run this sweep: ${message}\n\nIt was tried ${h.attempt.number} times (delivery \`${deliveryId}\`).`),
      );
    }
    await failCheck(forge, ev.repo, sweep.commit_sha, `rerun:${deliveryId}`, "Re-run refused", err.message);
    return `refused: ${err.code}`;
  }
}

/**
 * A pipeline run's check run: "Approve NODE" lets a node waiting on require-approval start, "Stop"
 * stops the run; both as the clicker, who needs write permission (as for `/vh pipeline`). The run
 * must have been started from this repository.
 */
async function handlePipelineButton(deps: BotDeps, ev: Extract<ForgeEvent, { kind: "check_run" }>): Promise<string> {
  if (ev.action !== "requested_action") return "ignored: a pipeline's check run is not re-run";
  const id = ev.externalId!.slice(PIPELINE_EXTERNAL_PREFIX.length);
  if (!UUID.test(id)) return "ignored: not a vh pipeline's check run";
  const [run] = await deps.sql<{ id: string; counter: number }[]>`
    select id, counter from pipelines where id = ${id} and source @> ${deps.sql.json(sourceOf(ev.repo) as never)}::jsonb`;
  if (!run) return "ignored: not a pipeline of this repository";
  const forge = await deps.forges.forRepo(ev.repo);
  const permission = await forge.getPermission(ev.repo, ev.actor.login);
  if (!CAN_RUN.includes(permission)) return `refused: ${ev.actor.login} has ${permission}`;
  if (ev.identifier === "stop") {
    const stopped = await stopPipeline(deps.sql, run.id, ev.actor.login);
    return stopped ? `stopped pipeline =${run.counter}` : `pipeline =${run.counter} had ended`;
  }
  const m = /^approve:(\d+)$/.exec(ev.identifier ?? "");
  if (!m) return `ignored: button ${ev.identifier}`;
  const [node] = await deps.sql<{ name: string }[]>`select name from pipeline_nodes where pipeline_id = ${run.id} order by position offset ${Number(m[1])} limit 1`;
  if (!node) return "ignored: no such node";
  try {
    await approveNode(deps.sql, run.id, node.name, ev.actor.login);
  } catch (err) {
    if (isUsersMistake(err)) return `refused: ${err.message}`;
    throw err;
  }
  return `approved pipeline =${run.counter} node ${node.name}`;
}

/**
 * A model version's approval check run: "Approve model" approves it as the clicker (permission
 * looked up through the Forge, as for Stop/Re-run; the model hub decides who may approve and
 * refuses a version that no execution of this repository produced). "Reject" needs a reason,
 * which a button cannot give: the refusal is recorded, and the reply asks for `/vh reject URI REASON`.
 */
async function handleModelButton(deps: BotDeps, ev: Extract<ForgeEvent, { kind: "check_run" }>, h: Handling): Promise<string> {
  const uri = ev.externalId!.slice(APPROVAL_EXTERNAL_PREFIX.length);
  const parsed = parseModelUri(uri);
  if (ev.action !== "requested_action") return "ignored: a model approval check run is not re-run";
  if ("error" in parsed || parsed.ref.kind !== "version") return "ignored: not a model version's check run";
  if (ev.identifier !== APPROVAL_BUTTONS.approve.identifier && ev.identifier !== APPROVAL_BUTTONS.reject.identifier) return `ignored: button ${ev.identifier}`;
  const forge = await deps.forges.forRepo(ev.repo);
  const permission = await forge.getPermission(ev.repo, ev.actor.login);
  const login = ev.actor.login;
  const actor = { login, source: "check_run" as const, permission };
  const fromRepo = { forge: ev.repo.forge, id: ev.repo.id, fullName: ev.repo.fullName };
  // The pull request this version was put up for approval on, to reply on and to report to.
  const [req] = await deps.sql<{ pr_number: number }[]>`
    select r.pr_number from model_approval_requests r join model_versions v on v.id = r.version_id join models m on m.id = v.model_id
    where m.name = ${parsed.ref.model} and v.number = ${parsed.ref.number} and lower(r.repo) = lower(${ev.repo.fullName})
    order by r.requested_at desc limit 1`;
  const pr = req?.pr_number ?? null;
  const reply = async (body: string, title: string, message: string) => {
    if (pr !== null && hasComments(forge)) await forge.createComment(ev.repo, pr, body);
    else await failCheck(forge, ev.repo, ev.headSha, `model-button:${ev.checkRunId}:${Date.now()}`, title, message);
  };
  const refresh = async () => {
    const target = pr === null ? null : await reportTargetOfPr(deps.sql, ev.repo, pr);
    if (target) await scheduleReport(deps.sql, target, 0);
  };
  if (ev.identifier === APPROVAL_BUTTONS.approve.identifier) {
    try {
      const r = await approveVersion({ sql: deps.sql }, uri, actor, { repo: ev.repo.fullName, fromRepo });
      await refresh();
      return r.changed ? `approved ${r.version}` : `already approved ${r.version}`;
    } catch (err) {
      if (!isUsersMistake(err)) {
        return operatorFailure(deps, h, err, (message) =>
          reply(renderVhFailure(login, { what: `approve \`${uri}\``, message, attempts: h.attempt.number, delivery: h.deliveryId }), "Approval failed: vh's error", message),
        );
      }
      await reply(renderError(login, err.message), "Approval refused", err.message);
      return `refused: ${err.code}`;
    }
  }
  try {
    // A button carries no reason: this is refused (and recorded) unless the version was already rejected.
    const r = await rejectVersion({ sql: deps.sql }, uri, actor, "", { fromRepo });
    await reply(renderDone(login, `\`${r.version}\` was already rejected.`), "Already rejected", `${r.version} was already rejected.`);
    return `already rejected ${r.version}`;
  } catch (err) {
    if (!isUsersMistake(err)) {
      return operatorFailure(deps, h, err, (m) =>
        reply(renderVhFailure(login, { what: `reject \`${uri}\``, message: m, attempts: h.attempt.number, delivery: h.deliveryId }), "Rejection failed: vh's error", m),
      );
    }
    const message =
      err.code === "bad_request"
        ? `Rejecting \`${uri}\` needs a reason, which a button cannot give. Comment \`/vh reject ${uri} REASON\` instead, e.g. \`/vh reject ${uri} accuracy below the current latest\`.`
        : err.message;
    await reply(renderError(login, message), "Rejection refused", message);
    return `refused: ${err.code}`;
  }
}

async function handleCheckSuite(deps: BotDeps, ev: Extract<ForgeEvent, { kind: "check_suite" }>, h: Handling): Promise<string> {
  if (ev.action !== "rerequested") return `ignored: check_suite ${ev.action}`;
  const sweeps = await deps.sql<{ id: string }[]>`
    select distinct on (step, spec::text) id from sweeps
    where commit_sha = ${ev.headSha} and source @> ${deps.sql.json(sourceOf(ev.repo) as never)}::jsonb
    order by step, spec::text, created_at desc`;
  if (sweeps.length === 0) return "ignored: no vh sweep on that commit";
  const forge = await deps.forges.forRepo(ev.repo);
  const permission = await forge.getPermission(ev.repo, ev.actor.login);
  if (!CAN_RUN.includes(permission)) return `refused: ${ev.actor.login} has ${permission}`;
  const out: string[] = [];
  for (const [i, { id }] of sweeps.entries()) {
    const sweep = await loadSweep(deps, id, ev.repo);
    if (!sweep) continue;
    const s = await rerunSweep(deps, forge, ev.repo, sweep, ev.actor, `${h.forge}:${h.deliveryId}:${i}`);
    out.push(s.counters.map((c) => `#${c}`).join(","));
  }
  return `rerun: ${out.join("; ")}`;
}
