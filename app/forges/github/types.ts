import type { ProbotOctokit } from "probot";
import type { GitHubAppConfig } from "../../config.js";
import type { Logger } from "../../log.js";

/** What the GitHub forge is built from. */
export interface GitHubForgeOptions {
  config: GitHubAppConfig;
  log: Logger;
  /**
   * The Octokit class Probot builds clients from. Tests pass one with retry and throttling off
   * (`ProbotOctokit.defaults((o) => ({ ...o, retry: { enabled: false }, throttle: { enabled: false } }))`).
   */
  Octokit?: typeof ProbotOctokit;
  /** How long a looked-up permission is trusted (ms); default one minute. */
  permissionTtlMs?: number;
}

/** GitHub's limits (docs.github.com, checks and issues APIs). */
export const GITHUB_LIMITS = {
  checkRunSummary: 65_535,
  checkRunText: 65_535,
  annotationsPerRequest: 50,
  commentBody: 65_536,
  actions: 3,
} as const;
