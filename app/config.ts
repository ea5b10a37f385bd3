/**
 * The one place that reads the server's and worker's environment (and the GitHub App the set-up
 * page stored in VH_DATA_DIR, which the environment overrides). Everything else receives the
 * typed `Config` it returns. (The `vh` CLI, a separate program, has its own reader in
 * app/cli/config.ts.)
 */
import fs from "node:fs";
import os from "node:os";
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
  VH_STATE_DIR: z.string().optional(),
  VH_UNSAFE_SAME_USER: bool.default(false),
  VH_SECRETS_KEY: z.string().optional(),
  PORT: port.default(3000),
  HOST: z.string().default("127.0.0.1"),
  // The address browsers and GitHub reach this server at (a proxy's, when behind one): links, the
  // App's webhook URL and its set-up redirect are made from it. No trailing slash kept.
  VH_PUBLIC_URL: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//i.test(u), "must start with http:// or https://")
    .transform((u) => u.replace(/\/+$/, ""))
    .optional(),
  VH_EMBEDDED_PG_PORT: port.default(54329),
  VH_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  VH_FORGE_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  VH_SUPERVISOR_CAPACITY: z.coerce.number().int().min(1).max(10_000).default(64),
  VH_WORKER_DEAD_AFTER_S: z.coerce.number().int().min(2).max(4 * 3600).default(45),
  VH_LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  VH_COMMAND_JOINER: z.enum(["newline", "and"]).default("newline"),
  VH_DOCKER: z.enum(["auto", "always", "never"]).default("auto"),
  VH_STORE: z.enum(["local", "s3"]).optional(),
  VH_S3_BUCKET: z.string().optional(),
  VH_S3_PREFIX: z.string().default(""),
  VH_S3_REGION: z.string().default("us-east-1"),
  VH_S3_ENDPOINT: z.string().url().optional(),
  VH_S3_FORCE_PATH_STYLE: bool.default(false),
  // `s3://` inputs: named endpoints (each VH_S3_ENDPOINT_<NAME>_*), else the AWS SDK's own settings.
  VH_S3_INPUT_ENDPOINTS: z.string().default(""),
  VH_S3_INPUT_MAX_FILES: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  AWS_REGION: z.string().optional(),
  AWS_DEFAULT_REGION: z.string().optional(),
  AWS_ENDPOINT_URL_S3: z.string().url().optional(),
  AWS_ENDPOINT_URL: z.string().url().optional(),
  VH_MAX_CODE_MB: z.coerce.number().positive().default(1000),
  VH_MAX_CODE_UNPACKED_MB: z.coerce.number().positive().default(4096),
  VH_MAX_CODE_FILES: z.coerce.number().int().positive().default(200_000),
  VH_MAX_LOG_MB: z.coerce.number().positive().default(1024),
  VH_MAX_LOG_LINES: z.coerce.number().int().min(1).max(2_000_000_000).default(10_000_000),
  VH_MAX_OUTPUT_MB: z.coerce.number().positive().default(100 * 1024),
  VH_MAX_UPLOAD_MB: z.coerce.number().positive().default(100 * 1024),
  VH_LOST_AFTER_S: z.coerce.number().positive().default(60),
  VH_UPLOAD_GIVE_UP_S: z.coerce.number().positive().default(1800),
  VH_LOST_RETRIES: z.coerce.number().int().min(0).max(100).default(1),
  VH_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(3),
  VH_GPU_ESCALATION_S: z.coerce.number().positive().default(3600),
  VH_HOSTS_FILE: z.string().optional(),
  VH_HOST_CHECK_S: z.coerce.number().positive().default(30),
  VH_LOCAL_HOST: bool.default(true),
  // Rented hosts (docs/compute.md): environments, the tag every instance carries, the control plane's SSH key.
  VH_ENVIRONMENTS_FILE: z.string().optional(),
  VH_DEFAULT_ENVIRONMENT: z.string().optional(),
  VH_CLUSTER: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "letters, digits, . _ -").default("vh"),
  VH_COMPUTE_SSH_KEY: z.string().optional(),
  VH_COMPUTE_TICK_S: z.coerce.number().min(0.05).max(600).default(5),
  VH_RECONCILE_S: z.coerce.number().min(0.05).max(3600).default(60),
  VH_SPOT_POLL_S: z.coerce.number().min(0.05).max(600).default(5),
  XDG_CONFIG_HOME: z.string().optional(),
  HOME: z.string().optional(),
  // The GitHub App, under Probot's own names (docs/github-app.md).
  APP_ID: z.coerce.number().int().positive().optional(),
  PRIVATE_KEY: z.string().optional(),
  PRIVATE_KEY_PATH: z.string().optional(),
  WEBHOOK_SECRET: z.string().optional(),
  GHE_HOST: z.string().optional(),
  GHE_PROTOCOL: z.enum(["https", "http"]).default("https"),
  VH_SWEEP_CAP: z.coerce.number().int().min(1).max(100_000).default(100),
  // The server's name in OpenLineage namespaces (vh://NAME/<project>; docs/lineage.md). Default: VH_PUBLIC_URL's host, else the machine's host name.
  VH_LINEAGE_NAME: z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9.:_-]{0,252}$/, "letters, digits, . : _ - (a host name, optionally with a port)").optional(),
  VH_GITHUB_REPORT_INTERVAL_S: z.coerce.number().min(0.05).max(600).default(3),
  VH_GITHUB_TIMEOUT_S: z.coerce.number().min(0.1).max(600).default(10),
  VH_WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(8),
  // GitLab (gitlab.com or self-managed), through a bot user's or a project/group access token (docs/gitlab.md).
  GITLAB_URL: z.string().url().default("https://gitlab.com"),
  GITLAB_TOKEN: z.string().min(1).optional(),
  GITLAB_WEBHOOK_SECRET: z.string().min(1).optional(),
  /** GitLab's signing token (`whsec_…`), when the hook has one: the `webhook-signature` header is checked too. */
  GITLAB_WEBHOOK_SIGNING_TOKEN: z.string().min(1).optional(),
  VH_GITLAB_TIMEOUT_S: z.coerce.number().min(0.1).max(600).default(10),
  // Plain Git hosts (`vh repo add`): where mirrors live, and the shortest poll interval allowed.
  VH_GIT_DIR: z.string().optional(),
  VH_GIT_MIN_POLL_S: z.coerce.number().min(0.1).max(86_400).default(1),
  VH_GIT_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
});

