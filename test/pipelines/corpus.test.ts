/**
 * The compatibility corpus's pipelines and task blueprints (optional suite: VH_COMPAT_CORPUS, or
 * ../shared/corpus/valohai-yaml; skipped without it — test/pipelines/run.test.ts covers every
 * behaviour on our own fixture). Each file's steps get tiny stand-in commands (they print the
 * metadata keys the file's edges read), inputs become optional without defaults (nothing is
 * fetched from outside), and required parameters get a default of their type; then every
 * pipeline either runs to `completed` on a real server, or is refused at creation with a reason
 * that names its place in valohai.yaml. Every task blueprint is started the same way.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { CORPUS_SKIP_LINE, listYaml, locateCorpus } from "../valohai/helpers.js";
import { loadValohaiYaml } from "../../app/valohai/index.js";

const corpus = locateCorpus();
if (corpus === undefined) console.log(CORPUS_SKIP_LINE);

type Item = Record<string, Record<string, unknown>>;

/** The file with stand-ins (see the module comment); null when it is not a list of items. */
export function standIn(text: string): string | null {
  const doc = YAML.parse(text) as unknown;
  if (!Array.isArray(doc)) return null;
  const keys = new Set<string>();
  for (const m of text.matchAll(/[\w-]+\.metadata\.([\w./-]+)/g)) keys.add(m[1]!);
  const json = JSON.stringify(Object.fromEntries([...keys].map((k) => [k, 1])));
  const fixInputs = (inputs: unknown) => {
    if (!Array.isArray(inputs)) return;
    for (const i of inputs) {
      if (i && typeof i === "object") {
        delete (i as Record<string, unknown>)["default"];
        (i as Record<string, unknown>)["optional"] = true;
      }
    }
  };
  const fixParams = (params: unknown) => {
    if (!Array.isArray(params)) return;
    for (const p of params as Record<string, unknown>[]) {
      if (!p || typeof p !== "object" || ("default" in p && p["default"] !== null) || p["optional"] === true) continue;
      const type = p["type"] ?? "string";
      p["default"] = type === "integer" ? 1 : type === "float" ? 1.0 : type === "flag" ? false : "x";
    }
  };
  for (const item of doc as Item[]) {
    const step = item?.["step"];
    if (step) {
      step["command"] = `echo '${json}'`;
      fixInputs(step["inputs"]);
      fixParams(step["parameters"]);
    }
    const pipeline = item?.["pipeline"];
    for (const node of (Array.isArray(pipeline?.["nodes"]) ? pipeline["nodes"] : []) as Record<string, Record<string, unknown>>[]) {
      const o = node?.["override"];
      if (o) {
        if ("command" in o) o["command"] = `echo '${json}'`;
        fixInputs(o["inputs"]);
        fixParams(o["parameters"]);
      }
    }
  }
  return YAML.stringify(doc);
}

const files = corpus === undefined ? [] : [...listYaml(corpus, "reference/examples"), ...listYaml(corpus, "reference/valid"), ...listYaml(corpus, "reference/warning"), ...listYaml(corpus, "real-world")];
const withPipelines = files.filter((f) => /^- (pipeline|task):/m.test(fs.readFileSync(path.join(corpus!, f), "utf8")));

