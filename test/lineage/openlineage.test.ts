/**
 * The OpenLineage export on the real stack (REST API, worker, local runner, local store): an HTTP
 * file → `prepare` → its output read as a datum by `train` (a sweep of one, at a commit of a linked
 * GitHub repository) → model://ol-model/v1 → read by `score`; a failing `broken`. Every event is checked against the
 * vendored schema (test/fixtures/openlineage/) and vh's served facet schema, and for the shapes
 * Marquez needs.
 */
import http from "node:http";
import path from "node:path";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { runCli, tempDir } from "../cli/helpers.js";
import type { RunEvent } from "../../app/models/openlineage.js";
import { OPENLINEAGE_SCHEMA_URL, VH_VERSION } from "../../app/models/openlineage.js";
import { openLineageValidator, type Validator } from "./validate.js";

const fixture = path.resolve(import.meta.dirname, "../fixtures/openlineage/project");
const RAW = "id,label\n1,a\n\n2,b\n";
const CLEAN = "id,label\n1,a\n2,b\n";
const SECRET = "tok-3f9a7c1e-never-exported";
const SIGNATURE = "sig-5d1b-never-exported";
const COMMIT = "c".repeat(40);
const NAME = "vh.lineage.test";
const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

type Exec = { id: string; counter: number; status: string };

