/**
 * The approval workflow: pending → approved | rejected (a reason is required), and back to pending
 * only by an explicit `resetVersion`. Who may approve: a user with write permission on the
 * repository (admin, maintain, write), or a login listed in the model's `approvers`; API tokens act
 * without a forge permission (they are trusted server users). Optional separation of duties: the
 * approver may not be the person who triggered the training. An approval is bound to the files'
 * digest: approving with `filesSha256` the reviewer saw fails when the files differ, and files that
 * change after an approval send the version back to pending (app/models/versions.ts).
 *
 * Every refusal is recorded in the audit trail (kind `refused`) and then thrown as a VhError whose
 * message can be printed as is (CLI, API, PR comment).
 */
import type { ForgeKind } from "../contracts/forge.js";
import type { Sql } from "../../db/client.js";
import { modelVersionById, resetVersionToPending } from "../../db/queries/models.js";
import { isTerminal, type ExecutionStatus } from "../executions/state.js";
import { VhError, type ErrorCode } from "../errors.js";
import { recordEvent, trackingLatest, type Actor, type Permission, type Tx } from "./events.js";
import { lockModel, resolveVersion, type ModelRow, type VersionRow } from "./versions.js";
import { versionUri } from "./uri.js";

export const APPROVING_PERMISSIONS: readonly Permission[] = ["admin", "maintain", "write"];

export interface Refusal {
  code: ErrorCode;
  reason: string;
}

export interface StatusChange {
  version: string;
  status: VersionRow["status"];
  changed: boolean;
  filesSha256: string;
}

/** Why `actor` may not approve `version` now, or null. Pure apart from the source execution's status. */
export async function approvalRefusal(
  tx: Tx,
  model: ModelRow,
  version: VersionRow,
  actor: Actor,
  opts: { filesSha256?: string | null; repo?: string } = {},
): Promise<Refusal | null> {
  const uri = versionUri(model.name, version.number);
  if (version.status === "rejected") {
    return { code: "illegal_transition", reason: `${uri} is rejected; only an explicit reset moves it back to pending (vh model reset ${uri}) before it can be approved.` };
  }
  const team = model.approvers.some((a) => a.toLowerCase() === actor.login.toLowerCase());
  if (actor.permission !== undefined && !APPROVING_PERMISSIONS.includes(actor.permission) && !team) {
    return {
      code: "forbidden",
      reason: `${actor.login} has ${actor.permission} permission on ${opts.repo ?? "the repository"}; approving ${uri} needs write permission (or being one of the model's approvers).`,
    };
  }
  // The trainer: who triggered the source execution, or who registered a hand-made version.
  const trainer = version.triggered_by ?? (version.source_kind === "manual" ? version.created_by : null);
  if (model.separation_of_duties && trainer && trainer.toLowerCase() === actor.login.toLowerCase()) {
    const did = version.triggered_by ? "triggered the training of" : "registered";
    return { code: "forbidden", reason: `${actor.login} ${did} ${uri}; separation of duties is on for model "${model.name}", so someone else must approve it.` };
  }
  if (opts.filesSha256 && opts.filesSha256 !== version.files_sha256) {
    return {
      code: "conflict",
      reason: `The files of ${uri} changed since they were reviewed (reviewed ${opts.filesSha256.slice(0, 12)}, now ${version.files_sha256.slice(0, 12)}); review the new files and approve again.`,
    };
  }
  if (version.source_execution_id) {
    const [e] = await tx<{ counter: number; status: ExecutionStatus }[]>`select counter, status from executions where id = ${version.source_execution_id}`;
    if (e && !isTerminal(e.status)) {
      return { code: "conflict", reason: `Execution #${e.counter}, which produces ${uri}, is still ${e.status}; its files may still change. Approve once it has ended.` };
    }
  }
  return null;
}

async function refuse(sql: Sql, model: ModelRow, version: VersionRow | null, actor: Actor, action: string, refusal: Refusal): Promise<never> {
  await recordEvent(sql, { modelId: model.id, versionId: version?.id ?? null, kind: "refused", actor, reason: refusal.reason, details: { action } });
  throw new VhError(refusal.code, refusal.reason, { refused: true, action });
}

