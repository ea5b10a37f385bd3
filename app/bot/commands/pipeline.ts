/**
 * `/vh pipeline run NAME …` on a pull (merge) request: the pipeline at its head commit, from the
 * commit's code snapshot; and `/vh approve pipeline N NODE`, which lets a node waiting on
 * require-approval start. Both need write permission (NEEDS_WRITE). The reply says the run's
 * number and its nodes; `vh pipeline show =N` follows it.
 */
import { VhError } from "../../errors.js";
import { changeRequestName } from "../../contracts/forge.js";
import { createPipeline } from "../../pipelines/create.js";
import { approveNode } from "../../pipelines/control.js";
import { findPipelineId, loadPipelineView } from "../../pipelines/present.js";
import { projectForRepo } from "../../projects/for-repo.js";
import { codeToRun } from "../../sweeps/start.js";
import { YAML_PATH } from "../../snapshots/config.js";
import { renderDone } from "../../../templates/github/render.js";
import { reportTargetOfPr, scheduleReport } from "../../reporting/schedule.js";
import type { Command } from "./parse.js";
import { pullRequestOf, type CommandRunner } from "./types.js";

export const pipeline: CommandRunner<Extract<Command, { name: "pipeline" }>> = async (ctx, cmd) => {
  const { pr, pull, configFrom } = pullRequestOf(ctx);
  const project = await projectForRepo(ctx.deps.sql, ctx.repo);
  if (cmd.action === "approve") {
    const id = await findPipelineId(ctx.deps.sql, project, String(cmd.counter));
    await approveNode(ctx.deps.sql, id, cmd.node, ctx.actor.login);
    await ctx.reply(renderDone(ctx.actor.login, `Approved node \`${cmd.node}\` of pipeline =${cmd.counter}; it starts now.`));
    return `approved pipeline =${cmd.counter} node ${cmd.node}`;
  }
  if (pull.state !== "open") throw new VhError("conflict", `${changeRequestName(ctx.repo.forge, pr)} is closed; vh runs on open ones.`);
  // A fork's code with the base's valohai.yaml, unless the project allows the fork's own (app/bot/fork-policy.ts).
  const code = await codeToRun(ctx.deps, ctx.forge, { repo: ctx.repo, commitSha: pull.headSha, ...(configFrom ? { configFrom } : {}) });
  const made = await createPipeline(ctx.deps, project, {
    name: cmd.pipeline,
    code,
    commitSha: pull.headSha,
    yamlPath: YAML_PATH,
    parameters: {},
    nodeParameters: cmd.nodeParameters,
    reuse: cmd.reuse,
    source: { kind: "forge", forge: ctx.repo.forge, repositoryId: ctx.repo.id, repo: ctx.repo.fullName, installationId: ctx.repo.installationId, pr, trigger: "comment", commentId: ctx.commentId },
    triggeredBy: ctx.actor.login,
    requestKey: ctx.requestKey,
  });
  // The pull request's record, so report rounds (the pipeline's check run) find it.
  await ctx.deps.sql`
    insert into change_requests (forge, repository_id, number, installation_id, repo)
    values (${ctx.repo.forge}, ${ctx.repo.id}, ${pr}, ${ctx.repo.installationId}, ${ctx.repo.fullName})
    on conflict (forge, repository_id, number) do update set updated_at = now(), installation_id = excluded.installation_id, repo = excluded.repo`;
  const target = await reportTargetOfPr(ctx.deps.sql, ctx.repo, pr);
  if (target) await scheduleReport(ctx.deps.sql, target, 0);
  const view = await loadPipelineView(ctx.deps.sql, made.id);
  if (!made.existing) {
    await ctx.reply(
      renderDone(ctx.actor.login, `Started pipeline =${view.counter} \`${view.name}\` at \`${pull.headSha.slice(0, 7)}\`: ${view.nodes.map((n) => `\`${n.name}\``).join(" → ")}.\n\n\`\`\`mermaid\n${view.mermaid}\n\`\`\``),
    );
  }
  return `${made.existing ? "already started" : "started"} pipeline =${view.counter}`;
};
