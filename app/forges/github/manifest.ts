/**
 * Registering the GitHub App from its manifest (docs.github.com, "Registering a GitHub App from a
 * manifest"), in three steps: the set-up page posts the manifest built here to GitHub with a
 * `state`; GitHub sends the admin back to `redirect_url` with a code that lives one hour and works
 * once; the code is exchanged for the App's id, key and secrets, which are stored in VH_DATA_DIR
 * (mode 0600; the directory is 0700 when vh made it) where app/config.ts reads them at every start.
 *
 * Nothing here logs: the answer holds the App's private key and webhook secret.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Octokit } from "@octokit/rest";
import YAML from "yaml";
import { z } from "zod";
import { VhError, ForgeError } from "../../errors.js";
import { StoredGitHubApp, storedGitHubAppPath, type GitHubHostConfig } from "../../config.js";
import { ensureDir } from "../../host-dirs.js";
import { fetchWithTimeout, wrapGitHubError } from "./index.js";
import { GhManifestConversion } from "./schema.js";
import { WEBHOOK_PATH } from "./webhook-route.js";

/** Where the set-up page lives, and where GitHub sends the admin back to. */
export const SETUP_PATH = "/setup/github";
export const CALLBACK_PATH = `${SETUP_PATH}/callback`;

/** The manifest in the repository root. */
export const APP_YML = path.resolve(import.meta.dirname, "../../../app.yml");

const Access = z.enum(["read", "write"]);

/** app.yml as GitHub takes it (only the fields vh sets; an unknown one is a mistake here). */
export const AppManifestFile = z
  .object({
    name: z.string().min(1).max(34),
    description: z.string(),
    url: z.string().url(),
    hook_attributes: z.object({ url: z.string().url() }).strict(),
    public: z.literal(false),
    default_permissions: z.record(z.string(), Access),
    default_events: z.array(z.string()),
  })
  .strict();
export type AppManifestFile = z.infer<typeof AppManifestFile>;

export interface AppManifest {
  name: string;
  description: string;
  url: string;
  hook_attributes: { url: string; active: true };
  redirect_url: string;
  public: false;
  default_permissions: Record<string, "read" | "write">;
  default_events: string[];
}

export function readAppManifest(file = APP_YML): AppManifestFile {
  const r = AppManifestFile.safeParse(YAML.parse(fs.readFileSync(file, "utf8")));
  if (!r.success) throw new VhError("internal", `${file} is not a valid App manifest: ${r.error.issues[0]?.path.join(".")}: ${r.error.issues[0]?.message}`);
  return r.data;
}

/** GitHub App names: at most 34 characters. */
const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,33}$/;
/** An account login: letters, digits and single hyphens, at most 39. */
const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;

export function checkAppName(name: string): string {
  if (!APP_NAME.test(name)) throw new VhError("bad_request", "The App's name must be 1 to 34 letters, digits, spaces, '.', '_' or '-' (GitHub's rule).");
  return name;
}

export function checkOrganization(org: string): string {
  if (!LOGIN.test(org)) throw new VhError("bad_request", `"${org.slice(0, 60)}" is not a GitHub organization name (letters, digits and single hyphens, at most 39).`);
  return org;
}

/** The manifest to post: app.yml with vh's public address filled in, always private. */
export function buildManifest(opts: { publicUrl: string; name?: string; template?: AppManifestFile }): AppManifest {
  const t = opts.template ?? readAppManifest();
  const base = opts.publicUrl.replace(/\/+$/, "");
  return {
    name: opts.name ? checkAppName(opts.name) : t.name,
    description: t.description,
    url: base,
    hook_attributes: { url: base + WEBHOOK_PATH, active: true },
    redirect_url: base + CALLBACK_PATH,
    public: false,
    default_permissions: { ...t.default_permissions },
    default_events: [...t.default_events],
  };
}

/** Where the manifest form posts: the admin's own account, or an organization they own; `state` comes back with the code. */
export function newAppUrl(host: Pick<GitHubHostConfig, "webUrl">, state: string, org?: string): string {
  const where = org ? `/organizations/${encodeURIComponent(checkOrganization(org))}/settings/apps/new` : "/settings/apps/new";
  return `${host.webUrl}${where}?state=${encodeURIComponent(state)}`;
}

/** GitHub's codes are short hex strings; anything else is refused before a request is made. */
const CODE = /^[A-Za-z0-9_-]{1,200}$/;

export type ManifestConversion = z.infer<typeof GhManifestConversion>;

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * `POST /app-manifests/{code}/conversions` (no credentials: the code is the credential). A code
 * GitHub refuses (used, or older than an hour) is a VhError saying to start again.
 */
export async function convertManifestCode(opts: { host: GitHubHostConfig; code: string; fetch?: () => typeof fetch }): Promise<ManifestConversion> {
  if (!CODE.test(opts.code)) throw new VhError("bad_request", "The code GitHub sent back is malformed: start the set-up again.");
  const octokit = new Octokit({
    baseUrl: opts.host.baseUrl,
    request: { fetch: fetchWithTimeout(opts.host.requestTimeoutMs, opts.fetch) },
    log: quiet,
  });
  let data: unknown;
  try {
    ({ data } = await octokit.request("POST /app-manifests/{code}/conversions", { code: opts.code }));
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    if (status === 404 || status === 422) {
      throw new VhError("bad_request", `GitHub did not accept the code (HTTP ${status}): it works once and for one hour. Start the set-up again.`);
    }
    throw wrapGitHubError(err, "exchanging the App manifest's code");
  }
  const r = GhManifestConversion.safeParse(data);
  if (!r.success) throw new ForgeError(`GitHub answered the manifest conversion with an unexpected shape: ${r.error.issues[0]?.path.join(".") ?? "?"}.`);
  return r.data;
}

/**
 * Stores the new App in `dataDir` (made 0700 if missing; the file written 0600 and moved into place
 * at once) for app/config.ts to read. Never replaces a stored App: a second one is a conflict.
 */
export function storeGitHubApp(dataDir: string, app: ManifestConversion, host: Pick<GitHubHostConfig, "baseUrl">): string {
  // made 0700 when missing; an existing data dir keeps the mode startVh found it with (and warned about)
  ensureDir(dataDir, 0o700);
  const file = storedGitHubAppPath(dataDir);
  const record = StoredGitHubApp.parse({
    id: app.id,
    slug: app.slug,
    name: app.name,
    html_url: app.html_url,
    owner: app.owner?.login ?? null,
    client_id: app.client_id,
    client_secret: app.client_secret,
    webhook_secret: app.webhook_secret,
    pem: app.pem,
    base_url: host.baseUrl,
    created_at: new Date().toISOString(),
  } satisfies StoredGitHubApp);
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = fs.openSync(tmp, "wx", 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(record, null, 2) + "\n");
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    // a hard link never overwrites: two set-ups racing cannot replace each other's App
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") {
      throw new VhError("conflict", `A GitHub App is already stored in ${file}; remove it first to set up another.`);
    }
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return file;
}
