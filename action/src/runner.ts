/**
 * The thin layer between the runner and `main`: reads and checks the inputs (inputs.ts), masks
 * the token, wires @actions/core (the job log, outputs, state, summary) and the CLI's API client
 * and packaging into `main`'s deps, sets the outputs, writes the summary, and fails the step once,
 * with one readable message. The same bundle is the post step (action.yml `post:`): the main step
 * leaves `vh-phase=post` in the state, and the post step stops what the main step started and
 * never saw end.
 */
import { randomUUID } from "node:crypto";
import * as core from "@actions/core";
import { ApiClient } from "../../app/cli/api.js";
import { defaultPacker, uploadIfMissing } from "../../app/cli/snapshot-upload.js";
import { readContext, readInputs, type Env } from "./inputs.js";
import { failureOf, main, outputsOf, stopStarted, type JobLog, type MainDeps } from "./main.js";
import { renderSummary } from "./summary.js";

/** The job log through @actions/core; an execution's own lines between stop-commands markers. */
export function coreLog(write: (s: string) => void = (s) => void process.stdout.write(s)): JobLog {
  return {
    info: (line) => core.info(line),
    warning: (message, title) => core.warning(message, title ? { title } : {}),
    error: (message, title) => core.error(message, title ? { title } : {}),
    startGroup: (title) => core.startGroup(title),
    endGroup: () => core.endGroup(),
    verbatim(lines) {
      // A line a job printed could look like a workflow command (`::set-output`, `::add-mask::`):
      // between these markers the runner shows it and obeys nothing. The token is unguessable.
      const token = randomUUID();
      write(`::stop-commands::${token}\n${lines.join("\n")}\n::${token}::\n`);
    },
  };
}

/** Upload progress into the job log: plain lines (not a terminal), a line per 10 %. */
const jobLogWriter = { write: (s: string) => process.stdout.write(s), isTTY: false };

function clientOf(serverUrl: string, token: string): ApiClient {
  return new ApiClient({ url: serverUrl, token, source: "env" });
}

export async function run(env: Env = process.env): Promise<void> {
  const context = readContext(env);
  if (context.isPost) return post(env);
  // First of all: whatever happens next, the post step must know it is the post step.
  if (context.savesState) core.saveState("vh-phase", "post");
  try {
    const inputs = readInputs(env);
    core.setSecret(inputs.token);
    const log = coreLog();
    const deps: MainDeps = {
      client: clientOf(inputs.serverUrl, inputs.token),
      log,
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      saveState: (name, value) => {
        if (context.savesState) core.saveState(name, value);
      },
      pack: (dir) => defaultPacker(dir, { stderr: jobLogWriter }),
      upload: (client, pkg) => uploadIfMissing(client, pkg, { progress: jobLogWriter }),
    };
    const result = await main(inputs, deps);
    for (const [name, value] of Object.entries(outputsOf(result))) core.setOutput(name, value);
    if (context.hasSummary) await core.summary.addRaw(renderSummary(result, { runUrl: context.runUrl })).write();
    const failure = failureOf(result);
    if (!failure) return;
    if (inputs.failOnFailure) core.setFailed(failure);
    else core.warning(`${failure}\n(fail-on-failure is false: the step passes.)`, { title: "vh" });
  } catch (err) {
    core.debug((err as Error).stack ?? String(err));
    core.setFailed((err as Error).message);
  }
}

/** The post step: stops the executions the main step started and did not see end (the job was cancelled). */
async function post(env: Env): Promise<void> {
  const context = readContext(env);
  if (!context.state.started || context.state.settled) return;
  let inputs;
  try {
    inputs = readInputs(env);
  } catch {
    return;
  }
  core.setSecret(inputs.token);
  await stopStarted(context.state, { client: clientOf(inputs.serverUrl, inputs.token), log: coreLog() });
}
