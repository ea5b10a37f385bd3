/**
 * Starting a sweep at a commit, for every trigger (comment, commit message, rerun, button):
 * valohai.yaml read at that commit; step, parameter names and every point's values checked; the
 * size checked against the cap; only then the code fetched (the commit's tarball, with the
 * installation's token) and every execution written in one transaction with the sweep's rows.
 */
import type { Sql } from "../../db/client.js";
import type { SweepSource } from "../../db/schema/sweeps.js";
import { createExecutions } from "../executions/create.js";
import { VhError } from "../errors.js";
import type { Actor, Annotation, Forge, RepoRef } from "../contracts/forge.js";
import { snapshotFromArchive } from "../snapshots/store.js";
import { expandSweep, sweepSize, type SweepSpec } from "./index.js";
import { codeSpan } from "../errors.js";
import { loadValohaiYaml, SERVER_MAX_YAML_BYTES, suggest, validateParameterValues, type Problem } from "../valohai/index.js";
import { scheduleReport } from "../reporting/schedule.js";
import { projectForRepo } from "../projects/for-repo.js";
import type { Logger } from "../log.js";
import type { CreateDeps } from "../executions/create.js";

export const YAML_PATH = "valohai.yaml";

/** What starting a sweep needs: the database, the store, the settings and a log (the forge is passed on its own). */
export interface SweepDeps extends CreateDeps {
  log: Logger;
}

export interface SweepRequest {
  repo: RepoRef;
  commitSha: string;
  step: string;
  spec: SweepSpec;
  trigger: Extract<SweepSource, { kind: "github" }>["trigger"];
  pr: number | null;
  commentId: number | null;
  actor: Actor;
  requestKey: string;
}

export interface StartedSweep {
  sweepId: string;
  counters: number[];
  /** True when this request had already created it (a replayed delivery): nothing new was made. */
  existing: boolean;
}

