/** Statements on code snapshots (content-addressed tarballs) used from more than one place. */
import { snapshotKey } from "../../app/contracts/store-keys.js";
import type { codeSnapshots } from "../schema/snapshots.js";
import type { Cols, Conn } from "./rows.js";

/** The snapshot's size in bytes; null when vh has no snapshot of that sha256. */
export async function codeSnapshotSize(sql: Conn, sha256: string): Promise<number | null> {
  const [row] = await sql<Cols<typeof codeSnapshots, "size">[]>`select size from code_snapshots where sha256 = ${sha256}`;
  return row ? Number(row.size) : null;
}

/** Records a snapshot stored under its content address (snapshotKey); one recorded already is kept. */
export async function recordCodeSnapshot(sql: Conn, sha256: string, size: number): Promise<void> {
  await sql`insert into code_snapshots (sha256, size, store_key) values (${sha256}, ${size}, ${snapshotKey(sha256)}) on conflict do nothing`;
}
