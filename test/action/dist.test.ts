/**
 * The committed bundle, action/dist/index.js, run as the runner runs it: `node dist/index.js`
 * with the inputs as INPUT_* variables and the runner's files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
 * GITHUB_STATE), against a real vh. An ad-hoc sweep exits 0 with its outputs and summary; a
 * failing step exits 1 naming the execution and why; a pipeline is refused; a job cancelled while
 * it waits (SIGINT, as the runner sends) leaves the post step what it needs to stop the execution.
 * Also: the bundle reaches nothing the Action must not import.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAction, forbiddenInputs } from "../../action/build.js";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { parseCommandFile, writeWorkspace } from "./helpers.js";

const root = path.resolve(import.meta.dirname, "../..");
const BUNDLE = path.join(root, "action/dist/index.js");

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runBundle(env: Record<string, string>, opts: { until?: () => boolean; signal?: NodeJS.Signals } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BUNDLE], { env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/tmp", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString("utf8")));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    let timer: NodeJS.Timeout | undefined;
    if (opts.until) {
      timer = setInterval(() => {
        if (opts.until!()) {
          clearInterval(timer);
          child.kill(opts.signal ?? "SIGINT");
        }
      }, 50);
    }
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe("action/dist/index.js as the runner runs it", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  const base = tempDir("vh-action-dist-");
  const workspace = writeWorkspace(path.join(base, "ws"));
  let n = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    fs.rmSync(base, { recursive: true, force: true });
  });

  /** The inputs and fresh runner files for one step. */
  function step(inputs: Record<string, string>) {
    n += 1;
    const files = { GITHUB_OUTPUT: path.join(base, `output-${n}`), GITHUB_STEP_SUMMARY: path.join(base, `summary-${n}.md`), GITHUB_STATE: path.join(base, `state-${n}`) };
    for (const f of Object.values(files)) fs.writeFileSync(f, "");
    const env = { "INPUT_SERVER-URL": stack.vh.url, INPUT_TOKEN: stack.vh.token, INPUT_PROJECT: "demo", INPUT_ADHOC: "true", GITHUB_WORKSPACE: workspace, ...files, ...inputs };
    const read = (k: keyof typeof files) => fs.readFileSync(files[k], "utf8");
    return { env, files, read };
  }

  it("an ad-hoc sweep of two: exit 0 once both completed, execution-ids and status=completed, a summary table", async () => {
    const s = step({ INPUT_STEP: "train", INPUT_PARAMETERS: "lr=[0.1,0.2]" });
    const r = await runBundle(s.env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = parseCommandFile(s.read("GITHUB_OUTPUT"));
    expect(JSON.parse(out["execution-ids"]!)).toHaveLength(2);
    expect(out).toMatchObject({ status: "completed", "execution-counters": "[1,2]", "best-execution": "1" });
    expect(out["sweep-id"]).toMatch(/^[0-9a-f-]{36}$/);
    const summary = s.read("GITHUB_STEP_SUMMARY");
    expect(summary).toContain("| Execution | Parameters | Status | loss | epoch | accuracy | Duration |");
    expect(summary).toMatch(/\| \[#2\]\(.*\/executions\/2\) \| `lr=0\.2` \| ✅ completed \|/);
    // logs in groups; what the job printed between stop-commands markers, so its "::warning::" is not obeyed
    expect(r.stdout).toContain("::group::#1 train lr=0.1\n");
    const job = /::stop-commands::([0-9a-f-]{36})\n([\s\S]*?)\n::\1::\n/.exec(r.stdout);
    expect(job?.[2]).toContain("::warning::printed by the job");
    expect(r.stdout.replace(/::stop-commands::([0-9a-f-]{36})\n[\s\S]*?\n::\1::\n/g, "")).not.toContain("printed by the job");
    // the token is masked, and appears nowhere else
    expect(r.stdout).toContain(`::add-mask::${stack.vh.token}`);
    expect(r.stdout.split(stack.vh.token)).toHaveLength(2);
    expect(parseCommandFile(s.read("GITHUB_STATE"))).toMatchObject({ "vh-phase": "post", "vh-settled": "true" });
  });

  it("a failing step: exits 1, saying which execution failed and why", async () => {
    const s = step({ INPUT_STEP: "fail" });
    const r = await runBundle(s.env);
    expect(r.code).toBe(1);
    const errors = r.stdout.split("\n").filter((l) => l.startsWith("::error"));
    expect(errors).toHaveLength(2); // the execution's annotation, and the step's one failure
    expect(errors[1]).toMatch(/^::error::The execution did not complete\.%0A#3 fail failed: .*3.*%0ALast lines of its log:%0A  loading the data%0A  Traceback: the data is not there$/);
    expect(parseCommandFile(s.read("GITHUB_OUTPUT"))["status"]).toBe("failed");
    expect(s.read("GITHUB_STEP_SUMMARY")).toContain("❌ failed");
  });

  it("refuses a pipeline, saying the server does not run them yet", async () => {
    const s = step({ INPUT_PIPELINE: "train-and-evaluate" });
    const r = await runBundle(s.env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("::error::pipeline: the vh server cannot run pipelines yet");
  });

  it("cancelled while it waits: the post step stops the execution", async () => {
    const s = step({ INPUT_STEP: "slow" });
    const main = await runBundle(s.env, { until: () => s.read("GITHUB_STATE").includes("vh-started") });
    expect(main.signal ?? main.code).not.toBe(0);
    const state = parseCommandFile(s.read("GITHUB_STATE"));
    expect(state["vh-settled"]).toBeUndefined();
    const { counters } = JSON.parse(state["vh-started"]!) as { counters: number[] };
    const post = await runBundle({ ...s.env, "STATE_vh-phase": state["vh-phase"]!, "STATE_vh-started": state["vh-started"]! });
    expect(post.code, post.stdout).toBe(0);
    expect(post.stdout).toContain(`Stopped #${counters[0]}: the job ended before it did.`);
    await waitFor("the stop", async () => {
      const e = await stack.api<{ status: string }>("GET", `/api/v1/projects/demo/executions/${counters[0]}`);
      return e.status === "stopped" ? e : undefined;
    }, 30_000, 100);
  });

  it("reaches nothing the Action must not import (the server's adapters, the worker, the bot, the forges, the database)", async () => {
    const { inputs } = await buildAction();
    expect(inputs).toContain("app/cli/api.ts");
    expect(forbiddenInputs(inputs)).toEqual([]);
  });
});
