import type { GitLabConfig } from "../../config.js";
import type { Permission } from "../../contracts/forge.js";
import type { Logger } from "../../log.js";

/** What the GitLab forge is built from. */
export interface GitLabForgeOptions {
  config: GitLabConfig;
  log: Logger;
  /** How long a looked-up permission is trusted (ms); default one minute. */
  permissionTtlMs?: number;
}

/** GitLab's limits (docs.gitlab.com: notes, commit statuses). */
export const GITLAB_LIMITS = {
  /** A note's body, in characters. */
  noteBody: 1_000_000,
  /** A commit status's description. */
  statusDescription: 255,
  /** Notes listed per page while looking for the sticky note (GitLab's maximum). */
  notesPerPage: 100,
  /** Pages of notes read before giving up on finding the sticky note (100 each). */
  notesPages: 50,
} as const;

/**
 * GitLab's access levels (docs.gitlab.com/api/members, "Roles") → vh's permission. Minimal Access
 * (5) sees nothing of the project's code, so it counts as none; Planner (15) is a Guest who plans.
 */
export function permissionOfAccessLevel(level: number): Permission {
  if (level >= 50) return "admin";
  if (level >= 40) return "maintain";
  if (level >= 30) return "write";
  if (level >= 20) return "triage";
  if (level >= 10) return "read";
  return "none";
}

/** vh's reactions → GitLab's award emoji names. */
export const AWARD_EMOJI = {
  eyes: "eyes",
  "+1": "thumbsup",
  "-1": "thumbsdown",
  confused: "confused",
  rocket: "rocket",
} as const;