/** Locks and re-reads the version named by `uri` (vN or latest) inside a transaction. */
async function lockVersion(tx: Tx, uri: string): Promise<{ model: ModelRow; version: VersionRow }> {
  const { model, version } = await resolveVersion(tx, uri);
  const locked = await lockModel(tx, model.name, false);
  const fresh = await modelVersionById(tx, version.id);
  return { model: locked, version: fresh! };
}

/** The repository a forge command (comment, check-run button) came from. */
export interface FromRepo {
  /** The forge it lives on, when known: a same-named repository on another forge is another repository. */
  forge?: ForgeKind | null;
  fullName: string;
  /** The forge's numeric repository id, when known. */
  id?: number | null;
}

/**
 * A forge command may act only on versions produced by an execution of the repository it came from:
 * the execution's sweep was started from that repository, or its project is that repository's
 * project. Write permission on some other repository is no permission on this model's versions.
 */
export async function repoRefusal(tx: Tx, model: ModelRow, version: VersionRow, from: FromRepo, action: "approve" | "reject"): Promise<Refusal | null> {
  const uri = versionUri(model.name, version.number);
  const refusal: Refusal = {
    code: "forbidden",
    reason: `${uri} was not produced by an execution of ${from.fullName}, so it cannot be ${action === "approve" ? "approved" : "rejected"} from there; ${action} it from the pull request of the repository that trained it, or with the CLI or API.`,
  };
  if (!version.source_execution_id) return refusal;
  const id = from.id ?? null;
  const forge = from.forge ?? null;
  const [row] = await tx<{ ok: boolean }[]>`
    select exists (
      select 1 from sweep_executions se join sweeps s on s.id = se.sweep_id
      where se.execution_id = ${version.source_execution_id} and s.source->>'kind' = 'forge'
        and (${forge}::text is null or s.source->>'forge' = ${forge}::text)
        and (lower(s.source->>'repo') = lower(${from.fullName}) or (s.source->>'repositoryId')::bigint = ${id}::bigint)
    ) or exists (
      select 1 from executions x join forge_repositories r on r.project_id = x.project_id
      where x.id = ${version.source_execution_id} and r.removed_at is null
        and (${forge}::text is null or r.forge = ${forge}::text)
        and (lower(r.full_name) = lower(${from.fullName}) or r.id = ${id}::bigint)
    ) as ok`;
  return row?.ok ? null : refusal;
}

type Outcome = { ok: StatusChange } | { refused: Refusal; model: ModelRow; version: VersionRow | null };

async function change(sql: Sql, uri: string, actor: Actor, action: string, body: (tx: Tx, model: ModelRow, v: VersionRow) => Promise<Outcome>): Promise<StatusChange> {
  const outcome = await sql.begin(async (tx) => {
    const { model, version } = await lockVersion(tx, uri);
    return trackingLatest(tx, model.id, actor, () => body(tx, model, version));
  });
  if ("refused" in outcome) return refuse(sql, outcome.model, outcome.version, actor, action, outcome.refused);
  return outcome.ok;
}

/** Approves the version in the state it is now (files digest included). Used by CLI, API, `/vh approve` and PR reviews. */
export async function approveVersion(
  deps: { sql: Sql },
  uri: string,
  actor: Actor,
  opts: { filesSha256?: string | null; repo?: string; details?: Record<string, unknown>; fromRepo?: FromRepo } = {},
): Promise<StatusChange> {
  return change(deps.sql, uri, actor, "approve", async (tx, model, v) => {
    if (opts.fromRepo) {
      const refused = await repoRefusal(tx, model, v, opts.fromRepo, "approve");
      if (refused) return { refused, model, version: v };
    }
    return approveLocked(tx, model, v, actor, opts);
  });
}

export async function approveLocked(
  tx: Tx,
  model: ModelRow,
  v: VersionRow,
  actor: Actor,
  opts: { filesSha256?: string | null; repo?: string; details?: Record<string, unknown> } = {},
): Promise<Outcome> {
  const name = versionUri(model.name, v.number);
  if (v.status === "approved" && v.approved_sha256 === v.files_sha256) {
    return { ok: { version: name, status: "approved", changed: false, filesSha256: v.files_sha256 } };
  }
  const refusal = await approvalRefusal(tx, model, v, actor, opts);
  if (refusal) return { refused: refusal, model, version: v };
  await tx`
    update model_versions set status = 'approved', approved_sha256 = files_sha256, status_by = ${actor.login}, status_reason = null, status_at = now()
    where id = ${v.id}`;
  await recordEvent(tx, {
    modelId: model.id,
    versionId: v.id,
    kind: "approved",
    actor,
    details: { filesSha256: v.files_sha256, ...(actor.permission ? { permission: actor.permission } : {}), ...(opts.details ?? {}) },
  });
  return { ok: { version: name, status: "approved", changed: true, filesSha256: v.files_sha256 } };
}

