/**
 * The forges vh knows, by kind: a plain map of each forge folder's parts. Keys equal the folder
 * names (test/github/registry.test.ts). This is the only file that imports a forge's folder.
 */
import type { ProbotOctokit } from "probot";
import { storedGitHubAppConfig, type Config, type GitHubAppConfig } from "../config.js";
import type { Logger } from "../log.js";
import type { Sql } from "../../db/client.js";
import { ForgeError } from "../errors.js";
import { type Forge, type ForgeKind, type ForgeProvider, type Forges, type RepoRef } from "../contracts/forge.js";
import type { Attempt } from "../bot/handle-event.js";
import type { BotDeps } from "../bot/commands/types.js";
import { createGitHubProvider } from "./github/index.js";
import { handleDelivery as handleGitHubDelivery } from "./github/deliveries.js";
import { createGitLabProvider, type GitLabProvider } from "./gitlab/index.js";
import { createGitProvider } from "./git/index.js";
import { handleDelivery as handleGitDelivery } from "./git/deliveries.js";
import { ensurePolls, pollRepository } from "./git/poll.js";
import { createRepoService } from "./git/repos.js";
import type { GitDeps } from "./git/types.js";
import type { RepoService } from "./git/types.js";
import { handleDelivery as handleGitLabDelivery } from "./gitlab/deliveries.js";

// Each forge's parts that the rest of vh reaches (webhook ingress, delivery handling, set-up) are named here, once.
export { handleDelivery as handleGitHubDelivery, recordDelivery as recordGitHubDelivery, HANDLED_EVENTS as GITHUB_HANDLED_EVENTS } from "./github/deliveries.js";
export { githubWebhookRoutes, WEBHOOK_PATH as GITHUB_WEBHOOK_PATH } from "./github/webhook-route.js";
export { gitlabWebhookRoutes, GITLAB_WEBHOOK_PATH } from "./gitlab/webhook-route.js";
export { gitWebhookRoutes, WEBHOOK_PATH as GIT_WEBHOOK_PATH } from "./git/webhook-route.js";
export {
  SETUP_PATH as GITHUB_SETUP_PATH,
  CALLBACK_PATH as GITHUB_SETUP_CALLBACK_PATH,
  buildManifest as buildGitHubManifest,
  newAppUrl as newGitHubAppUrl,
  checkAppName as checkGitHubAppName,
  checkOrganization as checkGitHubOrganization,
  convertManifestCode as convertGitHubManifestCode,
  storeGitHubApp,
} from "./github/manifest.js";

export interface ForgeDeps {
  config: Config;
  log: Logger;
  /** The database (plain Git reads its linked repositories there). */
  sql?: Sql;
  /** GitHub only: the Octokit class to build clients from (tests turn retry and throttling off). */
  Octokit?: typeof ProbotOctokit;
}

/** One forge folder's parts. */
export interface ForgeModule {
  /** Its provider, or null while the forge is not configured. */
  provider(deps: ForgeDeps): ForgeProvider | null;
  /** What to set when it is not. */
  notConfigured: string;
  /** The `forge_event` task for its deliveries. */
  handleDelivery(bot: BotDeps, deliveryId: string, attempt: Attempt): Promise<string>;
}

export const forges: Record<ForgeKind, ForgeModule> = {
  github: {
    provider: (deps) =>
      deps.config.github ? createGitHubProvider({ config: deps.config.github, log: deps.log, ...(deps.Octokit ? { Octokit: deps.Octokit } : {}) }) : null,
    notConfigured:
      "GitHub is not configured: create the GitHub App on the set-up page (/setup/github on this server), or set APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET (see docs/github-app.md).",
    handleDelivery: handleGitHubDelivery,
  },
  gitlab: {
    provider: (deps) => (deps.config.gitlab ? createGitLabProvider({ config: deps.config.gitlab, log: deps.log }) : null),
    notConfigured: "GitLab is not configured: set GITLAB_TOKEN (and GITLAB_URL for a self-managed instance) and GITLAB_WEBHOOK_SECRET (see docs/gitlab.md).",
    handleDelivery: async (bot, deliveryId, attempt) => {
      // The token's own user writes vh's notes: the normaliser marks them as a bot's (best effort).
      let botUsername: string | null = null;
      if (isLive(bot.forges)) {
        try {
          botUsername = (await (bot.forges.provider("gitlab") as GitLabProvider).botUser()).username;
        } catch (err) {
          bot.log.warn("could not look up GitLab's bot user; its notes are told apart by name only", { err });
        }
      }
      return handleGitLabDelivery(bot, deliveryId, attempt, { botUsername });
    },
  },
  git: {
    provider: (deps) => (deps.sql ? createGitProvider(gitDeps(deps.sql, deps.config, deps.log)) : null),
    notConfigured: "Plain Git hosts are read through vh's database, which this process was not given.",
    handleDelivery: handleGitDelivery,
  },
};

