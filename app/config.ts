/**
 * The one place that reads the server's and worker's environment. Everything else receives the
 * typed `Config` it returns. (The `vh` CLI, a separate program, has its own reader in
 * app/cli/config.ts.)
 */
import path from "node:path";
import { z } from "zod";
import { VhError } from "./errors.js";

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .transform((v, ctx) => {
    if (["1", "true", "yes", "on"].includes(v)) return true;
    if (["0", "false", "no", "off", ""].includes(v)) return false;
    ctx.addIssue({ code: "custom", message: `expected true/false, got "${v}"` });
    return z.NEVER;
  });

const port = z.coerce.number().int().min(0).max(65535);

const envSchema = z.object({
  DATABASE_URL: z.string().url().optional(),
  VH_DATA_DIR: z.string().default(".vh"),
  PORT: port.default(3000),
  HOST: z.string().default("127.0.0.1"),
  VH_PUBLIC_URL: z.string().url().optional(),
  VH_EMBEDDED_PG_PORT: port.default(54329),
  VH_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  VH_SUPERVISOR_CAPACITY: z.coerce.number().int().min(1).max(10_000).default(64),
  VH_LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  VH_COMMAND_JOINER: z.enum(["newline", "and"]).default("newline"),
  VH_DOCKER: z.enum(["auto", "always", "never"]).default("auto"),
  VH_STORE: z.enum(["local", "s3"]).optional(),
  VH_S3_BUCKET: z.string().optional(),
  VH_S3_PREFIX: z.string().default(""),
  VH_S3_REGION: z.string().default("us-east-1"),
  VH_S3_ENDPOINT: z.string().url().optional(),
  VH_S3_FORCE_PATH_STYLE: bool.default(false),
  VH_MAX_CODE_MB: z.coerce.number().positive().default(1000),
  VH_LOST_AFTER_S: z.coerce.number().positive().default(60),
  XDG_CONFIG_HOME: z.string().optional(),
  HOME: z.string().optional(),
});

export type StoreConfig =
  | { kind: "local"; root: string }
  | { kind: "s3"; bucket: string; prefix: string; region: string; endpoint?: string; forcePathStyle: boolean };

export interface Config {
  /** Postgres connection string; absent means "start an embedded Postgres in dataDir". */
  databaseUrl?: string;
  /** Absolute path of the data directory (embedded Postgres, local store, work dirs, admin token). */
  dataDir: string;
  http: { port: number; host: string; publicUrl?: string };
  embeddedPostgresPort: number;
  worker: { concurrency: number; supervisorCapacity: number; lostAfterSeconds: number };
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  /** How a step's `command` list is joined into one script (valohai-spec §1.5 step 6). */
  commandJoiner: "newline" | "and";
  docker: "auto" | "always" | "never";
  store: StoreConfig;
  maxCodeBytes: number;
  /** Where the local-server pointer for the `vh` CLI on this machine is written. */
  cliConfigDir: string;
}

/** Reads and validates the environment; throws one VhError that names every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new VhError("invalid_config", `Invalid environment settings:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(cwd, e.VH_DATA_DIR);
  const storeKind = e.VH_STORE ?? (e.VH_S3_BUCKET ? "s3" : "local");
  let store: StoreConfig;
  if (storeKind === "s3") {
    if (!e.VH_S3_BUCKET) {
      throw new VhError("invalid_config", "VH_STORE=s3 needs VH_S3_BUCKET (the bucket that holds code, inputs and outputs).");
    }
    store = {
      kind: "s3",
      bucket: e.VH_S3_BUCKET,
      prefix: e.VH_S3_PREFIX,
      region: e.VH_S3_REGION,
      ...(e.VH_S3_ENDPOINT ? { endpoint: e.VH_S3_ENDPOINT } : {}),
      forcePathStyle: e.VH_S3_FORCE_PATH_STYLE,
    };
  } else {
    store = { kind: "local", root: path.join(dataDir, "store") };
  }
  return {
    ...(e.DATABASE_URL ? { databaseUrl: e.DATABASE_URL } : {}),
    dataDir,
    http: { port: e.PORT, host: e.HOST, ...(e.VH_PUBLIC_URL ? { publicUrl: e.VH_PUBLIC_URL } : {}) },
    embeddedPostgresPort: e.VH_EMBEDDED_PG_PORT,
    worker: {
      concurrency: e.VH_WORKER_CONCURRENCY,
      supervisorCapacity: e.VH_SUPERVISOR_CAPACITY,
      lostAfterSeconds: e.VH_LOST_AFTER_S,
    },
    logLevel: e.VH_LOG_LEVEL,
    commandJoiner: e.VH_COMMAND_JOINER,
    docker: e.VH_DOCKER,
    store,
    maxCodeBytes: Math.round(e.VH_MAX_CODE_MB * 1024 * 1024),
    cliConfigDir: path.join(e.XDG_CONFIG_HOME ?? path.join(e.HOME ?? cwd, ".config"), "vh"),
  };
}
