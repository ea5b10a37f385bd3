/**
 * Dataset versions through the REST API and `vh dataset …` against a real server and Postgres (no
 * worker: the datums are rows as an upload would leave them), and the database's own refusal to
 * change a version.
 */
import { createHash, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";
import { runCli, tempDir } from "../cli/helpers.js";
import type { DatasetRecord, DatasetSummary, VersionRecord } from "../../app/datasets/versions.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("datasets (REST API and CLI)", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  /** Datums of project "demo", by name; and one of project "other". */
  const datums: Record<string, string> = {};
  let foreign: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
    await stack.api("POST", "/api/v1/projects", { name: "other" });
    const [demo] = await db.sql<{ id: string }[]>`select id from projects where name = 'demo'`;
    const [other] = await db.sql<{ id: string }[]>`select id from projects where name = 'other'`;
    for (const name of ["a.csv", "b.csv", "img/c.png"]) {
      const id = randomUUID();
      await db.sql`insert into datums (id, project_id, name, size, sha256, store_key) values (${id}, ${demo!.id}, ${name}, ${name.length}, ${sha(name)}, ${`data/${id}/${name}`})`;
      datums[name] = id;
    }
    foreign = randomUUID();
    await db.sql`insert into datums (id, project_id, name, size, sha256, store_key) values (${foreign}, ${other!.id}, 'x.csv', 1, ${sha("x")}, ${`data/${foreign}/x.csv`})`;
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  const post = (name: string, body: unknown) =>
    stack.raw("POST", `/api/v1/projects/demo/datasets/${name}/versions`, JSON.stringify(body), { "content-type": "application/json" });
  const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;
  const cli = (...args: string[]) => runCli([...args, "--url", stack.vh.url, "--token", stack.vh.token, "--project", "demo"], { cwd: tempDir() });

  it("creates versions from datums (the dataset with its first), lists and shows them, and 409s an existing version", async () => {
    const res = await post("tables", { version: "v1", files: [{ datum: datums["a.csv"] }, { datum: `datum://${datums["b.csv"]}`, path: "split/b.csv" }] });
    expect(res.status).toBe(201);
    const v1 = (await res.json()) as VersionRecord;
    expect(v1).toMatchObject({ uri: "dataset://tables/v1", dataset: "tables", version: "v1", latest: true, execution: null, createdBy: expect.stringMatching(/^admin/), fileCount: 2, size: 10 });
    expect(v1.files).toEqual([
      { path: "a.csv", datum: `datum://${datums["a.csv"]}`, datumId: datums["a.csv"], sha256: sha("a.csv"), size: 5 },
      { path: "split/b.csv", datum: `datum://${datums["b.csv"]}`, datumId: datums["b.csv"], sha256: sha("b.csv"), size: 5 },
    ]);

    const again = await post("tables", { version: "v1", files: [{ datum: datums["img/c.png"] }] });
    expect(again.status).toBe(409);
    expect((await errorOf(again)).message).toMatch(/^dataset:\/\/tables\/v1 already exists \(created \S+ by admin.*\); a version never changes: give the new one another name\.$/);
    // the refused one changed nothing
    const kept = await stack.api<VersionRecord>("GET", "/api/v1/projects/demo/datasets/tables/versions/v1");
    expect(kept.files.map((f) => f.path)).toEqual(["a.csv", "split/b.csv"]);

    expect((await post("tables", { version: "v2", files: [{ datum: datums["img/c.png"] }] })).status).toBe(201);
    const latest = await stack.api<VersionRecord>("GET", "/api/v1/projects/demo/datasets/tables/versions/latest");
    expect(latest).toMatchObject({ uri: "dataset://tables/v2", latest: true, files: [expect.objectContaining({ path: "img/c.png" })] });
    expect((await stack.api<VersionRecord>("GET", "/api/v1/projects/demo/datasets/tables/versions/v1")).latest).toBe(false);

    const shown = await stack.api<DatasetRecord>("GET", "/api/v1/projects/demo/datasets/tables");
    expect(shown).toMatchObject({ name: "tables", versions: 2, latest: "dataset://tables/v2" });
    expect(shown.results.map((v) => [v.version, v.fileCount])).toEqual([["v2", 1], ["v1", 2]]);
    const list = await stack.api<{ results: DatasetSummary[] }>("GET", "/api/v1/projects/demo/datasets");
    expect(list.results).toEqual([expect.objectContaining({ name: "tables", versions: 2, latest: "dataset://tables/v2" })]);
    // datasets are per project
    expect((await stack.api<{ results: unknown[] }>("GET", "/api/v1/projects/other/datasets")).results).toEqual([]);
    expect((await stack.raw("GET", "/api/v1/projects/other/datasets/tables/versions/v1")).status).toBe(404);
  });

  it("answers 400 naming each bad file, and 404 naming what exists", async () => {
    const bad = await post("bad", {
      version: "v1",
      files: [{ datum: "nope" }, { datum: randomUUID() }, { datum: foreign }],
    });
    expect(bad.status).toBe(400);
    const lines = (await errorOf(bad)).message.split("\n");
    expect(lines[0]).toBe('files[0]: "nope" is not a datum id (datum://<uuid>).');
    const paths = await post("bad", { version: "v1", files: [{ datum: datums["a.csv"] }, { datum: datums["b.csv"], path: "a.csv" }, { datum: datums["b.csv"], path: "../up" }] });
    expect(paths.status).toBe(400);
    expect((await errorOf(paths)).message).toBe(
      'files[1] (datum://' + datums["b.csv"] + '): the path "a.csv" is also that of files[0]; paths in a version must differ (set "path").\n' +
        'files[2] (datum://' + datums["b.csv"] + '): "../up" is not a relative path of plain names (no leading "/", "..", "." or empty parts).',
    );
    // a file and a folder of the same name could not both be laid out under inputs/NAME/
    const nested = await post("bad", { version: "v1", files: [{ datum: datums["a.csv"], path: "a" }, { datum: datums["b.csv"], path: "a/b.csv" }] });
    expect(nested.status).toBe(400);
    expect((await errorOf(nested)).message).toBe('dataset://bad/v1: "a" is a file and also the folder of "a/b.csv"; a path cannot be both.');
    const missing = await post("bad", { version: "v1", files: [{ datum: datums["a.csv"] }, { datum: foreign }] });
    expect((await errorOf(missing)).message).toBe(`files[1]: datum://${foreign} does not exist in project demo.`);
    const reserved = await post("bad", { version: "latest", files: [{ datum: datums["a.csv"] }] });
    expect(reserved.status).toBe(400);
    expect((await errorOf(reserved)).message).toContain('"latest" cannot be a version name');
    expect((await post("bad", { version: "v1", files: [] })).status).toBe(400);
    expect((await post("bad", { files: [{ datum: datums["a.csv"] }] })).status).toBe(400);
    // nothing of the refused requests was made
    expect((await db.sql`select 1 from datasets where name = 'bad'`).length).toBe(0);

    const noDataset = await stack.raw("GET", "/api/v1/projects/demo/datasets/nope/versions/latest");
    expect(noDataset.status).toBe(404);
    expect((await errorOf(noDataset)).message).toBe('dataset://nope/latest: project demo has no dataset "nope" (its datasets: tables).');
    const noVersion = await stack.raw("GET", "/api/v1/projects/demo/datasets/tables/versions/v9");
    expect(noVersion.status).toBe(404);
    expect((await errorOf(noVersion)).message).toBe('dataset://tables/v9: dataset "tables" has no version or alias "v9"; its versions: v1, v2 (newest last).');
  });

  it("vh dataset create, show and list", async () => {
    const made = await cli("dataset", "create", "cli-set", "--version", "2026-11", `datum://${datums["a.csv"]}`, `datum://${datums["img/c.png"]}`, "--path", "train/a.csv");
    expect(made.stderr).toBe("Created dataset://cli-set/2026-11 with 2 file(s) (14 B).\n");
    expect(made.code).toBe(0);
    const json = await cli("dataset", "show", "cli-set/2026-11", "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ uri: "dataset://cli-set/2026-11", files: [{ path: "img/c.png" }, { path: "train/a.csv" }] });
    const text = await cli("dataset", "show", "dataset://cli-set/latest");
    expect(text.stdout).toContain("Version:  dataset://cli-set/2026-11 (latest)");
    expect(text.stdout).toMatch(new RegExp(`train/a\\.csv\\s+5 B\\s+${sha("a.csv")}\\s+datum://${datums["a.csv"]}`));
    const versions = await cli("dataset", "show", "cli-set");
    expect(versions.stdout).toContain("Latest:   dataset://cli-set/2026-11");
    expect(versions.stdout).toMatch(/2026-11\s+2\s+14 B\s+manual/);
    const list = await cli("dataset", "list", "--json");
    expect(JSON.parse(list.stdout).map((d: DatasetSummary) => d.name)).toEqual(["cli-set", "tables"]);

    const dup = await cli("dataset", "create", "cli-set", "--version", "2026-11", `datum://${datums["b.csv"]}`);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^error: dataset:\/\/cli-set\/2026-11 already exists/);
    const unknown = await cli("dataset", "show", "cli-set/v0");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('dataset "cli-set" has no version or alias "v0"; its versions: 2026-11 (newest last).');
    const tooManyPaths = await cli("dataset", "create", "cli-set", "--version", "x", `datum://${datums["b.csv"]}`, "--path", "p", "--path", "q");
    expect(tooManyPaths.stderr).toBe("error: 2 --path values for 1 datum(s): each --path names the file of the datum in the same place.\n");
  });

  it("the database refuses to change a version's files, yet deletes them with their project", async () => {
    const [v] = await db.sql<{ id: string }[]>`select v.id from dataset_versions v join datasets d on d.id = v.dataset_id where d.name = 'tables' and v.name = 'v1'`;
    await expect(db.sql`update dataset_version_files set sha256 = 'x' where version_id = ${v!.id}`).rejects.toThrow(/dataset version files are immutable: UPDATE/);
    await expect(db.sql`delete from dataset_version_files where version_id = ${v!.id}`).rejects.toThrow(/dataset version files are immutable: DELETE/);
    await expect(db.sql`update dataset_versions set name = 'v1b' where id = ${v!.id}`).rejects.toThrow(/dataset versions are immutable: UPDATE/);
    await expect(db.sql`delete from dataset_versions where id = ${v!.id}`).rejects.toThrow(/dataset versions are immutable: DELETE/);
    await expect(db.sql`update dataset_versions set id = gen_random_uuid() where id = ${v!.id}`).rejects.toThrow(/dataset versions are immutable: UPDATE/);
    await expect(db.sql`update dataset_versions set execution_id = null where id = ${v!.id}`).resolves.toBeDefined(); // it had none: no change
    // around the row triggers: the dataset itself, and TRUNCATE
    await expect(db.sql`delete from datasets where name = 'tables'`).rejects.toThrow(/dataset "tables" .* holds immutable versions: it is deleted only with its project/);
    for (const t of ["datasets", "dataset_versions", "dataset_version_files"]) {
      await expect(db.sql.unsafe(`truncate ${t} cascade`)).rejects.toThrow(/TRUNCATE of .* refused: dataset versions are immutable/);
    }
    expect((await db.sql`select 1 from dataset_version_files where version_id = ${v!.id}`).length).toBe(2);
    // a datum in a version cannot be deleted from under it
    await expect(db.sql`delete from datums where id = ${datums["a.csv"]!}`).rejects.toThrow(/dataset_version_files_datum_id_datums_id_fk/);

    await db.sql`delete from projects where name = 'demo'`;
    expect((await db.sql`select count(*)::int as n from dataset_version_files`)[0]!.n).toBe(0);
    expect((await db.sql`select count(*)::int as n from datasets`)[0]!.n).toBe(0);
  });
});
