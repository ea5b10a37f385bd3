/**
 * Pipelines end to end, against a real server with its worker and local runner running real
 * processes: a three-node pipeline whose output, parameter, metadata and input edges carry files
 * and values; a task node (a sweep inside the pipeline) feeding its best execution's output
 * forward; reuse of unchanged nodes on a second run (and `reuse: false` forcing them); on-error;
 * node actions (stop-pipeline); require-approval paused until approved; and refusals at creation
 * that name the node and its line (a deployment node, a cycle, an unknown --param).
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";

const OUT = '"${VH_OUTPUTS_DIR:-/valohai/outputs}"';
const IN = '"${VH_INPUTS_DIR:-/valohai/inputs}"';

const YAML = `
- step:
    name: prep
    image: python:3.12
    command: >-
      printf 'a,b\\n1,2\\n' > ${OUT}/data.csv && printf 'skip' > ${OUT}/notes.txt && echo '{"rows": 42}'
    parameters:
      - name: seed
        type: integer
        default: 1
- step:
    name: train
    image: python:3.12
    command: >-
      (cat ${IN}/data/* && echo "rows={parameter-value:rows} seed={parameter-value:seed}") > ${OUT}/model.txt && echo '{"acc": 0.9}'
    parameters:
      - name: rows
        type: integer
        default: 0
      - name: seed
        type: integer
        default: 0
    inputs:
      - name: data
- step:
    name: evaluate
    image: python:3.12
    command: >-
      cat ${IN}/model/model.txt ${IN}/data/* > ${OUT}/seen.txt && echo '{"score": 1}'
    inputs:
      - name: model
      - name: data
- step:
    name: quick
    image: python:3.12
    command: >-
      python3 quick.py {parameter-value:lr}
    parameters:
      - name: lr
        type: float
        default: 0.1
- step:
    name: pick
    image: python:3.12
    command: >-
      ls ${IN}/model > ${OUT}/picked.txt
    inputs:
      - name: model
- step:
    name: fail
    image: python:3.12
    command: >-
      exit 3
- task:
    name: lrs
    step: quick
    optimization-target-metric: acc
    parameters:
      - name: lr
        style: multiple
        rules: {items: [0.1, 0.9, 0.5]}
- pipeline:
    name: three
    nodes:
      - name: prep
        type: execution
        step: prep
      - name: train
        type: execution
        step: train
      - name: evaluate
        type: execution
        step: evaluate
    edges:
      - [prep.output.*.csv, train.input.data]
      - [prep.parameter.seed, train.parameter.seed]
      - [prep.metadata.rows, train.parameter.rows]
      - [train.output.model.txt, evaluate.input.model]
      - [train.input.data, evaluate.input.data]
- pipeline:
    name: search
    nodes:
      - name: sweep
        type: task
        task: lrs
      - name: pick
        type: execution
        step: pick
    edges:
      - [sweep.output.*, pick.input.model]
- pipeline:
    name: failing
    nodes:
      - name: bad
        type: execution
        step: fail
      - name: after
        type: execution
        step: pick
    edges:
      - [bad.output.*, after.input.model]
- pipeline:
    name: guarded
    nodes:
      - name: prep
        type: execution
        step: prep
        actions:
          - when: node-complete
            if: metadata.rows > 40
            then: stop-pipeline
      - name: late
        type: execution
        step: quick
    edges:
      - [prep.parameter.seed, late.parameter.lr]
- pipeline:
    name: approval
    nodes:
      - name: prep
        type: execution
        step: prep
      - name: gated
        type: execution
        step: quick
        actions:
          - when: node-starting
            then: require-approval
    edges:
      - [prep.parameter.seed, gated.parameter.lr]
- pipeline:
    name: deploys
    nodes:
      - name: prep
        type: execution
        step: prep
      - name: ship
        type: deployment
        deployment: prod
    edges: []
- pipeline:
    name: loop
    nodes:
      - name: a
        type: execution
        step: prep
      - name: b
        type: execution
        step: prep
    edges:
      - [a.parameter.seed, b.parameter.seed]
      - [b.parameter.seed, a.parameter.seed]
`;

/** Prints its lr as the metric and writes it to model-LR.txt. */
const QUICK = `import json, os, sys
lr = sys.argv[1]
open(os.path.join(os.environ.get("VH_OUTPUTS_DIR", "/valohai/outputs"), "model-%s.txt" % lr), "w").write(lr)
print(json.dumps({"acc": float(lr)}), flush=True)
`;

