/**
 * gpu-packing: a fixed, seeded trace of 5,000 jobs (1/2/4/8 GPUs, heavy-tailed durations, Poisson
 * arrivals at 1.05× what the fleet can serve) on 4 hosts × 8 GPUs, simulated on a virtual clock with the real
 * scheduler function (worker/scheduler/schedule.ts) under three policies: plain FCFS, the seed's
 * rule (small first + escalation after 1 h, an escalated job blocks the queue until it fits) and
 * ours (small first + escalation + reservations with backfill bounded by time-limits).
 *
 * Figures: makespan ÷ lower bound (max(total GPU-seconds ÷ 32, longest job)), mean GPU utilisation,
 * p50/p99 wait by request size. `BENCH_JOBS` and `BENCH_SEED` change the trace.
 */
import { schedule, type SchedHost, type SchedJob, type SchedPolicy, type SchedRunning, type Reservation } from "../worker/scheduler/schedule.js";
import { percentile, round, size } from "./support.js";

const JOBS = size("BENCH_JOBS", 5000, 200);
const SEED = Number(process.env["BENCH_SEED"] ?? 20260505);
const HOSTS = 4;
const GPUS_PER_HOST = 8;
const ESCALATION_MS = 3_600_000;
/** Offered load: the arrivals bring 5 % more GPU-seconds per second than the fleet has. */
const LOAD = Number(process.env["BENCH_LOAD"] ?? 1.05);

