/**
 * `vh exec reproduce N [--verify]` and `vh exec diff A B` against a real server (REST API, worker,
 * local runner running real processes, local store, a database of its own), through the CLI's own
 * `main`: a deterministic step reproduces equal (exit 0); a step that writes the clock is
 * different, naming the file (exit 1); a `model://…/latest` input stays the version the original
 * read after a newer one is approved; an http input whose bytes changed fails instead of running on
 * other bytes; a diff of two executions that differ only in a parameter shows only that line.
 */
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { runCli, stubServer, tempDir } from "../cli/helpers.js";

const OUT = '"${VH_OUTPUTS_DIR:-/valohai/outputs}"';
const IN = '"${VH_INPUTS_DIR:-/valohai/inputs}"';

const YAML = `
- step:
    name: fixed
    image: python:3.12
    command: >-
      printf 'fixed bytes' > ${OUT}/fixed.txt && echo '{"loss": 0.25}'
- step:
    name: clock
    image: python:3.12
    command: >-
      date +%s%N > ${OUT}/t.txt && echo '{"loss": 0.25}'
- step:
    name: train
    image: python:3.12
    command: >-
      python3 train.py {parameters}
    parameters:
      - name: weights
        type: string
        default: w1
- step:
    name: infer
    image: python:3.12
    command: >-
      cat ${IN}/model/model.bin > ${OUT}/seen.txt
    inputs:
      - name: model
        default: model://churn/latest
- step:
    name: params
    image: python:3.12
    command: >-
      echo '{"score": 1}'
    parameters:
      - name: lr
        type: float
        default: 0.1
      - name: epochs
        type: integer
        default: 10
- step:
    name: fetch
    image: python:3.12
    command: >-
      cat ${IN}/data/data.txt
    inputs:
      - name: data
`;

const TRAIN = `import json, os, sys
out = os.environ.get("VH_OUTPUTS_DIR", "/valohai/outputs")
weights = sys.argv[1].split("=", 1)[1]
open(os.path.join(out, "model.bin"), "w").write(weights)
json.dump({"valohai.model-versions": ["model://churn/"]}, open(os.path.join(out, "model.bin.metadata.json"), "w"))
`;

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

type Exec = {
  id: string;
  counter: number;
  status: string;
  statusDetail: string | null;
  image: string;
  command: string;
  parameters: Record<string, unknown>;
  inputs: { name: string; uri: string; file: string; sha256: string | null; datum?: string; model?: string }[];
};
type Verdict = { result: string; files: { changed: { name: string }[] } };

