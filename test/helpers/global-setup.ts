/**
 * Starts one embedded Postgres for the whole test run and builds a migrated template database;
 * each test file clones it (`create database … template vh_template`), as graphile-worker's own
 * suite does. Tests that need no database pay only the ~1.5 s start.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../../db/embedded.js";
import { migrateDatabase, openDatabase } from "../../db/client.js";
import { freePort } from "./net.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplate: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-test-pg-"));
  const port = await freePort();
  const pg = await startEmbeddedPostgres({
    dataDir: dir,
    port,
    database: "vh_template",
    ephemeral: true,
    flags: ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300"],
  });
  const template = openDatabase(pg.connectionString, { max: 2 });
  await migrateDatabase(template);
  await template.close();
  const adminUrl = pg.connectionString.replace(/\/vh_template$/, "/postgres");
  project.provide("pgAdminUrl", adminUrl);
  project.provide("pgTemplate", "vh_template");
  let stopped = false;
  const teardown = async () => {
    if (stopped) return;
    stopped = true;
    await pg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // A run interrupted with Ctrl-C or killed by a timeout must not leave its Postgres behind.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      void teardown().finally(() => process.exit(128 + (signal === "SIGINT" ? 2 : 15)));
    });
  }
  return teardown;
}
