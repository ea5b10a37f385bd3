/**
 * `s3://` inputs end to end: a whole vh (REST API, worker, local runner) with an S3 input endpoint
 * served by s3rver on loopback. The step reads its files from inputs/NAME/; the record shows each
 * file's object, ETag and sha256; an object changed between creation and launch fails the
 * execution with a message saying so; a glob that matches nothing is refused before anything is
 * created.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { startS3, type TestS3 } from "../helpers/s3.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const body = (key: string) => `bytes of ${key}`;

const VALOHAI_YAML = `
- step:
    name: read
    image: python:3.12
    command:
      - cd "$VH_INPUTS_DIR" && find . -type f | sort | while read -r f; do printf 'file %s %s\\n' "$f" "$(cat "$f")"; done
    inputs:
      - name: one
      - name: flat
        optional: true
      - name: suffixed
        keep-directories: suffix
        optional: true
      - name: whole
        keep-directories: full
        optional: true
`;

type Exec = {
  counter: number;
  status: string;
  statusDetail: string | null;
  inputs: { name: string; uri: string; file: string; sha256: string | null; size: number | null; object?: string; etag?: string }[];
};

describe("s3:// inputs through a whole vh", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let s3: TestS3;
  let stack: Stack | undefined;
  const base = tempDir("vh-s3-e2e-");
  const dataDir = path.join(base, "data");
  const project = path.join(base, "project");
  const etags: Record<string, string> = {};
  const keys = ["sets/a/x.txt", "sets/a/y.txt", "sets/b/x.txt", "single/model.bin"];

  beforeAll(async () => {
    db = await createTestDatabase();
    s3 = await startS3({ buckets: ["lake"] });
    for (const k of keys) etags[k] = (await s3.put("lake", k, body(k))).etag;
    fs.mkdirSync(project, { recursive: true });
    fs.writeFileSync(path.join(project, "valohai.yaml"), VALOHAI_YAML);
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await s3?.close();
    await db?.drop();
    fs.rmSync(base, { recursive: true, force: true });
  });

  const start = (worker: boolean) => startStack({ databaseUrl: db.connectionString, dataDir, worker, env: s3.env("lake", ["lake"]) });

  it("resolves at creation, fetches at launch, and records each file's ETag and sha256", async () => {
    // Created with no worker running, so an object can change between creation and launch.
    stack = await start(false);
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
    const code = await uploadSnapshot(stack, project);
    const create = (inputs: Record<string, string | string[]>) => stack!.api<Exec>("POST", "/api/v1/projects/demo/executions", { code, step: "read", inputs });

    // A glob matching nothing: refused, nothing created.
    const refused = (await create({ one: "s3://lake/sets/*.csv" }).catch((e: unknown) => e)) as { status: number; body: string };
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body).error.message).toContain(`Input "one": s3://lake/sets/*.csv matches no file in bucket "lake"`);
    expect((await db.sql`select count(*)::int as n from executions`)[0]!.n).toBe(0);

    const ok = await create({ one: "s3://lake/single/model.bin", flat: "s3://lake/sets/**.txt", suffixed: "s3://lake/sets/**", whole: "s3://lake/sets/a/*" });
    await s3.put("lake", "changing.txt", "as it was at creation");
    const changed = await create({ one: "s3://lake/changing.txt" });
    const now = (await s3.put("lake", "changing.txt", "other bytes since")).etag;
    await stack.stop();

    stack = await start(true);
    const until = (n: number) =>
      waitFor(`execution #${n} to end`, async () => {
        const e = await stack!.api<Exec>("GET", `/api/v1/projects/demo/executions/${n}`);
        return ["completed", "failed", "error"].includes(e.status) ? e : undefined;
      }, 60_000);

    const done = await until(ok.counter);
    const logs = await stack.api<{ lines: { stream: string; line: string }[] }>("GET", `/api/v1/projects/demo/executions/${ok.counter}/logs`);
    const out = logs.lines.filter((l) => l.stream === "stdout").map((l) => l.line);
    expect(done.status, logs.lines.map((l) => l.line).join("\n")).toBe("completed");
    // keep-directories: none flattens (a second x.txt becomes 2-x.txt), suffix keeps what follows sets/, full the whole key.
    expect(out).toEqual([
      `file ./flat/2-x.txt ${body("sets/b/x.txt")}`,
      `file ./flat/x.txt ${body("sets/a/x.txt")}`,
      `file ./flat/y.txt ${body("sets/a/y.txt")}`,
      `file ./one/model.bin ${body("single/model.bin")}`,
      `file ./suffixed/a/x.txt ${body("sets/a/x.txt")}`,
      `file ./suffixed/a/y.txt ${body("sets/a/y.txt")}`,
      `file ./suffixed/b/x.txt ${body("sets/b/x.txt")}`,
      `file ./whole/sets/a/x.txt ${body("sets/a/x.txt")}`,
      `file ./whole/sets/a/y.txt ${body("sets/a/y.txt")}`,
    ]);
    const rec = (name: string, uri: string, file: string, key: string) => ({
      name,
      uri,
      file,
      object: `s3://lake/${key}`,
      etag: etags[key],
      sha256: sha(body(key)),
      size: body(key).length,
    });
    expect(done.inputs).toEqual([
      rec("one", "s3://lake/single/model.bin", "model.bin", "single/model.bin"),
      rec("flat", "s3://lake/sets/**.txt", "x.txt", "sets/a/x.txt"),
      rec("flat", "s3://lake/sets/**.txt", "y.txt", "sets/a/y.txt"),
      rec("flat", "s3://lake/sets/**.txt", "2-x.txt", "sets/b/x.txt"),
      rec("suffixed", "s3://lake/sets/**", "a/x.txt", "sets/a/x.txt"),
      rec("suffixed", "s3://lake/sets/**", "a/y.txt", "sets/a/y.txt"),
      rec("suffixed", "s3://lake/sets/**", "b/x.txt", "sets/b/x.txt"),
      rec("whole", "s3://lake/sets/a/*", "sets/a/x.txt", "sets/a/x.txt"),
      rec("whole", "s3://lake/sets/a/*", "sets/a/y.txt", "sets/a/y.txt"),
    ]);
    // The record names the endpoint, never its credentials.
    const [row] = await db.sql<{ inputs: unknown }[]>`select inputs from executions where counter = ${ok.counter}`;
    expect(JSON.stringify(row!.inputs)).toContain(`"endpoint":"lake"`);
    expect(JSON.stringify(row!.inputs)).not.toContain("S3RVER");
    const fetched = await db.sql<{ name: string; sha256: string }[]>`
      select name, sha256 from execution_inputs i join executions e on e.id = i.execution_id where e.counter = ${ok.counter} order by input, name`;
    expect(fetched).toHaveLength(9);

    const failed = await until(changed.counter);
    expect(failed.status).toBe("error");
    expect(failed.statusDetail).toContain(`Input "one": s3://lake/changing.txt changed after the execution was created: its ETag was ${changed.inputs[0]!.etag} then and is ${now} now`);
  }, 180_000);
});
