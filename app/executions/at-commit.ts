/**
 * An execution of a project's linked repository at a commit (`vh exec run STEP [--commit REF]`
 * without `--adhoc`, `POST /projects/:p/executions` with `commit` instead of `code`), on whichever
 * forge the repository lives: the ref resolved there (a branch, a tag, a sha; `HEAD` is the default
 * branch's tip), the commit's code snapshot obtained once per commit (app/snapshots/of-commit.ts),
 * and the execution created from it with the commit recorded.
 */
import type { Forges } from "../contracts/forge.js";
import { VhError } from "../errors.js";
import { repositoryOfProject } from "../../db/queries/forge-repositories.js";
import type { Project } from "../../db/schema/projects.js";
import { snapshotOfCommit } from "../snapshots/of-commit.js";
import { createExecution, type CreateDeps } from "./create.js";
import type { AlsoInTransaction } from "../../db/client.js";

export async function createExecutionAtCommit(
  deps: CreateDeps & { forges: Forges },
  project: Project,
  body: Record<string, unknown>,
  triggeredBy: string | null,
  alsoInTransaction?: AlsoInTransaction,
): Promise<{ id: string; commitSha: string }> {
  const { commit, ...rest } = body;
  checkCommitRef(commit);
  if ("code" in rest) throw new VhError("bad_request", "Give either code (an uploaded snapshot) or commit (the linked repository at a ref), not both.");
  const { code, commitSha } = await snapshotAtCommit(deps, project, commit);
  const { id } = await createExecution(deps, project, { ...rest, code }, { commitSha, ...(triggeredBy ? { triggeredBy } : {}) }, alsoInTransaction);
  return { id, commitSha };
}

function checkCommitRef(commit: unknown): asserts commit is string {
  if (typeof commit !== "string" || !/^[A-Za-z0-9._/@{}^~-]{1,255}$/.test(commit) || commit.startsWith("-")) {
    throw new VhError("bad_request", "commit must be a branch, tag or commit sha (1-255 characters, not starting with -).", { errors: ["commit"] });
  }
}

/**
 * The code of the project's linked repository at `commit` (a branch, a tag, a sha; `HEAD`: the
 * default branch's tip), resolved on its forge, as a snapshot (obtained once per commit). Shared by
 * single executions and REST sweeps (app/sweeps/from-api.ts).
 */
export async function snapshotAtCommit(deps: CreateDeps & { forges: Forges }, project: Project, commit: unknown): Promise<{ code: string; commitSha: string }> {
  checkCommitRef(commit);
  const repo = await repositoryOfProject(deps.sql, project.id);
  if (!repo) {
    throw new VhError(
      "bad_request",
      `Project ${project.name} is linked to no repository, so there is no commit to run: link one (vh repo add URL --project ${project.name}, or use vh on the repository's pull requests), or run this directory's code with --adhoc.`,
    );
  }
  const forge = await deps.forges.forRepo(repo);
  const sha = await forge.resolveCommit(repo, commit);
  if (!sha) throw new VhError("not_found", `${commit} is no branch, tag or commit of ${repo.fullName}.`);
  return { code: await snapshotOfCommit(deps, forge, repo, sha), commitSha: sha };
}
