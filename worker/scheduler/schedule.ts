/**
 * The GPU scheduler: a pure function from (queue, fleet, now, policy) to placements, refusals and
 * reservations. No I/O, no clock, no randomness: the same input gives the same output, so every rule
 * is unit-tested directly (test/scheduler/) and the packing bench simulates it on a virtual clock.
 * worker/scheduler/apply.ts reads its input from Postgres and applies its output in one transaction.
 *
 * Terminology (docs/scheduler.md):
 * - job: a queued execution asking for `gpus` GPUs (VH_GPUS; 0 = CPU-only, still placed on a host).
 * - host: a machine that runs executions, with GPUs numbered by device index (nvidia-smi `index`).
 * - placement: a job put on one host with the device indices it gets (CUDA_VISIBLE_DEVICES).
 * - refusal: a job no single host could ever run (more GPUs than any host has, or no host matches
 *   its labels); it is ended with the reason instead of waiting forever.
 * - escalated: a job that has waited at least `escalationMs`; escalated jobs go first, oldest first.
 * - reservation: a host held for one waiting job that does not fit yet. Nothing new starts on a
 *   reserved host's GPUs unless it provably ends (by its time-limit) before the reserved job could
 *   start there (its "shadow time"): backfill that cannot delay the reserved job.
 * - quota: a cap on the GPUs used at once by the jobs sharing a key (`project:<id>`, `team:<name>`).
 *
 * Rules, in order (policy `ours`, what vh runs):
 * 1. A job asking for more GPUs than any single matching host has is refused at once.
 * 2. Order: escalated jobs by queue time; then the rest by GPUs ascending, then queue time, then id.
 * 3. A job whose placement would exceed one of its quotas waits (it blocks nobody else).
 * 4. Hosts: best fit (the host left with the fewest free GPUs), then the lowest name; GPUs: the
 *    lowest-index contiguous run of free devices, else the lowest free indices.
 * 5. The first job (in that order) that does not fit and has waited `reserveAfterMs` (default: the
 *    escalation time) gets a reservation on one host (kept from the previous pass while valid): the
 *    host it could start on soonest by the time-limits of what runs there, else the one with the
 *    most free GPUs. One reservation at a time (`maxReservations`), as in EASY backfill: when it
 *    starts, the next oldest blocked job gets one, so no job starves.
 * 6. Backfill: other jobs go anywhere except on reserved hosts, where they go only if their
 *    time-limit ends before the shadow time, or if they use only GPUs the reserved job will not need.
 *
 * `fcfs` (strict arrival order, the head blocks) and `seed` (small first, an escalated job that does
 * not fit blocks everything behind it) exist for the packing bench's comparison.
 */

export interface SchedJob {
  id: string;
  /** GPUs asked for; 0 = CPU-only. */
  gpus: number;
  /** When it (last) entered the queue, ms. */
  queuedAt: number;
  /** Quota keys it counts against (`project:<id>`, `team:<name>`). */
  quotaKeys: readonly string[];
  /** Upper bound on its run time (the step's time-limit), seconds; null = unbounded. */
  timeLimitS: number | null;
  /** Host labels it requires (every pair must match). */
  labels?: Readonly<Record<string, string>>;
  /** The environment it runs in: only that environment's hosts take it; none: only hosts of no environment. */
  environment?: string | null;
}

export interface SchedHost {
  id: string;
  name: string;
  /** Up and enabled: new work may start there. A host that is down still counts for rule 1. */
  schedulable: boolean;
  /** Device indices of its GPUs. */
  gpus: readonly number[];
  labels: Readonly<Record<string, string>>;
  /** A rented host's environment: it takes that environment's jobs only. */
  environment?: string | null;
  /** At most this many jobs at once (a rented instance runs one execution at a time); absent: no cap. */
  slots?: number;
}