/**
 * Rejects a pending or approved version; `reason` is required (and recorded). `fromRepo`: the
 * repository a forge command came from (see `repoRefusal`).
 */
export async function rejectVersion(
  deps: { sql: Sql },
  uri: string,
  actor: Actor,
  reason: string | null | undefined,
  opts: { fromRepo?: FromRepo } = {},
): Promise<StatusChange> {
  return change(deps.sql, uri, actor, "reject", async (tx, model, v) => {
    const name = versionUri(model.name, v.number);
    if (opts.fromRepo) {
      const refused = await repoRefusal(tx, model, v, opts.fromRepo, "reject");
      if (refused) return { refused, model, version: v };
    }
    const why = (reason ?? "").trim();
    if (!why) {
      return { refused: { code: "bad_request", reason: `Rejecting ${name} needs a reason, e.g. vh model reject ${name} "accuracy below the current latest".` }, model, version: v };
    }
    if (v.status === "rejected") return { ok: { version: name, status: "rejected", changed: false, filesSha256: v.files_sha256 } };
    const team = model.approvers.some((a) => a.toLowerCase() === actor.login.toLowerCase());
    if (actor.permission !== undefined && !APPROVING_PERMISSIONS.includes(actor.permission) && !team) {
      return { refused: { code: "forbidden", reason: `${actor.login} has ${actor.permission} permission; rejecting ${name} needs write permission (or being one of the model's approvers).` }, model, version: v };
    }
    await tx`update model_versions set status = 'rejected', status_by = ${actor.login}, status_reason = ${why}, status_at = now() where id = ${v.id}`;
    await recordEvent(tx, { modelId: model.id, versionId: v.id, kind: "rejected", actor, reason: why, details: { from: v.status } });
    return { ok: { version: name, status: "rejected", changed: true, filesSha256: v.files_sha256 } };
  });
}

/** The explicit way back to pending (from approved or rejected). */
export async function resetVersion(deps: { sql: Sql }, uri: string, actor: Actor, reason?: string | null): Promise<StatusChange> {
  return change(deps.sql, uri, actor, "reset", async (tx, model, v) => {
    const name = versionUri(model.name, v.number);
    if (v.status === "pending") return { ok: { version: name, status: "pending", changed: false, filesSha256: v.files_sha256 } };
    const team = model.approvers.some((a) => a.toLowerCase() === actor.login.toLowerCase());
    if (actor.permission !== undefined && !APPROVING_PERMISSIONS.includes(actor.permission) && !team) {
      return { refused: { code: "forbidden", reason: `${actor.login} has ${actor.permission} permission; moving ${name} back to pending needs write permission.` }, model, version: v };
    }
    await resetVersionToPending(tx, v.id, actor.login, reason ?? null);
    await recordEvent(tx, { modelId: model.id, versionId: v.id, kind: "pending", actor, reason: reason ?? null, details: { from: v.status } });
    return { ok: { version: name, status: "pending", changed: true, filesSha256: v.files_sha256 } };
  });
}

/** Sets a model's approval policy (approvers team, separation of duties). */
export async function setPolicy(
  deps: { sql: Sql },
  name: string,
  policy: { approvers?: string[]; separationOfDuties?: boolean; description?: string | null },
  actor: Actor,
): Promise<ModelRow> {
  return deps.sql.begin(async (tx) => {
    const m = await lockModel(tx, name, false);
    const [row] = await tx<ModelRow[]>`
      update models set approvers = ${tx.json(policy.approvers ?? m.approvers)},
        separation_of_duties = ${policy.separationOfDuties ?? m.separation_of_duties},
        description = ${policy.description === undefined ? m.description : policy.description}
      where id = ${m.id} returning *`;
    await recordEvent(tx, { modelId: m.id, kind: "policy_changed", actor, details: { ...policy } });
    return row!;
  });
}
