/** `npm start`: the whole service in one process, on embedded defaults. */
import { loadConfig } from "./config.js";
import { createLogger } from "./log.js";
import { startVh } from "./start.js";
import { VhError } from "./errors.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const vh = await startVh(config, log);
  let stopping = false;
  const shutdown = (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    const force = setTimeout(() => {
      log.error("shutdown took over 30 s; exiting");
      process.exit(1);
    }, 30_000);
    force.unref();
    vh.stop().then(
      () => process.exit(exitCode),
      (err) => {
        log.error("shutdown failed", { err });
        process.exit(1);
      },
    );
  };
  process.on("uncaughtException", (err) => {
    log.error("uncaught exception; shutting down", { err: err.stack ?? err.message });
    shutdown("uncaughtException", 1);
  });
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.stdout.write(
    `vh is running at ${vh.url}\n` +
      `  database: ${config.databaseUrl ? "DATABASE_URL" : `embedded Postgres in ${config.dataDir}/postgres`}\n` +
      `  store:    ${config.store.kind === "local" ? config.store.root : `s3://${config.store.bucket}/${config.store.prefix}`}\n` +
      `  admin token: ${vh.tokenFile} (the vh CLI on this machine finds it by itself)\n` +
      `Press Ctrl-C to stop.\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`vh could not start: ${err instanceof VhError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
