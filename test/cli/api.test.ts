import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findLink } from "../../app/cli/config.js";
import { runCli, sendJson, stubServer, tempDir, writeProject, type Handler, type Recorded } from "./helpers.js";

const TOKEN = "tok-123";
let dir: string;
let env: Record<string, string>;
let stub: Awaited<ReturnType<typeof stubServer>>;

function execution(overrides: Record<string, unknown> = {}) {
  return {
    id: "0b0f8d5e-1111-4222-8333-944445555666",
    counter: 1,
    project: { id: "p1", name: path.basename(dir) },
    step: "train",
    title: null,
    status: "queued",
    image: "python:3.12",
    command: "python train.py",
    parameters: {},
    inputs: [],
    createdAt: "2025-01-01T00:00:00.000Z",
    ...overrides,
  };
}

interface StubOptions {
  finalStatus?: string;
  projectExists?: boolean;
  outputs?: { name: string; data: Buffer; sha256?: string }[];
}

async function startStub(opts: StubOptions = {}) {
  const code = new Set<string>();
  let logCalls = 0;
  const outputs = (opts.outputs ?? []).map((o, i) => ({
    id: `00000000-0000-4000-8000-00000000000${i}`,
    name: o.name,
    size: o.data.length,
    sha256: o.sha256 ?? createHash("sha256").update(o.data).digest("hex"),
    data: o.data,
  }));
  const routes: Record<string, Handler> = {
    "GET /api/v1/me": (_req, res) => sendJson(res, 200, { token: { id: "t1", name: "admin", admin: true } }),
    "POST /api/v1/projects": (req, res) => {
      const { name } = JSON.parse(req.body.toString()) as { name: string };
      if (opts.projectExists) sendJson(res, 409, { error: { code: "conflict", message: `Project "${name}" already exists.` } });
      else sendJson(res, 201, { id: "p1", name, createdAt: "2025-01-01T00:00:00.000Z", executionCount: 0 });
    },
    "GET /api/v1/projects/:p": (req, res) =>
      sendJson(res, 200, { id: "p1", name: decodeURIComponent(req.url.split("/")[4]!), createdAt: "2025-01-01T00:00:00.000Z", executionCount: 1 }),
    "HEAD /api/v1/code/:sha": (req, res) => {
      res.writeHead(code.has(req.url.split("/").pop()!) ? 200 : 404);
      res.end();
    },
    "PUT /api/v1/code/:sha": (req, res) => {
      const sha = req.url.split("/").pop()!;
      const actual = createHash("sha256").update(req.body).digest("hex");
      if (actual !== sha) return sendJson(res, 400, { error: { code: "bad_request", message: "sha256 mismatch" } });
      code.add(sha);
      sendJson(res, 201, { sha256: sha, size: req.body.length, created: true });
    },
    "POST /api/v1/projects/:p/executions/validate": (_req, res) => sendJson(res, 200, { ok: true, step: "train", image: "python:3.12", command: "python train.py" }),
    "POST /api/v1/projects/:p/executions": (_req, res) => sendJson(res, 201, execution()),
    "GET /api/v1/projects/:p/executions/:n/logs": (req, res) => {
      logCalls++;
      const after = new URL(req.url, "http://x").searchParams.get("after");
      if (after === "0") {
        return sendJson(res, 200, {
          lines: [
            { seq: 1, time: "t", stream: "status", line: "started" },
            { seq: 2, time: "t", stream: "stdout", line: "epoch 1 loss=0.5" },
            { seq: 3, time: "t", stream: "stderr", line: "a warning" },
          ],
          next: 3,
          status: "running",
          finished: false,
        });
      }
      if (logCalls < 4) return sendJson(res, 200, { lines: [], next: Number(after), status: "running", finished: false });
      sendJson(res, 200, {
        lines: [{ seq: 4, time: "t", stream: "stdout", line: "done" }],
        next: 4,
        status: opts.finalStatus ?? "completed",
        finished: true,
      });
    },
    "GET /api/v1/projects/:p/executions/:n": (_req, res) => sendJson(res, 200, execution({ status: opts.finalStatus ?? "completed", exitCode: 0 })),
    "GET /api/v1/projects/:p/executions/:n/outputs": (_req, res) =>
      sendJson(res, 200, { results: outputs.map(({ data: _d, ...o }) => ({ ...o, uri: `datum://${o.id}`, metadata: {}, executionId: "e1", createdAt: "t" })) }),
    "GET /api/v1/data/:id/download": (req, res) => {
      const o = outputs.find((x) => req.url.includes(x.id))!;
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": o.data.length });
      res.end(o.data);
    },
  };
  stub = await stubServer(routes);
  env = { XDG_CONFIG_HOME: path.join(dir, ".config-home"), HOME: dir, VH_URL: stub.url, VH_TOKEN: TOKEN };
}

