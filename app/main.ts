/** `npm start`: the whole service in one process, on embedded defaults. */
import os from "node:os";
import { loadConfig } from "./config.js";
import { createLogger } from "./log.js";
import { startVh } from "./start.js";
import { VhError } from "./errors.js";
import type { Config } from "./config.js";
import { GITHUB_SETUP_PATH, GITHUB_WEBHOOK_PATH } from "./forges/registry.js";

/** Who this machine's plain-process jobs run as (docs/threat-model.md), said at start. */
function jobsLine(config: Config): string {
  if (process.getuid?.() === 0) return "each as an OS user of its own (vh runs as root)";
  const user = os.userInfo().username;
  if (config.unsafeSameUser) return `as ${user}, vh's own user (VH_UNSAFE_SAME_USER=true: they can read what vh can)`;
  return `steps that run as plain processes are refused: vh is not root, and as ${user} a job could read what vh can (run as root, use Docker, or set VH_UNSAFE_SAME_USER=true)`;
}

/** Where GitHub sends the App's webhooks, or where to set the App up (docs/github-app.md). */
function githubLine(config: Config, url: string): string {
  const base = config.http.publicUrl ?? url;
  const gh = config.github;
  if (!gh) {
    const unset = config.http.publicUrl ? "" : " (set VH_PUBLIC_URL first: GitHub must reach this server)";
    return `no App yet: set it up at ${base}${GITHUB_SETUP_PATH}${unset}, or set APP_ID, PRIVATE_KEY and WEBHOOK_SECRET`;
  }
  const which = gh.registered ? `${gh.registered.name} (App ${gh.appId})` : `App ${gh.appId}`;
  const unset = config.http.publicUrl ? "" : " (set VH_PUBLIC_URL to the address GitHub reaches)";
  return `${which}, webhooks at ${base}${GITHUB_WEBHOOK_PATH}${unset}`;
}

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
      `  jobs:     ${jobsLine(config)}\n` +
      `  GitHub:   ${githubLine(config, vh.url)}\n` +
      `Press Ctrl-C to stop.\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`vh could not start: ${err instanceof VhError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