/** The variables git commands may see besides the `VH_GIT_TOKEN_*` ones (Config.git.env). */
const GIT_ENV = new Set(["PATH", "HOME", "TMPDIR", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH"]);

/** GitLab, when GITLAB_TOKEN is set. */
export interface GitLabConfig {
  /** Web root, e.g. https://gitlab.com or https://gitlab.example.com (the API is under /api/v4). */
  url: string;
  token: string;
  /** What GitLab sends in `X-Gitlab-Token` (required: a hook without it is refused). */
  webhookSecret: string | null;
  signingToken: string | null;
  requestTimeoutMs: number;
  reportIntervalMs: number;
}

export type StoreConfig =
  | { kind: "local"; root: string }
  | { kind: "s3"; bucket: string; prefix: string; region: string; endpoint?: string; forcePathStyle: boolean };

/**
 * One S3 (or S3-compatible) service that `s3://` inputs are read from. Named ones come from
 * VH_S3_INPUT_ENDPOINTS and their VH_S3_ENDPOINT_<NAME>_* settings; the one named `default` is the
 * AWS SDK's own (AWS_REGION, AWS_ENDPOINT_URL_S3, its credential chain). Records hold the name only.
 */
export interface S3InputEndpoint {
  name: string;
  /** Absent: AWS itself (the SDK picks the regional address). */
  url?: string;
  region: string;
  forcePathStyle: boolean;
  /** Absent: the AWS SDK's default credential chain (environment, profile, instance role). Never logged. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** The buckets it serves, or "*": every bucket no other endpoint names. */
  buckets: string[] | "*";
}

export interface S3InputsConfig {
  /** The named endpoints, in the order VH_S3_INPUT_ENDPOINTS lists them. */
  endpoints: S3InputEndpoint[];
  /** `default`: the AWS SDK's own settings, for a bucket no named endpoint serves (when none has BUCKETS=*). */
  sdkDefault: S3InputEndpoint;
  /** The most files one `s3://` URI (a glob) may resolve to. */
  maxFiles: number;
}

/** The GitHub vh talks to, and how: known with or without an App (the set-up page needs it before there is one). */
export interface GitHubHostConfig {
  /** REST API root: https://api.github.com, or `GHE_PROTOCOL://GHE_HOST/api/v3` on GitHub Enterprise Server. */
  baseUrl: string;
  /** The web root the App is registered on: https://github.com, or `GHE_PROTOCOL://GHE_HOST`. */
  webUrl: string;
  /** Check runs and the sticky comment of one pull request are rewritten at most once per interval. */
  reportIntervalMs: number;
  /** One request to GitHub (the answer's headers, then each pause in its body) gives up after this. */
  requestTimeoutMs: number;
  /** Webhook bodies read at once; beyond, 503 with Retry-After (app/forges/github/webhook-route.ts). */
  webhookConcurrency: number;
}

export interface GitHubAppConfig extends GitHubHostConfig {
  appId: number;
  /** PEM text of the App's private key. */
  privateKey: string;
  /** The file the key was read from: PRIVATE_KEY_PATH, or the stored App (VH_DATA_DIR/github-app.json). */
  privateKeyPath?: string;
  webhookSecret: string;
  /** Set when any of the App's credentials came from the App stored by the set-up page. */
  registered?: { slug: string; name: string; htmlUrl: string; file: string };
}

/**
 * The App the set-up page registered (app/forges/github/manifest.ts writes it, mode 0600, in
 * VH_DATA_DIR): GitHub's answer to the manifest conversion, less what vh does not keep.
 */
export const StoredGitHubApp = z.object({
  id: z.number().int().positive(),
  slug: z.string().min(1),
  name: z.string().min(1),
  html_url: z.string().url(),
  owner: z.string().nullable(),
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
  webhook_secret: z.string().min(1),
  pem: z.string().includes("-----BEGIN"),
  /** The API root the App was registered through: a changed GHE_HOST must not send its key elsewhere. */
  base_url: z.string().url(),
  created_at: z.string(),
});
export type StoredGitHubApp = z.infer<typeof StoredGitHubApp>;

export const STORED_GITHUB_APP_FILE = "github-app.json";

export function storedGitHubAppPath(dataDir: string): string {
  return path.join(dataDir, STORED_GITHUB_APP_FILE);
}

export interface Config {
  /** Postgres connection string; absent means "start an embedded Postgres in dataDir". */
  databaseUrl?: string;
  /** Absolute path of the data directory (embedded Postgres, local store, work dirs, admin token). */
  dataDir: string;
  /**
   * As root: where vh keeps what other OS users must reach (the embedded Postgres's binaries and
   * cluster, jobs' work dirs); unset means /var/lib/vh (or <tmpdir>/vh-root). See app/host-dirs.ts.
   */
  stateDir?: string;
  /** Run plain-process jobs as vh's own OS user when vh is not root (they can then read all vh can). */
  unsafeSameUser: boolean;
  /**
   * The key that seals secret environment values at rest (app/executions/secrets.ts): VH_SECRETS_KEY,
   * else `<dataDir>/secrets.key`, made at first start (app/start.ts sets it then).
   */
  secretsKey: Buffer | null;
  http: { port: number; host: string; publicUrl?: string };
  embeddedPostgresPort: number;
  /**
   * `concurrency`: the core queue jobs (schedule, start_execution) a worker runs at once;
   * `forgeConcurrency`: the Git host jobs (github_event, github_report), in a pool of their own so a
   * slow or unreachable GitHub never holds the slots that schedule and start executions.
   */
  worker: { concurrency: number; forgeConcurrency: number; gitConcurrency: number; supervisorCapacity: number; lostAfterSeconds: number; uploadGiveUpSeconds: number; lostRetries: number; maxAttempts: number; deadAfterSeconds: number };
  /** GPU hosts and the scheduler (docs/scheduler.md). */
  hosts: {
    /** A waiting execution older than this goes first (and gets a reservation). */
    escalationSeconds: number;
    /** YAML file of SSH hosts registered at worker start. */
    file?: string;
    /** Seconds between health checks (and GPU re-discovery) of each host. */
    checkSeconds: number;
    /** Run executions on the worker's own machine too. */
    local: boolean;
  };
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
  /** How a step's `command` list is joined into one script (valohai-spec §1.5 step 6). */
  commandJoiner: "newline" | "and";
  docker: "auto" | "always" | "never";
  store: StoreConfig;
  maxCodeBytes: number;
  /** The largest file `POST /projects/:p/data` (`vh data upload`, local inputs of ad-hoc runs) takes. */
  maxUploadBytes: number;
  /** What a code snapshot may unpack to (checked at upload, at repack and while extracting). */
  codeLimits: { maxBytes: number; maxFiles: number };
  /**
   * Per-execution quotas: log lines past `logBytes`/`logLines` are counted but not stored; outputs
   * past `outputBytes` (their apparent size: a sparse file counts in full) are not uploaded.
   */
  quotas: { logBytes: number; logLines: number; outputBytes: number };
  /** Where the local-server pointer for the `vh` CLI on this machine is written. */
  cliConfigDir: string;
  /** The GitHub host vh talks to (API and web roots, timeouts), App or not. */
  githubHost: GitHubHostConfig;
  /**
   * The GitHub App: from APP_ID, the private key and WEBHOOK_SECRET, each falling back to the App the
   * set-up page stored in VH_DATA_DIR; null when neither gives one. It changes once while running:
   * when the set-up page stores an App (app/forges/registry.ts, `useGitHubApp`).
   */
  github: GitHubAppConfig | null;
  /** GitLab, when GITLAB_TOKEN is set; null otherwise. */
  gitlab: GitLabConfig | null;
  /**
   * Plain Git hosts: the mirrors' folder (default `<dataDir>/git`), the shortest poll interval, and
   * the part of the environment git commands may see: the `VH_GIT_TOKEN_*` variables (https tokens,
   * named per repository) and what git itself needs (PATH, HOME, proxies, CA files). Nothing else
   * of the server's environment reaches a git command.
   */
  git: { dir: string; minPollSeconds: number; env: Record<string, string> };
  /** The most executions one sweep (a PR comment with value lists) may create. */
  sweepCap: number;
  /** OpenLineage export (app/models/openlineage.ts): the server's name in namespaces, `vh://<name>/<project>`. */
  lineage: { name: string };
  /** Where `s3://` inputs are read from (app/inputs/s3.ts at creation, the runners at launch). */
  s3Inputs: S3InputsConfig;
  /** Rented hosts (worker/compute/, docs/compute.md). */
  compute: ComputeConfig;
}

export interface ComputeConfig {
  /** The environments' YAML file (app/environments/file.ts); unset: no environments. */
  environmentsFile?: string;
  /** Where executions without an environment run (else the one marked `default: true`, else the registered hosts). */
  defaultEnvironment?: string;
  /** The `vh:cluster` tag on every instance this control plane launches; the reconciler only touches those. */
  cluster: string;
  /** The private key the control plane logs in to instances with (its public half goes in user data); made at first use. */
  sshKeyPath: string;
  /** Seconds between autoscaler passes (launch, boot checks, idle shutdown, spot notices). */
  tickSeconds: number;
  /** Seconds between reconciliations of the provider's tagged instances with the hosts table. */
  reconcileSeconds: number;
  /** Seconds between a spot instance's polls of its metadata for an interruption notice (AWS advises 5). */
  spotPollSeconds: number;
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
  const host = githubHost(e);
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
    ...(e.VH_STATE_DIR ? { stateDir: path.resolve(cwd, e.VH_STATE_DIR) } : {}),
    unsafeSameUser: e.VH_UNSAFE_SAME_USER,
    secretsKey: e.VH_SECRETS_KEY ? parseSecretsKey(e.VH_SECRETS_KEY) : null,
    http: { port: e.PORT, host: e.HOST, ...(e.VH_PUBLIC_URL ? { publicUrl: e.VH_PUBLIC_URL } : {}) },
    embeddedPostgresPort: e.VH_EMBEDDED_PG_PORT,
    worker: {
      concurrency: e.VH_WORKER_CONCURRENCY,
      forgeConcurrency: e.VH_FORGE_CONCURRENCY,
      gitConcurrency: e.VH_GIT_CONCURRENCY,
      supervisorCapacity: e.VH_SUPERVISOR_CAPACITY,
      lostAfterSeconds: e.VH_LOST_AFTER_S,
      uploadGiveUpSeconds: e.VH_UPLOAD_GIVE_UP_S,
      lostRetries: e.VH_LOST_RETRIES,
      maxAttempts: e.VH_MAX_ATTEMPTS,
      deadAfterSeconds: e.VH_WORKER_DEAD_AFTER_S,
    },
    logLevel: e.VH_LOG_LEVEL,
    commandJoiner: e.VH_COMMAND_JOINER,
    docker: e.VH_DOCKER,
    store,
    maxCodeBytes: Math.round(e.VH_MAX_CODE_MB * 1024 * 1024),
    maxUploadBytes: Math.round(e.VH_MAX_UPLOAD_MB * 1024 * 1024),
    codeLimits: { maxBytes: Math.round(e.VH_MAX_CODE_UNPACKED_MB * 1024 * 1024), maxFiles: e.VH_MAX_CODE_FILES },
    quotas: {
      logBytes: Math.round(e.VH_MAX_LOG_MB * 1024 * 1024),
      logLines: e.VH_MAX_LOG_LINES,
      outputBytes: Math.round(e.VH_MAX_OUTPUT_MB * 1024 * 1024),
    },
    cliConfigDir: path.join(e.XDG_CONFIG_HOME ?? path.join(e.HOME ?? cwd, ".config"), "vh"),
    hosts: {
      escalationSeconds: e.VH_GPU_ESCALATION_S,
      ...(e.VH_HOSTS_FILE ? { file: path.resolve(cwd, e.VH_HOSTS_FILE) } : {}),
      checkSeconds: e.VH_HOST_CHECK_S,
      local: e.VH_LOCAL_HOST,
    },
    githubHost: host,
    github: resolveGitHubApp(e, host, dataDir, cwd),
    gitlab: e.GITLAB_TOKEN
      ? {
          url: e.GITLAB_URL.replace(/\/+$/, ""),
          token: e.GITLAB_TOKEN,
          webhookSecret: e.GITLAB_WEBHOOK_SECRET ?? null,
          signingToken: e.GITLAB_WEBHOOK_SIGNING_TOKEN ?? null,
          requestTimeoutMs: Math.round(e.VH_GITLAB_TIMEOUT_S * 1000),
          reportIntervalMs: Math.round(e.VH_GITHUB_REPORT_INTERVAL_S * 1000),
        }
      : null,
    git: {
      dir: e.VH_GIT_DIR ? path.resolve(cwd, e.VH_GIT_DIR) : path.join(dataDir, "git"),
      minPollSeconds: e.VH_GIT_MIN_POLL_S,
      env: Object.fromEntries(Object.entries(env).filter((kv): kv is [string, string] => typeof kv[1] === "string" && (GIT_ENV.has(kv[0]) || kv[0].startsWith("VH_GIT_TOKEN_")))),
    },
    sweepCap: e.VH_SWEEP_CAP,
    lineage: { name: e.VH_LINEAGE_NAME ?? (e.VH_PUBLIC_URL ? new URL(e.VH_PUBLIC_URL).host : os.hostname()) },
    s3Inputs: s3InputsConfig(e, env),
    compute: {
      ...(e.VH_ENVIRONMENTS_FILE ? { environmentsFile: path.resolve(cwd, e.VH_ENVIRONMENTS_FILE) } : {}),
      ...(e.VH_DEFAULT_ENVIRONMENT ? { defaultEnvironment: e.VH_DEFAULT_ENVIRONMENT } : {}),
      cluster: e.VH_CLUSTER,
      sshKeyPath: e.VH_COMPUTE_SSH_KEY ? path.resolve(cwd, e.VH_COMPUTE_SSH_KEY) : path.join(dataDir, "compute_ed25519"),
      tickSeconds: e.VH_COMPUTE_TICK_S,
      reconcileSeconds: e.VH_RECONCILE_S,
      spotPollSeconds: e.VH_SPOT_POLL_S,
    },
  };
}

const S3_ENDPOINT_KEYS = ["URL", "REGION", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN", "BUCKETS", "PATH_STYLE"] as const;

/** VH_S3_INPUT_ENDPOINTS and each endpoint's VH_S3_ENDPOINT_<NAME>_* settings; one VhError lists every mistake. */
function s3InputsConfig(e: z.infer<typeof envSchema>, env: NodeJS.ProcessEnv): S3InputsConfig {
  const problems: string[] = [];
  const defaultRegion = e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? "us-east-1";
  const names = e.VH_S3_INPUT_ENDPOINTS.split(",").map((n) => n.trim()).filter(Boolean);
  const endpoints: S3InputEndpoint[] = [];
  const seen = new Set<string>();
  for (const raw of names) {
    const name = raw.toLowerCase();
    if (!/^[a-z][a-z0-9_]*$/.test(name)) {
      problems.push(`VH_S3_INPUT_ENDPOINTS: "${raw}" is not an endpoint name (a letter, then letters, digits or _).`);
      continue;
    }
    if (name === "default") {
      problems.push(`VH_S3_INPUT_ENDPOINTS: "default" is the AWS SDK's own endpoint (AWS_REGION, AWS_ENDPOINT_URL_S3); name yours otherwise.`);
      continue;
    }
    if (seen.has(name)) {
      problems.push(`VH_S3_INPUT_ENDPOINTS names "${name}" twice.`);
      continue;
    }
    seen.add(name);
    const v = (key: (typeof S3_ENDPOINT_KEYS)[number]) => {
      const value = env[`VH_S3_ENDPOINT_${name.toUpperCase()}_${key}`]?.trim();
      return value ? value : undefined;
    };
    const prefix = `VH_S3_ENDPOINT_${name.toUpperCase()}_`;
    const url = v("URL");
    if (url !== undefined && !/^https?:\/\/[^/\s]+/i.test(url)) problems.push(`${prefix}URL: "${url}" is not an http:// or https:// URL.`);
    const bucketsRaw = v("BUCKETS");
    let buckets: string[] | "*" = [];
    if (bucketsRaw === undefined) problems.push(`${prefix}BUCKETS is required: the buckets endpoint "${name}" serves (comma-separated), or * for every bucket no other endpoint names.`);
    else if (bucketsRaw === "*") buckets = "*";
    else {
      buckets = bucketsRaw.split(",").map((b) => b.trim()).filter(Boolean);
      for (const b of buckets) if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(b)) problems.push(`${prefix}BUCKETS: "${b}" is not a bucket name.`);
    }
    const keyId = v("ACCESS_KEY_ID");
    const secret = v("SECRET_ACCESS_KEY");
    const token = v("SESSION_TOKEN");
    if ((keyId === undefined) !== (secret === undefined)) problems.push(`${prefix}ACCESS_KEY_ID and ${prefix}SECRET_ACCESS_KEY go together: set both, or neither (the AWS SDK's credential chain).`);
    if (token !== undefined && keyId === undefined) problems.push(`${prefix}SESSION_TOKEN needs ${prefix}ACCESS_KEY_ID and ${prefix}SECRET_ACCESS_KEY.`);
    const pathStyleRaw = v("PATH_STYLE");
    const pathStyle = pathStyleRaw === undefined ? { success: true as const, data: url !== undefined } : bool.safeParse(pathStyleRaw);
    if (!pathStyle.success) problems.push(`${prefix}PATH_STYLE: expected true/false, got "${pathStyleRaw}".`);
    endpoints.push({
      name,
      ...(url !== undefined ? { url: url.replace(/\/+$/, "") } : {}),
      region: v("REGION") ?? defaultRegion,
      forcePathStyle: pathStyle.success ? pathStyle.data : false,
      ...(keyId !== undefined && secret !== undefined ? { credentials: { accessKeyId: keyId, secretAccessKey: secret, ...(token !== undefined ? { sessionToken: token } : {}) } } : {}),
      buckets,
    });
  }
  // A setting for an endpoint that is not listed is a typo or a forgotten name: say so rather than ignore it.
  for (const key of Object.keys(env)) {
    const m = /^VH_S3_ENDPOINT_(.+)_(URL|REGION|ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|BUCKETS|PATH_STYLE)$/.exec(key);
    if (m && !seen.has(m[1]!.toLowerCase()) && !names.some((n) => n.toLowerCase() === m[1]!.toLowerCase())) {
      problems.push(`${key} is set, but "${m[1]!.toLowerCase()}" is not in VH_S3_INPUT_ENDPOINTS (${names.length ? names.join(",") : "empty"}).`);
    }
  }
  const owner = new Map<string, string>();
  for (const ep of endpoints) {
    if (ep.buckets === "*") continue;
    for (const b of ep.buckets) {
      const other = owner.get(b);
      if (other && other !== ep.name) problems.push(`Bucket "${b}" is served by two S3 input endpoints ("${other}" and "${ep.name}"): list it under one.`);
      owner.set(b, ep.name);
    }
  }
  const wildcards = endpoints.filter((ep) => ep.buckets === "*");
  if (wildcards.length > 1) problems.push(`Only one S3 input endpoint may serve every other bucket (BUCKETS=*): ${wildcards.map((w) => w.name).join(", ")} do.`);
  if (problems.length) throw new VhError("invalid_config", `Invalid S3 input endpoint settings:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  const awsUrl = e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL;
  const sdkDefault: S3InputEndpoint = {
    name: "default",
    ...(awsUrl ? { url: awsUrl.replace(/\/+$/, "") } : {}),
    region: defaultRegion,
    // AWS itself takes virtual-hosted addresses; other S3-compatible servers mostly need path-style.
    forcePathStyle: awsUrl !== undefined,
    buckets: "*",
  };
  return { endpoints, sdkDefault, maxFiles: e.VH_S3_INPUT_MAX_FILES };
}

/** 32 bytes as base64 (`openssl rand -base64 32`) or 64 hex digits. */
export function parseSecretsKey(raw: string): Buffer {
  const t = raw.trim();
  const key = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, "hex") : Buffer.from(t, "base64");
  if (key.length !== 32) throw new VhError("invalid_config", "VH_SECRETS_KEY must be 32 bytes, as base64 (openssl rand -base64 32) or 64 hex digits.");
  return key;
}

/** The secrets key, once startVh has set it (a missing one is vh's bug, not the user's). */
export function secretsKeyOf(config: Pick<Config, "secretsKey">): Buffer {
  if (!config.secretsKey) throw new VhError("internal", "No secrets key: startVh sets one from VH_SECRETS_KEY or VH_DATA_DIR/secrets.key.");
  return config.secretsKey;
}

/** A key pasted into an env file: literal "\n" sequences, or the whole PEM base64-encoded (as Probot accepts). */
function normalisePrivateKey(raw: string): string {
  const text = raw.replace(/\\n/g, "\n").trim();
  if (text.includes("-----BEGIN")) return text;
  const decoded = Buffer.from(text, "base64").toString("utf8");
  if (decoded.includes("-----BEGIN")) return decoded;
  throw new VhError("invalid_config", "PRIVATE_KEY is not a PEM private key (nor a base64-encoded one): paste the .pem file GitHub gave you, or set PRIVATE_KEY_PATH to it.");
}

function githubHost(e: z.infer<typeof envSchema>): GitHubHostConfig {
  const webUrl = e.GHE_HOST ? `${e.GHE_PROTOCOL}://${e.GHE_HOST}` : "https://github.com";
  return {
    baseUrl: e.GHE_HOST ? `${webUrl}/api/v3` : "https://api.github.com",
    webUrl,
    reportIntervalMs: Math.round(e.VH_GITHUB_REPORT_INTERVAL_S * 1000),
    requestTimeoutMs: Math.round(e.VH_GITHUB_TIMEOUT_S * 1000),
    webhookConcurrency: e.VH_WEBHOOK_CONCURRENCY,
  };
}

/** The App stored by the set-up page in `dataDir`, or null when there is none; a damaged file is an error naming it. */
export function readStoredGitHubApp(dataDir: string): StoredGitHubApp | null {
  const file = storedGitHubAppPath(dataDir);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new VhError("invalid_config", `Cannot read the stored GitHub App ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}).`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  const r = StoredGitHubApp.safeParse(json);
  if (!r.success) {
    throw new VhError(
      "invalid_config",
      `The stored GitHub App ${file} is damaged (${r.error.issues[0]?.path.join(".") || "not JSON"}): restore it, or remove it and set the App up again (or set APP_ID, PRIVATE_KEY and WEBHOOK_SECRET).`,
    );
  }
  return r.data;
}

/** The App the set-up page stored, as the App config (what the next start reads; used to serve it at once). */
export function storedGitHubAppConfig(config: Pick<Config, "dataDir" | "githubHost">): GitHubAppConfig | null {
  // no environment settings here, so no paths to resolve against a working directory
  return resolveGitHubApp({}, config.githubHost, config.dataDir, config.dataDir);
}

type AppEnv = Partial<Pick<z.infer<typeof envSchema>, "APP_ID" | "PRIVATE_KEY" | "PRIVATE_KEY_PATH" | "WEBHOOK_SECRET">>;

/** Each of the App's settings from the environment when set there, else from the stored App: the environment wins. */
function resolveGitHubApp(e: AppEnv, host: GitHubHostConfig, dataDir: string, cwd: string): GitHubAppConfig | null {
  const any = e.APP_ID !== undefined || e.PRIVATE_KEY || e.PRIVATE_KEY_PATH || e.WEBHOOK_SECRET;
  const all = e.APP_ID !== undefined && (e.PRIVATE_KEY || e.PRIVATE_KEY_PATH) && e.WEBHOOK_SECRET;
  const file = storedGitHubAppPath(dataDir);
  // The stored App is read only for what the environment leaves out (a rotated key or secret), and
  // only when the environment names no other App: an APP_ID of another App never borrows its key or secret.
  const read = all ? null : readStoredGitHubApp(dataDir);
  const stored = read && (e.APP_ID === undefined || e.APP_ID === read.id) ? read : null;
  if (!any && !stored) return null;
  if (stored && stored.base_url !== host.baseUrl) {
    throw new VhError(
      "invalid_config",
      `The stored GitHub App ${file} was registered on ${stored.base_url}, but vh now talks to ${host.baseUrl} (GHE_HOST): set GHE_HOST back, or remove the file and set the App up again on the new host.`,
    );
  }
  const missing: string[] = [];
  if (e.APP_ID === undefined && !stored) missing.push("APP_ID (the App ID on the app's settings page)");
  if (!e.PRIVATE_KEY && !e.PRIVATE_KEY_PATH && !stored) missing.push("PRIVATE_KEY or PRIVATE_KEY_PATH (the app's .pem private key)");
  if (!e.WEBHOOK_SECRET && !stored) missing.push("WEBHOOK_SECRET (the webhook secret set on the app)");
  if (missing.length) {
    throw new VhError("invalid_config", `The GitHub App is partly configured; also set:\n${missing.map((m) => `  ${m}`).join("\n")}`);
  }
  let privateKey: string;
  let privateKeyPath: string | undefined;
  if (e.PRIVATE_KEY) {
    privateKey = normalisePrivateKey(e.PRIVATE_KEY);
  } else if (e.PRIVATE_KEY_PATH) {
    privateKeyPath = path.resolve(cwd, e.PRIVATE_KEY_PATH);
    try {
      privateKey = normalisePrivateKey(fs.readFileSync(privateKeyPath, "utf8"));
    } catch (err) {
      if (err instanceof VhError) throw err;
      throw new VhError("invalid_config", `PRIVATE_KEY_PATH: cannot read ${privateKeyPath} (${(err as NodeJS.ErrnoException).code ?? String(err)}).`);
    }
  } else {
    privateKey = stored!.pem;
    privateKeyPath = file;
  }
  return {
    ...host,
    appId: e.APP_ID ?? stored!.id,
    privateKey,
    ...(privateKeyPath ? { privateKeyPath } : {}),
    webhookSecret: e.WEBHOOK_SECRET ?? stored!.webhook_secret,
    ...(stored ? { registered: { slug: stored!.slug, name: stored!.name, htmlUrl: stored!.html_url, file } } : {}),
  };
}