export interface SchedRunning {
  id: string;
  hostId: string;
  gpus: readonly number[];
  quotaKeys: readonly string[];
  /** Started + time-limit, ms; null = unbounded. */
  endsBy: number | null;
}

export interface Reservation {
  jobId: string;
  hostId: string;
  /** Latest time the job can start there by the time-limits of what runs there (null: unbounded). */
  shadow?: number | null;
}

export interface SchedPolicy {
  kind: "fcfs" | "seed" | "ours";
  escalationMs: number;
  /** Rule 5: when a waiting job gets a reservation (`ours`); defaults to escalationMs. */
  reserveAfterMs?: number;
  /** Rule 5: at most this many hosts reserved at once (default 1: the oldest blocked job's, as EASY backfill). */
  maxReservations?: number;
  /** Max GPUs in use at once per quota key. */
  quotas: Readonly<Record<string, number>>;
}

export interface SchedInput {
  now: number;
  queue: readonly SchedJob[];
  hosts: readonly SchedHost[];
  running: readonly SchedRunning[];
  /** The previous pass's reservations (kept while still valid, so backfill stays provable). */
  reservations?: readonly Reservation[];
  policy: SchedPolicy;
  /** Stop after this many placements (bounds one transaction); default unlimited. */
  maxPlacements?: number;
}

export interface Placement {
  jobId: string;
  hostId: string;
  gpus: number[];
}

export interface Refusal {
  jobId: string;
  reason: string;
}

export interface SchedOutput {
  placements: Placement[];
  refusals: Refusal[];
  reservations: Reservation[];
  /** Why a job still waits, for jobs the pass looked at (a quota, a reservation…). */
  waiting: Map<string, string>;
}

export const DEFAULT_ESCALATION_MS = 3_600_000;

/** Whether a host may take a job: the same environment (or both none), and every label it asks for. */
function fits(host: SchedHost, job: SchedJob): boolean {
  return (host.environment ?? null) === (job.environment ?? null) && labelsMatch(host, job.labels);
}

function labelsMatch(host: SchedHost, want: Readonly<Record<string, string>> | undefined): boolean {
  if (!want) return true;
  for (const [k, v] of Object.entries(want)) if (host.labels[k] !== v) return false;
  return true;
}

