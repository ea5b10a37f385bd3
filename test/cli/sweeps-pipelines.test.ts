/**
 * The CLI's sweeps and pipelines against a real server (worker, local runner): `vh exec run STEP`
 * with a list, a distribution and the sweep options, `vh task run BLUEPRINT` and `vh task show`,
 * `vh pipeline run|show|list`, and the mistakes each answers before anything is sent.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { cliAgainst, tempDir, type CliResult } from "./helpers.js";

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
    name: prep
    image: python:3.12
    command: python3 quick.py {parameters}
    parameters:
      - name: q
        type: float
        default: 0.5
- task:
    name: search
    step: quick
    type: random_search
    execution-count: 3
    optimization-target-metric: acc
    parameters:
      - name: q
        style: random
        rules: {min: 0, max: 1}
- pipeline:
    name: chain
    nodes:
      - name: prep
        type: execution
        step: prep
      - name: train
        type: execution
        step: quick
    edges:
      - [prep.parameter.q, train.parameter.q]
`;
const QUICK = `import sys
q = float(sys.argv[1].split("=", 1)[1])
print('{"acc": %r}' % q, flush=True)
`;

describe("vh: sweeps, task blueprints and pipelines", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let vh: (args: string[]) => Promise<CliResult>;
  const dir = tempDir("vh-cli-sweeps-");

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
    fs.writeFileSync(path.join(dir, "valohai.yaml"), YAML);
    fs.writeFileSync(path.join(dir, "quick.py"), QUICK);
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
    vh = cliAgainst({ url: stack.vh.url, token: stack.vh.token }, dir);
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  const executions = (sweepId: string) =>
    db.sql<{ counter: number; status: string; status_detail: string | null; parameters: { q: number } }[]>`
      select e.counter, e.status, e.status_detail, e.parameters from sweep_executions se join executions e on e.id = se.execution_id where se.sweep_id = ${sweepId} order by se.position`;
  const sweepIdOf = (r: CliResult) => /Sweep ([0-9a-f-]{36})/.exec(r.stderr)?.[1] ?? "";

  it("exec run with a list and --max-parallel makes a grid that waits for slots", async () => {
    const r = await vh(["exec", "run", "--adhoc", "--project", "demo", "--max-parallel", "1", "--optimize", "acc:max", "quick", "--q", "[0.1,0.2,0.3]"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Sweep [0-9a-f-]{36} \(grid, 3 executions, at most 1 at once\) started\./);
    expect(r.stderr).toContain("2 wait for a slot (max parallel).");
    expect(r.stdout.trim().split("\n")).toHaveLength(3);
    const rows = await executions(sweepIdOf(r));
    expect(rows.map((e) => e.parameters.q)).toEqual([0.1, 0.2, 0.3]);
    expect(rows.slice(1).map((e) => e.status)).toEqual(["created", "created"]);
  });

  it("exec run --task-type random draws each execution's value from the distribution", async () => {
    const r = await vh(["exec", "run", "--adhoc", "--project", "demo", "--task-type", "random", "--execution-count", "4", "quick", "--q", "uniform(0.1, 0.2)"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\(random, 4 executions\) started\./);
    const qs = (await executions(sweepIdOf(r))).map((e) => e.parameters.q);
    expect(qs).toHaveLength(4);
    for (const q of qs) expect(q).toBeGreaterThanOrEqual(0.1), expect(q).toBeLessThanOrEqual(0.2);
  });

  it("answers a bad rule or option before anything is sent", async () => {
    const [before] = await db.sql<{ n: number }[]>`select count(*)::int as n from executions`;
    const bad = await vh(["exec", "run", "--adhoc", "--project", "demo", "quick", "--q", "logspace(1,2)"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("`q=logspace(1,2)`: logspace takes (start, end, count[, base]); 2 arguments were given.");
    const es = await vh(["exec", "run", "--adhoc", "--project", "demo", "--early-stop", "asha", "quick", "--q", "[1,2]"]);
    expect(es.code).toBe(2);
    expect(es.stderr).toContain("--early-stop watches the --optimize metric");
    const watch = await vh(["exec", "run", "--adhoc", "--project", "demo", "--watch", "quick", "--q", "[1,2]"]);
    expect(watch.code).toBe(2);
    const [after] = await db.sql<{ n: number }[]>`select count(*)::int as n from executions`;
    expect(after!.n).toBe(before!.n);
  });

  it("task run starts a blueprint; task show ranks it by its target once it ran", async () => {
    const r = await vh(["task", "run", "search", "--adhoc", "--project", "demo"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\(random, 3 executions\) started\./);
    const id = sweepIdOf(r);
    await waitFor("the blueprint's executions to end", async () => ((await executions(id)).every((e) => e.status === "completed") ? true : undefined), 60_000, 200);
    const show = await vh(["task", "show", id, "--project", "demo"]);
    expect(show.code, show.stderr).toBe(0);
    const lines = show.stdout.trim().split("\n");
    expect(lines[0]).toBe(`Sweep ${id}: random of step quick, 3 of 3 executions, ranked by acc (max)`);
    const accs = lines.slice(1).map((l) => Number(/acc=([\d.]+)/.exec(l)![1]));
    expect(accs).toEqual([...accs].sort((a, b) => b - a));
  }, 90_000);

  it("pipeline run, show and list", async () => {
    const r = await vh(["pipeline", "run", "chain", "--adhoc", "--project", "demo", "--param", "prep.q=0.25"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("Pipeline =1 (chain) started.");
    await waitFor("the pipeline to end", async () => {
      const [p] = await db.sql<{ status: string }[]>`select status from pipelines where counter = 1`;
      return p && p.status !== "running" ? true : undefined;
    }, 60_000, 200);
    const show = await vh(["pipeline", "show", "=1", "--project", "demo"]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^Pipeline =1 chain: completed/);
    expect(show.stdout).toMatch(/\nprep\tcompleted\t#\d+ completed\n/);
    expect(show.stdout, show.stdout).toMatch(/\ntrain\tcompleted\t#\d+ completed\n/);
    expect(show.stdout).toContain("  prep.parameter.q → train.parameter.q");
    const [train] = await db.sql<{ parameters: { q: number } }[]>`
      select e.parameters from pipeline_nodes n join executions e on e.id = n.execution_id where n.name = 'train'`;
    expect(train!.parameters.q).toBe(0.25);
    const list = await vh(["pipeline", "list", "--project", "demo"]);
    expect(list.stdout).toMatch(/^=1\tchain\tcompleted\t/);
    const bad = await vh(["pipeline", "run", "chain", "--adhoc", "--project", "demo", "--param", "q=1"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--param takes NODE.PARAMETER=VALUE, e.g. --param train.epochs=5, not \"q=1\".");
  }, 90_000);
});
