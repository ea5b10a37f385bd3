/**
 * Every kind of sweep end to end, against a real server with its worker and local runner running
 * real processes: max parallel holding the rest (never more running at once, the waiting ones
 * queued as slots free); a seeded random search drawn the same twice; a Bayesian search growing
 * to its count through the execution-ended path; ASHA stopping the runs whose metric falls behind
 * while they print it; a step's stop-condition ending a run early as completed; a task's target
 * value stopping the rest of the sweep; task blueprints; and refusals that write nothing.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";

const YAML = `
- step:
    name: quick
    image: python:3.12
    command: python3 quick.py {parameters}
    parameters:
      - name: q
        type: float
        default: 0.5
- step:
    name: sleepy
    image: python:3.12
    command: "sleep 0.6 && echo done"
    parameters:
      - name: n
        type: integer
        default: 0
- step:
    name: curve
    image: python:3.12
    command: python3 curve.py {parameters}
    parameters:
      - name: q
        type: float
        default: 0.5
- step:
    name: stopper
    image: python:3.12
    command: python3 stopper.py
    stop-condition: loss < 0.3
- task:
    name: search
    step: quick
    type: random_search
    execution-count: 3
    parameters:
      - name: q
        style: random
        rules: {min: 0, max: 1}
- task:
    name: group
    step: quick
    type: distributed
    parameters:
      - name: q
        style: single
        rules: {value: 1}
`;

const QUICK = `import sys
q = float(sys.argv[1].split("=", 1)[1])
print('{"acc": %r}' % q, flush=True)
`;
const CURVE = `import sys, time, math
q = float(sys.argv[1].split("=", 1)[1])
for e in range(1, 21):
    print('{"epoch": %d, "acc": %r}' % (e, q * (1 - math.exp(-e / 2))), flush=True)
    time.sleep(0.3)
`;
const STOPPER = `import time
for e in range(1, 51):
    print('{"epoch": %d, "loss": %r}' % (e, 1.0 / e), flush=True)
    time.sleep(0.2)
`;

type Exec = { id: string; counter: number; status: string; statusDetail: string | null; parameters: Record<string, unknown>; metadataLatest?: Record<string, unknown> };
type SweepJson = { id: string; kind: string; planned: number; stoppedReason: string | null; definition: Record<string, unknown> | null; executions: Exec[] };
type Failure = Error & { status: number; body: string };

const TERMINAL = ["completed", "failed", "error", "stopped", "lost"];
const num = (v: unknown) => (typeof v === "object" && v !== null && "value" in v ? Number((v as { value: unknown }).value) : Number(v));

describe("sweeps of every kind", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;
  const dir = tempDir("vh-sweep-kinds-");

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, env: { VH_SWEEP_CAP: "1000" } });
    const c = path.join(dir, "code");
    fs.mkdirSync(c);
    fs.writeFileSync(path.join(c, "valohai.yaml"), YAML);
    fs.writeFileSync(path.join(c, "quick.py"), QUICK);
    fs.writeFileSync(path.join(c, "curve.py"), CURVE);
    fs.writeFileSync(path.join(c, "stopper.py"), STOPPER);
    code = await uploadSnapshot(stack, c);
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const sweep = (body: Record<string, unknown>) => stack.api<SweepJson>("POST", "/api/v1/projects/demo/sweeps", { code, ...body });
  const read = (id: string) => stack.api<SweepJson>("GET", `/api/v1/projects/demo/sweeps/${id}`);
  const settled = (id: string, n: number, ms = 60_000) =>
    waitFor(`sweep ${id} to end with ${n} executions`, async () => {
      const s = await read(id);
      return s.executions.length === n && s.executions.every((e) => TERMINAL.includes(e.status)) ? s : undefined;
    }, ms, 200);
  const refusal = async (p: Promise<unknown>) => {
    const err = (await p.then(() => null, (e: unknown) => e)) as Failure | null;
    if (!err) throw new Error("expected a refusal");
    return { status: err.status, ...(JSON.parse(err.body) as { error: { code: string; message: string } }).error };
  };

  it("max parallel: the rest wait as created, are queued as slots free, and never more run at once", async () => {
    const made = await sweep({ step: "sleepy", parameters: { n: [1, 2, 3, 4, 5] }, task: { maxParallel: 2 } });
    // The first two may already be placed by the time the answer is written; the rest wait.
    expect(made.executions.map((e) => (e.status === "created" ? "created" : "live"))).toEqual(["live", "live", "created", "created", "created"]);
    expect(made.executions[2]!.statusDetail).toBe("Waiting for a slot: at most 2 of this sweep run at once (max parallel).");
    const done = await settled(made.id, 5);
    expect(done.executions.map((e) => e.status)).toEqual(Array(5).fill("completed"));
    const ids = done.executions.map((e) => e.id);
    const hist = await db.sql<{ execution_id: string; status: string; reason: string | null; at: Date }[]>`
      select execution_id, status, reason, at from execution_status_history where execution_id = any(${ids}::uuid[]) order by id`;
    // Live from queued to the end: at no moment more than two.
    const spans = ids.map((id) => {
      const h = hist.filter((r) => r.execution_id === id);
      return [h.find((r) => r.status === "queued")!.at.getTime(), h.find((r) => TERMINAL.includes(r.status))!.at.getTime()] as const;
    });
    for (const [start] of spans) expect(spans.filter(([s, e]) => s <= start && start < e).length).toBeLessThanOrEqual(2);
    const third = hist.filter((r) => r.execution_id === ids[2]);
    expect(third.map((r) => r.status).slice(0, 2)).toEqual(["created", "queued"]);
    expect(third[1]!.reason).toBe("A slot of the sweep freed (max parallel).");
  }, 90_000);

  it("a seeded random search draws each execution's values, the same again for the same seed", async () => {
    const body = { step: "quick", parameters: { q: { style: "random", distribution: "uniform", min: 0.2, max: 0.4 } }, task: { type: "random_search", count: 4, seed: 11 } };
    const a = await sweep(body);
    const b = await sweep(body);
    expect(a.kind).toBe("random");
    const qs = a.executions.map((e) => num(e.parameters["q"]));
    expect(qs).toHaveLength(4);
    for (const q of qs) expect(q).toBeGreaterThanOrEqual(0.2), expect(q).toBeLessThanOrEqual(0.4);
    expect(new Set(qs).size).toBe(4);
    expect(b.executions.map((e) => num(e.parameters["q"]))).toEqual(qs);
    const c = await sweep({ ...body, task: { ...body.task, seed: 12 } });
    expect(c.executions.map((e) => num(e.parameters["q"]))).not.toEqual(qs);
  });

  it("a Bayesian search grows to its count as executions end, each point recorded", async () => {
    const made = await sweep({
      step: "quick",
      parameters: { q: { style: "random", distribution: "uniform", min: 0, max: 1 } },
      task: { type: "bayesian_tpe", count: 6, initialRandom: 2, maxParallel: 2, target: { metric: "acc", direction: "max" }, seed: 5 },
    });
    expect(made.executions).toHaveLength(2);
    expect(made.planned).toBe(6);
    const done = await settled(made.id, 6);
    expect(done.executions.map((e) => e.status)).toEqual(Array(6).fill("completed"));
    for (const e of done.executions) expect(num(e.parameters["q"])).toBeGreaterThanOrEqual(0), expect(num(e.parameters["q"])).toBeLessThanOrEqual(1);
    const rows = await db.sql<{ position: number; point: Record<string, string> }[]>`select position, point from sweep_executions where sweep_id = ${made.id} order by position`;
    expect(rows.map((r) => r.position)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rows.map((r) => Number(r.point["q"]))).toEqual(done.executions.map((e) => num(e.parameters["q"])));
  }, 90_000);

  it("ASHA stops the runs whose metric falls behind while they print it, and says why", async () => {
    const made = await sweep({
      step: "curve",
      parameters: { q: [0.9, 0.95, 0.2, 0.1, 0.3, 0.15] },
      task: { maxParallel: 2, target: { metric: "acc", direction: "max" }, earlyStopping: { rule: "asha", gracePeriod: 1, reductionFactor: 2 } },
    });
    const done = await settled(made.id, 6, 90_000);
    const [good1, good2, ...bad] = done.executions;
    expect([good1!.status, good2!.status]).toEqual(["completed", "completed"]);
    const stopped = bad.filter((e) => e.status === "stopped");
    expect(stopped.length).toBeGreaterThanOrEqual(2);
    for (const e of stopped) expect(e.statusDetail).toMatch(/^Early-stopped: ASHA: acc /);
    const causes = await db.sql<{ stop_cause: string | null }[]>`select stop_cause from executions where id = any(${stopped.map((e) => e.id)}::uuid[])`;
    expect(causes.every((c) => c.stop_cause === "early-stop")).toBe(true);
    // Stopped early: fewer epochs printed than the 20 of a full run (6 s: room for the early-stop
    // check's coalescing second and a loaded machine's queue).
    for (const e of stopped) expect(num(e.metadataLatest?.["epoch"])).toBeLessThan(20);
  }, 120_000);

  it("a step's stop-condition ends the run as completed once it holds", async () => {
    const made = await sweep({ step: "stopper", parameters: {} });
    const done = await settled(made.id, 1);
    const e = done.executions[0]!;
    expect(e.status).toBe("completed");
    expect(e.statusDetail).toMatch(/^The step's stop-condition `loss < 0.3` held \(metadata line \d+\)\.$/);
    expect(num(e.metadataLatest?.["epoch"])).toBeLessThan(20);
    expect(num(e.metadataLatest?.["loss"])).toBeLessThan(0.3);
  }, 60_000);

  it("a target value reached stops the rest of the sweep, with the reason on the sweep", async () => {
    const made = await sweep({ step: "quick", parameters: { q: [0.1, 0.9, 0.2, 0.3] }, task: { maxParallel: 1, target: { metric: "acc", direction: "max", value: 0.8 } } });
    const done = await settled(made.id, 4);
    expect(done.executions.map((e) => e.status)).toEqual(["completed", "completed", "stopped", "stopped"]);
    expect(done.stoppedReason).toBe(`Target reached: #${done.executions[1]!.counter} has acc 0.9 (target ≥ 0.8).`);
    expect(done.executions[2]!.statusDetail).toBe(`The sweep stopped: ${done.stoppedReason}`);
  }, 60_000);

  it("runs a task blueprint; refuses a distributed one and an unknown name", async () => {
    const made = await sweep({ blueprint: "search" });
    expect(made.kind).toBe("random");
    expect(made.executions).toHaveLength(3);
    expect(made.definition).toMatchObject({ blueprint: "search", count: 3 });
    const dist = await refusal(sweep({ blueprint: "group" }));
    expect(dist).toMatchObject({ status: 400, code: "bad_request" });
    expect(dist.message).toMatch(/^Task "group" \(valohai\.yaml:\d+:\d+\) is a distributed task/);
    const unknown = await refusal(sweep({ blueprint: "nope" }));
    expect(unknown).toMatchObject({ status: 404, message: 'valohai.yaml has no task blueprint "nope". Task blueprints: search, group.' });
  });

  it("refuses, writing nothing: a million-point grid (with its count), a Bayesian search without a target, bad rules", async () => {
    const [before] = await db.sql<{ n: number }[]>`select count(*)::int as n from executions`;
    const big = await refusal(sweep({ step: "quick", parameters: { q: { style: "linear", start: 1, end: 1000, step: 1 }, n: { style: "linear", start: 1, end: 1000, step: 1 } } }));
    expect(big).toMatchObject({ status: 413, code: "too_large", message: "That sweep would make 1,000,000 executions; the limit is 1000 (VH_SWEEP_CAP). Use fewer values, or split it into several sweeps." });
    const tpe = await refusal(sweep({ step: "quick", parameters: { q: { style: "random", distribution: "uniform", min: 0, max: 1 } }, task: { type: "bayesian", count: 5 } }));
    expect(tpe).toMatchObject({ status: 400, message: "A Bayesian search needs the metric to optimise, e.g. --optimize accuracy:max." });
    const bad = await refusal(sweep({ step: "quick", parameters: { q: { style: "logspace", start: 0, end: 1, count: 0 } } }));
    expect(bad.message).toBe("Parameter q: logspace needs a whole count of 1 or more (got 0).");
    const [after] = await db.sql<{ n: number }[]>`select count(*)::int as n from executions`;
    expect(after!.n).toBe(before!.n);
  });
});
