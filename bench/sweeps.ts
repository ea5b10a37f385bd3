/**
 * sweeps (issue 13): what a sweep and a pipeline cost, in one run.
 *
 * - grid_1m_refusal_ms: a 1,000,000-point grid (`a=linear(1,1000,1) b=linear(1,1000,1)`) POSTed
 *   to a real server, until its 413 (p50 of several); grid_1m_peak_rss_mb: the peak RSS of a fresh
 *   process (node + tsx + the planner) that reads the same `/vh run` comment and plans it (refused:
 *   counted, never built).
 * - tpe_propose_p50_ms (100 completed trials), tpe_vs_random_win_rate (Branin, 20 seeds, 40
 *   trials each), asha_compute_saved and asha_best_regret (a fixed synthetic learning-curve trace):
 *   the search algorithms themselves (bench/lib/sweeps-search.ts).
 * - pipeline_100_nodes_overhead_ms: a chain of 100 nodes on a real server (worker, local runner):
 *   from a node's execution ending to its dependant node starting (its execution made and queued),
 *   p50; pipeline_node_end_to_running_ms the same to the dependant's process running (that adds
 *   vh's dispatch, issue 16's); raw_dispatch_ms graphile-worker's add_job → task in the same run,
 *   and pipeline_overhead_vs_raw the ratio (goal ≤ 10).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startStack, tempDir, waitFor } from "../test/helpers/stack.js";
import { uploadSnapshot } from "../test/helpers/snapshot.js";
import { benchPostgres, percentile, rawGraphileDispatch, round, size, SMOKE } from "./support.js";
import { ashaOnTrace, tpeProposeP50Ms, tpeVsRandomWinRate } from "./lib/sweeps-search.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const NODES = size("BENCH_PIPELINE_NODES", 100, 4);
const SEEDS = size("BENCH_TPE_SEEDS", 20, 3);

function chainYaml(n: number): string {
  const nodes = Array.from({ length: n }, (_, i) => `      - name: n${i}\n        type: execution\n        step: tick`).join("\n");
  const edges = Array.from({ length: n - 1 }, (_, i) => `      - [n${i}.parameter.i, n${i + 1}.parameter.i]`).join("\n");
  return `- step:
    name: tick
    image: python:3.12
    command: "true {parameter:i}"
    parameters:
      - name: i
        type: integer
        default: 0
- step:
    name: train
    image: python:3.12
    command: "true"
    parameters:
      - name: a
        type: integer
        default: 0
      - name: b
        type: integer
        default: 0
- pipeline:
    name: chain
    nodes:
${nodes}
    edges:
${edges}
`;
}

/** Peak RSS (MB) of a fresh process that plans the million-point comment (refused). */
function plannerPeakRss(): number {
  const script = `
    import { parseComment } from ${JSON.stringify(path.join(here, "../app/bot/commands/parse.ts"))};
    import { definitionOfRun } from ${JSON.stringify(path.join(here, "../app/sweeps/definition.ts"))};
    import { planSweep } from ${JSON.stringify(path.join(here, "../app/sweeps/plan.ts"))};
    const p = parseComment("/vh run train a=linear(1,1000,1) b=linear(1,1000,1)");
    if (p.kind !== "command" || p.command.name !== "run") throw new Error("not parsed");
    let refused = false;
    try { planSweep(definitionOfRun(p.command.rules, p.command.options), 1000); } catch (e) { refused = /1,000,000/.test(String(e.message)); }
    if (!refused) throw new Error("not refused");
    process.stdout.write(String(process.resourceUsage().maxRSS / 1024));
  `;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", cwd: path.join(here, "..") });
  if (r.status !== 0) throw new Error(`planner process failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

export async function run(): Promise<Record<string, number>> {
  const figures: Record<string, number> = {};
  figures["grid_1m_peak_rss_mb"] = round(plannerPeakRss(), 1);
  figures["tpe_propose_p50_ms"] = round(tpeProposeP50Ms({ trials: 100 }), 3);
  figures["tpe_vs_random_win_rate"] = round(tpeVsRandomWinRate({ seeds: SEEDS, trials: 40 }), 3);
  const asha = ashaOnTrace();
  figures["asha_compute_saved"] = round(asha.computeSaved, 3);
  figures["asha_best_regret"] = round(asha.bestRegret, 4);

  const pg = await benchPostgres();
  const dir = tempDir("vh-bench-sweeps-");
  try {
    const raw = await rawGraphileDispatch(pg.connectionString, SMOKE ? 3 : 50);
    const stack = await startStack({ databaseUrl: pg.connectionString, env: { VH_SWEEP_CAP: "1000" } });
    try {
      fs.writeFileSync(path.join(dir, "valohai.yaml"), chainYaml(NODES));
      await stack.api("POST", "/api/v1/projects", { name: "bench" });
      const code = await uploadSnapshot(stack, dir);
      const refusals: number[] = [];
      for (let i = 0; i < (SMOKE ? 2 : 7); i++) {
        const t0 = performance.now();
        const res = await stack.raw("POST", "/api/v1/projects/bench/sweeps", JSON.stringify({ step: "train", code, parameters: { a: { style: "linear", start: 1, end: 1000, step: 1 }, b: { style: "linear", start: 1, end: 1000, step: 1 } } }), { "content-type": "application/json" });
        await res.text();
        if (res.status !== 413) throw new Error(`the million-point sweep was answered ${res.status}`);
        refusals.push(performance.now() - t0);
      }
      figures["grid_1m_refusal_ms"] = round(percentile(refusals, 50), 2);

      const made = await stack.api<{ id: string; counter: number }>("POST", "/api/v1/projects/bench/pipelines", { name: "chain", code, reuse: false });
      const end = await waitFor("the chain to end", async () => {
        const r = await stack.api<{ status: string }>("GET", `/api/v1/projects/bench/pipelines/${made.counter}`);
        return r.status !== "running" ? r : undefined;
      }, 20 * 60_000, 200);
      if (end.status !== "completed") throw new Error(`the chain ended ${end.status}`);
      const rows = await stack.vh.database.sql<{ position: number; started_at: Date; ended: Date; running: Date }[]>`
        select n.position, n.started_at,
          (select h.at from execution_status_history h where h.execution_id = n.execution_id and h.status = 'completed' order by h.id limit 1) as ended,
          (select h.at from execution_status_history h where h.execution_id = n.execution_id and h.status = 'running' order by h.id limit 1) as running
        from pipeline_nodes n where n.pipeline_id = ${made.id} order by n.position`;
      const toStart: number[] = [];
      const toRunning: number[] = [];
      for (let i = 1; i < rows.length; i++) {
        toStart.push(rows[i]!.started_at.getTime() - rows[i - 1]!.ended.getTime());
        toRunning.push(rows[i]!.running.getTime() - rows[i - 1]!.ended.getTime());
      }
      const rawP50 = percentile(raw, 50);
      figures["pipeline_100_nodes_overhead_ms"] = round(percentile(toStart, 50), 2);
      figures["pipeline_node_end_to_running_ms"] = round(percentile(toRunning, 50), 2);
      figures["raw_dispatch_ms"] = round(rawP50, 3);
      figures["pipeline_overhead_vs_raw"] = round(percentile(toStart, 50) / rawP50, 2);
      figures["pipeline_nodes"] = NODES;
    } finally {
      await stack.stop();
    }
  } finally {
    await pg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}
