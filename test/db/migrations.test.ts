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
    await expect(migrateDatabase(database)).resolves.toBeUndefined();
  });
});
