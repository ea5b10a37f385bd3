/**
 * The issue's acceptance test, in one execution: a whole vh (REST API, worker, local runner) with
 * an S3 input endpoint served by s3rver on loopback. One execution reads an `s3://lake/sets/*` glob
 * and `dataset://images/latest`; its record shows the exact dataset version (not "latest") and each
 * S3 file's ETag (as s3rver answered the put) and sha256 (computed here from the bytes), and its log
 * shows the step read every file. Then `vh exec reproduce N --verify` of that deterministic step is
 * equal (exit 0), and the reproduction pins the dataset version the original read although a newer
 * one was made meanwhile.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { startS3, type TestS3 } from "../helpers/s3.js";
import { runCli, tempDir } from "../cli/helpers.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const body = (key: string) => `bytes of ${key}`;

const YAML = `
- step:
    name: read
    image: python:3.12
    command:
      - cd "$VH_INPUTS_DIR" && find . -type f | sort | while read -r f; do printf 'file %s %s\\n' "$f" "$(cat "$f")"; done | tee "\${VH_OUTPUTS_DIR:-/valohai/outputs}/seen.txt"
    inputs:
      - name: sets
      - name: images
`;

type Exec = {
  id: string;
  counter: number;
  status: string;
  statusDetail: string | null;
  inputs: { name: string; uri: string; file: string; sha256: string | null; size: number | null; object?: string; etag?: string; dataset?: string; datum?: string }[];
};

describe("done when: one execution with an s3 glob and a dataset, recorded and reproduced", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let s3: TestS3;
  let stack: Stack;
  let code: string;
  const project = tempDir("vh-done-when-");
  const keys = ["sets/a.txt", "sets/b.txt", "sets/c.txt"];
  const etags: Record<string, string> = {};
  const images = { "img1.txt": "first image", "img2.txt": "second image" };

  beforeAll(async () => {
    db = await createTestDatabase();
    s3 = await startS3({ buckets: ["lake"] });
    for (const k of keys) etags[k] = (await s3.put("lake", k, body(k))).etag;
    // an object beside the glob's folder, which must not be read
    await s3.put("lake", "other/z.txt", "not in sets");
    stack = await startStack({ databaseUrl: db.connectionString, env: s3.env("lake", ["lake"]) });
    fs.writeFileSync(path.join(project, "valohai.yaml"), YAML);
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
    code = await uploadSnapshot(stack, project);
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await s3?.close();
    await db?.drop();
  });

  const cli = (...args: string[]) => runCli([...args, "--project", "demo", "--url", stack.vh.url, "--token", stack.vh.token], { cwd: tempDir() });
  const get = (n: number) => stack.api<Exec>("GET", `/api/v1/projects/demo/executions/${n}`);
  const until = (n: number) =>
    waitFor(`execution #${n} to end`, async () => {
      const e = await get(n);
      return ["completed", "failed", "error", "stopped"].includes(e.status) ? e : undefined;
    }, 60_000);
  const stdoutOf = async (n: number) =>
    (await stack.api<{ lines: { stream: string; line: string }[] }>("GET", `/api/v1/projects/demo/executions/${n}/logs`)).lines.filter((l) => l.stream === "stdout").map((l) => l.line);
  /** `vh data upload FILE… --dataset images --version V`: the files become datums, and those the version. */
  const upload = async (version: string, files: Record<string, string>) => {
    const dir = tempDir("vh-done-when-upload-");
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
    const r = await runCli(["data", "upload", ...Object.keys(files), "--dataset", "images", "--version", version, "--project", "demo", "--url", stack.vh.url, "--token", stack.vh.token], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`dataset://images/${version}\n`);
  };
  const expectedLog = (imgs: Record<string, string>) => [
    ...Object.entries(imgs).map(([name, content]) => `file ./images/${name} ${content}`),
    ...keys.map((k) => `file ./sets/${path.posix.basename(k)} ${body(k)}`),
  ];

  it("records the dataset's exact version and each s3 file's ETag and sha256; reproduce --verify is equal and keeps that version", async () => {
    await upload("v1", images);
    const created = await stack.api<Exec>("POST", "/api/v1/projects/demo/executions", {
      code,
      step: "read",
      inputs: { sets: "s3://lake/sets/*", images: "dataset://images/latest" },
    });
    const done = await until(created.counter);
    const log = await stdoutOf(created.counter);
    expect(done.status, `${done.statusDetail ?? ""}\n${log.join("\n")}`).toBe("completed");
    // The step read every file: the dataset's and the glob's, and nothing else.
    expect(log).toEqual(expectedLog(images));

    // The record: as asked (uri), and what it resolved to.
    const dataset = done.inputs.filter((i) => i.name === "images");
    expect(dataset.map((i) => ({ uri: i.uri, file: i.file, dataset: i.dataset, sha256: i.sha256, size: i.size }))).toEqual(
      Object.entries(images).map(([file, content]) => ({ uri: "dataset://images/latest", file, dataset: "dataset://images/v1", sha256: sha(content), size: content.length })),
    );
    expect(dataset.every((i) => /^datum:\/\/[0-9a-f-]{36}$/.test(i.datum ?? ""))).toBe(true);
    const s3Inputs = done.inputs.filter((i) => i.name === "sets");
    expect(s3Inputs).toEqual(
      keys.map((k) => ({
        name: "sets",
        uri: "s3://lake/sets/*",
        file: path.posix.basename(k),
        object: `s3://lake/${k}`,
        etag: etags[k],
        sha256: sha(body(k)),
        size: body(k).length,
      })),
    );
    expect(keys.every((k) => /^"?[0-9a-f]{32}"?$/.test(etags[k]!))).toBe(true);

    // A newer version of the dataset: a new run takes it …
    const newer = { "img1.txt": "changed image", "img3.txt": "third image" };
    await upload("v2", newer);
    expect((await stack.api<{ uri: string }>("GET", "/api/v1/projects/demo/datasets/images/versions/latest")).uri).toBe("dataset://images/v2");

    // … a reproduction the version the original read, and it comes out the same (exit 0).
    const r = await cli("exec", "reproduce", String(created.counter), "--verify");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const n = created.counter + 1;
    expect(r.stderr).toContain(`Reproducing #${created.counter} as #${n}`);
    expect(r.stdout).toMatch(new RegExp(`Reproduction #${n} of #${created.counter} is equal: 1 output with the same sha256`));
    const rep = await get(n);
    expect(rep.status).toBe("completed");
    expect(rep.inputs).toEqual(done.inputs);
    expect(rep.inputs.filter((i) => i.name === "images").map((i) => i.dataset)).toEqual(["dataset://images/v1", "dataset://images/v1"]);
    expect(await stdoutOf(n)).toEqual(expectedLog(images));
    const view = await stack.api<{ original: { counter: number }; verify: boolean; verdict: { result: string } }>("GET", `/api/v1/projects/demo/executions/${n}/reproduction`);
    expect(view).toMatchObject({ original: { counter: created.counter }, verify: true, verdict: { result: "equal" } });
    // v1 lists both as its users: the original and its reproduction
    const v1 = await stack.api<{ usedBy: { counter: number; input: string }[] }>("GET", "/api/v1/projects/demo/datasets/images/versions/v1");
    expect(v1.usedBy.map((u) => [u.counter, u.input])).toEqual([[created.counter, "images"], [n, "images"]]);

    // The same step run anew reads v2: the pin above was the reproduction's, not a stale "latest".
    const fresh = await stack.api<Exec>("POST", "/api/v1/projects/demo/executions", {
      code,
      step: "read",
      inputs: { sets: "s3://lake/sets/*", images: "dataset://images/latest" },
    });
    expect(fresh.inputs.filter((i) => i.name === "images").map((i) => [i.file, i.dataset])).toEqual([
      ["img1.txt", "dataset://images/v2"],
      ["img3.txt", "dataset://images/v2"],
    ]);
    const freshDone = await until(fresh.counter);
    expect(freshDone.status).toBe("completed");
    expect(await stdoutOf(fresh.counter)).toEqual(expectedLog(newer));
  }, 120_000);
});
