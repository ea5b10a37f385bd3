/**
 * valohai.yaml read from code snapshots (app/snapshots/config.ts) and the code snapshot of a
 * forge commit (app/snapshots/of-commit.ts), on a real Postgres and a real local store:
 * one parse per snapshot whoever asks (every point of a sweep, a second caller, callers at the
 * same moment), a bounded cache, one set of messages, one download per commit.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { create } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type Config } from "../../app/config.js";
import type { Forge, RepoRef } from "../../app/contracts/forge.js";
import type { Store } from "../../app/contracts/store.js";
import { snapshotKey } from "../../app/contracts/store-keys.js";
import { StoreError, VhError } from "../../app/errors.js";
import { createExecutions } from "../../app/executions/create.js";
import { projectForRepo } from "../../app/projects/for-repo.js";
import { CONFIG_CACHE_SIZE, configParseCount, configProblemsOf, loadSnapshotConfig, stepNames, stepOf } from "../../app/snapshots/config.js";
import { readSnapshotFile } from "../../app/snapshots/files.js";
import { recordedSnapshot, snapshotOfCommit } from "../../app/snapshots/of-commit.js";
import { createLocalStore } from "../../worker/stores/local.js";
import { createTestDatabase } from "../helpers/db.js";
import { tarball } from "../helpers/snapshot.js";

const FIXTURE = path.resolve(import.meta.dirname, "../github/fixture-repo");
const repo: RepoRef = { forge: "github", id: 5150, fullName: "acme/widgets", owner: "acme", name: "widgets", installationId: 9 };

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let dir: string;
let store: Store;
let config: Config;
/** Reads of each snapshot's object from the store. */
const gets = new Map<string, number>();

function countingStore(inner: Store): Store {
  return {
    ...inner,
    kind: inner.kind,
    async get(key) {
      gets.set(key, (gets.get(key) ?? 0) + 1);
      return inner.get(key);
    },
  };
}

/** Stores a snapshot of `files` (as the API's upload would) and returns its sha256. */
async function snapshot(files: Record<string, string>): Promise<string> {
  const d = fs.mkdtempSync(path.join(dir, "src-"));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(d, name), text);
  const { body, sha256 } = await tarball(d);
  await store.put(snapshotKey(sha256), body);
  return sha256;
}

const fixtureYaml = () => fs.readFileSync(path.join(FIXTURE, "valohai.yaml"), "utf8");

