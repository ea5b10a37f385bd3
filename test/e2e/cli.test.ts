/**
 * The newcomer's flow through the real `vh` executable (app/cli/bin.js in a child process) against
 * a real server on this machine: no login (the CLI finds the local server and its admin token),
 * an ad-hoc run with --watch, the record, logs, metadata, outputs with checksums, dry-run.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, type Stack } from "../helpers/stack.js";

const root = path.resolve(import.meta.dirname, "../..");
const fixture = path.join(root, "test/fixtures/projects/train-basic");
const DATASET = "x,y\n1,1\n2,4\n3,9\n4,16\n";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe("vh CLI end to end", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let files: http.Server;
  let dataUrl: string;
  const work = tempDir("vh-cli-e2e-");
  const project = path.join(work, "my-model");

  function vh(args: string[], opts: { cwd?: string } = {}): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [path.join(root, "app/cli/bin.js"), ...args],
        {
          cwd: opts.cwd ?? project,
          env: { PATH: process.env["PATH"] ?? "", HOME: work, XDG_CONFIG_HOME: path.join(stack.dataDir, "xdg") },
          timeout: 120_000,
        },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
    files = http.createServer((req, res) => {
      if (req.url === "/data.csv") res.writeHead(200).end(req.method === "HEAD" ? undefined : DATASET);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    dataUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}/data.csv`;
    fs.cpSync(fixture, project, { recursive: true });
    fs.writeFileSync(path.join(project, ".gitignore"), "*.tmp\nscratch/\n");
    fs.writeFileSync(path.join(project, "junk.tmp"), "not packaged");
    fs.mkdirSync(path.join(project, "scratch"));
    fs.writeFileSync(path.join(project, "scratch/big.bin"), Buffer.alloc(1024));
  });

  afterAll(async () => {
    await stack?.stop();
    await new Promise((r) => files?.close(r));
    await db?.drop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("dry-run prints exactly the script, offline", async () => {
    const r = await vh(["exec", "run", "train", "--dry-run", "--epochs=5", "--label", "a b", "--augment"], { cwd: project });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Input "dataset" is required/); // a warning only: the command does not depend on it
    expect(r.stdout).toBe("echo \"preparing\"\npython3 train.py --epochs=5 --learning_rate=0.001 '--label=a b' --augment\n");
  });

  it("runs ad hoc with --watch, then inspects the record, logs, metadata and outputs", async () => {
    const r = await vh(["exec", "run", "train", "--adhoc", "--watch", "--epochs=3", `--dataset=${dataUrl}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("dataset rows 5");
    expect(r.stdout).toContain('{"epoch": 2, "loss": 0.125, "accuracy": 0.875, "lr": 0.001}');
    expect(r.stderr).toMatch(/my-model/); // the project made on the first ad-hoc run
    expect(r.stderr).toMatch(/^Uploaded \d+ bytes \([^)]+, \d+ files\)\.$/m); // the first run uploads the snapshot
    expect(r.stderr).toMatch(/a warning on stderr/);

    const again = await vh(["exec", "run", "crash", "--adhoc", "--watch"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("Code unchanged, nothing uploaded."); // same files: the server already has the snapshot

    const show = await vh(["exec", "show", "1", "--json"]);
    expect(show.code, show.stderr).toBe(0);
    const rec = JSON.parse(show.stdout) as {
      status: string; project: { name: string }; command: string; parameters: Record<string, unknown>;
      inputs: { sha256: string; size: number }[]; code: { sha256: string }; runtime: { host: { hostname: string } };
      metadataLatest: Record<string, unknown>; statusHistory: { status: string }[];
    };
    expect(rec.status).toBe("completed");
    expect(rec.project.name).toBe("my-model");
    expect(rec.parameters).toEqual({ epochs: 3, learning_rate: 0.001, label: "hello world", augment: false });
    expect(rec.inputs[0]).toMatchObject({ sha256: createHash("sha256").update(DATASET).digest("hex"), size: DATASET.length });
    expect(rec.code.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rec.runtime.host.hostname).toBe(os.hostname()); // the local runner, on this machine
    expect(rec.metadataLatest).toMatchObject({ epoch: 2, loss: 0.125 });

    // the packaged snapshot honoured .gitignore
    const tgz = path.join(stack.dataDir, "store", "code", `${rec.code.sha256}.tgz`);
    const { list } = await import("tar");
    const names: string[] = [];
    await list({ file: tgz, onReadEntry: (e) => names.push(e.path) });
    expect(names).toContain("train.py");
    expect(names).toContain(".gitignore");
    expect(names.some((n) => n.endsWith("junk.tmp") || n.startsWith("scratch"))).toBe(false);

    const logs = await vh(["exec", "logs", "1"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain("execution counter 1");

    const md = await stack.api<{ events: { data: { loss: number } }[] }>("GET", "/api/v1/projects/my-model/executions/1/metadata");
    expect(md.events.map((e) => e.data.loss)).toEqual([0.5, 0.25, 0.125]);

    const list1 = await vh(["exec", "list", "--json"]);
    expect((JSON.parse(list1.stdout) as { counter: number; status: string }[]).map((e) => [e.counter, e.status])).toEqual([
      [2, "failed"],
      [1, "completed"],
    ]);

    const out = path.join(work, "downloaded");
    const dl = await vh(["exec", "outputs", "1", "--download", out]);
    expect(dl.code, dl.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, "models/model.bin"), "utf8")).toBe("weights:x,y,1,1,2,4,3,9,4,16");
    expect(fs.readFileSync(path.join(out, "summary.txt"), "utf8")).toBe("label=hello world\n");
    const outs = await vh(["exec", "outputs", "1", "--json"]);
    const parsed = JSON.parse(outs.stdout) as { name: string; sha256: string }[];
    expect(parsed.find((o) => o.name === "models/model.bin")!.sha256).toBe(
      createHash("sha256").update("weights:x,y,1,1,2,4,3,9,4,16").digest("hex"),
    );
  });

  it("refuses bad input before anything is created", async () => {
    const before = (await db.sql`select count(*)::int as n from executions`)[0]!.n;
    const unknown = await vh(["exec", "run", "trian", "--adhoc"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/trian/);
    expect(unknown.stderr).toMatch(/train/);
    const badType = await vh(["exec", "run", "train", "--adhoc", "--epochs=many", `--dataset=${dataUrl}`]);
    expect(badType.code).not.toBe(0);
    expect(badType.stderr).toMatch(/epochs/);
    expect(badType.stderr).toMatch(/many is not an integer/);
    const missing = await vh(["exec", "run", "train", "--adhoc"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/dataset/);
    expect((await db.sql`select count(*)::int as n from executions`)[0]!.n).toBe(before);
  });
});
