/**
 * The job summary, one golden file per outcome (test/action/golden/): a completed sweep as a
 * leaderboard with its best run, a failure with its last lines, a timeout, `wait: false`; and the
 * 1 MiB bound: a summary that would be larger leaves rows out and says where the rest are.
 */
import { describe, expect, it } from "vitest";
import type { ExecutionResult, RunResult } from "../../action/src/main.js";
import { renderSummary } from "../../action/src/summary.js";

const URL = "http://vh.test/api/v1/projects/demo";

function exec(counter: number, over: Partial<ExecutionResult> = {}): ExecutionResult {
  return {
    id: `00000000-0000-4000-8000-${String(counter).padStart(12, "0")}`,
    counter,
    step: "train",
    status: "completed",
    statusDetail: null,
    exitCode: 0,
    durationSeconds: 75 + counter,
    parameters: { lr: counter / 10 },
    metrics: { epoch: 9, loss: 1 / counter, accuracy: 1 - 1 / counter },
    url: `${URL}/executions/${counter}`,
    lastLines: [],
    ...over,
  };
}

function result(executions: ExecutionResult[], over: Partial<RunResult> = {}): RunResult {
  return {
    project: "demo",
    step: "train",
    sweepId: executions.length > 1 ? "5b7f0c1e-0000-4000-8000-000000000001" : null,
    url: executions.length > 1 ? `${URL}/sweeps/5b7f0c1e-0000-4000-8000-000000000001` : `${URL}/executions/${executions[0]!.counter}`,
    code: { kind: "commit", commit: "0123456789abcdef0123456789abcdef01234567" },
    executions,
    waited: true,
    timedOut: null,
    status: "completed",
    metric: { name: "loss", goal: "min" },
    best: null,
    ...over,
  };
}

describe("the job summary", () => {
  it("a completed sweep: the leaderboard, best first, and the best run", async () => {
    const r = result([exec(1), exec(2), exec(3)], { best: { counter: 3, value: 1 / 3 } });
    await expect(renderSummary(r, { runUrl: "https://github.com/o/r/actions/runs/7" })).toMatchFileSnapshot("golden/sweep-completed.md");
  });

  it("a failure: its status, detail and last lines; a | or a ``` in them cannot break the table or the block", async () => {
    const failed = exec(2, {
      status: "failed",
      statusDetail: "exit code 3",
      exitCode: 3,
      parameters: { lr: "a|b" },
      metrics: {},
      lastLines: ["loading the data", "```", "Traceback: <the data> is not there"],
    });
    const r = result([exec(1, { parameters: { lr: "0.1" } }), failed], { status: "failed", best: { counter: 1, value: 1 } });
    await expect(renderSummary(r)).toMatchFileSnapshot("golden/sweep-failed.md");
  });

  it("a timeout, and wait: false", async () => {
    const timedOut = result([exec(4, { status: "stopping", exitCode: null, durationSeconds: null, metrics: {} })], { status: "timed-out", timedOut: { minutes: 30, stopped: [4] } });
    await expect(renderSummary(timedOut)).toMatchFileSnapshot("golden/timed-out.md");
    const started = result([exec(5, { status: "queued", durationSeconds: null, metrics: {} }), exec(6, { status: "queued", durationSeconds: null, metrics: {} })], {
      status: "started",
      waited: false,
      code: { kind: "adhoc", sha256: "f".repeat(64) },
    });
    await expect(renderSummary(started)).toMatchFileSnapshot("golden/started.md");
  });

  it("stays within the bound: rows left out are counted, with where to see them", () => {
    const many = Array.from({ length: 400 }, (_v, i) => exec(i + 1, { parameters: { note: "x".repeat(500) } }));
    const md = renderSummary(result(many), { maxBytes: 20_000 });
    expect(Buffer.byteLength(md)).toBeLessThanOrEqual(20_000);
    expect(md).toMatch(/… and \d+ more \(the summary has room for \d+\): see \[the sweep\]\(http:\/\/vh\.test\/api\/v1\/projects\/demo\/sweeps\//);
    // and the default bound is below GitHub's 1 MiB
    const big = renderSummary(result(Array.from({ length: 20_000 }, (_v, i) => exec(i + 1))));
    expect(Buffer.byteLength(big)).toBeLessThan(1024 * 1024);
  });
});