beforeAll(async () => {
  db = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-snapcfg-"));
  store = countingStore(createLocalStore(path.join(dir, "store")));
  config = loadConfig({ VH_DATA_DIR: path.join(dir, "data"), VH_SECRETS_KEY: randomBytes(32).toString("base64"), VH_LOG_LEVEL: "silent" });
});
afterAll(async () => {
  await db?.drop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("valohai.yaml of a snapshot", () => {
  it("is read and parsed once per snapshot, for every caller, also when they ask at the same moment", async () => {
    const code = await snapshot({ "valohai.yaml": fixtureYaml(), "train.py": "print(1)\n" });
    const parses = configParseCount();
    const all = await Promise.all(Array.from({ length: 5 }, (_v, i) => loadSnapshotConfig(store, { code, yamlPath: "valohai.yaml", commitSha: i % 2 ? "a".repeat(40) : null })));
    const again = await loadSnapshotConfig(store, { code, yamlPath: "valohai.yaml" });
    expect(configParseCount() - parses).toBe(1);
    expect(gets.get(snapshotKey(code))).toBe(1);
    for (const l of [...all, again]) expect(l.config).toBe(all[0]!.config);
    expect([...again.config.steps.keys()]).toEqual(["train", "evaluate"]);
    expect(await stepNames(store, { code, yamlPath: "valohai.yaml" })).toEqual(["train", "evaluate"]);
    expect(configParseCount() - parses).toBe(1);
  });

  it("keeps at most CONFIG_CACHE_SIZE parses, dropping the least recently used", async () => {
    const yaml = (i: number) => `- step:\n    name: s${i}\n    image: busybox\n    command: echo ${i}\n`;
    const codes: string[] = [];
    for (let i = 0; i <= CONFIG_CACHE_SIZE; i++) codes.push(await snapshot({ "valohai.yaml": yaml(i) }));
    const place = (code: string) => ({ code, yamlPath: "valohai.yaml" });
    await loadSnapshotConfig(store, place(codes[0]!));
    await loadSnapshotConfig(store, place(codes[1]!));
    for (const c of codes.slice(2, CONFIG_CACHE_SIZE)) await loadSnapshotConfig(store, place(c));
    await loadSnapshotConfig(store, place(codes[0]!)); // used again: now the most recent
    await loadSnapshotConfig(store, place(codes[CONFIG_CACHE_SIZE]!)); // one over: the least recent (codes[1]) goes
    const parses = configParseCount();
    expect((await loadSnapshotConfig(store, place(codes[0]!))).config.steps.has("s0")).toBe(true);
    expect(configParseCount()).toBe(parses);
    expect((await loadSnapshotConfig(store, place(codes[1]!))).config.steps.has("s1")).toBe(true);
    expect(configParseCount()).toBe(parses + 1);
  });

  it("says a missing file, an invalid one (file:line:column, problems kept) and an unknown step one way", async () => {
    const none = await snapshot({ "train.py": "print(1)\n" });
    await expect(loadSnapshotConfig(store, { code: none, yamlPath: "valohai.yaml", commitSha: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c" })).rejects.toThrow(
      /^There is no `valohai\.yaml` at 0d1a26e: vh reads the steps from it\.$/,
    );
    expect(await stepNames(store, { code: none, yamlPath: "valohai.yaml" })).toBeNull();

    const bad = await snapshot({ "valohai.yaml": "- step:\n    name: train\n    image: python:3.12\n    command: python3 train.py\n    parameterz: []\n" });
    const err = await loadSnapshotConfig(store, { code: bad, yamlPath: "valohai.yaml" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VhError);
    expect((err as VhError).code).toBe("invalid_config");
    expect((err as VhError).message).toMatch(/^`valohai\.yaml` in the code snapshot is invalid:\nvalohai\.yaml:5:5: step "train": "parameterz" has an unknown key "parameterz"; did you mean "parameters"\?/);
    expect(configProblemsOf(err)).toEqual([expect.objectContaining({ severity: "error", code: "unknown-key", line: 5, column: 5, file: "valohai.yaml" })]);
    expect(configProblemsOf(new VhError("invalid_config", "no file"))).toBeNull();
    expect(await stepNames(store, { code: bad, yamlPath: "valohai.yaml" })).toEqual([]);

    const good = await snapshot({ "valohai.yaml": fixtureYaml() });
    const place = { code: good, yamlPath: "valohai.yaml", commitSha: "5f1c2a0d2e9b4b7e8c1d3f4a5b6c7d8e9f0a1b2c" };
    const loaded = await loadSnapshotConfig(store, place);
    expect(stepOf(loaded, "train", place).name).toBe("train");
    expect(() => stepOf(loaded, "trian", place)).toThrow("`valohai.yaml` at 5f1c2a0 has no step `trian`. Did you mean `train`? Steps: `train`, `evaluate`.");
    // a name from a comment stays inside its code span
    expect(() => stepOf(loaded, "x` @everyone", { ...place, commitSha: null })).toThrow("`valohai.yaml` in the code snapshot has no step ``x` @everyone``.");
  });

  it("a store that fails is not taken for a snapshot that is not stored", async () => {
    const code = await snapshot({ "valohai.yaml": fixtureYaml(), "only-here.txt": "store test\n" });
    const failing: Store = { ...store, get: async () => { throw new StoreError("S3 download of code/… failed: ECONNREFUSED"); } };
    await expect(readSnapshotFile(failing, code, "valohai.yaml")).rejects.toMatchObject({ code: "store_error" });
    await expect(readSnapshotFile(store, "0".repeat(64), "valohai.yaml")).rejects.toMatchObject({ code: "not_found", message: expect.stringMatching(/is not stored/) });
  });
});

describe("creating a sweep's executions", () => {
  it("parses valohai.yaml once for all points, checks every point first, and writes nothing when one is refused", async () => {
    const code = await snapshot({ "valohai.yaml": fixtureYaml(), "train.py": "print(1)\n" });
    const deps = { sql: db.sql, store, config };
    let projectAsked = 0;
    const project = async () => {
      projectAsked++;
      return projectForRepo(db.sql, repo);
    };
    const body = (epochs: string) => ({ step: "train", code, parameters: { epochs } });
    const parses = configParseCount();
    const rows = async () => {
      const [r] = await db.sql<{ e: number; j: number }[]>`
        select (select count(*)::int from executions) as e, (select count(*)::int from graphile_worker.jobs) as j`;
      return r!;
    };
    const before = await rows();

    const bad = ["1", "x", "2", "y", "x", ...Array.from({ length: 15 }, (_v, i) => String(i + 3))].map(body);
    const err = await createExecutions(deps, project, bad, { commitSha: "c".repeat(40) }, async () => "never").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "invalid_parameter", message: "Parameter `epochs`: x is not an integer\nParameter `epochs`: y is not an integer" });
    expect(await rows()).toEqual(before);
    expect(projectAsked).toBe(0); // refused before the project was looked up (or made)

    const unknown = await createExecutions(deps, project, [{ step: "trian", code }], { commitSha: "c".repeat(40) }, async () => "never").catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: "unknown_step", message: "`valohai.yaml` at ccccccc has no step `trian`. Did you mean `train`? Steps: `train`, `evaluate`." });

    const good = Array.from({ length: 20 }, (_v, i) => body(String(i + 1)));
    const { created, extra } = await createExecutions(deps, project, good, { commitSha: "c".repeat(40) }, async (tx, w) => {
      const [n] = await tx<{ n: number }[]>`select count(*)::int as n from executions where project_id = ${w.project.id}`;
      return { inTx: n!.n, steps: [...new Set(w.prepared.map((p) => p.step.name))], problems: w.prepared[0]!.problems };
    });
    expect(created.map((c) => c.counter)).toEqual(Array.from({ length: 20 }, (_v, i) => i + 1));
    expect(extra).toEqual({ inTx: 20, steps: ["train"], problems: [] });
    expect(projectAsked).toBe(1);
    // three calls, 42 bodies: one parse, one read of the snapshot
    expect(configParseCount() - parses).toBe(1);
    expect(gets.get(snapshotKey(code))).toBe(1);
    const commands = await db.sql<{ command: string }[]>`select command from executions order by counter limit 2`;
    expect(commands.map((c) => c.command)).toEqual(["python3 train.py --lr=0.01 --epochs=1 --note=none", "python3 train.py --lr=0.01 --epochs=2 --note=none"]);
  });
});

describe("the code snapshot of a commit", () => {
  /** GitHub's tarball: the tree under one `owner-repo-sha7/` folder. */
  async function archiveOf(sha: string): Promise<Buffer> {
    const d = fs.mkdtempSync(path.join(dir, "arch-"));
    const top = `acme-widgets-${sha.slice(0, 7)}`;
    fs.cpSync(FIXTURE, path.join(d, top), { recursive: true });
    // as GitHub's tarballs do, each archive carries its commit's time on every file
    const time = new Date(Date.UTC(2026, 0, 1) + parseInt(sha.slice(0, 4), 16) * 1000);
    for (const e of fs.readdirSync(path.join(d, top), { recursive: true, withFileTypes: true })) fs.utimesSync(path.join(e.parentPath, e.name), time, time);
    const chunks: Buffer[] = [];
    for await (const c of create({ gzip: true, cwd: d, portable: true }, [top])) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  it("is downloaded once per commit (also by two handlings at once), stored content-addressed and recorded", async () => {
    const downloads: string[] = [];
    const forge = {
      kind: "github",
      async downloadArchive(_repo: RepoRef, sha: string) {
        downloads.push(sha);
        await new Promise((r) => setTimeout(r, 20));
        return archiveOf(sha);
      },
    } as Partial<Forge> as Forge;
    const deps = { sql: db.sql, store, config };
    const a = "a1".repeat(20);
    const b = "b2".repeat(20);
    expect(await recordedSnapshot(db.sql, repo, a)).toBeNull();
    const [x, y] = await Promise.all([snapshotOfCommit(deps, forge, repo, a), snapshotOfCommit(deps, forge, repo, a)]);
    expect(x).toBe(y);
    expect(downloads).toEqual([a]);
    expect(await snapshotOfCommit(deps, forge, repo, a)).toBe(x);
    expect(downloads).toEqual([a]);
    expect(await recordedSnapshot(db.sql, repo, a)).toBe(x);
    // another commit with the same tree: downloaded (the forge is asked for each commit once), the same snapshot
    expect(await snapshotOfCommit(deps, forge, repo, b)).toBe(x);
    expect(downloads).toEqual([a, b]);
    expect(await readSnapshotFile(store, x, "valohai.yaml")).toBe(fixtureYaml());
    expect(await db.sql`select commit_sha, code_sha256 from forge_commit_snapshots where repository_id = ${repo.id} order by commit_sha`).toEqual([
      { commit_sha: a, code_sha256: x },
      { commit_sha: b, code_sha256: x },
    ]);
  });

  it("a failed download records nothing and is tried again next time", async () => {
    let calls = 0;
    const forge = {
      kind: "github",
      async downloadArchive(_repo: RepoRef, sha: string) {
        if (++calls === 1) throw new Error("GitHub 502");
        return archiveOf(sha);
      },
    } as Partial<Forge> as Forge;
    const sha = "c3".repeat(20);
    const deps = { sql: db.sql, store, config };
    await expect(snapshotOfCommit(deps, forge, repo, sha)).rejects.toThrow("GitHub 502");
    expect(await recordedSnapshot(db.sql, repo, sha)).toBeNull();
    const code = await snapshotOfCommit(deps, forge, repo, sha);
    expect(await recordedSnapshot(db.sql, repo, sha)).toBe(code);
    expect(calls).toBe(2);
  });
});