export function toAnnotations(problems: Problem[], file = YAML_PATH): Annotation[] {
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

/** Reads and checks valohai.yaml at the commit; a broken file also gets a failing check run with annotations. */
export async function loadYamlAt(deps: SweepDeps, forge: Forge, repo: RepoRef, sha: string) {
  const text = await forge.readFile(repo, sha, YAML_PATH);
  if (text === null) {
    throw new VhError("invalid_config", `There is no \`${YAML_PATH}\` at ${sha.slice(0, 7)}: vh reads the steps from it.`);
  }
  const loaded = loadValohaiYaml(text, { filename: YAML_PATH, maxBytes: SERVER_MAX_YAML_BYTES });
  if (!loaded.config) {
    const errors = loaded.problems.filter((p) => p.severity === "error");
    try {
      await forge.ensureCheckRun({
        repo,
        spec: {
          sha,
          name: "vh: valohai.yaml",
          externalId: `lint:${sha}`,
          status: "completed",
          conclusion: "failure",
          completedAt: new Date(),
          title: `valohai.yaml has ${errors.length} error${errors.length === 1 ? "" : "s"}`,
          summary: errors.map((p) => `- line ${p.line ?? "?"}, column ${p.column ?? "?"}: ${p.message}`).join("\n"),
        },
        annotations: toAnnotations(loaded.problems),
      });
    } catch (err) {
      deps.log.warn("could not post the valohai.yaml check run", { err });
    }
    const lines = errors.slice(0, 10).map((p) => `- line ${p.line ?? "?"}, column ${p.column ?? "?"}: ${p.message}`);
    throw new VhError("invalid_config", `\`${YAML_PATH}\` at ${sha.slice(0, 7)} is invalid:\n${lines.join("\n")}`);
  }
  return { config: loaded.config, problems: loaded.problems };
}

export async function startSweep(deps: SweepDeps, forge: Forge, req: SweepRequest): Promise<StartedSweep> {
  const already = await existingSweep(deps.sql, req.requestKey);
  if (already) return already;

  const size = sweepSize("grid", req.spec);
  if (size > deps.config.sweepCap) {
    throw new VhError(
      "too_large",
      `That sweep would make ${size.toLocaleString("en-US")} executions; the limit is ${deps.config.sweepCap} (VH_SWEEP_CAP). Use fewer values, or split it into several commands.`,
      { size, cap: deps.config.sweepCap },
    );
  }
  const { config, problems } = await loadYamlAt(deps, forge, req.repo, req.commitSha);
  const step = config.steps.get(req.step);
  if (!step) {
    const names = [...config.steps.keys()];
    const hint = suggest(req.step, names);
    throw new VhError(
      "unknown_step",
      `\`${YAML_PATH}\` at ${req.commitSha.slice(0, 7)} has no step ${codeSpan(req.step)}.${hint ? ` Did you mean \`${hint}\`?` : ""} Steps: ${names.length ? names.map((n) => `\`${n}\``).join(", ") : "(none)"}.`,
    );
  }
  const points = expandSweep("grid", req.spec);
  const errors = new Set<string>();
  for (const point of points) {
    for (const e of validateParameterValues(step, point).errors) errors.add(`Parameter \`${e.parameter}\`: ${e.message}`);
    if (errors.size >= 10) break;
  }
  if (errors.size) throw new VhError("invalid_parameter", [...errors].join("\n"));

  // The code at that exact commit, fetched once per (repository, commit).
  const project = await projectForRepo(deps.sql, req.repo);
  let [snap] = await deps.sql<{ code_sha256: string }[]>`
    select code_sha256 from github_commit_snapshots where repository_id = ${req.repo.id} and commit_sha = ${req.commitSha}`;
  if (!snap) {
    const archive = await forge.downloadArchive(req.repo, req.commitSha, deps.config.maxCodeBytes);
    const code = await snapshotFromArchive(deps, archive, deps.config.codeLimits);
    await deps.sql`
      insert into github_commit_snapshots (repository_id, commit_sha, code_sha256) values (${req.repo.id}, ${req.commitSha}, ${code})
      on conflict do nothing`;
    snap = { code_sha256: code };
  }
  const code = snap.code_sha256;
  const where = req.pr !== null ? `PR #${req.pr}` : req.commitSha.slice(0, 7);
  const bodies = points.map((p) => ({
    step: step.name,
    code,
    yamlPath: YAML_PATH,
    parameters: p,
    title: `${where}: ${step.name}${Object.keys(p).length ? " " + Object.entries(p).map(([k, v]) => `${k}=${v}`).join(" ") : ""}`.slice(0, 500),
  }));
  const source: SweepSource = {
    kind: "github",
    repositoryId: req.repo.id,
    repo: req.repo.fullName,
    installationId: req.repo.installationId,
    pr: req.pr,
    trigger: req.trigger,
    commentId: req.commentId,
  };
  const annotations = toAnnotations(problems.filter((p) => p.severity !== "error"));
  try {
    const { created, extra: sweepId } = await createExecutions(deps, project, bodies, { commitSha: req.commitSha, triggeredBy: req.actor.login }, async (tx, created) => {
      const [s] = await tx<{ id: string }[]>`
        insert into sweeps (project_id, step, kind, spec, commit_sha, code_sha256, source, triggered_by, request_key)
        values (${project.id}, ${step.name}, 'grid', ${tx.json(req.spec)}, ${req.commitSha}, ${code}, ${tx.json(source as never)}, ${req.actor.login}, ${req.requestKey})
        returning id`;
      const id = s!.id;
      await tx`insert into sweep_executions ${tx(created.map((c, i) => ({ sweep_id: id, position: i, execution_id: c.id })))}`;
      await tx`insert into github_check_runs (sweep_id, annotations) values (${id}, ${tx.json(annotations as never)})`;
      if (req.pr !== null) {
        const [pr] = await tx<{ id: string }[]>`
          insert into github_pull_requests (repository_id, number, installation_id, repo) values (${req.repo.id}, ${req.pr}, ${req.repo.installationId}, ${req.repo.fullName})
          on conflict (repository_id, number) do update set updated_at = now(), installation_id = excluded.installation_id, repo = excluded.repo
          returning id`;
        await scheduleReport(tx, { pr: pr!.id }, 0);
      } else {
        await scheduleReport(tx, { sweep: id }, 0);
      }
      return id;
    });
    return { sweepId, counters: created.map((c) => c.counter), existing: false };
  } catch (err) {
    // Two handlings of one delivery raced: the other one created it.
    if ((err as { code?: string }).code === "23505" && /request_key/.test(String((err as Error).message))) {
      const other = await existingSweep(deps.sql, req.requestKey);
      if (other) return other;
    }
    throw err;
  }
}