describe.skipIf(corpus === undefined)("the corpus's pipelines and task blueprints", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  const dir = tempDir("vh-corpus-pipelines-");

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, env: { VH_SWEEP_CAP: "50" } });
    await stack.api("POST", "/api/v1/projects", { name: "corpus" });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it.each(withPipelines)("%s: every pipeline runs or is refused with a located reason", async (file) => {
    const text = standIn(fs.readFileSync(path.join(corpus!, file), "utf8"))!;
    const loaded = loadValohaiYaml(text, { filename: "valohai.yaml" });
    const code = path.join(dir, file.replace(/[^\w.-]+/g, "_"));
    fs.mkdirSync(code, { recursive: true });
    fs.writeFileSync(path.join(code, "valohai.yaml"), text);
    const sha = await uploadSnapshot(stack, code);
    const outcomes: string[] = [];
    if (!loaded.config) {
      // valohai.yaml itself is refused (the lint's errors, located), as for any run.
      const res = await stack.raw("POST", "/api/v1/projects/corpus/pipelines", JSON.stringify({ name: "any", code: sha }), { "content-type": "application/json" });
      const body = (await res.json()) as { error: { message: string } };
      expect(res.status).toBe(400);
      expect(body.error.message).toMatch(/valohai\.yaml:\d+:\d+/);
      outcomes.push(`refused: ${body.error.message.split("\n")[1] ?? body.error.message}`);
    }
    for (const name of loaded.config?.pipelines.keys() ?? []) {
      const res = await stack.raw("POST", "/api/v1/projects/corpus/pipelines", JSON.stringify({ name, code: sha }), { "content-type": "application/json" });
      const body = (await res.json()) as { counter?: number; error?: { message: string } };
      if (res.status !== 201) {
        expect(res.status, `${file} ${name}: ${body.error?.message}`).toBe(400);
        expect(body.error!.message, `${file} ${name}`).toMatch(/valohai\.yaml:\d+/);
        outcomes.push(`${name}: refused (${body.error!.message.split("\n")[0]})`);
        continue;
      }
      const last: { nodes?: unknown } = {};
      const run = await waitFor(`${file} ${name} to end`, async () => {
        const r = await stack.api<{ status: string; statusDetail: string | null; nodes: { name: string; status: string; detail: string | null }[] }>("GET", `/api/v1/projects/corpus/pipelines/${body.counter}`);
        last.nodes = r.nodes;
        // A node that waits for approval (require-approval) is approved, as a reviewer would.
        for (const n of r.nodes.filter((x) => x.status === "awaiting-approval")) {
          await stack.api("POST", `/api/v1/projects/corpus/pipelines/${body.counter}/nodes/${encodeURIComponent(n.name)}/approve`, {});
        }
        return r.status !== "running" ? r : undefined;
      }, 120_000, 200).catch(async (err: Error) => {
        const execs = await db.sql`select counter, status, status_detail from executions order by counter desc limit 5`;
        throw new Error(`${err.message}; its nodes: ${JSON.stringify(last.nodes)}; latest executions: ${JSON.stringify(execs)}`);
      });
      expect(run.status, `${file} ${name}: ${run.statusDetail} ${JSON.stringify(run.nodes)}`).toBe("completed");
      outcomes.push(`${name}: completed (${run.nodes.map((n) => `${n.name} ${n.status}`).join(", ")})`);
    }
    for (const name of loaded.config?.tasks.keys() ?? []) {
      const res = await stack.raw("POST", "/api/v1/projects/corpus/sweeps", JSON.stringify({ blueprint: name, code: sha }), { "content-type": "application/json" });
      const body = (await res.json()) as { id?: string; executions?: unknown[]; error?: { message: string } };
      if (res.status === 201) {
        // Run to the end: every execution of the sweep (more, for a Bayesian one, as they end) completed.
        const done = await waitFor(`${file} task ${name} to end`, async () => {
          const s = await stack.api<{ planned: number; executions: { status: string }[] }>("GET", `/api/v1/projects/corpus/sweeps/${body.id}`);
          return s.executions.length >= s.planned && s.executions.every((e) => ["completed", "failed", "error", "stopped", "lost"].includes(e.status)) ? s : undefined;
        }, 120_000, 200);
        expect(done.executions.map((e) => e.status), `${file} task ${name}`).toEqual(done.executions.map(() => "completed"));
        outcomes.push(`task ${name}: ${done.executions.length} executions completed`);
      }
      else {
        expect([400, 413], `${file} task ${name}: ${body.error?.message}`).toContain(res.status);
        expect(body.error!.message, `${file} task ${name}`).toMatch(/^Task "[^"]+" \(valohai\.yaml:\d+:\d+\)/);
        outcomes.push(`task ${name}: refused (${body.error!.message.split("\n")[0]})`);
      }
    }
    console.log(`${file}\n  ${outcomes.join("\n  ")}`);
    expect(outcomes.length).toBeGreaterThan(0);
  }, 600_000);
});
