/**
 * Any Git host end to end, through the CLI's own `main` against a real server and worker: `vh repo
 * add git://127.0.0.1:PORT/r.git --poll 2` links a repository served by a real `git daemon`; a
 * pushed commit whose message has `/vh run train lr=[0.1,0.2]` becomes two completed executions
 * at that commit (`vh exec list --json`); commits already there when it was linked, and commits
 * without a command, run nothing. Then `vh exec run train --commit main` (no --adhoc) runs the
 * linked repository's code at the branch's tip, resolved on the forge.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { cliAgainst, type CliResult } from "../cli/helpers.js";
import { startGitDaemon, tempDir, TestRepo, type GitDaemon } from "./helpers.js";

const FIXTURE = path.resolve(import.meta.dirname, "../github/fixture-repo");
const files = Object.fromEntries(fs.readdirSync(FIXTURE).map((f) => [f, fs.readFileSync(path.join(FIXTURE, f), "utf8")]));

type Exec = { counter: number; status: string; parameters: Record<string, unknown>; code: { kind: string; commit: string | null } };

describe("a plain Git host end to end", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let daemon: GitDaemon;
  let repo: TestRepo;
  const served = tempDir("vh-git-e2e-served-");
  const dir = tempDir("vh-git-e2e-cli-");

  beforeAll(async () => {
    db = await createTestDatabase();
    daemon = await startGitDaemon(served);
    repo = new TestRepo(served, "r");
    repo.commit(files, "first: /vh run train lr=[9]");
    stack = await startStack({ databaseUrl: db.connectionString });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await daemon?.stop();
    await db?.drop();
    fs.rmSync(served, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const vh = (args: string[]): Promise<CliResult> => cliAgainst(stack.vh, dir)(args);

  const list = async (): Promise<Exec[]> => {
    const r = await vh(["exec", "list", "--project", "r", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as Exec[]).sort((a, b) => a.counter - b.counter);
  };

  it("vh repo add, then a pushed /vh run commit: two completed executions at that commit; then vh exec run --commit main", async () => {
    onTestFailed(async () => {
      console.log(await db.sql`select forge, id, event, processed_at, outcome from forge_deliveries`);
      console.log(await db.sql`select id, name, last_error, last_commit_sha, failures from git_repositories`);
      console.log(await db.sql`select task_identifier, attempts, last_error, run_at from graphile_worker.jobs`);
    });
    const add = await vh(["repo", "add", daemon.url("r"), "--poll", "2", "--json"]);
    expect(add.code, add.stderr).toBe(0);
    const linked = JSON.parse(add.stdout) as { id: number; project: string; pollSeconds: number; watching: string[] };
    expect(linked).toMatchObject({ project: "r", pollSeconds: 2, watching: ["main"] });

    // a commit without a command runs nothing; the one with it runs both points
    repo.commit({ "notes.txt": "nothing to run\n" }, "docs only");
    const head = repo.commit({ "notes.txt": "smaller lr\n" }, "Try two learning rates\n\n/vh run train lr=[0.1,0.2]\n");
    const execs = await waitFor("two completed executions", async () => {
      const rows = await list();
      return rows.length === 2 && rows.every((e) => ["completed", "failed", "error"].includes(e.status)) ? rows : undefined;
    }, 60_000, 250);
    expect(execs.map((e) => [e.status, e.parameters["lr"], e.code.commit])).toEqual([
      ["completed", 0.1, head],
      ["completed", 0.2, head],
    ]);
    const [sweep] = await db.sql<{ source: Record<string, unknown>; triggered_by: string }[]>`select source, triggered_by from sweeps`;
    expect(sweep).toEqual({
      source: { kind: "forge", forge: "git", repositoryId: linked.id, repo: `127.0.0.1/r`, installationId: linked.id, pr: null, trigger: "push", commentId: null },
      triggered_by: "ada@example.com",
    });
    const status = await vh(["repo", "status", String(linked.id), "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ lastCommitSha: head, lastError: null, lastLint: null, lastRun: { sha: head } });

    // without --adhoc: the linked repository at the tip of main, whatever is in this directory
    fs.writeFileSync(path.join(dir, "valohai.yaml"), files["valohai.yaml"]!);
    const run = await vh(["exec", "run", "--project", "r", "--commit", "main", "--json", "train", "--lr=0.3"]);
    expect(run.code, run.stderr).toBe(0);
    const started = JSON.parse(run.stdout) as Exec;
    expect(started.code).toMatchObject({ kind: "git", commit: head });
    const third = await waitFor("the third execution", async () => {
      const rows = await list();
      const e = rows.find((x) => x.counter === started.counter);
      return e && ["completed", "failed", "error"].includes(e.status) ? e : undefined;
    }, 60_000, 250);
    expect([third.status, third.parameters["lr"]]).toEqual(["completed", 0.3]);
    const unknown = await vh(["exec", "run", "--project", "r", "--commit", "no-such-branch", "train"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("no-such-branch is no branch, tag or commit of 127.0.0.1/r");
    expect((await list()).length).toBe(3);
  }, 120_000);
});