describe("OpenLineage export", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let files: http.Server;
  let dataUrl: string;
  let origin: string;
  let validator: Validator;
  let before: Date;
  let prepare: Exec;
  let train: Exec;
  let score: Exec;
  let broken: Exec;
  let cleanDatum: { id: string; sha256: string };

  const api = <T>(query: string) => stack.api<T>("GET", `/api/v1/lineage/openlineage?${query}`);
  const refusal = async (query: string) => {
    const res = await stack.raw("GET", `/api/v1/lineage/openlineage?${query}`);
    return { status: res.status, message: ((await res.json()) as { error: { message: string } }).error.message };
  };
  const until = (n: number) =>
    waitFor(`execution #${n} to end`, async () => {
      const e = await stack.api<Exec>("GET", `/api/v1/projects/ol/executions/${n}`);
      return ["completed", "failed", "error", "stopped"].includes(e.status) ? e : undefined;
    }, 60_000);
  const logText = async (n: number) =>
    (await stack.api<{ lines: { line: string }[] }>("GET", `/api/v1/projects/ol/executions/${n}/logs`)).lines.map((l) => l.line).join("\n");
  const cli = (args: string[]) => runCli([...args, "--url", stack.vh.url, "--token", stack.vh.token], { cwd: tempDir() });
  const expectValid = (events: RunEvent[]) => {
    for (const e of events) expect(validator.problems(e), `${e.eventType} of ${e.job.name} (${e.run.runId})`).toEqual([]);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, env: { VH_LINEAGE_NAME: NAME } });
    origin = stack.vh.url.replace(/\/+$/, "");
    files = http.createServer((req, res) => {
      if (req.url?.startsWith("/sets/raw.csv")) {
        res.writeHead(200, { "content-type": "text/csv" });
        res.end(req.method === "HEAD" ? undefined : RAW);
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    dataUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}/sets/raw.csv?signature=${SIGNATURE}`;
    const project = await stack.api<{ id: string }>("POST", "/api/v1/projects", { name: "ol" });
    await db.sql`insert into forge_repositories (forge, id, installation_id, full_name, project_id) values ('github', 11, 42, 'acme/ol', ${project.id})`;
    const code = await uploadSnapshot(stack, fixture);
    before = new Date(Date.now() - 1000);

    prepare = await stack.api<Exec>("POST", "/api/v1/projects/ol/executions", { code, step: "prepare", inputs: { raw: dataUrl }, environmentVariables: { API_TOKEN: SECRET } });
    expect((await until(prepare.counter)).status, await logText(prepare.counter)).toBe("completed");
    const outputs = await stack.api<{ results: { id: string; name: string; sha256: string }[] }>("GET", `/api/v1/projects/ol/executions/${prepare.counter}/outputs`);
    cleanDatum = outputs.results.find((o) => o.name === "clean.csv")!;
    expect(cleanDatum.sha256).toBe(sha(CLEAN));

    const sweep = await stack.api<{ id: string; executions: Exec[] }>("POST", "/api/v1/projects/ol/sweeps", {
      code, step: "train", parameters: { epochs: 3, rate: 0.5 }, inputs: { data: `datum://${cleanDatum.id}` },
    });
    train = sweep.executions[0]!;
    await db.sql`update executions set commit_sha = ${COMMIT} where id = ${train.id}`;
    expect((await until(train.counter)).status, await logText(train.counter)).toBe("completed");

    score = await stack.api<Exec>("POST", "/api/v1/projects/ol/executions", { code, step: "score", inputs: { model: "model://ol-model/v1" } });
    expect((await until(score.counter)).status, await logText(score.counter)).toBe("completed");

    broken = await stack.api<Exec>("POST", "/api/v1/projects/ol/executions", { code, step: "broken" });
    expect((await until(broken.counter)).status).toBe("failed");

    const served = await fetch(`${origin}/openlineage/vh/${VH_VERSION}`); // no token: public
    expect(served.status).toBe(200);
    validator = openLineageValidator((await served.json()) as { $defs: Record<string, unknown> });
  });

  afterAll(async () => {
    await stack?.stop();
    await new Promise((r) => files?.close(r));
    await db?.drop();
  });

  it("a completed execution: START and COMPLETE with its HTTP input and its output, nothing secret", async () => {
    const events = await api<RunEvent[]>(`execution=ol/${prepare.counter}`);
    expect(events.map((e) => e.eventType)).toEqual(["START", "COMPLETE"]);
    expectValid(events);
    const [start, done] = events as [RunEvent, RunEvent];
    const producer = `${origin}/openlineage/vh/${VH_VERSION}`;
    expect(start).toMatchObject({ producer, schemaURL: OPENLINEAGE_SCHEMA_URL, run: { runId: prepare.id }, job: { namespace: `vh://${NAME}/ol`, name: "prepare" } });
    const record = await stack.api<{ startedAt: string; endedAt: string; sha256?: string }>("GET", `/api/v1/projects/ol/executions/${prepare.counter}`);
    expect(start.eventTime).toBe(record.startedAt);
    expect(done.eventTime).toBe(record.endedAt);
    expect(start.outputs).toEqual([]);
    for (const e of events) {
      expect(e.inputs).toEqual([
        {
          namespace: `http://127.0.0.1:${(files.address() as AddressInfo).port}`,
          name: "/sets/raw.csv",
          facets: {
            dataSource: expect.objectContaining({ name: `http://127.0.0.1:${(files.address() as AddressInfo).port}` }),
            version: expect.objectContaining({ datasetVersion: sha(RAW) }),
          },
          inputFacets: { vh_input: expect.objectContaining({ input: "raw", file: "raw.csv" }) },
        },
      ]);
    }
    expect(done.outputs).toEqual([
      {
        namespace: `vh://${NAME}`,
        name: "ol/prepare/clean.csv",
        facets: { dataSource: expect.objectContaining({ name: `vh://${NAME}`, uri: origin }), version: expect.objectContaining({ datasetVersion: sha(CLEAN) }) },
        outputFacets: {
          outputStatistics: expect.objectContaining({ size: CLEAN.length, fileCount: 1, _producer: producer }),
          vh_output: expect.objectContaining({ datum: `datum://${cleanDatum.id}`, path: "clean.csv", _schemaURL: `${producer}#/$defs/VhOutputOutputDatasetFacet` }),
        },
      },
    ]);
    expect(done.outputs[0]!.outputFacets.outputStatistics).not.toHaveProperty("rowCount");
    expect(done.run.facets.errorMessage).toBeUndefined();
    expect(done.run.facets.parent).toBeUndefined(); // not part of a sweep
    expect(done.run.facets.nominalTime).toMatchObject({ nominalStartTime: expect.stringMatching(ISO_WITH_OFFSET) });
    // the environment is not exported; the URL's query (a signature) is not either
    const text = JSON.stringify(events);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain("API_TOKEN");
    expect(text).not.toContain(SIGNATURE);
    // the same by the execution's id
    expect(await api<RunEvent[]>(`execution=${prepare.id}`)).toEqual(events);
  });

  it("a datum input joins its producer's output; parameters, metrics, parent sweep, source code and the model version", async () => {
    const events = await api<RunEvent[]>(`execution=ol/%23${train.counter}`);
    expect(events.map((e) => e.eventType)).toEqual(["START", "COMPLETE"]);
    expectValid(events);
    const done = events[1]!;
    const [prepared] = (await api<RunEvent[]>(`execution=ol/${prepare.counter}`))[1]!.outputs;
    expect(done.inputs.map((i) => [i.namespace, i.name])).toEqual([[prepared!.namespace, prepared!.name]]);
    expect(done.inputs[0]!.facets.version).toMatchObject({ datasetVersion: cleanDatum.sha256 });
    expect(done.inputs[0]!.inputFacets.vh_input).toMatchObject({ input: "data", file: "clean.csv", datum: `datum://${cleanDatum.id}` });
    expect(done.run.facets.vh_parameters).toMatchObject({ parameters: { epochs: 3, rate: 0.5 } });
    expect(done.run.facets.vh_metrics).toMatchObject({ metrics: { epoch: 2, loss: 0.125 } });
    expect(done.run.facets.vh_metrics!.metrics).not.toHaveProperty("phase"); // not a number
    expect(events[0]!.run.facets.vh_metrics).toBeUndefined(); // metrics come with the end
    expect(done.run.facets.vh_execution).toMatchObject({ project: "ol", counter: train.counter, status: "completed", commit: COMMIT });
    const [sweep] = await db.sql<{ sweep_id: string }[]>`select sweep_id from sweep_executions where execution_id = ${train.id}`;
    expect(done.run.facets.parent).toMatchObject({ run: { runId: sweep!.sweep_id }, job: { namespace: `vh://${NAME}/ol`, name: "sweep/train" } });
    expect(done.job.facets.sourceCodeLocation).toMatchObject({ type: "git", url: `https://github.com/acme/ol/tree/${COMMIT}`, repoUrl: "https://github.com/acme/ol", version: COMMIT });
    expect(done.job.facets.jobType).toMatchObject({ processingType: "BATCH", integration: "VH", jobType: "STEP" });
    const model = done.outputs.find((o) => o.name === "ol/train/model.bin")!;
    expect(model.facets.datasetType).toMatchObject({ datasetType: "MODEL" });
    expect(model.outputFacets.vh_output).toMatchObject({ path: "model.bin", modelVersions: ["model://ol-model/v1"] });
    const report = done.outputs.find((o) => o.name === "ol/train/report.txt")!;
    expect(report.facets.datasetType).toBeUndefined();
  });

  it("a failed execution: FAIL with its reason and exit code", async () => {
    const events = await api<RunEvent[]>(`execution=ol/${broken.counter}`);
    expect(events.map((e) => e.eventType)).toEqual(["START", "FAIL"]);
    expectValid(events);
    expect(events[1]!.run.facets.errorMessage).toMatchObject({ message: expect.stringContaining("(exit code 3)"), programmingLanguage: "shell" });
    expect(events[0]!.run.facets.errorMessage).toBeUndefined();
    expect(events[1]!.outputs).toEqual([]);
  });

  it("a model version's lineage: the training execution and its upstream, in time order; downstream on request", async () => {
    const events = await api<RunEvent[]>(`model=${encodeURIComponent("model://ol-model/v1")}`);
    expectValid(events);
    expect(events.map((e) => [e.job.name, e.eventType])).toEqual([
      ["prepare", "START"],
      ["prepare", "COMPLETE"],
      ["train", "START"],
      ["train", "COMPLETE"],
    ]);
    expect(events.map((e) => e.run.runId)).toEqual([prepare.id, prepare.id, train.id, train.id]);
    const down = await api<RunEvent[]>(`model=${encodeURIComponent("model://ol-model/v1")}&direction=downstream`);
    expectValid(down);
    expect(down.map((e) => [e.job.name, e.eventType])).toEqual([["score", "START"], ["score", "COMPLETE"]]);
    // the version's file, read through model://, is the train's output dataset at its version, typed MODEL
    const trainDone = events[3]!;
    const modelOut = trainDone.outputs.find((o) => o.name === "ol/train/model.bin")!;
    expect(down[1]!.inputs).toEqual([
      expect.objectContaining({
        namespace: modelOut.namespace,
        name: modelOut.name,
        facets: expect.objectContaining({ version: modelOut.facets.version, datasetType: expect.objectContaining({ datasetType: "MODEL" }) }),
        inputFacets: { vh_input: expect.objectContaining({ input: "model", file: "model.bin", modelVersion: "model://ol-model/v1" }) },
      }),
    ]);
    const both = await api<RunEvent[]>(`model=${encodeURIComponent("model://ol-model/v1")}&direction=both`);
    expect(both).toEqual([...events, ...down]);
  });

  it("ndjson: one event per line, the same events", async () => {
    const res = await stack.raw("GET", `/api/v1/lineage/openlineage?model=${encodeURIComponent("model://ol-model/v1")}&format=ndjson`);
    expect(res.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const text = await res.text();
    expect(text.endsWith("\n")).toBe(true);
    const lines = text.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines.map((l) => JSON.parse(l))).toEqual(await api<RunEvent[]>(`model=${encodeURIComponent("model://ol-model/v1")}`));
  });

  it("a project's events since a time, a page of executions at a time", async () => {
    const all: RunEvent[] = [];
    let url: string | null = `/api/v1/lineage/openlineage?project=ol&since=${encodeURIComponent(before.toISOString())}&limit=1`;
    let pages = 0;
    while (url) {
      const res = await stack.raw("GET", url.replace(origin, ""));
      expect(res.status).toBe(200);
      all.push(...((await res.json()) as RunEvent[]));
      pages++;
      url = /<([^>]+)>; rel="next"/.exec(res.headers.get("link") ?? "")?.[1] ?? null;
    }
    expect(pages).toBe(4);
    expectValid(all);
    expect(all.map((e) => [e.run.runId, e.eventType])).toEqual([
      [prepare.id, "START"], [prepare.id, "COMPLETE"], [train.id, "START"], [train.id, "COMPLETE"],
      [score.id, "START"], [score.id, "COMPLETE"], [broken.id, "START"], [broken.id, "FAIL"],
    ]);
    // since the train's end: its COMPLETE (and what came after), not its START
    const trainDone = (await api<RunEvent[]>(`execution=ol/${train.counter}`))[1]!;
    const later = await api<RunEvent[]>(`project=ol&since=${encodeURIComponent(trainDone.eventTime)}`);
    expect(later.map((e) => [e.run.runId, e.eventType])).toEqual([[train.id, "COMPLETE"], [score.id, "START"], [score.id, "COMPLETE"], [broken.id, "START"], [broken.id, "FAIL"]]);
    expect(await api<RunEvent[]>(`project=ol&since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).toEqual([]);
  });

  it("the shapes Marquez needs: non-empty namespaces and names, uuid runIds, times with an offset, URLs", async () => {
    const events = await api<RunEvent[]>(`execution=ol/${prepare.counter}&execution=ol/${train.counter}&execution=ol/${score.counter}&execution=ol/${broken.counter}`);
    expect(events).toHaveLength(8);
    for (const e of events) {
      expect(e.run.runId).toMatch(UUID);
      expect(e.eventTime).toMatch(ISO_WITH_OFFSET);
      expect(new URL(e.producer).protocol).toMatch(/^https?:$/);
      expect(e.job.namespace.length && e.job.name.length).toBeGreaterThan(0);
      for (const d of [...e.inputs, ...e.outputs]) {
        expect(d.namespace, JSON.stringify(d)).toMatch(/^[a-z][a-z0-9+.-]*:\/\/./);
        expect(d.name.length).toBeGreaterThan(0);
      }
      for (const f of [...Object.values(e.run.facets), ...Object.values(e.job.facets)]) {
        expect(new URL(f._producer).href).toBe(e.producer);
        expect(() => new URL(f._schemaURL)).not.toThrow();
      }
    }
    // one run: both its events name the same job (Marquez keys runs to jobs)
    expect(new Set(events.filter((e) => e.run.runId === train.id).map((e) => `${e.job.namespace}|${e.job.name}`)).size).toBe(1);
  });

  it("refuses unclear requests, naming the parameter", async () => {
    expect(await refusal("")).toEqual({ status: 400, message: expect.stringMatching(/Say which events: execution=PROJECT\/N/) });
    expect(await refusal(`execution=ol/1&project=ol`)).toEqual({ status: 400, message: expect.stringMatching(/Give one of execution, project, not 2/) });
    expect(await refusal("execution=ol")).toEqual({ status: 400, message: expect.stringMatching(/execution=ol: write PROJECT\/N/) });
    expect(await refusal("execution=ol/999")).toEqual({ status: 404, message: expect.stringMatching(/project "ol" has no execution #999/) });
    expect(await refusal("project=ol")).toEqual({ status: 400, message: expect.stringMatching(/project=ol needs since=ISO-TIME/) });
    expect(await refusal("project=ol&since=yesterday")).toEqual({ status: 400, message: expect.stringMatching(/since=yesterday: not a time/) });
    expect(await refusal("project=ol&since=2026-01-01T00:00:00Z&limit=0")).toEqual({ status: 400, message: expect.stringMatching(/limit=0: must be a whole number from 1 to 1000/) });
    expect(await refusal("project=nope&since=2026-01-01T00:00:00Z")).toEqual({ status: 404, message: expect.stringMatching(/project=nope: no such project/) });
    expect(await refusal(`execution=ol/1&format=xml`)).toEqual({ status: 400, message: expect.stringMatching(/format=xml: must be json or ndjson/) });
    expect(await refusal(`model=${encodeURIComponent("model://ol-model/v1")}&direction=sideways`)).toEqual({ status: 400, message: expect.stringMatching(/direction=sideways/) });
    expect(await refusal(`model=${encodeURIComponent("model://ol-model/v9")}`)).toMatchObject({ status: 404 });
    const noToken = await fetch(`${origin}/api/v1/lineage/openlineage?execution=ol/1`);
    expect(noToken.status).toBe(401);
  });

  it("vh lineage --openlineage prints the same events: a version as JSON, an execution as ndjson, a project since a time", async () => {
    const version = await cli(["lineage", "model://ol-model/v1", "--openlineage"]);
    expect(version.code, version.stderr).toBe(0);
    expect(JSON.parse(version.stdout)).toEqual(await api<RunEvent[]>(`model=${encodeURIComponent("model://ol-model/v1")}`));
    const one = await cli(["lineage", "--execution", String(broken.counter), "--openlineage", "--ndjson", "--project", "ol"]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout.trimEnd().split("\n").map((l) => JSON.parse(l))).toEqual(await api<RunEvent[]>(`execution=ol/${broken.counter}`));
    const since = await cli(["lineage", "--since", before.toISOString(), "--openlineage", "--project", "ol"]);
    expect(since.code, since.stderr).toBe(0);
    expect((JSON.parse(since.stdout) as RunEvent[]).map((e) => e.eventType)).toEqual(["START", "COMPLETE", "START", "COMPLETE", "START", "COMPLETE", "START", "FAIL"]);
    const bad = await cli(["lineage", "--execution", "3"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--execution goes with --openlineage/);
    const both = await cli(["lineage", "model://ol-model/v1", "--execution", "3", "--openlineage", "--project", "ol"]);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/Give one of a model version, --execution/);
  });
});