function only(method: string, pathPrefix: string): Recorded[] {
  return stub.requests.filter((r) => r.method === method && r.url.startsWith(pathPrefix));
}

beforeEach(() => {
  dir = path.join(tempDir(), "my proj");
  fs.mkdirSync(dir);
  writeProject(dir);
});

afterEach(async () => {
  await stub?.close();
});

describe("vh exec run --adhoc against a stub server", () => {
  it("creates the project, uploads the code, starts, watches and exits 0 on completed", async () => {
    await startStub();
    const r = await runCli(["exec", "run", "--adhoc", "train", "--watch", "--epochs=3", "--extra=s3://b/k", "--title", "first", "--var", "SEED=7", "--gpus", "1"], { cwd: dir, env });
    expect(r.stderr).toContain('Created project "my-proj"');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("epoch 1 loss=0.5\ndone\n");
    expect(r.stderr).toContain("a warning\n");
    expect(r.stderr).toContain("[vh] started\n");
    expect(r.stderr).toMatch(/Uploaded \d+ bytes/);
    expect(r.stderr).toContain(`Execution #1 started (queued): ${stub.url}/api/v1/projects/my-proj/executions/1`);
    expect(r.stderr).toContain("Execution #1 completed.");
    expect(r.stderr).not.toContain(TOKEN);

    for (const req of stub.requests) expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(JSON.parse(only("POST", "/api/v1/projects")[0]!.body.toString())).toEqual({ name: "my-proj" });
    const put = only("PUT", "/api/v1/code/")[0]!;
    expect(put.headers["content-type"]).toBe("application/gzip");
    const sha = put.url.split("/").pop()!;
    const checked = JSON.parse(only("POST", "/api/v1/projects/my-proj/executions/validate")[0]!.body.toString());
    expect(checked).toMatchObject({ step: "train", yamlPath: "valohai.yaml", yaml: fs.readFileSync(path.join(dir, "valohai.yaml"), "utf8") });
    expect(checked).not.toHaveProperty("code");
    const body = JSON.parse(stub.requests.find((r) => r.method === "POST" && r.url === "/api/v1/projects/my-proj/executions")!.body.toString());
    expect(body).toEqual({
      step: "train",
      code: sha,
      yamlPath: "valohai.yaml",
      parameters: { learning_rate: 0.001, epochs: 3, optimizer: "adam", verbose: false },
      inputs: { extra: ["s3://b/k"] },
      environmentVariables: { SEED: "7" },
      title: "first",
      gpus: 1,
    });
    expect(findLink(env, path.join(dir, "sub"))).toMatchObject({ dir, project: "my-proj", url: stub.url });

    // A second run: linked now, same code: nothing uploaded.
    stub.requests.length = 0;
    const again = await runCli(["exec", "run", "-a", "train"], { cwd: dir, env });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("1\n");
    expect(again.stderr).toContain("Code unchanged, nothing uploaded.");
    expect(only("POST", "/api/v1/projects").filter((r) => r.url === "/api/v1/projects")).toHaveLength(0);
    expect(only("PUT", "/api/v1/code/")).toHaveLength(0);
  });

  it("links the existing project on 409 and exits 1 when the execution failed", async () => {
    await startStub({ projectExists: true, finalStatus: "failed" });
    const r = await runCli(["exec", "run", "--adhoc", "--watch", "train"], { cwd: dir, env });
    expect(r.stderr).toContain('Linked to the existing project "my-proj"');
    expect(r.stderr).toContain("Execution #1 failed.");
    expect(r.code).toBe(1);
  });

  it("validates before any network call", async () => {
    await startStub();
    const r = await runCli(["exec", "run", "--adhoc", "train", "--epochs=x"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Parameter "epochs"');
    expect(stub.requests).toHaveLength(0);
  });

  it("prints the server's error message and details", async () => {
    await startStub();
    stub.requests.length = 0;
    await stub.close();
    stub = await stubServer({
      "GET /api/v1/projects": (_req, res) =>
        sendJson(res, 400, { error: { code: "invalid_config", message: "valohai.yaml is invalid:", details: { problems: [{ severity: "error", code: "schema", message: "bad key", file: "valohai.yaml", line: 3, column: 5 }] } } }),
    });
    const r = await runCli(["project", "list"], { cwd: dir, env: { ...env, VH_URL: stub.url } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: valohai.yaml is invalid:\n  valohai.yaml:3:5: bad key\n");
  });
});

describe("other verbs against a stub server", () => {
  it("exec outputs lists and downloads with sha256 checks", async () => {
    const a = Buffer.from("model bytes");
    const b = Buffer.from("metrics");
    await startStub({ outputs: [{ name: "model.pt", data: a }, { name: "eval/metrics.json", data: b }] });
    await runCli(["project", "link", "demo"], { cwd: dir, env });
    const r = await runCli(["exec", "outputs", "#1", "--download", "out"], { cwd: dir, env });
    expect(r.stderr).toContain("sha256 ok");
    expect(r.code).toBe(0);
    const shaA = createHash("sha256").update(a).digest("hex");
    const [head, first] = r.stdout.split("\n");
    expect(head).toMatch(/^DATUM +SIZE +SHA256 +NAME$/);
    expect(first).toBe(`datum://00000000-0000-4000-8000-000000000000  11 B  ${shaA}  model.pt`);
    expect(fs.readFileSync(path.join(dir, "out", "model.pt"), "utf8")).toBe("model bytes");
    expect(fs.readFileSync(path.join(dir, "out", "eval", "metrics.json"), "utf8")).toBe("metrics");
    const list = await runCli(["exec", "outputs", "latest", "--json"], { cwd: dir, env });
    expect(JSON.parse(list.stdout)).toHaveLength(2);
    expect(only("GET", "/api/v1/projects/demo/executions/latest/outputs")).toHaveLength(1);
  });

  it("exec outputs --download refuses a damaged file", async () => {
    await startStub({ outputs: [{ name: "model.pt", data: Buffer.from("x"), sha256: "0".repeat(64) }] });
    await runCli(["project", "link", "demo"], { cwd: dir, env });
    const r = await runCli(["exec", "outputs", "1", "-d", "out"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("arrived damaged");
    expect(fs.existsSync(path.join(dir, "out", "model.pt"))).toBe(false);
    expect(fs.readdirSync(path.join(dir, "out"))).toEqual([]);
  });

  it("exec show, list, logs and stop", async () => {
    await startStub();
    await runCli(["project", "link", "demo"], { cwd: dir, env });
    const show = await runCli(["exec", "show", "1"], { cwd: dir, env });
    expect(show.code).toBe(0);
    expect(show.stdout).toContain("Execution #1  completed (exit code 0)");
    const json = await runCli(["exec", "show", "latest", "--json"], { cwd: dir, env });
    expect(JSON.parse(json.stdout).counter).toBe(1);
    const logs = await runCli(["exec", "logs", "1", "--no-stderr"], { cwd: dir, env });
    expect(logs.stdout).toBe("epoch 1 loss=0.5\n");
    expect(logs.stderr).toBe("[vh] started\n");
    const bad = await runCli(["exec", "show", "three"], { cwd: dir, env });
    expect(bad.stderr).toContain('"three" is not an execution');
  });

  it("login verifies the token and saves it with mode 0600; logout forgets it", async () => {
    await startStub();
    const loginEnv = { XDG_CONFIG_HOME: env["XDG_CONFIG_HOME"]!, HOME: dir };
    const r = await runCli(["login", "--url", stub.url, "--token", TOKEN], { cwd: dir, env: loginEnv });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain(TOKEN);
    const file = path.join(env["XDG_CONFIG_HOME"]!, "vh", "config.json");
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toMatchObject({ url: stub.url, token: TOKEN });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const status = await runCli(["project", "create", "demo"], { cwd: dir, env: loginEnv });
    expect(status.code).toBe(0);
    const out = await runCli(["logout"], { cwd: dir, env: loginEnv });
    expect(out.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(file, "utf8")).token).toBeUndefined();
  });
});
