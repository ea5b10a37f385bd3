/**
 * `/vh reproduce N [--verify]` through the bot (app/bot/handle-event.ts → app/bot/commands/reproduce.ts)
 * on a real Postgres and an in-memory forge: who may ask, what the reproduction copies, the sweep
 * of one the sticky report shows, and the verdict: its job added by the statement that ends the
 * reproduction (app/executions/state.ts), recorded once, answered once on the pull request.
 * The executions' ends are made with the state machine itself (no worker: each step is awaited).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import type { Actor } from "../../app/contracts/forge.js";
import type { BotDeps } from "../../app/bot/commands/types.js";
import { handleEvent, type Handling } from "../../app/bot/handle-event.js";
import { parseComment } from "../../app/bot/commands/parse.js";
import { replyWithVerdict } from "../../app/bot/commands/reproduce.js";
import { settleReproduction } from "../../app/executions/reproduce.js";
import { transition } from "../../app/executions/state.js";
import type { Sql } from "../../db/client.js";
import { renderVerdictReply } from "../../templates/reproduce/verdict.js";
import { createStore } from "../../worker/stores/index.js";
import { createTestDatabase } from "../helpers/db.js";
import { addFixturePullRequest, createMemoryForge, FIXTURE, type MemoryForgeWorld, type MemoryRepo } from "../helpers/memory-forge.js";

const { pr: PR } = FIXTURE;
const alice: Actor = { login: "alice", id: 11, isBot: false };
const bob: Actor = { login: "bob", id: 12, isBot: false };
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dataDir: string;
let deps: BotDeps;
let world: MemoryForgeWorld;
let repo: MemoryRepo;
let deliveries = 0;

function first(): Handling {
  return { forge: "github", deliveryId: `delivery-${++deliveries}`, attempt: { number: 1, max: 10 } };
}

beforeEach(async () => {
  db = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-repro-bot-"));
  const config = loadConfig({
    DATABASE_URL: db.connectionString,
    VH_DATA_DIR: dataDir,
    VH_SECRETS_KEY: randomBytes(32).toString("base64"),
    VH_LOG_LEVEL: "silent",
    VH_DOCKER: "never",
  });
  world = createMemoryForge();
  ({ repo } = addFixturePullRequest(world, alice, "Check it reproduces"));
  repo.grant("alice", "write");
  repo.grant("bob", "read");
  deps = { sql: db.sql, store: createStore(config.store), config, log: createLogger("silent"), forges: world.provider };
});

afterEach(async () => {
  await db?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function idOf(counter: number): Promise<string> {
  const [r] = await db.sql<{ id: string }[]>`select id from executions where counter = ${counter}`;
  return r!.id;
}

/** Ends execution #counter as a worker would: through every state, with its metrics and one output file. */
async function finish(counter: number, metrics: Record<string, unknown>, output: string): Promise<void> {
  const id = await idOf(counter);
  const sql = db.sql as unknown as Sql;
  for (const to of ["starting", "running", "uploading"] as const) expect(await transition(sql, id, to)).not.toBeNull();
  const [p] = await db.sql<{ project_id: string }[]>`select project_id from executions where id = ${id}`;
  const datum = randomUUID();
  await db.sql`insert into datums (id, project_id, execution_id, name, size, sha256, store_key)
    values (${datum}, ${p!.project_id}, ${id}, 'out.txt', ${output.length}, ${sha(output)}, ${`data/${datum}`})`;
  await db.sql`update executions set metadata_latest = ${db.sql.json(metrics as never)}, exit_code = 0 where id = ${id}`;
  expect(await transition(sql, id, "completed")).toBe("uploading");
}

async function jobs() {
  return db.sql<{ task: string; key: string | null; payload: unknown }[]>`
    select j.task_identifier as task, j.key, p.payload from graphile_worker.jobs j join graphile_worker._private_jobs p on p.id = j.id order by j.id`;
}

