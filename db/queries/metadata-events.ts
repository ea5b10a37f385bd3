/** Statements on metadata_events (one row per JSON metadata line of an execution) used from more than one place. */
import type { metadataEvents } from "../schema/logs.js";
import type { Cols, Conn } from "./rows.js";

export type MetadataEventRow = Cols<typeof metadataEvents, "seq" | "time" | "data">;

/** Every metadata event of the execution, in the order it printed them. */
export async function metadataEventsOf(sql: Conn, executionId: string): Promise<MetadataEventRow[]> {
  return sql<MetadataEventRow[]>`select seq, time, data from metadata_events where execution_id = ${executionId} order by seq`;
}
