import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { migrateDatabase } from "../../db/client.js";

describe("database", () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it("has our tables and graphile-worker's schema", async () => {
    const rows = await database.sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'public' order by 1`;
    expect(rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(["projects", "executions", "log_lines", "metadata_events", "datums", "code_snapshots"]),
    );
    const [g] = await database.sql`select count(*)::int as n from information_schema.schemata where schema_name = 'graphile_worker'`;
    expect(g?.n).toBe(1);
  });

  it("migrating again is a no-op", async () => {
    // What each migrator has recorded as applied, and the columns of every table of ours.
    const state = async () => ({
      drizzle: await database.sql`select id, hash, created_at from drizzle.__drizzle_migrations order by id`,
      graphile: await database.sql`select id from graphile_worker.migrations order by id`,
      columns: await database.sql`
        select table_name, column_name, data_type from information_schema.columns
        where table_schema = 'public' order by table_name, ordinal_position`,
    });
    const before = await state();
    expect(before.drizzle.length).toBeGreaterThan(0);
    expect(before.graphile.length).toBeGreaterThan(0);
    await migrateDatabase(database);
    expect(await state()).toEqual(before);
  });
});