describe("/vh reproduce", () => {
  it("parses N, --verify and --tolerance, and answers mistakes with its usage", () => {
    expect(parseComment("/vh reproduce 12")).toEqual({ kind: "command", command: { name: "reproduce", execution: 12, verify: false } });
    expect(parseComment("/vh reproduce #12 --verify --tolerance 1e-9")).toEqual({ kind: "command", command: { name: "reproduce", execution: 12, verify: true, tolerance: 1e-9 } });
    expect(parseComment("/vh reproduce --verify 3 --tolerance=0.01")).toEqual({ kind: "command", command: { name: "reproduce", execution: 3, verify: true, tolerance: 0.01 } });
    expect(parseComment("/vh reproduce")).toMatchObject({ kind: "reply", usage: "reproduce", error: expect.stringContaining("takes one execution number") });
    expect(parseComment("/vh reproduce 3 --verify --tolerance lots")).toEqual({
      kind: "reply",
      usage: "reproduce",
      error: "`lots` is not a tolerance: give a number from 0 up, e.g. `--tolerance 1e-9`.",
    });
    expect(parseComment("/vh reproduce 3 --tolerance 0.1")).toMatchObject({ kind: "reply", error: "`--tolerance` is for comparing: give it with `--verify`." });
    expect(parseComment("/vh reproduce 3 4")).toMatchObject({ kind: "reply", error: "`4` is not an execution number nor `--verify` or `--tolerance T`." });
  });

  it("is refused for a reader, and nothing is made", async () => {
    await handleEvent(deps, repo.commentEvent(PR, alice, "/vh run train lr=0.1"), first());
    await finish(1, { loss: 0.5 }, "fixed");
    const before = world.createdComments().length;
    expect(await handleEvent(deps, repo.commentEvent(PR, bob, "/vh reproduce 1 --verify"), first())).toBe("refused: bob has read");
    expect(world.createdComments().slice(before)).toEqual([
      "@bob `/vh reproduce` needs write permission on acme/widgets; yours is `read`.\n\n<sub>vh runs code only for people with write permission on acme/widgets.</sub>\n",
    ]);
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from executions`;
    expect(n!.n).toBe(1);
  });

  it("refuses --verify of an execution that has not ended", async () => {
    await handleEvent(deps, repo.commentEvent(PR, alice, "/vh run train"), first());
    expect(await handleEvent(deps, repo.commentEvent(PR, alice, "/vh reproduce 1 --verify"), first())).toBe("refused: conflict");
    expect(world.createdComments().at(-1)).toBe(
      "@alice Execution #1 is queued: a reproduction is compared with what it wrote, so wait until it has ended (vh exec watch 1).\n",
    );
  });

  it("copies the execution, shows as a sweep of one, and answers with the verdict once, when it has ended", async () => {
    await handleEvent(deps, repo.commentEvent(PR, alice, "/vh run train lr=[0.1,0.2]"), first());
    await finish(2, { loss: 0.5, epochs: 2 }, "fixed");
    const ask = repo.commentEvent(PR, alice, "/vh reproduce 2 --verify --tolerance 1e-9");
    expect(await handleEvent(deps, ask, first())).toBe("reproduce of #2: #3");
    expect(world.createdComments().at(-1)).toBe(
      "@alice Reproducing #2 as #3: the same commit, code, image, command, parameters, environment and input versions. It is compared with #2 when it ends; the verdict will be posted here.\n",
    );
    // The same comment delivered again makes nothing new.
    expect(await handleEvent(deps, ask, first())).toBe("reproduce of #2: #3");

    const rows = await db.sql<Record<string, unknown>[]>`
      select counter, step, status, image, command, command_list, parameters, inputs, environment_variables, code_sha256, commit_sha, triggered_by, title
      from executions where counter in (2, 3) order by counter`;
    expect(rows).toHaveLength(2);
    const [orig, rep] = rows as unknown as [Record<string, unknown>, Record<string, unknown>];
    for (const k of ["step", "image", "command", "command_list", "parameters", "inputs", "environment_variables", "code_sha256", "commit_sha"]) expect(rep[k], k).toEqual(orig[k]);
    expect(rep).toMatchObject({ status: "queued", triggered_by: "alice", title: `Reproduction of #2: ${String(orig["title"])}` });
    expect(orig["parameters"]).toEqual({ lr: 0.2, epochs: 2, note: "none" });

    const [link] = await db.sql`select verify, tolerance, verdict from execution_reproductions where execution_id = ${await idOf(3)}`;
    expect(link).toEqual({ verify: true, tolerance: 1e-9, verdict: null });
    const sweeps = await db.sql<{ spec: unknown; trigger: string; n: number }[]>`
      select s.spec, s.source ->> 'trigger' as trigger, count(se.*)::int as n from sweeps s join sweep_executions se on se.sweep_id = s.id
      group by s.id order by s.created_at`;
    expect(sweeps).toEqual([
      { spec: { lr: ["0.1", "0.2"] }, trigger: "comment", n: 2 },
      { spec: { lr: ["0.2"] }, trigger: "reproduce", n: 1 },
    ]);
    // No comparison until it ends.
    expect((await jobs()).map((j) => j.task)).not.toContain("reproduction_verdict");
    expect(await settleReproduction(db.sql as unknown as Sql, await idOf(3), { lostRetries: 1 })).toBeNull();

    await finish(3, { loss: 0.5000000000001, epochs: 2, extra: true }, "other");
    const repId = await idOf(3);
    expect((await jobs()).filter((j) => j.task === "reproduction_verdict")).toEqual([
      { task: "reproduction_verdict", key: `reproduction_verdict:${repId}`, payload: { executionId: repId } },
    ]);
    // Only a reproduction asked to verify gets one: #1's end adds none.
    await finish(1, {}, "x");
    expect((await jobs()).filter((j) => j.task === "reproduction_verdict")).toHaveLength(1);

    const verdict = await settleReproduction(db.sql as unknown as Sql, repId, { lostRetries: 1 });
    expect(verdict).toMatchObject({
      result: "different",
      tolerance: 1e-9,
      status: { original: "completed", reproduction: "completed" },
      files: { missing: [], extra: [], changed: [{ name: "out.txt", original: sha("fixed"), reproduction: sha("other") }], same: 0 },
      metrics: { changed: [], missing: [], extra: [{ key: "extra", reproduction: true }], same: 2 },
    });
    // Recorded once: a second run of the task returns what was recorded.
    expect(await settleReproduction(db.sql as unknown as Sql, repId, { lostRetries: 1 })).toEqual(verdict);
    expect((await jobs()).filter((j) => j.task === "reproduction_reply")).toEqual([
      { task: "reproduction_reply", key: `reproduction_reply:${repId}`, payload: { executionId: repId } },
    ]);

    const before = world.createdComments().length;
    expect(await replyWithVerdict(deps, repId)).toBe("replied: different");
    expect(await replyWithVerdict(deps, repId)).toBe("replied: different");
    const answered = world.createdComments().slice(before);
    expect(answered).toEqual([renderVerdictReply("alice", repId, { original: 2, reproduction: 3, verdict: verdict! })]);
    expect(answered[0]).toContain("is **different**: 1 output changed, 1 extra metric.");
  });
});
