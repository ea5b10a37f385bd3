/** Statements on datums (output files) used from more than one place. */
import type { datums } from "../schema/datums.js";
import type { Cols, Conn, Row } from "./rows.js";

/** A whole datum row (`size` is int8: a string). */
export type DatumRow = Row<typeof datums>;

/** datum://`id`; with `projectId`, only when it belongs to that project. */
export async function datumById(sql: Conn, id: string, projectId: string | null = null): Promise<DatumRow | null> {
  const [row] = await sql<DatumRow[]>`select * from datums where id = ${id} ${projectId ? sql`and project_id = ${projectId}` : sql``}`;
  return row ?? null;
}

export type DatumFile = Cols<typeof datums, "id" | "name" | "sha256" | "size" | "store_key">;

export type LastOutput = Cols<typeof datums, "id" | "name" | "sha256" | "size" | "metadata">;

/**
 * The outputs of an execution, one per name, by name: a file uploaded live and again at the end has
 * two datums, and its last upload is the output (what reproduce, diff and dataset versions read).
 * `withMetadataKey`: only those whose sidecar metadata has that top-level key.
 */
export async function lastOutputsOf(sql: Conn, executionId: string, opts: { withMetadataKey?: string } = {}): Promise<LastOutput[]> {
  return sql<LastOutput[]>`
    select * from (
      select distinct on (name) id, name, sha256, size, metadata from datums where execution_id = ${executionId} order by name, created_at desc, id
    ) last ${opts.withMetadataKey !== undefined ? sql`where metadata ? ${opts.withMetadataKey}` : sql``} order by name`;
}

/** The datums of these ids that exist, in no particular order; `ids` must not be empty. */
export async function datumsByIds(sql: Conn, ids: readonly string[]): Promise<DatumFile[]> {
  return sql<DatumFile[]>`select id, name, sha256, size, store_key from datums where id in ${sql(ids as string[])}`;
}

/** The fields of an uploaded file's datum (an upload has no execution). */
export interface NewUpload {
  id: string;
  projectId: string;
  name: string;
  size: number;
  sha256: string;
  storeKey: string;
}

/** Records an uploaded file as datum://`id` (execution_id null). */
export async function insertUploadedDatum(sql: Conn, d: NewUpload): Promise<DatumRow> {
  const [row] = await sql<DatumRow[]>`
    insert into datums (id, project_id, execution_id, name, size, sha256, store_key)
    values (${d.id}, ${d.projectId}, null, ${d.name}, ${d.size}, ${d.sha256}, ${d.storeKey})
    returning *`;
  return row!;
}

/**
 * The store key and size of the project's first upload with these bytes (by sha256), or null. Only
 * uploads (execution_id null) are candidates: an output's object is removed with its execution's
 * outputs (app/executions/delete.ts), so no other datum may point at it.
 */
export async function uploadedObjectOf(sql: Conn, projectId: string, sha256: string): Promise<{ storeKey: string; size: number } | null> {
  const [row] = await sql<Cols<typeof datums, "store_key" | "size">[]>`
    select store_key, size from datums
    where project_id = ${projectId} and execution_id is null and sha256 = ${sha256}
    order by created_at, id limit 1`;
  return row ? { storeKey: row.store_key, size: Number(row.size) } : null;
}

/**
 * A page of the project's datums (uploads and outputs), newest first. `prefix`: only names that
 * start with it (compared as text, no wildcards). `after`: the id of the last datum of the page
 * before (keyset paging on created_at, id, compared in SQL: timestamps keep their microseconds);
 * the caller checks that it is a datum of the project. Returns at most `limit` rows.
 */
export async function projectDatums(
  sql: Conn,
  projectId: string,
  opts: { limit: number; prefix?: string | undefined; after?: string | undefined },
): Promise<DatumRow[]> {
  const { limit, prefix, after } = opts;
  return sql<DatumRow[]>`
    select * from datums
    where project_id = ${projectId}
      ${prefix ? sql`and starts_with(name, ${prefix})` : sql``}
      ${after ? sql`and (created_at, id) < (select created_at, id from datums where id = ${after})` : sql``}
    order by created_at desc, id desc
    limit ${limit}`;
}
