/**
 * Datasets end to end on the real stack (REST API, worker, local runner, local store): a step's
 * outputs with `valohai.dataset-versions` sidecars make versions (latest + new files by default,
 * `start_fresh`, `from` with `exclude`, `targeting_aliases`), a step with `dataset://images/latest`
 * gets the newest version's files under their paths, and the execution records the exact version.
 */
import path from "node:path";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import type { RequestedInput } from "../../db/schema/executions.js";
import type { DatasetRecord, VersionRecord } from "../../app/datasets/versions.js";

const fixture = path.resolve(import.meta.dirname, "fixture");
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

type Exec = { id: string; counter: number; status: string; warnings: string[]; inputs: RequestedInput[] };
type FileSpec = { content: string; versions?: unknown; via?: "jsonl" | "sidecar"; readonly?: boolean };

describe("datasets end to end", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
    code = await uploadSnapshot(stack, fixture);
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  const create = (body: Record<string, unknown>) => stack.api<Exec>("POST", "/api/v1/projects/demo/executions", { code, ...body });
  const until = (n: number) =>
    waitFor(`execution #${n} to end`, async () => {
      const e = await stack.api<Exec>("GET", `/api/v1/projects/demo/executions/${n}`);
      return ["completed", "failed", "error", "stopped"].includes(e.status) ? e : undefined;
    }, 60_000);
  const logOf = async (n: number) =>
    (await stack.api<{ lines: { stream: string; line: string }[] }>("GET", `/api/v1/projects/demo/executions/${n}/logs`)).lines.map((l) => `${l.stream}: ${l.line}`);
  /** Runs `make` with these files; returns the ended execution and its log. */
  async function make(files: Record<string, FileSpec>): Promise<{ exec: Exec; log: string[] }> {
    const e = await create({ step: "make", parameters: { plan: JSON.stringify({ files }) } });
    const exec = await until(e.counter);
    const log = await logOf(e.counter);
    expect(exec.status, log.join("\n")).toBe("completed");
    return { exec, log };
  }
  const version = (ref: string) => stack.api<VersionRecord>("GET", `/api/v1/projects/demo/datasets/images/versions/${ref}`);
  const contentsOf = async (v: VersionRecord) => Object.fromEntries(await Promise.all(v.files.map(async (f) => [f.path, await (await stack.raw("GET", `/api/v1/data/${f.datumId}/download`)).text()])));

  it("makes versions from outputs: one per version named, latest + new files, start_fresh, from with exclude, aliases; once", async () => {
    const first = await make({
      "a.txt": { content: "a1", versions: ["dataset://images/v1"] },
      "sub/b.txt": { content: "b1", versions: [{ uri: "dataset://images/v1" }, "dataset://other/x"], via: "jsonl" },
      "ro.txt": { content: "ro1", versions: "dataset://images/v1", readonly: true },
      "plain.txt": { content: "not in a dataset" },
    });
    expect(first.log).toContain("status: Created dataset version 'dataset://images/v1' with 3 files");
    expect(first.log).toContain("status: Created dataset version 'dataset://other/x' with 1 files");
    const v1 = await version("v1");
    expect(v1).toMatchObject({ uri: "dataset://images/v1", execution: { id: first.exec.id, counter: first.exec.counter }, createdBy: `execution #${first.exec.counter}` });
    expect(await contentsOf(v1)).toEqual({ "a.txt": "a1", "ro.txt": "ro1", "sub/b.txt": "b1" });

    // default (start_fresh false): the newest version's files, then these (a.txt replaced)
    const second = await make({ "a.txt": { content: "a2", versions: ["dataset://images/v2"] }, "c.txt": { content: "c2", versions: ["dataset://images/v2"] } });
    expect(second.log).toContain("status: Created dataset version 'dataset://images/v2' with 4 files");
    const v2 = await version("v2");
    expect(await contentsOf(v2)).toEqual({ "a.txt": "a2", "c.txt": "c2", "ro.txt": "ro1", "sub/b.txt": "b1" });
    // the datums of v1 are shared, not copied
    expect(v2.files.find((f) => f.path === "sub/b.txt")!.datumId).toBe(v1.files.find((f) => f.path === "sub/b.txt")!.datumId);

    // start_fresh: only this execution's files
    await make({ "d.txt": { content: "d3", versions: [{ uri: "dataset://images/v3", start_fresh: true }] } });
    expect(await contentsOf(await version("v3"))).toEqual({ "d.txt": "d3" });

    // from v1, less sub/b.txt, plus e.txt; the alias prod moves to it
    const fourth = await make({
      "e.txt": { content: "e4", versions: [{ uri: "dataset://images/v4", from: "dataset://images/v1", exclude: ["sub/b.txt"], targeting_aliases: ["prod"] }] },
    });
    expect(fourth.log).toContain("status: Created dataset version 'dataset://images/v4' with 3 files");
    const v4 = await version("v4");
    expect(await contentsOf(v4)).toEqual({ "a.txt": "a1", "e.txt": "e4", "ro.txt": "ro1" });
    expect(v4.aliases).toEqual(["prod"]);
    expect((await version("prod")).uri).toBe("dataset://images/v4");

    // an existing version is not changed: a warning says so; bad entries are warnings naming the file
    const fifth = await make({
      "f.txt": { content: "f5", versions: ["dataset://images/v1"] },
      "g.txt": { content: "g5", versions: ["dataset://images", { uri: "dataset://images/v6", from: "dataset://images/nope" }, 7] },
    });
    expect(fifth.exec.warnings).toEqual(expect.arrayContaining([
      expect.stringMatching(/^Dataset version dataset:\/\/images\/v1 was not created from the outputs \(f\.txt\): dataset:\/\/images\/v1 already exists/),
      'g.txt: valohai.dataset-versions: "dataset://images" names no version to create; write dataset://images/VERSION. Ignored.',
      expect.stringMatching(/^Dataset version dataset:\/\/images\/v6 was not created from the outputs \(g\.txt\): dataset:\/\/images\/nope: dataset "images" has no version or alias "nope"; its versions: v1, v2, v3, v4 \(newest last\)\.$/),
      'g.txt: valohai.dataset-versions entries must be "dataset://NAME/VERSION" or {"uri": "dataset://NAME/VERSION", …}; ignored 7.',
    ]));
    expect(fifth.log.some((l) => l.includes("Created dataset version"))).toBe(false);
    expect(await contentsOf(await version("v1"))).toEqual({ "a.txt": "a1", "ro.txt": "ro1", "sub/b.txt": "b1" });

    const images = await stack.api<DatasetRecord>("GET", "/api/v1/projects/demo/datasets/images");
    expect(images.results.map((v) => `${v.version}:${v.fileCount}`)).toEqual(["v4:3", "v3:1", "v2:4", "v1:3"]);

    // finishing an execution again (a restarted worker) makes nothing twice
    const { createOutputDatasetVersions } = await import("../../worker/supervisor/dataset-versions.js");
    expect((await createOutputDatasetVersions(db.sql, { id: first.exec.id })).created).toEqual([]);
    expect((await db.sql`select count(*)::int as n from dataset_versions`)[0]!.n).toBe(5);
    expect((await db.sql`select count(*)::int as n from log_lines where execution_id = ${first.exec.id} and line like 'Created dataset version%'`)[0]!.n).toBe(2);
  });

  it("consumes dataset://images/latest: every file under its path, the exact version recorded", async () => {
    const e = await create({ step: "consume" });
    // The execution's record (its `inputs`), as written when it was created.
    const recorded = async (id: string) => (await db.sql<{ inputs: RequestedInput[] }[]>`select inputs from executions where id = ${id}`)[0]!.inputs;
    const inputs = await recorded(e.id);
    expect(e.inputs.map((i) => [i.file, i.sha256])).toEqual(inputs.map((i) => [i.file, i.sha256]));
    expect(inputs.map((i) => [i.file, i.uri, i.dataset])).toEqual([
      ["a.txt", "dataset://images/latest", { name: "images", version: "v4", versionId: expect.any(String) }],
      ["e.txt", "dataset://images/latest", expect.objectContaining({ version: "v4" })],
      ["ro.txt", "dataset://images/latest", expect.objectContaining({ version: "v4" })],
    ]);
    expect(inputs.every((i) => i.source.kind === "store" && i.datumId && i.sha256 && i.size)).toBe(true);
    expect(inputs.find((i) => i.file === "e.txt")!.sha256).toBe(sha("e4"));
    const done = await until(e.counter);
    const log = await logOf(e.counter);
    expect(done.status, log.join("\n")).toBe("completed");
    expect(log).toContain(`stdout: file a.txt ${sha("a1")} a1`);
    expect(log).toContain(`stdout: file e.txt ${sha("e4")} e4`);
    // "which executions used v4" is one query (execution_dataset_inputs), shown on the version
    const v4 = await version("v4");
    expect(v4.usedBy).toEqual([{ counter: e.counter, input: "data", uri: "dataset://images/latest", status: "completed" }]);
    const [row] = await db.sql<{ version_id: string }[]>`select version_id from execution_dataset_inputs where execution_id = ${e.id}`;
    expect(row!.version_id).toBe(v4.id);
    // a newer version: latest moves for new executions; the record of this one stays v4
    await stack.api("POST", "/api/v1/projects/demo/datasets/images/versions", { version: "v5", files: [{ datum: v4.files[0]!.datumId, path: "only.txt" }] });
    const later = await create({ step: "consume" });
    expect((await recorded(later.id)).map((i) => [i.file, i.dataset!.version])).toEqual([["only.txt", "v5"]]);
    expect(new Set((await recorded(e.id)).map((i) => i.dataset!.version))).toEqual(new Set(["v4"]));
    await until(later.counter);

    // an explicit version with folders, an alias, and a name without version (= latest)
    const nested = await create({ step: "consume", inputs: { data: "dataset://images/v2" } });
    expect(new Set((await recorded(nested.id)).map((i) => i.dataset!.version))).toEqual(new Set(["v2"]));
    expect(nested.inputs.map((i) => i.file)).toEqual(["a.txt", "c.txt", "ro.txt", "sub/b.txt"]);
    const nestedLog = await logOf((await until(nested.counter)).counter);
    expect(nestedLog).toContain(`stdout: file sub/b.txt ${sha("b1")} b1`);
    const alias = await create({ step: "consume", inputs: { data: "dataset://images/prod" } });
    expect(new Set((await recorded(alias.id)).map((i) => i.dataset!.version))).toEqual(new Set(["v4"]));
    const bare = await create({ step: "consume", inputs: { data: "dataset://images" } });
    expect(new Set((await recorded(bare.id)).map((i) => i.dataset!.version))).toEqual(new Set(["v5"]));
    await until(alias.counter);
    await until(bare.counter);
  });

  it("refuses an unknown dataset or version, naming the input, the URI and what exists", async () => {
    const refused = async (uri: string) => {
      const res = await stack.raw("POST", "/api/v1/projects/demo/executions", JSON.stringify({ code, step: "consume", inputs: { data: uri } }), { "content-type": "application/json" });
      expect(res.status).toBe(400);
      return ((await res.json()) as { error: { code: string; message: string } }).error;
    };
    const before = (await db.sql`select count(*)::int as n from executions`)[0]!.n;
    expect(await refused("dataset://images/v9")).toEqual({
      code: "invalid_input",
      message: 'Input "data": dataset://images/v9: dataset "images" has no version or alias "v9"; its versions: v1, v2, v3, v4, v5 (newest last).',
      details: expect.anything(),
    });
    expect((await refused("dataset://nope/latest")).message).toBe('Input "data": dataset://nope/latest: project demo has no dataset "nope" (its datasets: images, other).');
    expect((await refused("dataset://images/a/b")).message).toBe('Input "data": "dataset://images/a/b" is not a dataset URI; write dataset://NAME/VERSION or dataset://NAME/latest.');
    expect((await db.sql`select count(*)::int as n from executions`)[0]!.n).toBe(before);
  });

  it("an execution whose outputs a dataset version holds cannot be deleted; the version stays whole", async () => {
    const { exec } = await make({ "keep.txt": { content: "kept", versions: ["dataset://held/v1"] } });
    const res = await stack.raw("DELETE", `/api/v1/projects/demo/executions/${exec.counter}`);
    expect(res.status).toBe(409);
    const err = ((await res.json()) as { error: { message: string } }).error;
    expect(err.message).toBe(`Execution #${exec.counter} cannot be deleted: the dataset version dataset://held/v1 holds files it wrote, and a dataset version never changes.`);
    const v = await stack.api<VersionRecord>("GET", "/api/v1/projects/demo/datasets/held/versions/v1");
    expect(v.files.map((f) => [f.path, f.sha256])).toEqual([["keep.txt", sha("kept")]]);
    expect(await contentsOf(v)).toEqual({ "keep.txt": "kept" });
    // its link to the execution that made it goes only with that execution
    await expect(db.sql`update dataset_versions set execution_id = null where id = ${v.id}`).rejects.toThrow(/dataset versions are immutable: UPDATE/);
  });

  it("deleting the project takes its datasets with it, versions made by its executions included", async () => {
    expect((await db.sql`select count(*)::int as n from dataset_versions where execution_id is not null`)[0]!.n).toBeGreaterThan(0);
    await db.sql`delete from projects where name = 'demo'`;
    expect((await db.sql`select count(*)::int as n from dataset_versions`)[0]!.n).toBe(0);
    expect((await db.sql`select count(*)::int as n from datasets`)[0]!.n).toBe(0);
  });
});
