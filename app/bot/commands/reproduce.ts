/**
 * `/vh reproduce N [--verify] [--tolerance T]`: execution #N of this pull request again, exactly
 * (app/executions/reproduce.ts: same commit, snapshot, image, command, parameters, environment and
 * input versions), as a sweep of one so the sticky report shows it. With `--verify` the bot answers
 * again once the reproduction has ended, with the verdict (`replyWithVerdict`, the
 * `reproduction_reply` task, queued by the task that records the verdict).
 */
import { insertSweep, insertSweepExecutions } from "../../../db/queries/sweeps.js";
import { VhError } from "../../errors.js";
import type { Command } from "./parse.js";
import { executionOfPr, pointOf } from "../../sweeps/of-pull-request.js";
import { findExecutionRow } from "../../executions/present.js";
import { reproduceExecution, reproductionView } from "../../executions/reproduce.js";
import { scheduleReport } from "../../reporting/schedule.js";
import type { SweepSource } from "../../../db/schema/sweeps.js";
import { hasComments, repoRef } from "../../contracts/forge.js";
import { renderVerdictReply, verdictMarker } from "../../../templates/reproduce/verdict.js";
import { pullRequestOf, type BotDeps, type CommandRunner } from "./types.js";

export const reproduce: CommandRunner<Extract<Command, { name: "reproduce" }>> = async (ctx, cmd) => {
  const { pr } = pullRequestOf(ctx);
  const { sql } = ctx.deps;
  // A replayed delivery finds the reproduction it already made.
  const [done] = await sql<{ counter: number }[]>`
    select e.counter from sweeps s join sweep_executions se on se.sweep_id = s.id join executions e on e.id = se.execution_id where s.request_key = ${ctx.requestKey}`;
  if (done) return `reproduce of #${cmd.execution}: #${done.counter}`;
  const e = await executionOfPr(sql, ctx.repo, pr, cmd.execution);
  if (!e) throw new VhError("not_found", `Execution #${cmd.execution} was not started from this pull request.`);
  const original = await findExecutionRow(sql, null, e.id);
  // The sweep of one records the point #N ran with, as a rerun's does.
  const spec = Object.fromEntries(Object.entries(pointOf(e)).map(([k, v]) => [k, [v]]));
  const source: SweepSource = {
    kind: "forge",
    forge: ctx.repo.forge,
    repositoryId: ctx.repo.id,
    repo: ctx.repo.fullName,
    installationId: ctx.repo.installationId,
    pr,
    trigger: "reproduce",
    commentId: ctx.commentId,
  };
  const made = await reproduceExecution(sql, original, { verify: cmd.verify, tolerance: cmd.tolerance, triggeredBy: ctx.actor.login }, async (tx, created) => {
    const sweepId = await insertSweep(tx, {
      projectId: original.project_id, step: original.step, kind: "grid", spec, definition: null,
      commitSha: e.commit_sha, codeSha256: original.code_sha256!, source, triggeredBy: ctx.actor.login, requestKey: ctx.requestKey,
    });
    await insertSweepExecutions(tx, sweepId, 0, [created], [pointOf(e)]);
    await tx`insert into sweep_reports (sweep_id, annotations) values (${sweepId}, '[]'::jsonb)`;
    const [row] = await tx<{ id: string }[]>`
      insert into change_requests (forge, repository_id, number, installation_id, repo)
      values (${ctx.repo.forge}, ${ctx.repo.id}, ${pr}, ${ctx.repo.installationId}, ${ctx.repo.fullName})
      on conflict (forge, repository_id, number) do update set updated_at = now(), installation_id = excluded.installation_id, repo = excluded.repo
      returning id`;
    await scheduleReport(tx, { pr: row!.id }, 0);
  });
  const later = cmd.verify ? ` It is compared with #${cmd.execution} when it ends; the verdict will be posted here.` : "";
  await ctx.reply(`@${ctx.actor.login} Reproducing #${cmd.execution} as #${made.counter}: the same commit, code, image, command, parameters, environment and input versions.${later}\n`);
  return `reproduce of #${cmd.execution}: #${made.counter}`;
};

/**
 * The `reproduction_reply` task: the verdict of a reproduction asked for on a pull request, posted
 * there once (found again by its marker and edited, never repeated, when the task runs twice).
 */
export async function replyWithVerdict(deps: BotDeps, executionId: string): Promise<string> {
  const view = await reproductionView(deps.sql, executionId);
  if (!view?.verdict) return "no verdict yet";
  const [s] = await deps.sql<{ source: SweepSource; triggered_by: string }[]>`
    select s.source, s.triggered_by from sweep_executions se join sweeps s on s.id = se.sweep_id where se.execution_id = ${executionId}`;
  if (!s || s.source.kind !== "forge" || s.source.pr === null) return "not asked on a pull request";
  const src = s.source;
  const repo = repoRef({ forge: src.forge, id: src.repositoryId, installationId: src.installationId, fullName: src.repo });
  const forge = await deps.forges.forRepo(repo);
  if (!hasComments(forge)) return "the forge has no comments";
  const body = renderVerdictReply(s.triggered_by, executionId, { original: view.original.counter, reproduction: view.execution.counter, verdict: view.verdict });
  await forge.ensureComment({ repo, pr: src.pr!, marker: verdictMarker(executionId), body });
  return `replied: ${view.verdict.result}`;
}
