import { boolean, doublePrecision, index, jsonb, pgTable, timestamp, uuid } from "drizzle-orm/pg-core";
import { executions } from "./executions.js";

/**
 * What a reproduction's comparison with its original found (app/executions/reproduce.ts): `equal`
 * when every output file has the same sha256 and every metric's last value is within the tolerance,
 * else `different`, saying which files and metrics differ and by how much.
 */
export interface ReproductionVerdict {
  result: "equal" | "different";
  /** When the comparison was made (ISO). */
  comparedAt: string;
  /** Metrics are equal when their absolute or their relative difference is at most this (0: exactly). */
  tolerance: number;
  /** How each ended; a reproduction that did not complete as its original did is different. */
  status: { original: string; reproduction: string };
  files: {
    /** Outputs of the original the reproduction did not write. */
    missing: { name: string; sha256: string }[];
    /** Outputs the reproduction wrote that the original did not. */
    extra: { name: string; sha256: string }[];
    changed: { name: string; original: string; reproduction: string }[];
    /** How many files had the same sha256. */
    same: number;
  };
  metrics: {
    /** Keys whose last values differ beyond the tolerance (numbers: with the differences; other values: null differences). */
    changed: { key: string; original: unknown; reproduction: unknown; absolute: number | null; relative: number | null }[];
    missing: { key: string; original: unknown }[];
    extra: { key: string; reproduction: unknown }[];
    /** How many keys were equal (within the tolerance). */
    same: number;
  };
}

/**
 * A reproduction: a new execution made from an ended one with the same code, image, command,
 * parameters, environment and input versions (not resolved again). With `verify`, the worker
 * compares the two when the reproduction ends and records the verdict here (null until then).
 */
export const executionReproductions = pgTable(
  "execution_reproductions",
  {
    executionId: uuid("execution_id")
      .primaryKey()
      .references(() => executions.id, { onDelete: "cascade" }),
    originalId: uuid("original_id")
      .notNull()
      .references(() => executions.id, { onDelete: "cascade" }),
    verify: boolean("verify").notNull(),
    /** Metrics within this absolute or relative difference are equal (0: exactly equal). */
    tolerance: doublePrecision("tolerance").notNull().default(0),
    verdict: jsonb("verdict").$type<ReproductionVerdict>(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("execution_reproductions_original").on(t.originalId)],
);

export type ExecutionReproduction = typeof executionReproductions.$inferSelect;