describe("vh exec reproduce and vh exec diff on a real server", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;
  let http: Awaited<ReturnType<typeof stubServer>>;
  let served = "first bytes";
  const project = tempDir("vh-repro-");

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
    http = await stubServer({
      "HEAD /data.txt": (_req, res) => {
        res.writeHead(200, { "content-length": Buffer.byteLength(served) }).end();
      },
      "GET /data.txt": (_req, res) => {
        res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(served) }).end(served);
      },
    });
    fs.writeFileSync(path.join(project, "valohai.yaml"), YAML);
    fs.writeFileSync(path.join(project, "train.py"), TRAIN);
    await stack.api("POST", "/api/v1/projects", { name: "churn" });
    code = await uploadSnapshot(stack, project);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await http?.close();
    await db?.drop();
  });

  const create = (body: Record<string, unknown>) => stack.api<Exec>("POST", "/api/v1/projects/churn/executions", { code, ...body });
  const get = (n: number) => stack.api<Exec>("GET", `/api/v1/projects/churn/executions/${n}`);
  const until = (n: number) =>
    waitFor(`execution #${n} to end`, async () => {
      const e = await get(n);
      return ["completed", "failed", "error", "stopped"].includes(e.status) ? e : undefined;
    }, 60_000);
  const cli = (...args: string[]) => runCli([...args, "--project", "churn", "--url", stack.vh.url, "--token", stack.vh.token], { cwd: tempDir() });
  const approve = async (uri: string) => {
    const r = await runCli(["model", "approve", uri, "--url", stack.vh.url, "--token", stack.vh.token], { cwd: tempDir() });
    expect(r.code, r.stderr).toBe(0);
  };
  const completed = async (body: Record<string, unknown>) => {
    const e = await create(body);
    const end = await until(e.counter);
    expect(end.status, end.statusDetail ?? "").toBe("completed");
    return end;
  };

  it("reproduce --verify of a deterministic step is equal (exit 0), and the copy is the same execution again", async () => {
    const orig = await completed({ step: "fixed" });
    const r = await cli("exec", "reproduce", String(orig.counter), "--verify");
    expect(r.code, r.stderr).toBe(0);
    const n = orig.counter + 1;
    expect(r.stderr).toContain(`Reproducing #${orig.counter} as #${n}, to be compared with it when it ends: `);
    expect(r.stdout.endsWith(`Reproduction #${n} of #${orig.counter} is equal: 1 output with the same sha256, 1 metric the same (exactly), both completed.\n`)).toBe(true);
    const rep = await get(n);
    expect({ image: rep.image, command: rep.command, parameters: rep.parameters }).toEqual({ image: orig.image, command: orig.command, parameters: orig.parameters });
    const view = await stack.api<{ original: { counter: number }; verify: boolean; verdict: Verdict }>("GET", `/api/v1/projects/churn/executions/${n}/reproduction`);
    expect(view).toMatchObject({ original: { counter: orig.counter }, verify: true, verdict: { result: "equal" } });
    // An execution that reproduces nothing says so.
    expect((await stack.raw("GET", `/api/v1/projects/churn/executions/${orig.counter}/reproduction`)).status).toBe(404);
    // `exec show` of each says what it reproduces, the verdict, and the runtime it recorded.
    const shown = await cli("exec", "show", String(n));
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`Reproduces #${orig.counter}: Reproduction #${n} of #${orig.counter} is equal: 1 output with the same sha256`);
    // the step runs printf only: the OS is recorded, no interpreter is named
    expect(shown.stdout).toMatch(/^Reproducibility:\n  fingerprint  \S.*\nReproduces #/m);
    const original = await cli("exec", "show", String(orig.counter));
    expect(original.stdout).toContain(`Reproduced by: #${n} (equal)`);
    expect(original.stdout).not.toContain("Reproduces #");
    const json = JSON.parse((await cli("exec", "show", String(n), "--json")).stdout) as { reproduction: { original: { counter: number }; verdict: Verdict }; reproducibility: { fingerprint: string } };
    expect(json.reproduction).toMatchObject({ original: { counter: orig.counter }, verify: true, verdict: { result: "equal" } });
    expect(json.reproducibility.fingerprint).toBe("recorded");
  });

  it("reproduce --verify of a step that writes the clock is different and names the file (exit 1)", async () => {
    const orig = await completed({ step: "clock" });
    const r = await cli("exec", "reproduce", String(orig.counter), "--verify");
    expect(r.code, r.stderr).toBe(1);
    const n = orig.counter + 1;
    const tail = r.stdout.slice(r.stdout.indexOf(`Reproduction #${n}`));
    expect(tail).toMatch(
      new RegExp(`^Reproduction #${n} of #${orig.counter} is different: 1 output changed\\.\\nOutputs:\\n  changed  t\\.txt  sha256 [0-9a-f]{12} → [0-9a-f]{12}\\n$`),
    );
    const json = await cli("exec", "reproduce", String(orig.counter), "--verify", "--json", "--tolerance", "1e-9");
    expect(json.code).toBe(1);
    const verdict = (JSON.parse(json.stdout) as { verdict: Verdict & { tolerance: number } }).verdict;
    expect(verdict).toMatchObject({ result: "different", tolerance: 1e-9, files: { changed: [{ name: "t.txt" }] } });
  });

  it("a model://…/latest input is reproduced with the version the original read, after a newer one is approved", async () => {
    await completed({ step: "train", parameters: { weights: "w1" } });
    await approve("model://churn/v1");
    const infer = await completed({ step: "infer" });
    expect(infer.inputs[0]).toMatchObject({ uri: "model://churn/latest", model: "model://churn/v1", sha256: sha("w1") });
    await completed({ step: "train", parameters: { weights: "w2" } });
    await approve("model://churn/v2");
    // A new run takes the newer version …
    const fresh = await completed({ step: "infer" });
    expect(fresh.inputs[0]).toMatchObject({ model: "model://churn/v2", sha256: sha("w2") });
    // … a reproduction the one the original read, and comes out the same.
    const r = await cli("exec", "reproduce", String(infer.counter), "--verify");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const rep = await get(fresh.counter + 1);
    expect(rep.inputs).toEqual(infer.inputs);
    const seen = await stack.api<{ results: { name: string; sha256: string }[] }>("GET", `/api/v1/projects/churn/executions/${rep.counter}/outputs`);
    expect(seen.results.map((d) => [d.name, d.sha256])).toEqual([["seen.txt", sha("w1")]]);
  });

  it("an http input whose bytes changed fails the reproduction with the checksums, instead of running on other data", async () => {
    served = "first bytes";
    const orig = await completed({ step: "fetch", inputs: { data: `${http.url}/data.txt` } });
    served = "other bytes";
    // The host's cache holds the first bytes by their sha256; a host without them downloads again.
    fs.rmSync(path.join(stack.dataDir, "cache"), { recursive: true, force: true });
    const r = await cli("exec", "reproduce", String(orig.counter));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^Reproducing #${orig.counter} as #${orig.counter + 1} \\(same commit, code, image, command, parameters, environment and input versions\\): http`));
    const end = await until(orig.counter + 1);
    expect(end.status).toBe("error");
    expect(end.statusDetail).toContain(`checksum mismatch: expected sha256 ${sha("first bytes")}, got ${sha("other bytes")}`);
  });

  it("diff of two executions that differ in one parameter shows exactly that line", async () => {
    const a = await completed({ step: "params", parameters: { lr: 0.1 } });
    const b = await completed({ step: "params", parameters: { lr: 0.01 } });
    const r = await cli("exec", "diff", String(a.counter), String(b.counter));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`What differs from #${a.counter} (params, completed) to #${b.counter} (params, completed):\n\nParameters:\n  lr  0.1  →  0.01\n`);
    const json = await cli("exec", "diff", String(a.counter), String(b.counter), "--json");
    const d = JSON.parse(json.stdout) as { same: boolean; sections: { name: string; entries: unknown[] }[] };
    expect(d.same).toBe(false);
    expect(d.sections.filter((s) => s.entries.length)).toEqual([{ name: "parameters", entries: [{ key: "lr", a: "0.1", b: "0.01" }] }]);
    const self = await cli("exec", "diff", String(a.counter), String(a.counter));
    expect(self.stdout).toMatch(/^#\d+ and #\d+ are the same in code, image, command, parameters, inputs, environment, hardware and runtime, metrics, outputs\.\n$/);
  });

  it("a deleted execution whose secrets went with it is not reproduced with *** in their place", async () => {
    const orig = await completed({ step: "fixed", environmentVariables: { API_TOKEN: "s3cr3t-value", MODE: "fast" } });
    const del = await cli("exec", "delete", String(orig.counter));
    expect(del.code, del.stderr).toBe(0);
    const before = (await stack.api<{ results: unknown[] }>("GET", "/api/v1/projects/churn/executions")).results.length;
    const r = await cli("exec", "reproduce", String(orig.counter));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`Execution #${orig.counter} was deleted, and with it the secret values of API_TOKEN: a reproduction would run with *** in their place. Nothing was created`);
    expect((await stack.api<{ results: unknown[] }>("GET", "/api/v1/projects/churn/executions")).results.length).toBe(before);
    // one without secrets is still reproduced (not verified: its outputs are gone)
    const plain = await completed({ step: "fixed", environmentVariables: { MODE: "fast" } });
    expect((await cli("exec", "delete", String(plain.counter))).code).toBe(0);
    const again = await cli("exec", "reproduce", String(plain.counter));
    expect(again.code, again.stderr).toBe(0);
  });

  it("refuses clearly: verify of a running execution, a bad tolerance, latest", async () => {
    const bad = await cli("exec", "reproduce", "1", "--verify", "--tolerance", "big");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("--tolerance big: give a number from 0 (exactly equal) to 1, e.g. --tolerance 1e-9.");
    const latest = await cli("exec", "reproduce", "latest");
    expect(latest.stderr).toContain(`vh exec reproduce takes the execution's number`);
    const api = await stack.raw("POST", "/api/v1/projects/churn/executions/1/reproduce", JSON.stringify({ verify: "yes" }), { "content-type": "application/json" });
    expect(api.status).toBe(400);
    expect(await api.text()).toContain("verify must be true or false");
  });
});
