/** Statements on models, their versions and approval requests used from more than one place. */
import type { modelApprovalRequests, models, modelVersions } from "../schema/models.js";
import type { Cols, Conn, Row } from "./rows.js";

export type ModelRow = Row<typeof models>;
export type VersionRow = Row<typeof modelVersions>;

export async function modelByName(sql: Conn, name: string): Promise<ModelRow | null> {
  const [row] = await sql<ModelRow[]>`select * from models where name = ${name}`;
  return row ?? null;
}

export async function modelVersionById(sql: Conn, id: string): Promise<VersionRow | null> {
  const [row] = await sql<VersionRow[]>`select * from model_versions where id = ${id}`;
  return row ?? null;
}

/** Moves a version back to pending (its approval, if any, no longer holds); the row after. */
export async function resetVersionToPending(sql: Conn, versionId: string, by: string, reason: string | null): Promise<VersionRow | null> {
  const [row] = await sql<VersionRow[]>`
    update model_versions set status = 'pending', status_by = ${by}, status_reason = ${reason}, status_at = now()
    where id = ${versionId} returning *`;
  return row ?? null;
}

export type ApprovalRequestRow = Cols<typeof modelApprovalRequests, "head_sha" | "files_sha256">;

/** The approval request of a version shown on pull request `repo`#`prNumber`: the head SHA and files digest it was shown for. */
export async function approvalRequestOf(sql: Conn, versionId: string, repo: string, prNumber: number): Promise<ApprovalRequestRow | null> {
  const [row] = await sql<ApprovalRequestRow[]>`
    select head_sha, files_sha256 from model_approval_requests where version_id = ${versionId} and repo = ${repo} and pr_number = ${prNumber}`;
  return row ?? null;
}
