/**
 * "A large snapshot is not uploaded before a run that the server would refuse": `vh exec run
 * --adhoc` asks `POST …/executions/validate` (app/http/routes/validate.ts) with the local
 * valohai.yaml before it packages or sends any code. Against a real vh server (Postgres, local
 * store) through the in-process CLI with the real packager: a refused run sends no code (no HEAD
 * or PUT /code, nothing in the store) and prints the server's message; an accepted run uploads
 * once. The route answers exactly what the creation would.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../app/cli/main.js";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { sendJson, stubServer, tempDir } from "./helpers.js";

const YAML = `
- step:
    name: train
    image: python:3.12
    command: python train.py {parameters}
    parameters:
      - name: epochs
        type: integer
        default: 3
      - name: optimizer
        type: string
        default: adam
        choices: [adam, sgd]
    inputs:
      - name: data
        optional: true
`;

describe("vh exec run --adhoc checks with the server before uploading", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let files: http.Server;
  let filesUrl: string;
  let dir: string;
  let env: Record<string, string>;
  const sent: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
    files = http.createServer((req, res) => res.writeHead(req.url === "/data.csv" ? 200 : 404).end());
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await stack?.stop();
    await new Promise((r) => files?.close(r));
    await db?.drop();
  });
  beforeEach(() => {
    sent.length = 0;
    dir = path.join(tempDir(), "big-model");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "valohai.yaml"), YAML);
    fs.writeFileSync(path.join(dir, "train.py"), "print('train')\n");
    // A snapshot worth not sending: 2 MiB that does not compress.
    fs.writeFileSync(path.join(dir, "weights.bin"), randomBytes(2 * 1024 * 1024));
    env = { XDG_CONFIG_HOME: path.join(dir, "..", "xdg"), HOME: path.join(dir, ".."), VH_URL: stack.vh.url, VH_TOKEN: stack.vh.token };
  });

  async function vh(args: string[], opts: { tty?: boolean } = {}) {
    let stdout = "";
    let stderr = "";
    const recording: typeof fetch = (input, init) => {
      sent.push(`${init?.method ?? "GET"} ${new URL(String(input)).pathname}`);
      return fetch(input, init);
    };
    const code = await main(args, {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s), isTTY: opts.tty ?? false, columns: 100 },
      env,
      cwd: dir,
      fetch: recording,
      sleep: async () => {},
    });
    return { code, stdout, stderr };
  }
  const codeRequests = () => sent.filter((r) => r.includes("/api/v1/code/"));
  const storedSnapshots = () => {
    const d = path.join(stack.dataDir, "store", "code");
    return fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith(".tgz")) : [];
  };

  it("an unknown project: the server's 404, and no code sent", async () => {
    const before = storedSnapshots().length;
    const r = await vh(["exec", "run", "--adhoc", "--project", "no-such-project", "train"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: Project "no-such-project" does not exist: create it with `vh project create no-such-project`.');
    expect(sent).toEqual(["POST /api/v1/projects/no-such-project/executions/validate"]);
    expect(codeRequests()).toEqual([]);
    expect(storedSnapshots().length).toBe(before);
    expect(r.stderr).not.toContain("Uploaded");
  });

  it("an input the server cannot find, and GPUs no host has: refused before any upload", async () => {
    await stack.api("POST", "/api/v1/projects", { name: "refusals" });
    const before = storedSnapshots().length;
    const missing = `datum://${randomUUID()}`;
    const input = await vh(["exec", "run", "--adhoc", "--project", "refusals", "train", `--data=${missing}`]);
    expect(input.code).toBe(1);
    expect(input.stderr).toContain(`error: Input "data": ${missing} does not exist in project refusals.`);
    const unreachable = await vh(["exec", "run", "--adhoc", "--project", "refusals", "train", `--data=${filesUrl}/gone.csv`]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`Input "data": ${filesUrl}/gone.csv answered HTTP 404`);
    const gpus = await vh(["exec", "run", "--adhoc", "--project", "refusals", "--gpus", "2", "train"]);
    expect(gpus.code).toBe(1);
    expect(gpus.stderr).toContain("error: VH_GPUS=2: no GPU host is registered.");
    expect(sent.filter((r) => r.endsWith("/validate"))).toHaveLength(3);
    expect(codeRequests()).toEqual([]);
    expect(storedSnapshots().length).toBe(before);
    expect((await stack.api<{ results: unknown[] }>("GET", "/api/v1/projects/refusals/executions")).results).toEqual([]);
  });

  it("a bad value is refused offline, before any request", async () => {
    const r = await vh(["exec", "run", "--adhoc", "train", "--optimizer=rmsprop"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Parameter "optimizer".*rmsprop/);
    expect(sent).toEqual([]);
  });

  it("an accepted run uploads once, with progress, then creates the execution", async () => {
    const before = storedSnapshots().length;
    const r = await vh(["exec", "run", "--adhoc", "train", "--epochs=5", `--data=${filesUrl}/data.csv`], { tty: true });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("1\n");
    expect(sent).toEqual([
      "POST /api/v1/projects",
      "POST /api/v1/projects/big-model/executions/validate",
      expect.stringMatching(/^HEAD \/api\/v1\/code\/[0-9a-f]{64}$/),
      expect.stringMatching(/^PUT \/api\/v1\/code\/[0-9a-f]{64}$/),
      "POST /api/v1/projects/big-model/executions",
    ]);
    expect(storedSnapshots().length).toBe(before + 1);
    expect(r.stderr).toMatch(/Uploading code .* 100% \| [\d.]+ MiB \/ [\d.]+ MiB \| .*\/s \| ETA 0s/);
    expect(r.stderr).toMatch(/^Uploaded \d+ bytes \([\d.]+ MiB, 3 files\)\.$/m);
    const e = await stack.api<{ parameters: Record<string, unknown>; inputs: { uri: string }[] }>("GET", "/api/v1/projects/big-model/executions/1");
    expect(e.parameters).toEqual({ epochs: 5, optimizer: "adam" });
    expect(e.inputs.map((i) => i.uri)).toEqual([`${filesUrl}/data.csv`]);
  });

  it("goes on, with a warning, when the server is older than the check", async () => {
    const stub = await stubServer({
      "POST /api/v1/projects": (_q, res) => sendJson(res, 201, { id: "p1", name: "big-model", createdAt: "t", executionCount: 0 }),
      "HEAD /api/v1/code/:sha": (_q, res) => void res.writeHead(404).end(),
      "PUT /api/v1/code/:sha": (_q, res) => sendJson(res, 201, { created: true }),
      "POST /api/v1/projects/:p/executions": (_q, res) =>
        sendJson(res, 201, { id: "e1", counter: 1, status: "queued", project: { id: "p1", name: "big-model" }, step: "train", command: "", parameters: {}, inputs: [], image: "", title: null, createdAt: "t" }),
    });
    try {
      env = { ...env, VH_URL: stub.url, VH_TOKEN: "t" };
      const r = await vh(["exec", "run", "--adhoc", "train"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`warning: ${stub.url} cannot check a run before its code is uploaded (an older vh server): uploading first.`);
      expect(stub.requests.map((q) => q.method)).toEqual(["POST", "POST", "HEAD", "PUT", "POST"]);
    } finally {
      await stub.close();
    }
  });
});

describe("POST /projects/:project/executions/validate", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;
  const body = { step: "train", yamlPath: "valohai.yaml", parameters: { epochs: 2 }, inputs: {}, environmentVariables: {} };

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
    const src = tempDir("vh-validate-src-");
    fs.writeFileSync(path.join(src, "valohai.yaml"), YAML);
    code = await uploadSnapshot(stack, src);
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  async function post(p: string, b: unknown) {
    const res = await stack.raw("POST", `/api/v1/projects/demo/executions${p}`, JSON.stringify(b), { "content-type": "application/json" });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it("accepts what the creation accepts, writes nothing, and says the command", async () => {
    const r = await post("/validate", { ...body, yaml: YAML });
    expect(r).toEqual({ status: 200, body: { ok: true, step: "train", image: "python:3.12", command: "python train.py --epochs=2 --optimizer=adam" } });
    expect((await stack.api<{ results: unknown[] }>("GET", "/api/v1/projects/demo/executions")).results).toEqual([]);
    expect(fs.readdirSync(path.join(stack.dataDir, "store", "code")).filter((f) => f.endsWith(".tgz"))).toEqual([`${code}.tgz`]);
  });

  it("refuses with the very answer the creation gives from the uploaded snapshot", async () => {
    const cases: unknown[] = [
      { ...body, step: "trian" },
      { ...body, parameters: { epochs: "many" } },
      { ...body, parameters: { optimizer: "rmsprop" } },
      { ...body, inputs: { dataset: "https://example.com/x" } },
      { ...body, environmentVariables: { "BAD NAME": "x" } },
      { ...body, gpus: 8 },
    ];
    for (const c of cases) {
      const created = await post("", { ...(c as object), code });
      const checked = await post("/validate", { ...(c as object), yaml: YAML });
      expect(created.status, JSON.stringify(c)).toBe(400);
      expect(checked, JSON.stringify(c)).toEqual(created);
    }
  });

  it("says where an invalid valohai.yaml is wrong, as the creation does", async () => {
    const broken = "- step:\n    name: train\n    image: python:3.12\n    command: [python]\n    parameters:\n      - name: epochs\n        type: number\n";
    const r = await post("/validate", { ...body, yaml: broken });
    expect(r.status).toBe(400);
    expect(r.body["error"]).toMatchObject({ code: "invalid_config" });
    expect(String((r.body["error"] as { message: string }).message)).toMatch(/^`valohai\.yaml` in the code snapshot is invalid:\nvalohai\.yaml:7:\d+: /);
  });

  it("refuses a body without the yaml text, and an unknown project", async () => {
    const r = await post("/validate", body);
    expect(r.status).toBe(400);
    expect((r.body["error"] as { message: string }).message).toContain('without "code" and with "yaml"');
    const p = await stack.raw("POST", "/api/v1/projects/nope/executions/validate", JSON.stringify({ ...body, yaml: YAML }), { "content-type": "application/json" });
    expect(p.status).toBe(404);
    expect(((await p.json()) as { error: { message: string } }).error.message).toContain('Project "nope" does not exist');
  });

  it("never reads a valohai.yaml outside the code", async () => {
    const r = await post("/validate", { ...body, yamlPath: "../../etc/valohai.yaml", yaml: YAML });
    expect(r.status).toBe(400);
    expect((r.body["error"] as { message: string }).message).toBe("There is no `../../etc/valohai.yaml` in the code snapshot: vh reads the steps from it.");
  });
});
