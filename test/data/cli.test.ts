/**
 * `vh data upload|list|download` and `uploadLocalInputs` (local inputs of ad-hoc runs) against a
 * real server, Postgres and local store.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";
import { cliAgainst, tempDir, type CliResult } from "../cli/helpers.js";
import { main } from "../../app/cli/main.js";
import { Context } from "../../app/cli/context.js";
import { completeIo } from "../../app/cli/io.js";
import { CliError } from "../../app/cli/errors.js";
import { uploadLocalInputs } from "../../app/cli/commands/data.js";

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

interface DatumJson {
  id: string;
  uri: string;
  name: string;
  size: number;
  sha256: string;
  executionId: string | null;
}

describe("vh data (CLI)", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let dir: string;
  let vh: (args: string[]) => Promise<CliResult>;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false, env: { VH_MAX_UPLOAD_MB: "1" } });
    await stack.api("POST", "/api/v1/projects", { name: "cli-data" });
    dir = tempDir("vh-data-cli-");
    vh = cliAgainst({ url: stack.vh.url, token: stack.vh.token }, dir);
    expect((await vh(["project", "link", "cli-data"])).code).toBe(0);
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  const datumCount = async () => Number((await db.sql<{ n: string }[]>`select count(*) as n from datums`)[0]!.n);
  const write = (rel: string, content: string | Buffer) => {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
    return p;
  };

  it("uploads files (a directory's too), lists them and downloads one with its sha256 checked", async () => {
    const a = Buffer.from("alpha,1\n");
    const b = Buffer.alloc(300_000, 3);
    write("a.csv", a);
    write("set/b.bin", b);
    write("set/sub/c.txt", "c");
    const up = await vh(["data", "upload", "a.csv", "set"]);
    expect(up.code, up.stderr).toBe(0);
    const lines = up.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => l.split("  ")[1])).toEqual(["a.csv", "b.bin", "sub/c.txt"]);
    for (const l of lines) expect(l).toMatch(/^datum:\/\/[0-9a-f-]{36} {2}\S+$/);

    const list = await vh(["data", "list", "--json"]);
    expect(list.code, list.stderr).toBe(0);
    const listed = JSON.parse(list.stdout) as DatumJson[];
    expect(listed.slice(0, 3).map((d) => d.name)).toEqual(["sub/c.txt", "b.bin", "a.csv"]);
    expect(listed.find((d) => d.name === "b.bin")).toMatchObject({ size: b.length, sha256: sha(b), executionId: null });
    const table = await vh(["data", "list", "--limit", "2"]);
    expect(table.stdout.split("\n")[0]).toMatch(/^DATUM +SIZE +CREATED +FROM +NAME$/);
    expect(table.stdout.trim().split("\n")).toHaveLength(3);
    expect(table.stdout).toContain("upload  sub/c.txt");
    const prefixed = JSON.parse((await vh(["data", "list", "--json", "--prefix", "sub/"])).stdout) as DatumJson[];
    expect(prefixed.map((d) => d.name)).toEqual(["sub/c.txt"]);

    const bUri = lines[1]!.split("  ")[0]!;
    fs.mkdirSync(path.join(dir, "out"));
    const dl = await vh(["data", "download", bUri, "-o", "out"]);
    expect(dl.code, dl.stderr).toBe(0);
    const target = path.join(dir, "out", "b.bin");
    expect(dl.stdout).toBe(`${target}\n`);
    expect(dl.stderr).toContain(`Downloaded ${bUri} (`);
    expect(dl.stderr).toContain("sha256 ok");
    expect(fs.readFileSync(target).equals(b)).toBe(true);

    // Never over an existing file without --force; with it, replaced.
    fs.writeFileSync(target, "mine");
    const again = await vh(["data", "download", bUri, "-o", "out"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${target} already exists: pass --force to overwrite it.`);
    expect(fs.readFileSync(target, "utf8")).toBe("mine");
    const forced = await vh(["data", "download", bUri, "-o", "out", "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(fs.readFileSync(target).equals(b)).toBe(true);
    const json = await vh(["data", "download", bUri, "-o", path.join(dir, "out", "renamed.bin"), "--json"]);
    expect(JSON.parse(json.stdout)).toEqual({ uri: bUri, path: path.join(dir, "out", "renamed.bin"), size: b.length, sha256: sha(b) });
    expect(fs.readdirSync(path.join(dir, "out")).sort()).toEqual(["b.bin", "renamed.bin"]);
  });

  it("shows the bytes of an upload and a download as a bar on a terminal", async () => {
    const bytes = Buffer.alloc(200_000, 9);
    write("bar.bin", bytes);
    async function onTerminal(args: string[]) {
      let stderr = "";
      let stdout = "";
      const code = await main(["--url", stack.vh.url, "--token", stack.vh.token, ...args], {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s), isTTY: true, columns: 120 },
        env: { XDG_CONFIG_HOME: path.join(dir, ".config"), HOME: dir },
        cwd: dir,
        sleep: async () => {},
      });
      return { code, stdout, stderr };
    }
    const up = await onTerminal(["data", "upload", "bar.bin", "--json"]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/Uploading bar\.bin █+ 100% \| 195 KiB \/ 195 KiB/);
    const { datums } = JSON.parse(up.stdout) as { datums: DatumJson[] };
    expect(datums).toHaveLength(1);
    expect(datums[0]).toMatchObject({ name: "bar.bin", size: 200_000, sha256: sha(bytes) });
    const down = await onTerminal(["data", "download", datums[0]!.uri, "-o", "bar-copy.bin"]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toMatch(/Downloading bar\.bin █+ 100% \| 195 KiB \/ 195 KiB/);
    expect(fs.readFileSync(path.join(dir, "bar-copy.bin")).equals(bytes)).toBe(true);
  });

  it("refuses a damaged download and writes nothing", async () => {
    const bytes = Buffer.from("will be damaged in the store");
    write("dmg.txt", bytes);
    const up = await vh(["data", "upload", "dmg.txt", "--json"]);
    const d = (JSON.parse(up.stdout) as { datums: DatumJson[] }).datums[0]!;
    const [row] = await db.sql<{ store_key: string }[]>`select store_key from datums where id = ${d.id}`;
    if (stack.config.store.kind !== "local") throw new Error("local store expected");
    fs.writeFileSync(path.join(stack.config.store.root, row!.store_key), Buffer.from("WILL BE DAMAGED IN THE STORE"));
    fs.mkdirSync(path.join(dir, "dmg"));
    const dl = await vh(["data", "download", d.uri, "-o", "dmg"]);
    expect(dl.code).toBe(1);
    expect(dl.stderr).toContain(`${d.uri} arrived damaged: 28 B with sha256 ${sha("WILL BE DAMAGED IN THE STORE")}, expected 28 B with ${sha(bytes)}; nothing written.`);
    expect(fs.readdirSync(path.join(dir, "dmg"))).toEqual([]);
  });

  it("refuses bad command lines before uploading anything", async () => {
    const before = await datumCount();
    write("ok.txt", "ok");
    const missing = await vh(["data", "upload", "ok.txt", "nope.txt"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`vh data upload: ${path.join(dir, "nope.txt")} does not exist (no such file or directory).`);
    const half = await vh(["data", "upload", "ok.txt", "--dataset", "d"]);
    expect(half.code).toBe(1);
    expect(half.stderr).toContain("--dataset and --version go together");
    write("x/ok.txt", "other ok");
    const clash = await vh(["data", "upload", "ok.txt", "x", "--dataset", "d", "--version", "1"]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain(`would both be "ok.txt" in dataset://d/1`);
    const notDatum = await vh(["data", "download", "model://x/v1"]);
    expect(notDatum.stderr).toContain('"model://x/v1" is not a datum: write datum://<id>');
    expect(await datumCount()).toBe(before);
  });

  it("refuses a file over the server's upload limit, naming the file and the setting", async () => {
    const before = await datumCount();
    write("huge.bin", Buffer.alloc(1024 * 1024 + 1));
    const r = await vh(["data", "upload", "huge.bin"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Uploading ${path.join(dir, "huge.bin")}: The file is over the 1 MiB upload limit (VH_MAX_UPLOAD_MB); nothing was stored.`);
    // Far over it: refused by its declared length, and the CLI shows the server's answer (not a broken pipe).
    const far = path.join(dir, "far.bin");
    fs.closeSync(fs.openSync(far, "w"));
    fs.truncateSync(far, 64 * 1024 * 1024);
    const r2 = await vh(["data", "upload", "far.bin"]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(`Uploading ${far}: The file is over the 1 MiB upload limit (VH_MAX_UPLOAD_MB); nothing was stored.`);
    expect(await datumCount()).toBe(before);
  });

  it("--dataset NAME --version V makes that dataset version of the uploaded files; the same version again is refused", async () => {
    write("ds/train.csv", "t\n");
    write("ds/test.csv", "s\n");
    const r = await vh(["data", "upload", "ds", "--dataset", "cli-set", "--version", "v1", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { datums: DatumJson[]; dataset: { uri: string } };
    expect(out.datums.map((d) => d.name)).toEqual(["test.csv", "train.csv"]);
    expect(out.dataset.uri).toBe("dataset://cli-set/v1");
    const version = await stack.api<{ files: { path?: string; name?: string; datum?: string }[] }>("GET", "/api/v1/projects/cli-data/datasets/cli-set/versions/v1");
    expect(JSON.stringify(version.files)).toContain("train.csv");

    const dup = await vh(["data", "upload", "ds/train.csv", "--dataset", "cli-set", "--version", "v1"]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/dataset:\/\/cli-set\/v1 already exists \(a version never changes\): the file stays uploaded as a datum \(datum:\/\/[0-9a-f-]{36}\); pick another --version\./);
  });

  describe("uploadLocalInputs", () => {
    function context(cwd: string) {
      let stderr = "";
      const ctx = new Context(
        completeIo({ stdout: { write: () => true }, stderr: { write: (s: string) => (stderr += s) }, env: { HOME: cwd }, cwd }),
        { url: stack.vh.url, token: stack.vh.token },
      );
      return { ctx, stderr: () => stderr };
    }
    const datumOf = (uri: string) => stack.api<DatumJson>("GET", `/api/v1/data/${uri.replace("datum://", "")}`);

    it("uploads a file, a directory's files and a file:// URI; other URIs pass through", async () => {
      const root = tempDir("vh-local-inputs-");
      fs.writeFileSync(path.join(root, "one.csv"), "1\n");
      fs.mkdirSync(path.join(root, "imgs", "deep"), { recursive: true });
      fs.writeFileSync(path.join(root, "imgs", "a.png"), "A");
      fs.writeFileSync(path.join(root, "imgs", "deep", "b.png"), "B");
      fs.writeFileSync(path.join(root, "abs.txt"), "absolute");
      const { ctx, stderr } = context(root);
      const out = await uploadLocalInputs(ctx, "cli-data", {
        single: "one.csv",
        dir: "./imgs",
        url: pathToFileURL(path.join(root, "abs.txt")).href,
        mixed: ["https://example.com/x.csv", "datum://00000000-0000-4000-8000-000000000000", "s3://bucket/key/*", path.join(root, "one.csv")],
      });
      expect(Object.keys(out)).toEqual(["single", "dir", "url", "mixed"]);
      expect(out["single"]).toHaveLength(1);
      const single = await datumOf(out["single"]![0]!);
      expect(single).toMatchObject({ name: "one.csv", sha256: sha("1\n"), executionId: null });
      const dirFiles = await Promise.all(out["dir"]!.map(datumOf));
      expect(dirFiles.map((d) => [d.name, d.sha256])).toEqual([
        ["a.png", sha("A")],
        ["deep/b.png", sha("B")],
      ]);
      expect((await datumOf(out["url"]![0]!)).sha256).toBe(sha("absolute"));
      // URIs of other schemes unchanged and in place; the same file given twice is uploaded once.
      expect(out["mixed"]).toEqual(["https://example.com/x.csv", "datum://00000000-0000-4000-8000-000000000000", "s3://bucket/key/*", out["single"]![0]]);
      expect(stderr()).toContain('Input "dir": uploaded 2 files (2 B) as datums.');
      expect(stderr()).toContain(`Input "single": uploaded 1 file (2 B) as datum ${out["single"]![0]}.`);
    });

    it("refuses a local path that does not exist, naming the input, before uploading anything", async () => {
      const root = tempDir("vh-local-inputs-");
      fs.writeFileSync(path.join(root, "here.csv"), "here");
      const before = await datumCount();
      const { ctx } = context(root);
      const err = await uploadLocalInputs(ctx, "cli-data", { good: "here.csv", bad: ["https://example.com/a", "./missing/data.csv"] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CliError);
      expect((err as Error).message).toBe(
        `Input "bad": "./missing/data.csv" is not a URI and there is no file or directory ${path.join(root, "missing", "data.csv")}; inputs are local paths, file://, or URIs such as datum://, https://, s3://.`,
      );
      const viaUri = await uploadLocalInputs(ctx, "cli-data", { u: pathToFileURL(path.join(root, "gone.txt")).href }).catch((e: unknown) => e);
      expect((viaUri as Error).message).toBe(`Input "u": "file://${path.join(root, "gone.txt")}" names no file or directory (${path.join(root, "gone.txt")} does not exist).`);
      fs.mkdirSync(path.join(root, "empty"));
      const empty = await uploadLocalInputs(ctx, "cli-data", { e: "empty" }).catch((e: unknown) => e);
      expect((empty as Error).message).toBe(`Input "e": the directory ${path.join(root, "empty")} has no files.`);
      const remote = await uploadLocalInputs(ctx, "cli-data", { r: "file://otherhost/x" }).catch((e: unknown) => e);
      expect((remote as Error).message).toMatch(/^Input "r": "file:\/\/otherhost\/x" is not a local file URI/);
      expect(await datumCount()).toBe(before);
    });
  });
});