/** mulberry32: a small seeded PRNG, so the trace is the same on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TraceJob {
  id: string;
  gpus: number;
  arrival: number;
  durationMs: number;
  timeLimitS: number | null;
  project: string;
}

/** The trace: sizes 1/2/4/8 at 50/25/15/10 %, log-normal durations (median 20 min, σ 1.1, 1 min–10 h). */
export function makeTrace(n = JOBS, seed = SEED): TraceJob[] {
  const rnd = prng(seed);
  const normal = () => {
    const u = Math.max(rnd(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  };
  const jobs: Omit<TraceJob, "arrival">[] = [];
  let work = 0;
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const gpus = r < 0.5 ? 1 : r < 0.75 ? 2 : r < 0.9 ? 4 : 8;
    const durationS = Math.min(36_000, Math.max(60, Math.round(1200 * Math.exp(1.1 * normal()))));
    // Most steps declare a generous time-limit (1.2–3× the run); a fifth declare none.
    const timeLimitS = rnd() < 0.2 ? null : Math.ceil((durationS * (1.2 + 1.8 * rnd())) / 60) * 60;
    jobs.push({ id: `j${String(i).padStart(5, "0")}`, gpus, durationMs: durationS * 1000, timeLimitS, project: `p${Math.floor(rnd() * 8)}` });
    work += gpus * durationS * 1000;
  }
  // Arrivals over a window in which the offered load is LOAD × the fleet: a queue builds up.
  const window = work / (HOSTS * GPUS_PER_HOST) / LOAD;
  const rate = n / window;
  let t = 0;
  return jobs.map((j) => {
    t += -Math.log(Math.max(rnd(), 1e-12)) / rate;
    return { ...j, arrival: Math.round(t) };
  });
}

export interface SimResult {
  makespanMs: number;
  lowerBoundMs: number;
  utilisation: number;
  waits: Map<number, number[]>;
}

/** Event-driven simulation: at every arrival or completion, one scheduler pass over the queue. */
export function simulate(trace: TraceJob[], policy: SchedPolicy): SimResult {
  const hosts: SchedHost[] = Array.from({ length: HOSTS }, (_, h) => ({
    id: `h${h}`,
    name: `gpu-${h}`,
    schedulable: true,
    gpus: Array.from({ length: GPUS_PER_HOST }, (_, g) => g),
    labels: {},
  }));
  const byId = new Map(trace.map((j) => [j.id, j]));
  const running = new Map<string, SchedRunning & { endsAt: number }>();
  let queue: SchedJob[] = [];
  let reservations: Reservation[] = [];
  const waits = new Map<number, number[]>();
  let next = 0;
  let now = 0;
  let done = 0;
  let busyGpuMs = 0;
  let last = 0;
  const first = trace[0]?.arrival ?? 0;
  while (done < trace.length) {
    let nextEnd = Infinity;
    for (const r of running.values()) nextEnd = Math.min(nextEnd, r.endsAt);
    const nextArrival = next < trace.length ? (trace[next] as TraceJob).arrival : Infinity;
    // Escalation is an event too: a waiting job crossing the threshold may change the order.
    let nextEscalation = Infinity;
    if (policy.kind !== "fcfs") {
      for (const q of queue) {
        const at = q.queuedAt + (policy.reserveAfterMs ?? policy.escalationMs);
        const at2 = q.queuedAt + policy.escalationMs;
        if (at > now) nextEscalation = Math.min(nextEscalation, at);
        if (at2 > now) nextEscalation = Math.min(nextEscalation, at2);
      }
    }
    now = Math.min(nextEnd, nextArrival, nextEscalation);
    if (!Number.isFinite(now)) throw new Error("simulation stalled");
    for (const [id, r] of running) {
      if (r.endsAt <= now) {
        running.delete(id);
        done++;
        last = Math.max(last, r.endsAt);
      }
    }
    while (next < trace.length && (trace[next] as TraceJob).arrival <= now) {
      const j = trace[next++] as TraceJob;
      queue.push({ id: j.id, gpus: j.gpus, queuedAt: j.arrival, quotaKeys: [`project:${j.project}`], timeLimitS: j.timeLimitS });
    }
    const out = schedule({ now, queue, hosts, running: [...running.values()], reservations, policy });
    reservations = out.reservations;
    if (out.refusals.length > 0) throw new Error(`refused: ${out.refusals[0]?.reason}`);
    if (out.placements.length > 0) {
      const placed = new Set<string>();
      for (const p of out.placements) {
        const j = byId.get(p.jobId) as TraceJob;
        placed.add(p.jobId);
        running.set(j.id, {
          id: j.id,
          hostId: p.hostId,
          gpus: p.gpus,
          quotaKeys: [`project:${j.project}`],
          endsBy: j.timeLimitS === null ? null : now + j.timeLimitS * 1000,
          endsAt: now + j.durationMs,
        });
        busyGpuMs += j.gpus * j.durationMs;
        const w = waits.get(j.gpus) ?? [];
        w.push((now - j.arrival) / 1000);
        waits.set(j.gpus, w);
      }
      queue = queue.filter((q) => !placed.has(q.id));
    }
  }
  const totalGpuMs = trace.reduce((s, j) => s + j.gpus * j.durationMs, 0);
  const longest = Math.max(...trace.map((j) => j.durationMs));
  const lowerBoundMs = Math.max(totalGpuMs / (HOSTS * GPUS_PER_HOST), longest);
  const makespanMs = last - first;
  return { makespanMs, lowerBoundMs, utilisation: busyGpuMs / (HOSTS * GPUS_PER_HOST * makespanMs), waits };
}

export const POLICIES: Record<"fcfs" | "seed_rule" | "ours", SchedPolicy> = {
  fcfs: { kind: "fcfs", escalationMs: ESCALATION_MS, quotas: {} },
  seed_rule: { kind: "seed", escalationMs: ESCALATION_MS, quotas: {} },
  ours: { kind: "ours", escalationMs: ESCALATION_MS, quotas: {} },
};

export async function run(): Promise<Record<string, number>> {
  const trace = makeTrace();
  const figures: Record<string, number> = {};
  const table: string[] = [
    "| policy | makespan ÷ LB | utilisation | p50 / p99 wait 1 GPU (s) | 2 GPUs | 4 GPUs | 8 GPUs |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const [name, policy] of Object.entries(POLICIES)) {
    const t0 = performance.now();
    const r = simulate(trace, policy);
    const ms = performance.now() - t0;
    const w = (g: number) => r.waits.get(g) ?? [];
    figures[`${name}_makespan_over_lb`] = round(r.makespanMs / r.lowerBoundMs, 3);
    figures[`${name}_p99_wait_8gpu_s`] = round(percentile(w(8), 99), 0);
    if (name === "ours") figures["ours_utilisation"] = round(r.utilisation, 3);
    const cell = (g: number) => `${round(percentile(w(g), 50), 0)} / ${round(percentile(w(g), 99), 0)}`;
    table.push(`| ${name} | ${round(r.makespanMs / r.lowerBoundMs, 3)} | ${round(r.utilisation, 3)} | ${cell(1)} | ${cell(2)} | ${cell(4)} | ${cell(8)} |`);
    process.stderr.write(`${name}: simulated in ${Math.round(ms)} ms\n`);
  }
  process.stderr.write(`${table.join("\n")}\n`);
  return {
    fcfs_makespan_over_lb: figures["fcfs_makespan_over_lb"] as number,
    seed_rule_makespan_over_lb: figures["seed_rule_makespan_over_lb"] as number,
    ours_makespan_over_lb: figures["ours_makespan_over_lb"] as number,
    fcfs_p99_wait_8gpu_s: figures["fcfs_p99_wait_8gpu_s"] as number,
    seed_rule_p99_wait_8gpu_s: figures["seed_rule_p99_wait_8gpu_s"] as number,
    ours_p99_wait_8gpu_s: figures["ours_p99_wait_8gpu_s"] as number,
    ours_utilisation: figures["ours_utilisation"] as number,
  };
}
