/**
 * The autoscaler's decisions, as pure functions of the fleet (worker/compute/lifecycle.ts reads
 * the fleet and applies them), so every rule is unit-tested (test/compute/autoscale.test.ts):
 *
 * 1. Launch for queued demand that fits no host: the executions queued in an environment, less its
 *    idle ready instances and those already launching or booting (so one need never makes two
 *    launches), and never past `max-instances`, counting every live instance (launching, booting,
 *    ready, draining, terminating).
 * 2. Keep a warm pool: at least `min-instances` live.
 * 3. Idle shutdown: a ready instance with nothing placed on it for `idle-shutdown` seconds is
 *    terminated, the longest idle first, as long as `min-instances` stay live.
 */
import type { Environment } from "../../app/environments/file.js";

export interface FleetOfEnvironment {
  env: Pick<Environment, "name" | "minInstances" | "maxInstances" | "idleShutdownSeconds">;
  /** Executions queued in it and not placed. */
  queued: number;
  /** Ready instances with nothing placed on them. */
  idleReady: number;
  /** Instances launching or booting (they will take queued work when ready). */
  starting: number;
  /** Every instance that exists or may exist: launching, booting, ready, draining, terminating. */
  live: number;
}

/** How many instances to launch now (rules 1 and 2). */
export function launchesFor(f: FleetOfEnvironment): number {
  const forDemand = f.queued - f.idleReady - f.starting;
  const forPool = f.env.minInstances - f.live;
  const want = Math.max(forDemand, forPool, 0);
  return Math.max(0, Math.min(want, f.env.maxInstances - f.live));
}

export interface IdleCandidate {
  id: string;
  /** Since when nothing is placed on it (ms). */
  idleSinceMs: number;
}

/** Which idle ready instances to terminate now (rule 3): ids, the longest idle first. */
export function idleToTerminate(f: Pick<FleetOfEnvironment, "env" | "live">, idle: readonly IdleCandidate[], nowMs: number): string[] {
  const out: string[] = [];
  let live = f.live;
  const due = idle.filter((h) => nowMs - h.idleSinceMs >= f.env.idleShutdownSeconds * 1000).sort((a, b) => a.idleSinceMs - b.idleSinceMs || (a.id < b.id ? -1 : 1));
  for (const h of due) {
    if (live <= f.env.minInstances) break;
    out.push(h.id);
    live--;
  }
  return out;
}
