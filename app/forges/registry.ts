/** The forges vh knows, by kind: a plain map. Keys equal the folder names (test/github/registry.test.ts). */
import type { ProbotOctokit } from "probot";
import { storedGitHubAppConfig, type Config, type GitHubAppConfig } from "../config.js";
import type { Logger } from "../log.js";
import type { ForgeKind, ForgeProvider, Forge } from "../contracts/forge.js";
import { createGitHubProvider } from "./github/index.js";
import { createNotConfiguredProvider } from "./not-configured/index.js";

// Each forge's parts that the rest of vh reaches (webhook ingress, delivery handling, set-up) are named here, once.
export { handleDelivery as handleGitHubDelivery, recordDelivery as recordGitHubDelivery, HANDLED_EVENTS as GITHUB_HANDLED_EVENTS } from "./github/deliveries.js";
export { githubWebhookRoutes, WEBHOOK_PATH as GITHUB_WEBHOOK_PATH } from "./github/webhook-route.js";
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
  /** GitHub only: the Octokit class to build clients from (tests turn retry and throttling off). */
  Octokit?: typeof ProbotOctokit;
}

export const forges: Record<ForgeKind, (deps: ForgeDeps) => ForgeProvider> = {
  github: (deps) =>
    deps.config.github
      ? createGitHubProvider({ config: deps.config.github, log: deps.log, ...(deps.Octokit ? { Octokit: deps.Octokit } : {}) })
      : createNotConfiguredProvider(),
  "not-configured": () => createNotConfiguredProvider(),
};

/**
 * The provider every part of one process shares (the HTTP server and the worker's tasks), which
 * hands each call to the provider of the moment: the not-configured one until a GitHub App exists,
 * GitHub's from then on, without a restart.
 */
export interface LiveForgeProvider extends ForgeProvider {
  /** Serves `app` from now on: `config.github` becomes it (the webhook route reads its secret there) and calls go to its provider. */
  useGitHubApp(app: GitHubAppConfig): void;
}

/**
 * The provider for the configured forge (GitHub when its settings are present). While none is, each
 * call first looks for an App the set-up page stored in VH_DATA_DIR, so a worker started apart
 * (`npm run worker` on the same data dir) serves the App as soon as the set-up page stored it.
 */
export function createForgeProvider(deps: ForgeDeps): LiveForgeProvider {
  let current = deps.config.github ? forges.github(deps) : forges["not-configured"](deps);
  function useGitHubApp(app: GitHubAppConfig): void {
    deps.config.github = app;
    current = forges.github(deps);
    deps.log.info("serving the GitHub App", { appId: app.appId, ...(app.registered ? { slug: app.registered.slug } : {}) });
  }
  return {
    get kind(): ForgeKind {
      return current.kind;
    },
    useGitHubApp,
    async forInstallation(installationId: number): Promise<Forge> {
      if (!deps.config.github) {
        const stored = storedGitHubAppConfig(deps.config);
        if (stored) useGitHubApp(stored);
      }
      return current.forInstallation(installationId);
    },
  };
}
