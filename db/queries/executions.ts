/** Statements on executions and their status history used from more than one place. */
import type { Sql } from "../client.js";

/** How many times an execution was lost so far (= the attempt number of its next retry). */
export async function lostCount(sql: Sql, executionId: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from execution_status_history where execution_id = ${executionId} and status = 'lost'`;
  return row?.n ?? 0;
}
