/**
 * Starting a sweep at a commit, for every trigger (comment, commit message, rerun, button): the
 * size checked against the cap; the commit's code snapshot obtained from the forge (its archive,
 * downloaded once per commit: app/snapshots/of-commit.ts); then the snapshot handed to the one
 * creation service (app/executions/create.ts), which reads valohai.yaml from it (parsed once per
 * snapshot) and checks the step, the parameter names and every point's values before anything is
 * written; every execution is written in one transaction with the sweep's rows. A broken
 * valohai.yaml is also shown on the forge (a failing check run with annotations, or a failed
 * commit status), as the forge can.
 */
import type { SweepSource } from "../../db/schema/sweeps.js";
import type { Sql } from "../../db/client.js";
import { createExecutions } from "../executions/create.js";
import { insertSweep, insertSweepExecutions } from "../../db/queries/sweeps.js";
import { VhError } from "../errors.js";
import { hasCheckRuns, hasComments, hasCommitStatuses, type Actor, type Annotation, type Forge, type RepoRef } from "../contracts/forge.js";
import { snapshotOfCommit } from "../snapshots/of-commit.js";
import { snapshotWithFile } from "../snapshots/store.js";
import { configProblemsOf, problemLine, YAML_PATH } from "../snapshots/config.js";
import type { SweepDefinition } from "../contracts/sweeps.js";
import { planSweep } from "./plan.js";
import type { Problem } from "../valohai/index.js";
import { scheduleReport } from "../reporting/schedule.js";
import { projectForRepo } from "../projects/for-repo.js";
import type { Logger } from "../log.js";
import type { CreateDeps } from "../executions/create.js";

export { YAML_PATH };

/** What starting a sweep needs: the database, the store, the settings and a log (the forge is passed on its own). */
export interface SweepDeps extends CreateDeps {
  log: Logger;
}

export interface SweepRequest {
  repo: RepoRef;
  commitSha: string;
  step: string;
  definition: SweepDefinition;
  /** `--environment NAME`: where its executions run. */
  environment?: string;
  /** `--retries N`: each execution runs again after a failure, up to N times. */
  retries?: number;
  trigger: Extract<SweepSource, { kind: "forge" }>["trigger"];
  pr: number | null;
  commentId: number | null;
  actor: Actor;
  requestKey: string;
  /**
   * A commit of the base repository whose valohai.yaml the code runs with (a fork's pull request:
   * app/bot/fork-policy.ts): the snapshot is the commit's code with that valohai.yaml in it.
   */
  configFrom?: string;
  /** The code snapshot to run, when it is one vh made before (a rerun, a button: the one that ran, base valohai.yaml included). */
  code?: string;
}

export interface StartedSweep {
  sweepId: string;
  counters: number[];
  /** True when this request had already created it (a replayed delivery): nothing new was made. */
  existing: boolean;
}

export function toAnnotations(problems: readonly Problem[], file = YAML_PATH): Annotation[] {
  return problems
    .filter((p) => p.line !== undefined)
    .map((p) => ({
      path: file,
      line: p.line!,
      ...(p.column !== undefined ? { column: p.column } : {}),
      level: p.severity === "error" ? "failure" : "warning",
      message: p.message,
    }));
}

async function existingSweep(sql: Sql, requestKey: string): Promise<StartedSweep | null> {
  const [s] = await sql<{ id: string }[]>`select id from sweeps where request_key = ${requestKey}`;
  if (!s) return null;
  const rows = await sql<{ counter: number }[]>`
    select e.counter from sweep_executions se join executions e on e.id = se.execution_id where se.sweep_id = ${s.id} order by se.position`;
  return { sweepId: s.id, counters: rows.map((r) => r.counter), existing: true };
}

/** The commit's snapshot; for a fork without its own config, with the base commit's valohai.yaml in place of its own. */
export async function codeToRun(deps: SweepDeps, forge: Forge, req: Pick<SweepRequest, "repo" | "commitSha" | "configFrom">): Promise<string> {
  const code = await snapshotOfCommit(deps, forge, req.repo, req.commitSha);
  if (!req.configFrom) return code;
  const text = await forge.readFile(req.repo, req.configFrom, YAML_PATH);
  if (text === null) {
    throw new VhError(
      "invalid_config",
      `There is no ${YAML_PATH} at the base branch's commit ${req.configFrom.slice(0, 7)}: code from a fork runs with the base repository's ${YAML_PATH}, not its own (a project admin can change that: \`PATCH /projects/:project {"forkConfigs": true}\`).`,
    );
  }
  return snapshotWithFile(deps, code, YAML_PATH, text);
}