type Node = { name: string; status: string; detail: string | null; execution: { id: string; counter: number; status: string } | null; reusedFrom: { counter: number } | null; sweep: { id: string; executions: { counter: number; status: string }[] } | null };
type Run = { id: string; counter: number; name: string; status: string; statusDetail: string | null; nodes: Node[]; mermaid: string };
type Failure = Error & { status: number; body: string };

describe("pipelines", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;
  const dir = tempDir("vh-pipelines-");

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
    fs.mkdirSync(path.join(dir, "code"));
    fs.writeFileSync(path.join(dir, "code", "valohai.yaml"), YAML);
    fs.writeFileSync(path.join(dir, "code", "quick.py"), QUICK);
    code = await uploadSnapshot(stack, path.join(dir, "code"));
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = (body: Record<string, unknown>) => stack.api<Run>("POST", "/api/v1/projects/demo/pipelines", { code, ...body });
  const read = (n: number) => stack.api<Run>("GET", `/api/v1/projects/demo/pipelines/${n}`);
  const ended = (n: number, ms = 60_000) => waitFor(`pipeline =${n} to end`, async () => {
    const r = await read(n);
    return r.status !== "running" ? r : undefined;
  }, ms, 200);
  const output = async (executionId: string, name: string) => {
    const [d] = await db.sql<{ id: string }[]>`select id from datums where execution_id = ${executionId} and name = ${name} order by created_at desc limit 1`;
    if (!d) throw new Error(`no output ${name}`);
    const res = await stack.raw("GET", `/api/v1/data/${d.id}/download`);
    return res.text();
  };
  const refusal = async (p: Promise<unknown>) => {
    const err = (await p.then(() => null, (e: unknown) => e)) as Failure | null;
    if (!err) throw new Error("expected a refusal");
    return { status: err.status, ...(JSON.parse(err.body) as { error: { code: string; message: string } }).error };
  };

  let first: Run;

  it("runs three nodes in order, carrying files, parameters, metadata and inputs along the edges", async () => {
    const made = await start({ name: "three", nodeParameters: { "prep.seed": 7 } });
    expect(made.nodes.map((n) => n.name)).toEqual(["prep", "train", "evaluate"]);
    first = await ended(made.counter, 90_000);
    expect(first.status).toBe("completed");
    expect(first.nodes.map((n) => n.status)).toEqual(["completed", "completed", "completed"]);
    const [prep, train, evaluate] = first.nodes;
    const t = await stack.api<{ parameters: Record<string, unknown>; inputs: { name: string; file: string }[] }>("GET", `/api/v1/projects/demo/executions/${train!.execution!.counter}`);
    expect(t.parameters).toEqual({ rows: 42, seed: 7 });
    expect(t.inputs.map((i) => `${i.name}/${i.file}`)).toEqual(["data/data.csv"]); // *.csv only: notes.txt stayed behind
    expect(await output(train!.execution!.id, "model.txt")).toBe("a,b\n1,2\nrows=42 seed=7\n");
    expect(await output(evaluate!.execution!.id, "seen.txt")).toBe("a,b\n1,2\nrows=42 seed=7\na,b\n1,2\n");
    expect(prep!.execution!.status).toBe("completed");
    // Nodes started when their inputs were ready: each after the one before it ended.
    const times = await db.sql<{ name: string; started_at: Date; ended_at: Date }[]>`select name, started_at, ended_at from pipeline_nodes where pipeline_id = ${first.id} order by position`;
    expect(times[1]!.started_at.getTime()).toBeGreaterThanOrEqual(times[0]!.ended_at.getTime() - 1000);
    expect(first.mermaid).toContain('n1 -->|"output.model.txt → input.model"| n2');
  }, 120_000);

  it("reuses unchanged nodes on a second run, and runs them all again with reuse off", async () => {
    const again = await ended((await start({ name: "three", nodeParameters: { "prep.seed": 7 } })).counter, 60_000);
    expect(again.status).toBe("completed");
    expect(again.nodes.map((n) => n.status)).toEqual(["reused", "reused", "reused"]);
    expect(again.nodes.map((n) => n.reusedFrom!.counter)).toEqual(first.nodes.map((n) => n.execution!.counter));
    expect(again.nodes[0]!.detail).toMatch(/^Reused #\d+: the same code, image, command, parameters and inputs completed before\.$/);
    // A changed parameter runs that node and what depends on it.
    const changed = await ended((await start({ name: "three", nodeParameters: { "prep.seed": 8 } })).counter, 90_000);
    expect(changed.nodes.map((n) => n.status)).toEqual(["completed", "completed", "completed"]);
    const forced = await ended((await start({ name: "three", nodeParameters: { "prep.seed": 7 }, reuse: false })).counter, 90_000);
    expect(forced.nodes.map((n) => n.status)).toEqual(["completed", "completed", "completed"]);
  }, 240_000);

  it("a task node runs its sweep and feeds its best execution's output forward", async () => {
    const run = await ended((await start({ name: "search" })).counter, 90_000);
    expect(run.status).toBe("completed");
    const [sweep, pick] = run.nodes;
    expect(sweep!.sweep!.executions).toHaveLength(3);
    expect(sweep!.detail).toMatch(/^3 of 3 completed; best #\d+\.$/);
    expect(await output(pick!.execution!.id, "picked.txt")).toBe("model-0.9.txt\n");
  }, 120_000);

  it("on-error stop-all fails the run and skips what depends on the failed node", async () => {
    const run = await ended((await start({ name: "failing" })).counter);
    expect(run.status).toBe("failed");
    expect(run.nodes.map((n) => n.status)).toEqual(["failed", "skipped"]);
    expect(run.statusDetail).toMatch(/^Failed: node "bad" failed \(#\d+ failed\.\)\.$/);
  }, 60_000);

  it("a node action stops the pipeline when its condition holds on the node's metadata", async () => {
    const run = await ended((await start({ name: "guarded" })).counter);
    expect(run.status).toBe("stopped");
    expect(run.nodes.map((n) => n.status)).toEqual(["completed", "skipped"]);
    expect(run.statusDetail).toBe('Stopped: node "prep" completed and metadata.rows > 40 held (stop-pipeline).');
  }, 60_000);

  it("require-approval pauses a node until someone approves it", async () => {
    const made = await start({ name: "approval" });
    const waiting = await waitFor("the gated node to wait", async () => {
      const r = await read(made.counter);
      return r.nodes[1]!.status === "awaiting-approval" ? r : undefined;
    }, 60_000, 200);
    expect(waiting.status).toBe("running");
    await stack.api("POST", `/api/v1/projects/demo/pipelines/${made.counter}/nodes/gated/approve`, {});
    const run = await ended(made.counter);
    // prep ran before in this file (same code and parameters): reused.
    expect(run.nodes.map((n) => n.status)).toEqual(["reused", "completed"]);
    const [row] = await db.sql<{ approved_by: string }[]>`select approved_by from pipeline_nodes where pipeline_id = ${made.id} and name = 'gated'`;
    expect(row!.approved_by).toMatch(/^admin/);
  }, 60_000);

  it("refuses at creation, naming the node and its line, and writes nothing", async () => {
    const [before] = await db.sql<{ n: number }[]>`select count(*)::int as n from pipelines`;
    const dep = await refusal(start({ name: "deploys" }));
    expect(dep).toMatchObject({ status: 400, code: "bad_request" });
    expect(dep.message).toMatch(/^Pipeline "deploys" node "ship" \(valohai\.yaml:\d+:\d+\) is a deployment node: vh does not deploy endpoints \(not supported\)/);
    const loop = await refusal(start({ name: "loop" }));
    expect(loop.message).toContain("has a cycle: a → b → a");
    const param = await refusal(start({ name: "three", nodeParameters: { "prep.sed": 1 } }));
    expect(param.message).toBe('--param prep.sed: node "prep" (step "prep") has no parameter "sed". Did you mean "seed"?');
    const none = await refusal(start({ name: "thre" }));
    expect(none).toMatchObject({ status: 404, message: 'valohai.yaml has no pipeline "thre". Did you mean "three"? Pipelines: three, search, failing, guarded, approval, deploys, loop.' });
    const [after] = await db.sql<{ n: number }[]>`select count(*)::int as n from pipelines`;
    expect(after!.n).toBe(before!.n);
  });
});