/** The lowest-index contiguous run of `n` free devices, else the `n` lowest free ones; null if fewer. */
export function pickGpus(free: readonly number[], n: number): number[] | null {
  if (n === 0) return [];
  if (free.length < n) return null;
  const sorted = [...free].sort((a, b) => a - b);
  for (let i = 0; i + n <= sorted.length; i++) {
    if ((sorted[i + n - 1] as number) - (sorted[i] as number) === n - 1) return sorted.slice(i, i + n);
  }
  return sorted.slice(0, n);
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Order of rule 2 (or plain arrival order for `fcfs`). */
export function orderQueue(queue: readonly SchedJob[], now: number, policy: SchedPolicy): SchedJob[] {
  const escalated = (j: SchedJob) => policy.kind !== "fcfs" && now - j.queuedAt >= policy.escalationMs;
  return [...queue].sort((a, b) => {
    if (policy.kind !== "fcfs") {
      const ea = escalated(a);
      const eb = escalated(b);
      if (ea !== eb) return ea ? -1 : 1;
      if (!ea && a.gpus !== b.gpus) return a.gpus - b.gpus;
    }
    return a.queuedAt - b.queuedAt || compareIds(a.id, b.id);
  });
}

interface HostState {
  host: SchedHost;
  free: Set<number>;
  /** Running work here: GPUs and when each ends at the latest. */
  busy: { gpus: readonly number[]; endsBy: number | null }[];
  cpuJobs: number;
  /** Jobs here now (for `slots`). */
  jobs: number;
  reservedBy: { job: SchedJob; shadow: number | null; spare: Set<number> } | null;
}

/**
 * When `n` GPUs will be free on the host at the latest, by the time-limits of what runs there
 * (null when that depends on an unbounded job), and which free-at-that-time GPUs are spare beyond
 * the `n` the reserved job takes (they may be backfilled with anything).
 */
function shadowOf(st: HostState, n: number, now: number): { shadow: number | null; spare: Set<number> } {
  const free = [...st.free];
  if (free.length >= n) return { shadow: now, spare: new Set() };
  const ends = [...st.busy].sort((a, b) => (a.endsBy ?? Infinity) - (b.endsBy ?? Infinity));
  const avail = [...free];
  for (const b of ends) {
    if (b.endsBy === null) return { shadow: null, spare: new Set() };
    avail.push(...b.gpus);
    if (avail.length >= n) {
      const taken = new Set(pickGpus(avail, n) ?? []);
      return { shadow: Math.max(now, b.endsBy), spare: new Set(free.filter((g) => !taken.has(g))) };
    }
  }
  return { shadow: null, spare: new Set() };
}

export function schedule(input: SchedInput): SchedOutput {
  const { now, policy } = input;
  const reserveAfter = policy.reserveAfterMs ?? policy.escalationMs;
  const out: SchedOutput = { placements: [], refusals: [], reservations: [], waiting: new Map() };
  const states = new Map<string, HostState>();
  for (const h of input.hosts) {
    states.set(h.id, { host: h, free: new Set(h.gpus), busy: [], cpuJobs: 0, jobs: 0, reservedBy: null });
  }
  const usage = new Map<string, number>();
  for (const r of input.running) {
    const st = states.get(r.hostId);
    if (st) {
      st.jobs++;
      for (const g of r.gpus) st.free.delete(g);
      if (r.gpus.length > 0) st.busy.push({ gpus: r.gpus, endsBy: r.endsBy });
      else st.cpuJobs++;
    }
    for (const k of r.quotaKeys) usage.set(k, (usage.get(k) ?? 0) + r.gpus.length);
  }
  const schedulable = [...states.values()].filter((s) => s.host.schedulable).sort((a, b) => compareIds(a.host.name, b.host.name));
  const previous = new Map((input.reservations ?? []).map((r) => [r.jobId, r.hostId]));
  const maxPlacements = input.maxPlacements ?? Infinity;
  const maxReservations = policy.maxReservations ?? 1;
  let freeTotal = schedulable.reduce((n, s) => n + s.free.size, 0);
  /** GPUs of the largest host matching a label set (rule 1), by label set. */
  const hostCapacity = new Map<string, number>();

  function capacityFor(job: SchedJob): number {
    const key = `${job.environment ?? ""}\u0000${job.labels ? JSON.stringify(job.labels) : ""}`;
    let cap = hostCapacity.get(key);
    if (cap === undefined) {
      cap = -1;
      for (const st of states.values()) if (fits(st.host, job)) cap = Math.max(cap, st.host.gpus.length);
      hostCapacity.set(key, cap);
    }
    return cap;
  }

  function hasSlot(st: HostState): boolean {
    return st.host.slots === undefined || st.jobs < st.host.slots;
  }

  function quotaBlocks(job: SchedJob): string | null {
    for (const k of job.quotaKeys) {
      const limit = policy.quotas[k];
      if (limit !== undefined && (usage.get(k) ?? 0) + job.gpus > limit) {
        return `waiting for quota ${k}: ${usage.get(k) ?? 0} of ${limit} GPUs in use`;
      }
    }
    return null;
  }

  /** The GPUs this job may take on a host now, honouring the host's reservation (rule 6). */
  function usableFree(st: HostState, job: SchedJob): number[] {
    const res = st.reservedBy;
    if (!res || res.job.id === job.id) return [...st.free];
    const endsBy = job.timeLimitS === null ? null : now + job.timeLimitS * 1000;
    if (res.shadow !== null && endsBy !== null && endsBy <= res.shadow) return [...st.free];
    return [...st.free].filter((g) => res.spare.has(g));
  }

  function place(job: SchedJob, st: HostState, gpus: number[]): void {
    out.placements.push({ jobId: job.id, hostId: st.host.id, gpus });
    for (const g of gpus) st.free.delete(g);
    freeTotal -= gpus.length;
    if (st.reservedBy) for (const g of gpus) st.reservedBy.spare.delete(g);
    st.jobs++;
    if (gpus.length > 0) st.busy.push({ gpus, endsBy: job.timeLimitS === null ? null : now + job.timeLimitS * 1000 });
    else st.cpuJobs++;
    for (const k of job.quotaKeys) usage.set(k, (usage.get(k) ?? 0) + gpus.length);
    if (st.reservedBy?.job.id === job.id) st.reservedBy = null;
  }

  function reserve(job: SchedJob): void {
    if (out.reservations.length >= maxReservations) return;
    const candidates = schedulable.filter((s) => !s.reservedBy && fits(s.host, job) && s.host.gpus.length >= job.gpus);
    if (candidates.length === 0) return;
    const kept = candidates.find((s) => s.host.id === previous.get(job.id));
    let chosen = kept;
    if (!chosen) {
      let best: { st: HostState; shadow: number } | null = null;
      for (const s of candidates) {
        const { shadow } = shadowOf(s, job.gpus, now);
        const key = shadow ?? Infinity;
        if (!best || key < best.shadow || (key === best.shadow && s.free.size > best.st.free.size)) best = { st: s, shadow: key };
      }
      chosen = best?.st;
    }
    if (!chosen) return;
    const { shadow, spare } = shadowOf(chosen, job.gpus, now);
    chosen.reservedBy = { job, shadow, spare };
    out.reservations.push({ jobId: job.id, hostId: chosen.host.id, shadow });
  }

  for (const job of orderQueue(input.queue, now, policy)) {
    if (out.placements.length >= maxPlacements) break;
    const cap = capacityFor(job);
    if (cap < 0 || job.gpus > cap) {
      out.refusals.push({
        jobId: job.id,
        reason:
          cap < 0
            ? job.environment
              ? `No host of environment "${job.environment}" can run it (the environment is gone from VH_ENVIRONMENTS_FILE, or has no instances).`
              : `No host matches the labels ${JSON.stringify(job.labels ?? {})}.`
            : `Asks for ${job.gpus} GPUs, but the largest host has ${cap}: no single host can ever run it.`,
      });
      continue;
    }
    const escalated = policy.kind !== "fcfs" && now - job.queuedAt >= policy.escalationMs;
    const quota = quotaBlocks(job);
    if (quota) {
      out.waiting.set(job.id, quota);
      if (policy.kind === "fcfs") break;
      continue;
    }
    if (job.gpus === 0) {
      const st = schedulable.filter((s) => fits(s.host, job) && hasSlot(s)).sort((a, b) => a.cpuJobs - b.cpuJobs)[0];
      if (st) place(job, st, []);
      else out.waiting.set(job.id, "waiting for a host to be up");
      continue;
    }
    let best: { st: HostState; gpus: number[]; left: number } | null = null;
    if (job.gpus <= freeTotal) {
      for (const st of schedulable) {
        if (st.free.size < job.gpus || !fits(st.host, job) || !hasSlot(st)) continue;
        const gpus = pickGpus(usableFree(st, job), job.gpus);
        if (!gpus) continue;
        const left = st.free.size - job.gpus;
        if (!best || left < best.left) best = { st, gpus, left };
      }
    }
    if (best) {
      place(job, best.st, best.gpus);
      continue;
    }
    out.waiting.set(job.id, `waiting for ${job.gpus} free GPUs on one host`);
    if (policy.kind === "fcfs") break;
    if (policy.kind === "seed") {
      if (escalated) break;
      continue;
    }
    if (now - job.queuedAt >= reserveAfter) reserve(job);
  }
  return out;
}