export async function startSweep(deps: SweepDeps, forge: Forge, req: SweepRequest): Promise<StartedSweep> {
  const already = await existingSweep(deps.sql, req.requestKey);
  if (already) return already;

  const plan = planSweep(req.definition, deps.config.sweepCap);
  // The forge supplies the code at that exact commit, and nothing else: valohai.yaml is read from it by the creation service.
  const code = req.code ?? (await codeToRun(deps, forge, req));
  const points = plan.points;
  const where = req.pr !== null ? (req.repo.forge === "gitlab" ? `MR !${req.pr}` : `PR #${req.pr}`) : req.commitSha.slice(0, 7);
  const bodies = points.map((p) => ({
    step: req.step,
    code,
    yamlPath: YAML_PATH,
    ...(req.environment ? { environment: req.environment } : {}),
    ...(req.retries ? { retries: req.retries } : {}),
    parameters: p,
    title: `${where}: ${req.step}${Object.keys(p).length ? " " + Object.entries(p).map(([k, v]) => `${k}=${v}`).join(" ") : ""}`.slice(0, 500),
  }));
  const source: SweepSource = {
    kind: "forge",
    forge: req.repo.forge,
    repositoryId: req.repo.id,
    repo: req.repo.fullName,
    installationId: req.repo.installationId,
    pr: req.pr,
    trigger: req.trigger,
    commentId: req.commentId,
  };
  // The project (made on a repository's first run) only once valohai.yaml and the parameters passed.
  const project = () => projectForRepo(deps.sql, req.repo);
  try {
    const origin = { commitSha: req.commitSha, triggeredBy: req.actor.login };
    const { created, extra: sweepId } = await createExecutions(deps, project, bodies, origin, async (tx, { project, created, prepared }) => {
      const step = prepared[0]!.step;
      // The lint's warnings on the loaded valohai.yaml, sent with the sweep's check run.
      const annotations = toAnnotations(prepared[0]!.problems.filter((p) => p.severity !== "error"));
      const id = await insertSweep(tx, {
        projectId: project.id, step: step.name, kind: plan.definition.kind, spec: plan.spec, definition: plan.definition,
        commitSha: req.commitSha, codeSha256: code, source, triggeredBy: req.actor.login, requestKey: req.requestKey,
      });
      await insertSweepExecutions(tx, id, 0, created, points);
      await tx`insert into sweep_reports (sweep_id, annotations) values (${id}, ${tx.json(annotations as never)})`;
      if (req.pr !== null) {
        const [pr] = await tx<{ id: string }[]>`
          insert into change_requests (forge, repository_id, number, installation_id, repo)
          values (${req.repo.forge}, ${req.repo.id}, ${req.pr}, ${req.repo.installationId}, ${req.repo.fullName})
          on conflict (forge, repository_id, number) do update set updated_at = now(), installation_id = excluded.installation_id, repo = excluded.repo
          returning id`;
        await scheduleReport(tx, { pr: pr!.id }, 0);
      } else {
        await scheduleReport(tx, { sweep: id }, 0);
      }
      return id;
    }, { held: plan.held });
    return { sweepId, counters: created.map((c) => c.counter), existing: false };
  } catch (err) {
    const problems = configProblemsOf(err);
    if (problems) await postLintCheck(deps, forge, req, problems);
    // Two handlings of one delivery raced: the other one created it.
    if ((err as { code?: string }).code === "23505" && /request_key/.test(String((err as Error).message))) {
      const other = await existingSweep(deps.sql, req.requestKey);
      if (other) return other;
    }
    throw err;
  }
}

/**
 * A refused valohai.yaml, shown where the forge can show it (best effort): a failing check run with
 * the problems as annotations at line and column (GitHub); a failed commit status, and on a merge
 * request a note listing them as file:line:column (GitLab); on a plain Git host nothing here (the
 * poller records them for `vh repo status`, and the refusal is the delivery's outcome).
 */
async function postLintCheck(deps: SweepDeps, forge: Forge, req: SweepRequest, problems: Problem[]): Promise<void> {
  const errors = problems.filter((p) => p.severity === "error");
  const title = `${YAML_PATH} has ${errors.length} error${errors.length === 1 ? "" : "s"}`;
  const lines = errors.map((p) => `- ${problemLine(p, YAML_PATH)}`).join("\n");
  try {
    if (hasCheckRuns(forge)) {
      await forge.ensureCheckRun({
        repo: req.repo,
        spec: { sha: req.commitSha, name: `vh: ${YAML_PATH}`, externalId: `lint:${req.commitSha}`, status: "completed", conclusion: "failure", completedAt: new Date(), title, summary: lines },
        annotations: toAnnotations(problems),
      });
      return;
    }
    if (hasCommitStatuses(forge)) {
      const first = errors[0] ? problemLine(errors[0], YAML_PATH) : title;
      await forge.ensureCommitStatus({ repo: req.repo, status: { sha: req.commitSha, name: `vh: ${YAML_PATH}`, state: "failed", description: `${title}: ${first}` } });
    }
    // A comment's own reply says what was wrong; a push gets the note here.
    if (hasComments(forge) && req.pr !== null && req.trigger !== "comment") {
      await forge.createComment(req.repo, req.pr, `**vh could not run this commit**: ${title}.\n\n${lines}`);
    }
  } catch (err) {
    deps.log.warn("could not report the valohai.yaml problems on the forge", { err });
  }
}
