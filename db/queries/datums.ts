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

/** The datums of these ids that exist, in no particular order; `ids` must not be empty. */
export async function datumsByIds(sql: Conn, ids: readonly string[]): Promise<DatumFile[]> {
  return sql<DatumFile[]>`select id, name, sha256, size, store_key from datums where id in ${sql(ids as string[])}`;
}
