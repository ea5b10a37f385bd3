/** `npm run worker`: one more worker process (queue + supervisor + local runner) against DATABASE_URL. */
import { loadConfig } from "../app/config.js";
import { createLogger } from "../app/log.js";
import { startVh } from "../app/start.js";
import { VhError } from "../app/errors.js";

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.databaseUrl) {
    throw new VhError(
      "invalid_config",
      "`npm run worker` joins a shared Postgres: set DATABASE_URL to the database your `npm start` uses (a standalone worker cannot share an embedded one).",
    );
  }
  const log = createLogger(config.logLevel);
  const vh = await startVh(config, log, { http: false });
  log.info("worker started");
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    vh.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`vh worker could not start: ${err instanceof VhError ? err.message : String(err)}\n`);
  process.exit(1);
});
