/** Statements on execution_reproductions (db/schema/reproductions.ts) used from more than one place. */
import type { executionReproductions } from "../schema/reproductions.js";
import { addJobCall } from "./jobs.js";
import type { Cols, Conn } from "./rows.js";

export type ReproductionRow = Cols<typeof executionReproductions, "execution_id" | "original_id" | "verify" | "tolerance" | "verdict" | "created_at">;

/** The reproduction record of execution `executionId`; null when it is not a reproduction. */
export async function reproductionOf(sql: Conn, executionId: string): Promise<ReproductionRow | null> {
  const [row] = await sql<ReproductionRow[]>`
    select execution_id, original_id, verify, tolerance, verdict, created_at from execution_reproductions where execution_id = ${executionId}`;
  return row ?? null;
}

/**
 * An SQL expression for the one statement that ends an execution (app/executions/state.ts
 * `transition`, evaluated once per moved row): when `ended` and the execution is a reproduction
 * asked to verify, its `reproduction_verdict` job is added, committed with the status itself; so
 * the comparison is driven by the end, never by polling, and never lost between the two.
 */
export function verdictJobOnEnd(sql: Conn, executionId: string, ended: boolean) {
  if (!ended) return sql`null::bigint`;
  const add = addJobCall(sql, "reproduction_verdict", { executionId }, { jobKey: `reproduction_verdict:${executionId}` });
  return sql`(select count(${add}) from execution_reproductions r where r.execution_id = ${executionId}::uuid and r.verify)`;
}
