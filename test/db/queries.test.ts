/** db/queries/: each shared statement against a real database, with the exact rows it returns. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import {
  executionOfProjectByCounter,
  executionStatus,
  executionWithProject,
  executionsOfProject,
  fetchedInputs,
  latestExecutionOfProject,
  loadExecution,
  logProgress,
  retriedCount,
  recordStopCause,
} from "../../db/queries/executions.js";
import { createProject, projectById, projectByName } from "../../db/queries/projects.js";
import { gpuQuotaRows, presentGpus, requestHostCheck } from "../../db/queries/hosts.js";
import { datumById, datumsByIds } from "../../db/queries/datums.js";
import { approvalRequestOf, modelByName, modelVersionById, resetVersionToPending } from "../../db/queries/models.js";
import { executionsOfSweeps, sweepIdsOfPullRequest } from "../../db/queries/sweeps.js";
import { codeSnapshotSize, recordCodeSnapshot } from "../../db/queries/code-snapshots.js";
import { metadataEventsOf } from "../../db/queries/metadata-events.js";
import { snapshotKey } from "../../app/contracts/store-keys.js";

describe("db/queries", () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let p1: string;
  let p2: string;
  const ex: Record<string, string> = {};

  beforeAll(async () => {
    database = await createTestDatabase();
    const { sql } = database;
    expect(await createProject(sql, "alpha")).toBe(true);
    expect(await createProject(sql, "alpha")).toBe(false);
    await createProject(sql, "beta");
    p1 = (await projectByName(sql, "alpha"))!.id;
    p2 = (await projectByName(sql, "beta"))!.id;
    const exec = async (key: string, project: string, counter: number, status: string) => {
      const [e] = await sql<{ id: string }[]>`
        insert into executions (project_id, counter, step, status, image, command, command_list, parameters, inputs, environment_variables, log_seq)
        values (${project}, ${counter}, 'train', ${status}, 'img', 'true', '["true"]', '{"lr": 0.1}', '[]', '{}', ${counter * 10})
        returning id`;
      ex[key] = e!.id;
    };
    await exec("a1", p1, 1, "completed");
    await exec("a2", p1, 2, "running");
    await exec("a3", p1, 3, "lost");
    await exec("b1", p2, 1, "queued");
  });
  afterAll(async () => {
    await database.drop();
  });

  it("projects: by name, by id, and created once", async () => {
    const alpha = await projectByName(database.sql, "alpha");
    expect(alpha).toEqual({ id: p1, name: "alpha", executionCounter: 0, pipelineCounter: 0, forkCommands: false, forkConfigs: false, createdAt: expect.any(Date) });
    expect(await projectById(database.sql, p2)).toEqual({ id: p2, name: "beta", executionCounter: 0, pipelineCounter: 0, forkCommands: false, forkConfigs: false, createdAt: expect.any(Date) });
    expect(await projectByName(database.sql, "gamma")).toBeNull();
    expect(await projectById(database.sql, "00000000-0000-0000-0000-000000000000")).toBeNull();
  });

  it("executions with their project: by id (within a project or not), latest, by counter, listed", async () => {
    const { sql } = database;
    const a2 = await executionWithProject(sql, ex["a2"]!);
    expect(a2).toMatchObject({ id: ex["a2"], project_id: p1, project_name: "alpha", counter: 2, step: "train", status: "running", command_list: ["true"], parameters: { lr: 0.1 }, log_seq: 20, log_bytes: "0" });
    expect(a2!.created_at).toBeInstanceOf(Date);
    expect(await executionWithProject(sql, ex["a2"]!, p1)).toEqual(a2);
    expect(await executionWithProject(sql, ex["a2"]!, p2)).toBeNull();
    expect((await latestExecutionOfProject(sql, p1))?.id).toBe(ex["a3"]);
    expect((await executionOfProjectByCounter(sql, p1, 1))?.id).toBe(ex["a1"]);
    expect(await executionOfProjectByCounter(sql, p1, 9)).toBeNull();
    expect((await executionsOfProject(sql, p1, { limit: 10 })).map((e) => [e.counter, e.project_name])).toEqual([[3, "alpha"], [2, "alpha"], [1, "alpha"]]);
    expect((await executionsOfProject(sql, p1, { limit: 1 })).map((e) => e.counter)).toEqual([3]);
    expect((await executionsOfProject(sql, p1, { status: "running", limit: 10 })).map((e) => e.counter)).toEqual([2]);
  });

  it("executions: the drizzle load with the project name", async () => {
    const loaded = await loadExecution(database.db, ex["b1"]!);
    expect(loaded?.projectName).toBe("beta");
    expect(loaded?.exec).toMatchObject({ id: ex["b1"], projectId: p2, counter: 1, status: "queued", commandList: ["true"], logSeq: 10 });
    expect(await loadExecution(database.db, "00000000-0000-0000-0000-000000000000")).toBeNull();
  });

  it("executions: status, log progress, stop cause (the first one kept, in a transaction too), lost count", async () => {
    const { sql } = database;
    expect(await executionStatus(sql, ex["a1"]!)).toBe("completed");
    expect(await executionStatus(sql, "00000000-0000-0000-0000-000000000000")).toBeNull();
    expect(await logProgress(sql, ex["a3"]!)).toEqual({ status: "lost", log_seq: 30 });
    await sql.begin(async (tx) => recordStopCause(tx, ex["a2"]!, "time-limit"));
    await recordStopCause(sql, ex["a2"]!, "user");
    const [row] = await sql`select stop_cause from executions where id = ${ex["a2"]!}`;
    expect(row).toEqual({ stop_cause: "time-limit" });
    await sql`insert into execution_status_history (execution_id, status) values (${ex["a3"]!}, 'lost'), (${ex["a3"]!}, 'queued'), (${ex["a3"]!}, 'lost')`;
    expect(await retriedCount(sql, ex["a3"]!)).toBe(2);
    expect(await retriedCount(sql, ex["a1"]!)).toBe(0);
  });

  it("executions: the inputs fetched, by input then name, size as int8 text", async () => {
    const { sql } = database;
    await sql`
      insert into execution_inputs (execution_id, input, name, uri, sha256, size) values
        (${ex["a1"]!}, 'b', 'x.csv', 'https://h/x.csv', 'aa', 5), (${ex["a1"]!}, 'a', 'z.csv', 'https://h/z.csv', 'bb', 6), (${ex["a1"]!}, 'a', 'y.csv', 'https://h/y.csv', 'cc', 7)`;
    expect(await fetchedInputs(sql, ex["a1"]!)).toEqual([
      { input: "a", name: "y.csv", uri: "https://h/y.csv", sha256: "cc", size: "7" },
      { input: "a", name: "z.csv", uri: "https://h/z.csv", sha256: "bb", size: "6" },
      { input: "b", name: "x.csv", uri: "https://h/x.csv", sha256: "aa", size: "5" },
    ]);
  });

  it("metadata events of an execution, in seq order", async () => {
    const { sql } = database;
    const t = new Date("2025-01-02T03:04:05.000Z");
    await sql`insert into metadata_events (execution_id, seq, time, data) values (${ex["a1"]!}, 2, ${t}, '{"loss": 0.5}'), (${ex["a1"]!}, 1, ${t}, '{"loss": 0.9}')`;
    expect(await metadataEventsOf(sql, ex["a1"]!)).toEqual([
      { seq: 1, time: t, data: { loss: 0.9 } },
      { seq: 2, time: t, data: { loss: 0.5 } },
    ]);
    expect(await metadataEventsOf(sql, ex["a2"]!)).toEqual([]);
  });

  it("hosts: present GPUs by index, a check requested by name, quotas by key", async () => {
    const { sql } = database;
    const [h1] = await sql<{ id: string }[]>`insert into hosts (name, kind, address, key_path, last_check_at) values ('h1', 'ssh', 'ssh://x', '/k', now()) returning id`;
    const [h2] = await sql<{ id: string }[]>`insert into hosts (name, kind) values ('h2', 'local') returning id`;
    await sql`
      insert into gpus (host_id, index, uuid, name, memory_mib, driver_version, present) values
        (${h1!.id}, 1, 'u1', 'A100', 80, '550', true), (${h1!.id}, 0, 'u0', 'A100', 80, '550', true), (${h1!.id}, 2, 'u2', 'A100', 80, '550', false),
        (${h2!.id}, 0, 'v0', 'T4', 16, '535', true)`;
    expect(await presentGpus(sql, [h1!.id])).toEqual([
      { host_id: h1!.id, index: 0, uuid: "u0", name: "A100", memory_mib: 80, driver_version: "550" },
      { host_id: h1!.id, index: 1, uuid: "u1", name: "A100", memory_mib: 80, driver_version: "550" },
    ]);
    expect((await presentGpus(sql, [h1!.id, h2!.id])).map((g) => g.uuid)).toEqual(expect.arrayContaining(["u0", "u1", "v0"]));
    expect(await presentGpus(sql, [])).toEqual([]);

    expect(await requestHostCheck(sql, "h1")).toEqual({ id: h1!.id, kind: "ssh" });
    const [checked] = await sql`select last_check_at from hosts where id = ${h1!.id}`;
    expect(checked).toEqual({ last_check_at: null });
    expect(await requestHostCheck(sql, "nope")).toBeNull();

    await sql`insert into gpu_quotas (key, max_gpus, projects) values ('team:ml', 3, '["alpha", "beta"]'), ('project:alpha', 1, '[]')`;
    expect(await sql.begin((tx) => gpuQuotaRows(tx))).toEqual([
      { key: "project:alpha", max_gpus: 1, projects: [] },
      { key: "team:ml", max_gpus: 3, projects: ["alpha", "beta"] },
    ]);
  });

  it("datums: by id (within a project or not) and by ids", async () => {
    const { sql } = database;
    const [d1] = await sql<{ id: string }[]>`
      insert into datums (project_id, execution_id, name, size, sha256, store_key, metadata) values (${p1}, ${ex["a1"]!}, 'model.pkl', 42, 'abc', 'datums/1', '{"k": 1}') returning id`;
    const [d2] = await sql<{ id: string }[]>`
      insert into datums (project_id, name, size, sha256, store_key) values (${p1}, 'b.bin', 7, 'def', 'datums/2') returning id`;
    expect(await datumById(sql, d1!.id)).toEqual({
      id: d1!.id,
      project_id: p1,
      execution_id: ex["a1"],
      name: "model.pkl",
      size: "42",
      sha256: "abc",
      store_key: "datums/1",
      metadata: { k: 1 },
      created_at: expect.any(Date),
    });
    expect((await datumById(sql, d1!.id, p1))?.id).toBe(d1!.id);
    expect(await datumById(sql, d1!.id, p2)).toBeNull();
    const many = await datumsByIds(sql, [d1!.id, d2!.id, "00000000-0000-0000-0000-000000000000"]);
    expect([...many].sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { id: d2!.id, name: "b.bin", sha256: "def", size: "7", store_key: "datums/2" },
      { id: d1!.id, name: "model.pkl", sha256: "abc", size: "42", store_key: "datums/1" },
    ]);
  });

  it("models: by name, a version by id, back to pending, its approval request on a PR", async () => {
    const { sql } = database;
    const [m] = await sql<{ id: string }[]>`insert into models (name, approvers) values ('churn', '["ann"]') returning id`;
    const [v] = await sql<{ id: string }[]>`
      insert into model_versions (model_id, number, status, source_kind, files_sha256, approved_sha256, status_by)
      values (${m!.id}, 1, 'approved', 'manual', 'f1', 'f1', 'ann') returning id`;
    expect(await modelByName(sql, "churn")).toEqual({
      id: m!.id,
      name: "churn",
      description: null,
      approvers: ["ann"],
      separation_of_duties: false,
      version_counter: 0,
      created_at: expect.any(Date),
    });
    expect(await modelByName(sql, "other")).toBeNull();
    expect(await modelVersionById(sql, v!.id)).toMatchObject({ id: v!.id, model_id: m!.id, number: 1, status: "approved", status_by: "ann", status_reason: null, tags: [] });
    const reset = await sql.begin((tx) => resetVersionToPending(tx, v!.id, "vh", "files changed after approval"));
    expect(reset).toMatchObject({ id: v!.id, status: "pending", status_by: "vh", status_reason: "files changed after approval", approved_sha256: "f1" });
    expect(reset!.status_at).toBeInstanceOf(Date);
    expect(await modelVersionById(sql, v!.id)).toEqual(reset);

    await sql`insert into model_approval_requests (version_id, repo, pr_number, head_sha, files_sha256) values (${v!.id}, 'o/r', 7, 'h1', 'f1')`;
    expect(await approvalRequestOf(sql, v!.id, "o/r", 7)).toEqual({ head_sha: "h1", files_sha256: "f1" });
    expect(await approvalRequestOf(sql, v!.id, "o/r", 8)).toBeNull();
  });

  it("sweeps: of a pull request (oldest first), and their executions by status", async () => {
    const { sql } = database;
    const source = (pr: number | null) => ({ kind: "forge", forge: "github", repositoryId: 42, repo: "o/r", installationId: 1, pr, trigger: "comment", commentId: null });
    const sweep = async (pr: number | null, ago: number) => {
      const [s] = await sql<{ id: string }[]>`
        insert into sweeps (project_id, step, spec, commit_sha, code_sha256, source, triggered_by, created_at)
        values (${p1}, 'train', '{}', 'c', 'x', ${sql.json(source(pr))}, 'ann', now() - make_interval(secs => ${ago})) returning id`;
      return s!.id;
    };
    const newer = await sweep(7, 10);
    const older = await sweep(7, 100);
    const other = await sweep(8, 50);
    await sweep(null, 20);
    expect(await sweepIdsOfPullRequest(sql, { forge: "github", id: 42 }, 7)).toEqual([older, newer]);
    expect(await sweepIdsOfPullRequest(sql, { forge: "github", id: 42 }, 8)).toEqual([other]);
    expect(await sweepIdsOfPullRequest(sql, { forge: "github", id: 43 }, 7)).toEqual([]);

    await sql`insert into sweep_executions (sweep_id, position, execution_id) values
      (${older}, 0, ${ex["a3"]!}), (${older}, 1, ${ex["a2"]!}), (${newer}, 0, ${ex["a1"]!}), (${other}, 0, ${ex["b1"]!})`;
    expect(await executionsOfSweeps(sql, [older, newer], ["running", "lost", "queued"])).toEqual([
      { id: ex["a2"], counter: 2, sweep_id: older },
      { id: ex["a3"], counter: 3, sweep_id: older },
    ]);
    expect(await executionsOfSweeps(sql, [newer], ["running"])).toEqual([]);
  });

  it("code snapshots: size when known, recorded once under the content address", async () => {
    const { sql } = database;
    const sha = "a".repeat(64);
    expect(await codeSnapshotSize(sql, sha)).toBeNull();
    await recordCodeSnapshot(sql, sha, 1234);
    await recordCodeSnapshot(sql, sha, 99);
    expect(await codeSnapshotSize(sql, sha)).toBe(1234);
    const rows = await sql`select sha256, size, store_key from code_snapshots where sha256 = ${sha}`;
    expect([...rows]).toEqual([{ sha256: sha, size: "1234", store_key: snapshotKey(sha) }]);
  });
});
