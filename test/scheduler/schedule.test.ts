/**
 * The pure scheduler, one rule per test (docs/scheduler.md), plus properties checked on random
 * fleets and queues: no GPU is given twice, quotas hold, and backfill never delays a reserved job.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  pickGpus,
  schedule,
  type SchedHost,
  type SchedInput,
  type SchedJob,
  type SchedPolicy,
  type SchedRunning,
} from "../../worker/scheduler/schedule.js";

const H = 3_600_000;
const ours: SchedPolicy = { kind: "ours", escalationMs: H, quotas: {} };

function host(name: string, n: number, over: Partial<SchedHost> = {}): SchedHost {
  return { id: name, name, schedulable: true, gpus: Array.from({ length: n }, (_, i) => i), labels: {}, ...over };
}

function job(id: string, gpus: number, queuedAt = 0, over: Partial<SchedJob> = {}): SchedJob {
  return { id, gpus, queuedAt, quotaKeys: [], timeLimitS: null, ...over };
}

function run(id: string, hostId: string, gpus: number[], over: Partial<SchedRunning> = {}): SchedRunning {
  return { id, hostId, gpus, quotaKeys: [], endsBy: null, ...over };
}

function pass(over: Partial<SchedInput>) {
  return schedule({ now: 1000, queue: [], hosts: [], running: [], policy: ours, ...over });
}

describe("scheduler rules", () => {
  it("assigns GPUs in device-index order", () => {
    const out = pass({ hosts: [host("a", 4)], queue: [job("x", 1, 1), job("y", 2, 2)] });
    expect(out.placements).toEqual([
      { jobId: "x", hostId: "a", gpus: [0] },
      { jobId: "y", hostId: "a", gpus: [1, 2] },
    ]);
  });

  it("prefers a contiguous run of devices, else the lowest free indices", () => {
    expect(pickGpus([0, 2, 3, 5], 2)).toEqual([2, 3]);
    expect(pickGpus([0, 2, 4, 6], 2)).toEqual([0, 2]);
    expect(pickGpus([1], 2)).toBeNull();
    const out = pass({ hosts: [host("a", 8)], running: [run("r", "a", [0, 2, 5])], queue: [job("x", 2)] });
    expect(out.placements[0]?.gpus).toEqual([3, 4]);
  });

  it("places fewer GPUs first, then first come first served", () => {
    const out = pass({ hosts: [host("a", 2)], queue: [job("big", 2, 1), job("small-late", 1, 3), job("small-early", 1, 2)] });
    expect(out.placements.map((p) => p.jobId)).toEqual(["small-early", "small-late"]);
    expect(out.waiting.get("big")).toMatch(/2 free GPUs/);
  });

  it("escalates a job waiting longer than the escalation time to the front", () => {
    const now = 2 * H;
    const queue = [job("old-big", 2, now - H - 1), job("small", 1, now - 10)];
    const out = pass({ now, hosts: [host("a", 2)], queue });
    expect(out.placements).toEqual([{ jobId: "old-big", hostId: "a", gpus: [0, 1] }]);
    const notYet = pass({ now, hosts: [host("a", 2)], queue: [job("old-big", 2, now - H + 1), job("small", 1, now - 10)] });
    expect(notYet.placements.map((p) => p.jobId)).toEqual(["small"]);
  });

  it("orders escalated jobs among themselves by queue time, not size", () => {
    const now = 3 * H;
    const out = pass({ now, hosts: [host("a", 4)], queue: [job("e2", 1, 2), job("e1", 4, 1)] });
    expect(out.placements.map((p) => p.jobId)).toEqual(["e1"]);
  });

  it("refuses at once a request larger than any single host", () => {
    const out = pass({ hosts: [host("a", 4), host("b", 4, { schedulable: false }), host("c", 8, { schedulable: false })], queue: [job("x", 9), job("y", 8)] });
    expect(out.refusals).toEqual([{ jobId: "x", reason: "Asks for 9 GPUs, but the largest host has 8: no single host can ever run it." }]);
    // 8 fits host c once it is back: it waits, it is not refused.
    expect(out.placements).toEqual([]);
    expect(out.waiting.get("y")).toBe("waiting for 8 free GPUs on one host");
  });

  it("refuses a job whose labels no host has, and places by labels", () => {
    const hosts = [host("a", 2, { labels: { gpu: "a100" } }), host("b", 2, { labels: { gpu: "t4" } })];
    const out = pass({ hosts, queue: [job("x", 1, 0, { labels: { gpu: "t4" } }), job("y", 1, 0, { labels: { gpu: "h100" } })] });
    expect(out.placements).toEqual([{ jobId: "x", hostId: "b", gpus: [0] }]);
    expect(out.refusals[0]?.reason).toMatch(/No host matches the labels/);
  });

  it("keeps an environment's jobs on its hosts, one at a time (slots), and other jobs off them", () => {
    const hosts = [
      host("ec2-a", 1, { environment: "gpu", slots: 1 }),
      host("ec2-b", 1, { environment: "gpu", slots: 1 }),
      host("own", 4),
      // An environment with no instance up yet: not schedulable, but rule 1 counts it.
      host("environment:big", 8, { environment: "big", schedulable: false, slots: 1 }),
    ];
    const out = pass({
      hosts,
      running: [run("busy", "ec2-a", [])],
      queue: [job("e1", 0, 1, { environment: "gpu" }), job("e2", 1, 2, { environment: "gpu" }), job("plain", 1, 3), job("b", 8, 4, { environment: "big" }), job("gone", 1, 5, { environment: "nope" })],
    });
    // ec2-a runs one already: e1 goes to ec2-b, e2 waits for a slot; the plain job never lands on an environment's host.
    expect(out.placements).toEqual([
      { jobId: "e1", hostId: "ec2-b", gpus: [] },
      { jobId: "plain", hostId: "own", gpus: [0] },
    ]);
    expect(out.waiting.has("e2")).toBe(true);
    expect(out.waiting.has("b")).toBe(true);
    expect(out.refusals).toEqual([{ jobId: "gone", reason: 'No host of environment "nope" can run it (the environment is gone from VH_ENVIRONMENTS_FILE, or has no instances).' }]);
  });

  it("places CPU-only jobs (VH_GPUS=0) on a host even when every GPU is busy", () => {
    const out = pass({ hosts: [host("a", 1), host("b", 0)], running: [run("r", "a", [0]), run("c", "b", [])], queue: [job("cpu", 0)] });
    expect(out.placements).toEqual([{ jobId: "cpu", hostId: "a", gpus: [] }]);
  });

  it("uses the best-fitting host, keeping a whole host free for a large job", () => {
    const hosts = [host("a", 8), host("b", 8)];
    const out = pass({ hosts, running: [run("r", "b", [0, 1, 2, 3, 4])], queue: [job("x", 2)] });
    expect(out.placements).toEqual([{ jobId: "x", hostId: "b", gpus: [5, 6] }]);
  });

  it("never places on a host that is down or disabled", () => {
    const out = pass({ hosts: [host("a", 2, { schedulable: false })], queue: [job("x", 1), job("cpu", 0)] });
    expect(out.placements).toEqual([]);
    expect(out.refusals).toEqual([]);
  });

  it("caps concurrent GPUs per project and per team", () => {
    const policy: SchedPolicy = { ...ours, quotas: { "project:p1": 2, "team:ml": 3 } };
    const running = [run("r", "a", [0], { quotaKeys: ["project:p1", "team:ml"] })];
    const queue = [
      job("p1-a", 1, 1, { quotaKeys: ["project:p1", "team:ml"] }),
      job("p1-b", 1, 2, { quotaKeys: ["project:p1", "team:ml"] }),
      job("p2-a", 1, 3, { quotaKeys: ["project:p2", "team:ml"] }),
      job("p2-b", 1, 4, { quotaKeys: ["project:p2", "team:ml"] }),
      job("other", 2, 5, { quotaKeys: ["project:p3"] }),
    ];
    const out = pass({ policy, hosts: [host("a", 8)], running, queue });
    expect(out.placements.map((p) => p.jobId)).toEqual(["p1-a", "p2-a", "other"]);
    expect(out.waiting.get("p1-b")).toMatch(/quota project:p1: 2 of 2/);
    expect(out.waiting.get("p2-b")).toMatch(/quota team:ml: 3 of 3/);
  });

  it("reserves a host for an escalated job and keeps unbounded jobs off it", () => {
    const now = 2 * H;
    const hosts = [host("a", 4), host("b", 4)];
    const running = [run("ra", "a", [0, 1]), run("rb", "b", [0, 1, 2])];
    const queue = [job("big", 4, 0), job("small", 1, now - 5), job("small2", 1, now - 4)];
    const out = pass({ now, hosts, running, queue });
    // a has more free GPUs: it is reserved for "big"; the small jobs go to b only.
    expect(out.reservations).toEqual([{ jobId: "big", hostId: "a", shadow: null }]);
    expect(out.placements).toEqual([{ jobId: "small", hostId: "b", gpus: [3] }]);
  });

  it("backfills the reserved host with a job whose time-limit ends before the shadow time", () => {
    const now = 2 * H;
    const hosts = [host("a", 4)];
    const running = [run("r", "a", [0, 1], { endsBy: now + 600_000 })];
    const queue = [job("big", 4, 0), job("short", 1, now - 5, { timeLimitS: 300 }), job("long", 1, now - 4, { timeLimitS: 3600 }), job("free", 1, now - 3)];
    const out = pass({ now, hosts, running, queue });
    expect(out.reservations).toEqual([{ jobId: "big", hostId: "a", shadow: now + 600_000 }]);
    expect(out.placements).toEqual([{ jobId: "short", hostId: "a", gpus: [2] }]);
  });

  it("backfills GPUs the reserved job will not need, with anything", () => {
    const now = 2 * H;
    const hosts = [host("a", 8)];
    const running = [run("r", "a", [0, 1, 2, 3, 4], { endsBy: now + 600_000 })];
    const queue = [job("six", 6, 0), job("x", 1, now - 5), job("y", 1, now - 4)];
    const out = pass({ now, hosts, running, queue });
    // At the shadow time 0–7 are free; "six" takes 0–5, so 6 and 7 are spare: unbounded jobs may use them, not 5.
    expect(out.placements).toEqual([
      { jobId: "x", hostId: "a", gpus: [6] },
      { jobId: "y", hostId: "a", gpus: [7] },
    ]);
    expect(out.reservations[0]).toMatchObject({ jobId: "six", hostId: "a" });
  });

  it("keeps the previous reservation while it is valid (stable, so backfill stays provable)", () => {
    const now = 2 * H;
    const hosts = [host("a", 4), host("b", 4)];
    const running = [run("ra", "a", [0, 1, 2]), run("rb", "b", [0, 1])];
    const out = pass({ now, hosts, running, queue: [job("big", 4, 0)], reservations: [{ jobId: "big", hostId: "a" }] });
    expect(out.reservations).toEqual([{ jobId: "big", hostId: "a", shadow: null }]);
  });

  it("plain FCFS blocks at the head; the seed rule blocks only behind an escalated job", () => {
    const hosts = [host("a", 2)];
    const running = [run("r", "a", [0])];
    const fcfs = pass({ policy: { ...ours, kind: "fcfs" }, hosts, running, queue: [job("big", 2, 1), job("small", 1, 2)] });
    expect(fcfs.placements).toEqual([]);
    const seed = pass({ policy: { ...ours, kind: "seed" }, hosts, running, queue: [job("big", 2, 1), job("small", 1, 2)] });
    expect(seed.placements.map((p) => p.jobId)).toEqual(["small"]);
    const now = 2 * H;
    const seedEsc = pass({ now, policy: { ...ours, kind: "seed" }, hosts, running, queue: [job("big", 2, 1), job("small", 1, now - 1)] });
    expect(seedEsc.placements).toEqual([]);
  });

  it("stops after maxPlacements (one bounded transaction)", () => {
    const out = pass({ hosts: [host("a", 8)], queue: Array.from({ length: 5 }, (_, i) => job(`j${i}`, 1, i)), maxPlacements: 3 });
    expect(out.placements).toHaveLength(3);
  });

  it("is deterministic: the same input gives the same output", () => {
    const input: SchedInput = { now: 5 * H, hosts: [host("b", 4), host("a", 4)], running: [], queue: [job("x", 2, 1), job("y", 2, 1)], policy: ours };
    expect(schedule(input)).toEqual(schedule(input));
    expect(schedule(input).placements.map((p) => p.hostId)).toEqual(["a", "a"]);
  });
});

describe("scheduler properties", () => {
  const arb = fc.record({
    hosts: fc.array(fc.record({ n: fc.integer({ min: 0, max: 8 }), up: fc.boolean() }), { minLength: 1, maxLength: 4 }),
    jobs: fc.array(
      fc.record({ gpus: fc.constantFrom(0, 1, 1, 2, 4, 8), age: fc.integer({ min: 0, max: 3 * H }), limit: fc.option(fc.integer({ min: 60, max: 7200 })), p: fc.integer({ min: 0, max: 2 }) }),
      { maxLength: 30 },
    ),
    quota: fc.integer({ min: 1, max: 8 }),
  });

  it("never gives a GPU twice, never exceeds a quota, only uses schedulable hosts", () => {
    // The checks below run per placement and per refusal: make sure the runs had some of both.
    let placements = 0;
    let refusals = 0;
    fc.assert(
      fc.property(arb, ({ hosts, jobs, quota }) => {
        const now = 10 * H;
        const hs = hosts.map((h, i) => host(`h${i}`, h.n, { schedulable: h.up }));
        const queue = jobs.map((j, i) => job(`j${i}`, j.gpus, now - j.age, { timeLimitS: j.limit, quotaKeys: [`project:p${j.p}`] }));
        const out = schedule({ now, hosts: hs, queue, running: [], policy: { ...ours, quotas: { "project:p0": quota } } });
        const used = new Set<string>();
        const perProject = new Map<string, number>();
        placements += out.placements.length;
        refusals += out.refusals.length;
        for (const p of out.placements) {
          const h = hs.find((x) => x.id === p.hostId)!;
          expect(h.schedulable).toBe(true);
          const j = queue.find((x) => x.id === p.jobId)!;
          expect(p.gpus).toHaveLength(j.gpus);
          for (const g of p.gpus) {
            expect(h.gpus).toContain(g);
            expect(used.has(`${h.id}:${g}`)).toBe(false);
            used.add(`${h.id}:${g}`);
          }
          const k = j.quotaKeys[0]!;
          perProject.set(k, (perProject.get(k) ?? 0) + j.gpus);
        }
        expect(perProject.get("project:p0") ?? 0).toBeLessThanOrEqual(quota);
        const max = Math.max(...hs.map((h) => h.gpus.length));
        for (const r of out.refusals) expect(queue.find((j) => j.id === r.jobId)!.gpus).toBeGreaterThan(max);
      }),
      { numRuns: 300 },
    );
    expect(placements).toBeGreaterThan(0);
    expect(refusals).toBeGreaterThan(0);
  });

  it("backfill never delays a reserved job past its shadow time (runs end by their time-limits)", () => {
    // Placements of jobs that were promised a shadow time: the runs must have had some to check.
    let promisedPlacements = 0;
    fc.assert(
      fc.property(
        fc.array(fc.record({ gpus: fc.constantFrom(1, 2, 4, 8), at: fc.integer({ min: 0, max: 4 * H }), dur: fc.integer({ min: 60, max: 4 * 3600 }) }), { minLength: 5, maxLength: 40 }),
        (spec) => {
          // Virtual clock, every job bounded: worst case, each runs exactly its time-limit.
          const hosts = [host("a", 8), host("b", 8)];
          const jobs = spec.map((s, i) => ({ ...job(`j${i}`, s.gpus, s.at, { timeLimitS: s.dur }) }));
          const running: (SchedRunning & { end: number })[] = [];
          let queue: SchedJob[] = [];
          let reservations: { jobId: string; hostId: string; shadow?: number | null }[] = [];
          const promised = new Map<string, number>();
          const pending = [...jobs].sort((x, y) => x.queuedAt - y.queuedAt);
          let now = 0;
          for (let guard = 0; guard < 10_000 && (pending.length || queue.length || running.length); guard++) {
            const next = Math.min(pending[0]?.queuedAt ?? Infinity, ...running.map((r) => r.end), ...queue.map((q) => q.queuedAt + H).filter((t) => t > now));
            now = next;
            for (let i = running.length - 1; i >= 0; i--) if (running[i]!.end <= now) running.splice(i, 1);
            while (pending.length && pending[0]!.queuedAt <= now) queue.push(pending.shift()!);
            const out = schedule({ now, hosts, queue, running, reservations, policy: ours });
            reservations = out.reservations;
            for (const r of out.reservations) if (r.shadow != null && !promised.has(r.jobId)) promised.set(r.jobId, r.shadow);
            for (const p of out.placements) {
              const j = queue.find((q) => q.id === p.jobId)!;
              const bound = promised.get(j.id);
              if (bound !== undefined) {
                promisedPlacements++;
                expect(now).toBeLessThanOrEqual(bound);
              }
              running.push({ ...run(j.id, p.hostId, p.gpus, { endsBy: now + j.timeLimitS! * 1000 }), end: now + j.timeLimitS! * 1000 });
            }
            const placed = new Set(out.placements.map((p) => p.jobId));
            queue = queue.filter((q) => !placed.has(q.id));
          }
          expect(queue).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
    expect(promisedPlacements).toBeGreaterThan(0);
  });
});
