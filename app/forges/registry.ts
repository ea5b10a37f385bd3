/** The forges vh knows, by kind: a plain map. Keys equal the folder names (test/github/registry.test.ts). */
import type { ProbotOctokit } from "probot";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import type { ForgeKind, ForgeProvider } from "../contracts/forge.js";
import { createGitHubProvider } from "./github/index.js";
import { createNotConfiguredProvider } from "./not-configured/index.js";

// Each forge's parts that the rest of vh reaches (webhook ingress, delivery handling) are named here, once.
export { handleDelivery as handleGitHubDelivery, recordDelivery as recordGitHubDelivery, HANDLED_EVENTS as GITHUB_HANDLED_EVENTS } from "./github/deliveries.js";
export { githubWebhookRoutes, WEBHOOK_PATH as GITHUB_WEBHOOK_PATH } from "./github/webhook-route.js";

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

/** The provider for the configured forge (GitHub when its settings are present). */
export function createForgeProvider(deps: ForgeDeps): ForgeProvider {
  return deps.config.github ? forges.github(deps) : forges["not-configured"](deps);
}
