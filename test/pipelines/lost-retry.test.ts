/**
 * A pipeline node whose execution ends `lost` and is queued again by policy (a lost host, a spot
 * interruption) has not ended: the pipeline's advance, which the lost end itself wakes, must not
 * fail the node in the moment between `lost` and the new attempt being queued. The node follows
 * the next attempt to its end.
 *
 * The moment is held open here: with the control plane away, the execution is moved to `lost` as
 * the supervisor does and the pipeline's advance is run; only then comes the re-queue
 * (worker/scheduler/settle.ts) and a control plane again, which runs attempt 2.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { transition } from "../../app/executions/state.js";
import { settleEnded } from "../../worker/scheduler/settle.js";
import { advancePipeline } from "../../app/pipelines/advance.js";
import { createStore } from "../../worker/stores/index.js";

const YAML = `
- step:
    name: work
    image: busybox
    command: sleep 2; echo worked
- pipeline:
    name: one
    nodes:
      - name: only
        type: execution
        step: work
    edges: []
`;

describe("a pipeline node whose execution is lost and queued again", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  const dir = tempDir("vh-pipeline-lost-");
  const dataDir = path.join(dir, "data"); // kept across the restart (the store holds the code)

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, dataDir });
    fs.mkdirSync(path.join(dir, "code"));
    fs.writeFileSync(path.join(dir, "code", "valohai.yaml"), YAML);
    await stack.api("POST", "/api/v1/projects", { name: "p" });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  type Run = { counter: number; status: string; nodes: { name: string; status: string; detail: string | null; execution: { id: string; counter: number; status: string } | null }[] };

  it("keeps the node running through the lost moment, and completes with the next attempt", async () => {
    const code = await uploadSnapshot(stack, path.join(dir, "code"));
    const made = await stack.api<Run>("POST", "/api/v1/projects/p/pipelines", { code, name: "one" });
    const read = () => stack.api<Run>("GET", `/api/v1/projects/p/pipelines/${made.counter}`);
    const exec = await waitFor("the node's execution to run", async () => {
      const r = await read();
      const e = r.nodes[0]!.execution;
      return e && e.status === "running" ? e : undefined;
    }, 60_000);
    const [row] = await db.sql<{ id: string }[]>`select id from pipelines where counter = ${made.counter}`;
    const pipelineId = row!.id;
    const { config } = stack;
    await stack.stop();
    // The host went silent: lost, as the supervisor records it; the pipeline's advance runs.
    expect(await transition(db.sql, exec.id, "lost", { from: ["running"], reason: "The host stopped answering." })).toBe("running");
    await advancePipeline({ sql: db.sql, store: createStore(config.store), config }, pipelineId);
    const [node] = await db.sql<{ status: string; status_detail: string | null }[]>`select status, status_detail from pipeline_nodes where pipeline_id = ${pipelineId}`;
    expect(node, "the node has not ended: its execution is queued again by policy").toEqual({ status: "running", status_detail: null });
    // Now the re-queue, as the supervisor does right after, and a control plane to run attempt 2.
    expect(await settleEnded(db.sql, exec.id, config.worker)).not.toBeNull();
    stack = await startStack({ databaseUrl: db.connectionString, dataDir });
    const done = await waitFor("the pipeline to end", async () => {
      const r = await read();
      return r.status !== "running" ? r : undefined;
    }, 60_000, 200);
    expect(done.status).toBe("completed");
    expect(done.nodes[0]!.status).toBe("completed");
    const e = await stack.api<{ attempt: number; status: string }>("GET", `/api/v1/projects/p/executions/${exec.counter}`);
    expect(e).toMatchObject({ attempt: 2, status: "completed" });
  }, 120_000);
});
