/**
 * Sweep kinds and pipeline runs through the bot, end to end as in handle-event.test.ts: handleEvent
 * on a real Postgres (fresh per test), a local store and the in-memory forge; no worker runs, so
 * executions stay queued/created and the test asserts on rows, queue jobs and the replies posted.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import type { Actor } from "../../app/contracts/forge.js";
import type { BotDeps } from "../../app/bot/commands/types.js";
import { handleEvent, type Handling } from "../../app/bot/handle-event.js";
import { createStore } from "../../worker/stores/index.js";
import { createTestDatabase } from "../helpers/db.js";
import { createMemoryForge, type MemoryForgeWorld, type MemoryRepo } from "../helpers/memory-forge.js";

const YAML = `
- step:
    name: train
    image: python:3.12
    command: python3 train.py {parameters}
    parameters:
      - name: lr
        type: float
        default: 0.1
      - name: a
        type: integer
        default: 1
      - name: b
        type: integer
        default: 1
- step:
    name: prep
    image: python:3.12
    command: "true"
    parameters:
      - name: seed
        type: integer
        default: 1
- step:
    name: fit
    image: python:3.12
    command: "true"
    parameters:
      - name: seed
        type: integer
        default: 2
- pipeline:
    name: chain
    nodes:
      - name: prep
        type: execution
        step: prep
      - name: train
        type: execution
        step: fit
    edges:
      - [prep.parameter.seed, train.parameter.seed]
`;

const REPO = "acme/sweeps";
const REPO_ID = 314;
const PR = 4;
const alice: Actor = { login: "alice", id: 11, isBot: false };
const bob: Actor = { login: "bob", id: 12, isBot: false };

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dataDir: string;
let deps: BotDeps;
let world: MemoryForgeWorld;
let repo: MemoryRepo;
let head: string;
let n = 0;
const first = (): Handling => ({ forge: "github", deliveryId: `sweep-kinds-${++n}`, attempt: { number: 1, max: 10 } });

beforeEach(async () => {
  db = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-bot-sweeps-"));
  const config = loadConfig({ DATABASE_URL: db.connectionString, VH_DATA_DIR: dataDir, VH_SECRETS_KEY: randomBytes(32).toString("base64"), VH_LOG_LEVEL: "silent", VH_DOCKER: "never" });
  world = createMemoryForge();
  repo = world.addRepo(REPO, { id: REPO_ID, installationId: 5 });
  head = repo.commit({ "valohai.yaml": YAML, "train.py": "print('hi')\n" });
  repo.openPullRequest({ number: PR, headSha: head, author: alice });
  repo.grant("alice", "write");
  repo.grant("bob", "read");
  deps = { sql: db.sql, store: createStore(config.store), config, log: createLogger("silent"), forges: world.provider };
});

afterEach(async () => {
  await db?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function counts() {
  const [c] = await db.sql<{ sweeps: number; executions: number; pipelines: number; nodes: number; jobs: number }[]>`
    select (select count(*)::int from sweeps) as sweeps, (select count(*)::int from executions) as executions,
      (select count(*)::int from pipelines) as pipelines, (select count(*)::int from pipeline_nodes) as nodes,
      (select count(*)::int from graphile_worker.jobs) as jobs`;
  return c!;
}

async function jobs() {
  return db.sql<{ task: string; payload: unknown }[]>`
    select j.task_identifier as task, p.payload from graphile_worker.jobs j join graphile_worker._private_jobs p on p.id = j.id order by j.id`;
}

async function sweepExecutions(sweepId: string) {
  return db.sql<{ position: number; status: string; status_detail: string | null; parameters: Record<string, unknown>; point: unknown }[]>`
    select se.position, e.status, e.status_detail, e.parameters, se.point
    from sweep_executions se join executions e on e.id = se.execution_id where se.sweep_id = ${sweepId} order by se.position`;
}

describe("/vh run with sweep kinds", () => {
  it("a random sweep makes 3 distinct lr values in range, records its definition and points, and the same seed repeats them", async () => {
    const text = "/vh run train lr=uniform(0.1,0.2) --random 3 --sweep-seed 5";
    await handleEvent(deps, repo.commentEvent(PR, alice, text), first());
    const sweeps = await db.sql<{ id: string; kind: string; definition: Record<string, unknown> }[]>`select id, kind, definition from sweeps`;
    expect(sweeps).toHaveLength(1);
    expect(sweeps[0]!.kind).toBe("random");
    expect(sweeps[0]!.definition).toMatchObject({ kind: "random", count: 3, seed: 5 });
    const execs = await sweepExecutions(sweeps[0]!.id);
    const lrs = execs.map((e) => e.parameters.lr as number);
    expect(lrs).toHaveLength(3);
    for (const lr of lrs) {
      expect(typeof lr).toBe("number");
      expect(lr).toBeGreaterThanOrEqual(0.1);
      expect(lr).toBeLessThanOrEqual(0.2);
    }
    expect(new Set(lrs).size).toBe(3);
    expect(execs.map((e) => e.point)).toEqual(lrs.map((lr) => ({ lr: String(lr) })));

    await handleEvent(deps, repo.commentEvent(PR, alice, text), first());
    const again = await db.sql<{ id: string }[]>`select id from sweeps where id <> ${sweeps[0]!.id}`;
    expect(again).toHaveLength(1);
    const lrs2 = (await sweepExecutions(again[0]!.id)).map((e) => e.parameters.lr);
    expect(lrs2).toEqual(lrs);
  });

  it("--max-parallel 1 queues the first execution and holds the rest with the reason", async () => {
    await handleEvent(deps, repo.commentEvent(PR, alice, "/vh run train lr=[0.1,0.2,0.3] --max-parallel 1"), first());
    const [sweep] = await db.sql<{ id: string }[]>`select id from sweeps`;
    const execs = await sweepExecutions(sweep!.id);
    expect(execs.map((e) => e.status)).toEqual(["queued", "created", "created"]);
    expect(execs.map((e) => e.parameters.lr)).toEqual([0.1, 0.2, 0.3]);
    expect(execs[1]!.status_detail).toBe("Waiting for a slot: at most 1 of this sweep run at once (max parallel).");
  });

  it("logspace with two arguments is answered with the mistake and writes nothing", async () => {
    await handleEvent(deps, repo.commentEvent(PR, alice, "/vh run train lr=logspace(-5,-1)"), first());
    const replies = world.createdComments();
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain("`lr=logspace(-5,-1)`: logspace takes (start, end, count[, base]); 2 arguments were given.");
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, pipelines: 0, nodes: 0, jobs: 0 });
  });

  it("a grid of 1,000 × 1,000 is refused with its size and writes nothing", async () => {
    await handleEvent(deps, repo.commentEvent(PR, alice, "/vh run train a=linear(1,1000,1) b=linear(1,1000,1)"), first());
    const replies = world.createdComments();
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain("That sweep would make 1,000,000 executions");
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, pipelines: 0, nodes: 0, jobs: 0 });
  });
});

describe("/vh pipeline run", () => {
  it("starts pipeline =1 with two nodes, queues its driver and answers with the graph", async () => {
    await handleEvent(deps, repo.commentEvent(PR, alice, "/vh pipeline run chain"), first());
    const pipelines = await db.sql<{ id: string; name: string; counter: number; commit_sha: string; status: string; source: Record<string, unknown> }[]>`
      select id, name, counter, commit_sha, status, source from pipelines`;
    expect(pipelines).toHaveLength(1);
    const p = pipelines[0]!;
    expect({ name: p.name, counter: p.counter, commit_sha: p.commit_sha, status: p.status }).toEqual({ name: "chain", counter: 1, commit_sha: head, status: "running" });
    expect(p.source).toMatchObject({ kind: "forge", pr: PR });
    const nodes = await db.sql<{ name: string; type: string }[]>`select name, type from pipeline_nodes where pipeline_id = ${p.id} order by position`;
    expect(nodes).toEqual([{ name: "prep", type: "execution" }, { name: "train", type: "execution" }]);
    const advance = (await jobs()).filter((j) => j.task === "pipeline_advance");
    expect(advance).toHaveLength(1);
    expect(JSON.stringify(advance[0]!.payload)).toContain(p.id);
    const replies = world.createdComments();
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain("Started pipeline =1");
    expect(replies[0]).toContain("```mermaid");
  });

  it("a reader is refused and nothing is written", async () => {
    const outcome = await handleEvent(deps, repo.commentEvent(PR, bob, "/vh pipeline run chain"), first());
    expect(outcome).toBe("refused: bob has read");
    expect(world.createdComments()).toEqual([
      `@bob \`/vh pipeline\` needs write permission on ${REPO}; yours is \`read\`.\n\n<sub>vh runs code only for people with write permission on ${REPO}.</sub>\n`,
    ]);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, pipelines: 0, nodes: 0, jobs: 0 });
  });

  it("an unknown pipeline is answered naming the pipelines there", async () => {
    await handleEvent(deps, repo.commentEvent(PR, alice, "/vh pipeline run nope"), first());
    const replies = world.createdComments();
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain('has no pipeline "nope"');
    expect(replies[0]).toContain("chain");
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, pipelines: 0, nodes: 0, jobs: 0 });
  });
});