/** What the plain-Git forge's parts are given. */
function gitDeps(sql: Sql, config: Config, log: Logger): GitDeps {
  return { sql, git: config.git, log, env: config.git.env };
}

/** The `git_poll` task: one poll of a linked repository (it queues the next one itself). */
export async function pollGitRepository(bot: Pick<BotDeps, "sql" | "config" | "log">, repositoryId: number): Promise<void> {
  const r = await pollRepository(gitDeps(bot.sql, bot.config, bot.log), repositoryId);
  bot.log.debug("git poll", { repository: repositoryId, outcome: r.outcome });
}

/** At worker start: every linked repository has its next poll queued (a poll that died on a database failure queued none). */
export function ensureGitPolls(deps: { sql: Sql; config: Config; log: Logger }): Promise<number> {
  return ensurePolls(gitDeps(deps.sql, deps.config, deps.log));
}

/** The linked plain-Git repositories (REST `/api/v1/repos`, `vh repo …`). */
export function gitRepoService(deps: { sql: Sql; config: Config; log: Logger }): RepoService {
  return createRepoService(gitDeps(deps.sql, deps.config, deps.log));
}

function isLive(f: Forges): f is LiveForges {
  return typeof (f as Partial<LiveForges>).provider === "function";
}

/**
 * The forges of one process (the HTTP server and the worker's tasks share it): each repository's
 * forge by its kind, made on first use. GitHub's follows the App of the moment: none until a
 * GitHub App exists, then that App's, without a restart.
 */
export interface LiveForges extends Forges {
  /** The provider of a forge (throws ForgeError naming what to set while it is not configured). */
  provider(kind: ForgeKind): ForgeProvider;
  /** Serves `app` from now on: `config.github` becomes it (the webhook route reads its secret there) and GitHub calls go to its provider. */
  useGitHubApp(app: GitHubAppConfig): void;
}

/**
 * The live forges. While GitHub has no App, each GitHub call first looks for an App the set-up page
 * stored in VH_DATA_DIR, so a worker started apart (`npm run worker` on the same data dir) serves
 * the App as soon as the set-up page stored it.
 */
export function createForges(deps: ForgeDeps): LiveForges {
  const made = new Map<ForgeKind, ForgeProvider>();
  function useGitHubApp(app: GitHubAppConfig): void {
    deps.config.github = app;
    made.delete("github");
    deps.log.info("serving the GitHub App", { appId: app.appId, ...(app.registered ? { slug: app.registered.slug } : {}) });
  }
  function providerOf(kind: ForgeKind): ForgeProvider | null {
    const hit = made.get(kind);
    if (hit) return hit;
    if (kind === "github" && !deps.config.github) {
      const stored = storedGitHubAppConfig(deps.config);
      if (stored) useGitHubApp(stored);
    }
    const p = forges[kind].provider(deps);
    if (p) made.set(kind, p);
    return p;
  }
  function provider(kind: ForgeKind): ForgeProvider {
    const p = providerOf(kind);
    if (!p) throw new ForgeError(forges[kind].notConfigured);
    return p;
  }
  return {
    provider,
    useGitHubApp,
    async forRepo(repo: RepoRef): Promise<Forge> {
      return provider(repo.forge).forInstallation(repo.installationId);
    },
  };
}

/** The `forge_event` task: the delivery handled by its forge's folder. */
export function handleForgeDelivery(bot: BotDeps, forge: ForgeKind, deliveryId: string, attempt: Attempt): Promise<string> {
  return forges[forge].handleDelivery(bot, deliveryId, attempt);
}
