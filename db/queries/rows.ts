/**
 * Row types of raw postgres.js statements, derived from the drizzle schema (db/schema) rather than
 * written by hand: `Row<typeof hosts>` is what `select * from hosts` returns through `sql`.
 */
import type postgres from "postgres";
import type { Table } from "drizzle-orm";
import type { Sql } from "../client.js";

/** A connection or a transaction: statements here run on whichever they are given. */
export type Conn = Sql | postgres.TransactionSql;

type Columns<T extends Table> = T["_"]["columns"];

/** int8 columns (bigint, bigserial): postgres.js returns them as strings (no parser is installed for them). */
type Int8 = "PgBigInt53" | "PgBigInt64" | "PgBigSerial53" | "PgBigSerial64";

type RawValue<T extends Table, K extends keyof Columns<T> & keyof T["$inferSelect"]> = Columns<T>[K]["_"]["columnType"] extends Int8
  ? Columns<T>[K]["_"]["notNull"] extends true
    ? string
    : string | null
  : T["$inferSelect"][K];

/**
 * One row of `table` as postgres.js returns it: keyed by the SQL column names (snake_case), values
 * typed by the schema (jsonb columns with their `$type`, timestamps as Date), int8 columns as strings.
 */
export type Row<T extends Table> = {
  [K in keyof Columns<T> & keyof T["$inferSelect"] as Columns<T>[K]["_"]["name"]]: RawValue<T, K>;
};

/** Some columns of a row, by SQL name. */
export type Cols<T extends Table, K extends keyof Row<T>> = Pick<Row<T>, K>;
