/**
 * The Action's `main` against a real vh (HTTP + worker + local runner) started here, with the
 * CLI's real packager and upload: an ad-hoc sweep runs to the end with each log in a group of its
 * own (a job's `::warning::` line shown, never obeyed), outputs and a summary made from it; a
 * failing step says which execution failed and why; the timeout stops what still runs; `wait:
 * false` returns at once; the post step stops what was started and never seen to end; `commit`
 * runs the linked repository. Then `run` itself, in-process, writing the runner's files.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../../app/cli/api.js";
import { defaultPacker, uploadIfMissing } from "../../app/cli/snapshot-upload.js";
import { failureOf, main, outputsOf, stopStarted, type MainDeps } from "../../action/src/main.js";
import { readInputs } from "../../action/src/inputs.js";
import { renderSummary } from "../../action/src/summary.js";
import { run } from "../../action/src/runner.js";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { TestRepo } from "../git/helpers.js";
import { parseCommandFile, recordingLog, writeWorkspace, YAML, TRAIN_PY } from "./helpers.js";

describe("the Action's main against a real vh", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  const base = tempDir("vh-action-main-");
  const workspace = writeWorkspace(path.join(base, "ws"));

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    fs.rmSync(base, { recursive: true, force: true });
  });

  const env = (more: Record<string, string>) => ({
    "INPUT_SERVER-URL": stack.vh.url,
    INPUT_TOKEN: stack.vh.token,
    INPUT_PROJECT: "demo",
    INPUT_ADHOC: "true",
    GITHUB_WORKSPACE: workspace,
    ...more,
  });
  function deps(state: Record<string, string> = {}) {
    const log = recordingLog();
    const client = new ApiClient({ url: stack.vh.url, token: stack.vh.token, source: "env" });
    const d: MainDeps = {
      client,
      log,
      now: () => Date.now(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      pollMs: 100,
      saveState: (name, value) => void (state[name] = value),
      pack: (dir) => defaultPacker(dir, { stderr: { write: () => true } }),
      upload: (c, pkg) => uploadIfMissing(c, pkg),
    };
    return { d, log, state, client };
  }

  it("an ad-hoc sweep: both executions to the end, each log in its group, outputs, the best one, a summary", async () => {
    const { d, log, state } = deps();
    const r = await main(readInputs(env({ INPUT_STEP: "train", INPUT_PARAMETERS: "lr=[0.1,0.2]\nepochs=2" })), d);
    expect(r.status).toBe("completed");
    expect(r.executions.map((e) => [e.counter, e.status, e.parameters])).toEqual([
      [1, "completed", { lr: 0.1, epochs: 2 }],
      [2, "completed", { lr: 0.2, epochs: 2 }],
    ]);
    expect(r.executions.map((e) => e.metrics)).toEqual([
      { epoch: 1, loss: 1.3333, accuracy: 0.8667 },
      { epoch: 1, loss: 2.3333, accuracy: 0.7667 },
    ]);
    expect(r.metric).toEqual({ name: "loss", goal: "min" });
    expect(r.best).toEqual({ counter: 1, value: 1.3333 });
    // The project was made (adhoc), the workspace uploaded without its ignored folder.
    const text = log.text();
    expect(text).toContain("info: Created project demo.");
    expect(text).toMatch(/info: Uploaded the workspace \(4 files, \d+ bytes\)/);
    // Each execution's lines between its group's markers, the job's own "::warning::" as a plain line.
    const groups = log.entries.flatMap((e, i) => (e.kind === "group" ? [i] : []));
    expect(groups.map((i) => log.entries[i])).toEqual([
      { kind: "group", text: "#1 train lr=0.1 epochs=2" },
      { kind: "group", text: "#2 train lr=0.2 epochs=2" },
    ]);
    const first = log.entries.slice(groups[0]! + 1, log.entries.findIndex((e) => e.kind === "endgroup"));
    expect(first.every((e) => e.kind === "verbatim")).toBe(true);
    expect(first.map((e) => ("text" in e ? e.text : ""))).toEqual(expect.arrayContaining(["::warning::printed by the job", '{"epoch": 0, "loss": 1.5, "accuracy": 0.85}']));
    // vh's warning about the line that looked like JSON, once per execution, as a warning annotation
    expect(log.entries.filter((e) => e.kind === "warning").map((e) => ("title" in e ? e.title : ""))).toEqual(["vh: #1", "vh: #2"]);
    expect(log.entries.find((e) => e.kind === "warning")).toMatchObject({ text: expect.stringContaining("looked like a JSON metadata object but did not parse") });
    expect(log.entries.filter((e) => e.kind === "error")).toEqual([]);
    expect(state).toEqual({ "vh-started": JSON.stringify({ project: "demo", counters: [1, 2] }), "vh-settled": "true" });

    const out = outputsOf(r);
    expect(JSON.parse(out["execution-ids"]!)).toEqual(r.executions.map((e) => e.id));
    expect(out).toMatchObject({ status: "completed", "best-execution": "1", "execution-counters": "[1,2]", url: `${stack.vh.url}/api/v1/projects/demo/sweeps/${r.sweepId}` });
    expect(JSON.parse(out["metrics"]!)).toEqual({ "1": r.executions[0]!.metrics, "2": r.executions[1]!.metrics });
    expect(failureOf(r)).toBeNull();
    const sweep = await stack.api<{ executions: { id: string }[] }>("GET", `/api/v1/projects/demo/sweeps/${r.sweepId}`);
    expect(sweep.executions.map((e) => e.id)).toEqual(r.executions.map((e) => e.id));
    const md = renderSummary(r);
    expect(md).toContain("### vh: `train` · grid sweep of 2 — All 2 executions completed");
    expect(md).toContain(`| [#1](${stack.vh.url}/api/v1/projects/demo/executions/1) | \`lr=0.1\` \`epochs=2\` | ✅ completed | 1.333 | 1 | 0.8667 |`);
    expect(md).toContain("**Best:** [#1]");
  });

  it("a failing step: says which execution failed and why (its exit code, its last lines)", async () => {
    const { d, log } = deps();
    const r = await main(readInputs(env({ INPUT_STEP: "fail" })), d);
    expect(r.sweepId).toBeNull();
    expect(r.status).toBe("failed");
    const failure = failureOf(r)!;
    expect(failure.split("\n")[0]).toBe("The execution did not complete.");
    expect(failure).toMatch(/^#3 fail failed: .*3.*\.$/m);
    expect(failure).toContain("Last lines of its log:\n  loading the data\n  Traceback: the data is not there");
    const [error] = log.entries.filter((e) => e.kind === "error");
    expect(error).toMatchObject({ title: "vh: #3 fail failed" });
    expect(outputsOf(r)).not.toHaveProperty("sweep-id");
    expect(renderSummary(r)).toContain("<details><summary>#3 fail failed:");
  });

  it("refuses before uploading what the server would refuse, naming the problem", async () => {
    const { d } = deps();
    await expect(main(readInputs(env({ INPUT_STEP: "trian" })), d)).rejects.toThrow("Did you mean `train`?");
    await expect(main(readInputs(env({ INPUT_STEP: "train", INPUT_PARAMETERS: "epochs=[1,many]" })), d)).rejects.toThrow(/epochs/);
  });

  it("timeout-minutes: stops waiting, stops what still runs, and says so", async () => {
    const { d } = deps();
    const r = await main(readInputs(env({ INPUT_STEP: "slow", "INPUT_TIMEOUT-MINUTES": "0.03" })), d);
    expect(r.status).toBe("timed-out");
    const counter = r.executions[0]!.counter;
    expect(r.timedOut).toEqual({ minutes: 0.03, stopped: [counter] });
    expect(failureOf(r)).toBe(`Timed out after 0.03 minutes (timeout-minutes): #${counter} had not ended and was asked to stop.`);
    await waitFor("the stop", async () => {
      const e = await stack.api<{ status: string }>("GET", `/api/v1/projects/demo/executions/${counter}`);
      return e.status === "stopped" ? e : undefined;
    }, 30_000, 100);
  });

  it("wait: false returns at once; the post step stops what was started and never seen to end", async () => {
    const { d, state, client } = deps();
    const r = await main(readInputs(env({ INPUT_STEP: "slow", INPUT_WAIT: "false" })), d);
    expect(r).toMatchObject({ status: "started", waited: false, best: null });
    expect(failureOf(r)).toBeNull();
    expect(renderSummary(r)).toContain("— Started 1 execution");
    const counter = r.executions[0]!.counter;
    // settled (wait: false): the post step leaves it running
    const log = recordingLog();
    expect(await stopStarted({ started: state["vh-started"]!, settled: true }, { client, log })).toEqual([]);
    // as after a cancelled job (the main step never settled): stopped, and a second post is harmless
    expect(await stopStarted({ started: state["vh-started"]!, settled: false }, { client, log })).toEqual([counter]);
    await waitFor("the stop", async () => {
      const e = await stack.api<{ status: string }>("GET", `/api/v1/projects/demo/executions/${counter}`);
      return e.status === "stopped" ? e : undefined;
    }, 30_000, 100);
    expect(await stopStarted({ started: state["vh-started"]!, settled: false }, { client, log })).toEqual([]);
  });

  it("commit: runs the project's linked repository at that commit", async () => {
    const served = tempDir("vh-action-git-");
    try {
      const repo = new TestRepo(served, "linked");
      const head = repo.commit({ "valohai.yaml": YAML, "train.py": TRAIN_PY }, "first");
      await stack.api("POST", "/api/v1/repos", { url: repo.fileUrl, project: "linked" });
      const { d } = deps();
      const r = await main(readInputs({ ...env({ INPUT_STEP: "train", INPUT_PROJECT: "linked", INPUT_PARAMETERS: "lr=0.3" }), INPUT_ADHOC: "false", GITHUB_SHA: head }), d);
      expect(r.status).toBe("completed");
      const e = await stack.api<{ code: { kind: string; commit: string } }>("GET", `/api/v1/projects/linked/executions/${r.executions[0]!.counter}`);
      expect(e.code).toMatchObject({ kind: "git", commit: head });
      expect(renderSummary(r)).toContain(`commit \`${head.slice(0, 12)}\``);
      const { d: d2 } = deps();
      await expect(main(readInputs({ ...env({ INPUT_STEP: "train", INPUT_PROJECT: "demo" }), INPUT_ADHOC: "false", GITHUB_SHA: head }), d2)).rejects.toThrow("Project demo is linked to no repository");
    } finally {
      fs.rmSync(served, { recursive: true, force: true });
    }
  });

  it("run(): the runner's protocol in-process: outputs and summary files, the token masked, one failure", async () => {
    const output = path.join(base, "output");
    const summary = path.join(base, "summary.md");
    fs.writeFileSync(output, "");
    fs.writeFileSync(summary, "");
    const written: string[] = [];
    const saved = { GITHUB_OUTPUT: process.env["GITHUB_OUTPUT"], GITHUB_STEP_SUMMARY: process.env["GITHUB_STEP_SUMMARY"] };
    process.env["GITHUB_OUTPUT"] = output;
    process.env["GITHUB_STEP_SUMMARY"] = summary;
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((s) => (written.push(String(s)), true));
    try {
      await run({ ...env({ INPUT_STEP: "fail" }), GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary });
    } finally {
      spy.mockRestore();
      Object.assign(process.env, saved);
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    }
    expect(process.exitCode).toBe(1);
    process.exitCode = 0;
    const stdout = written.join("");
    expect(stdout).toContain(`::add-mask::${stack.vh.token}`);
    expect(stdout.match(/^::error::/gm)).toHaveLength(1);
    expect(stdout).toMatch(/^::error::The execution did not complete\.%0A#\d+ fail failed: /m);
    expect(stdout).toMatch(/::stop-commands::([0-9a-f-]{36})\n(?:.*\n)*?::\1::\n/);
    const outputs = parseCommandFile(fs.readFileSync(output, "utf8"));
    expect(outputs["status"]).toBe("failed");
    expect(JSON.parse(outputs["execution-ids"]!)).toHaveLength(1);
    expect(fs.readFileSync(summary, "utf8")).toContain("| Execution | Parameters | Status | Duration |");
  });
});
