import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { Sql } from "../../../db/client.js";
import { isTerminal, type ExecutionStatus } from "../../executions/state.js";
import { createExecution, tagProblems, type CreateDeps } from "../../executions/create.js";
import { createExecutionAtCommit } from "../../executions/at-commit.js";
import type { Forges } from "../../contracts/forge.js";
import { parseJsonExact } from "../../valohai/index.js";
import { findExecutionRow, listExecutionRows, loadPresented } from "../../executions/present.js";
import { stopExecution } from "../../executions/stop.js";
import { deleteExecution } from "../../executions/delete.js";
import { VhError } from "../../errors.js";
import { isDeleted, logProgress, mayBeRetried, willBeRetried } from "../../../db/queries/executions.js";
import { metadataEventsOf } from "../../../db/queries/metadata-events.js";
import type { DatumRow } from "../../../db/queries/datums.js";
import type { Cols } from "../../../db/queries/rows.js";
import type { executions } from "../../../db/schema/executions.js";
import type { logLines } from "../../../db/schema/logs.js";
import { findProject } from "./projects.js";
import { once, replayHeaders, requestClaim } from "../idempotency.js";
import { reproduceExecution, reproductionView } from "../../executions/reproduce.js";
import { diffExecutions } from "../../executions/diff.js";
import { z } from "zod";
import { presentDatum } from "./data.js";

type LogRow = Cols<typeof logLines, "seq" | "time" | "stream" | "line">;

async function readLogs(sql: Sql, executionId: string, after: number, limit: number) {
  return sql<LogRow[]>`
    select seq, time, stream, line from log_lines where execution_id = ${executionId} and seq > ${after} order by seq limit ${limit}`;
}

const presentLine = (l: LogRow) => ({ seq: l.seq, time: l.time.toISOString(), stream: l.stream, line: l.line });

/** Log and metadata sequence numbers are int4. */
const MAX_SEQ = 2 ** 31 - 1;

function intParam(v: string | undefined, dflt: number, max: number): number {
  const n = v === undefined ? dflt : Number.parseInt(v, 10);
  return Number.isFinite(n) && n >= 0 ? Math.min(n, max) : dflt;
}

const ReproduceBody = z.object({
  verify: z.boolean({ error: "verify must be true or false" }).default(false),
  tolerance: z.number({ error: "tolerance must be a number, e.g. 1e-9" }).min(0).max(1).optional(),
});

/** Mounted at /projects/:project/executions. `forges`: where `commit` runs (the project's linked repository) are read. */
export function executionRoutes(deps: CreateDeps & { forges?: Forges }) {
  const { sql } = deps;
  const app = new Hono();

  /** Ended for good: `lost` and `failed` are not, while a retry will queue it again (worker/scheduler/settle.ts). */
  async function hasEnded(id: string, status: ExecutionStatus): Promise<boolean> {
    if (!isTerminal(status)) return false;
    if (!mayBeRetried(status)) return true;
    return !(await willBeRetried(sql, id, deps.config.worker));
  }

  app.post("/", async (c) => {
    const project = await findProject(sql, c.req.param("project")!);
    // Parameter values read as Python's json.loads reads them: an integer beyond 2^53 stays exact, 1.0 stays a float.
    const text = await c.req.text();
    let body: unknown = {};
    try {
      body = parseJsonExact(text, { pyFloatsUnder: ["parameters"] });
    } catch {
      // not JSON: refused by the body's schema below, as an empty body is
    }
    // `commit` instead of `code`: the linked repository's code at that ref.
    const atCommit = body !== null && typeof body === "object" && !Array.isArray(body) && "commit" in body;
    if (atCommit && !deps.forges) throw new VhError("internal", "This server was started without forges: commit runs are not served.");
    const made = await once(sql, requestClaim(c, { projectId: project.id, kind: "execution" }, text), async (claimIn) =>
      atCommit
        ? (await createExecutionAtCommit({ ...deps, forges: deps.forges! }, project, body as Record<string, unknown>, null, claimIn)).id
        : (await createExecution(deps, project, body, {}, claimIn)).id,
    );
    return c.json(await loadPresented(sql, await findExecutionRow(sql, project.id, made.id)), 201, replayHeaders(made.replayed));
  });

  app.get("/", async (c) => {
    const project = await findProject(sql, c.req.param("project")!);
    // `?tag=a&tag=b` or `?tag=a,b`: only executions with every one of them.
    const tags = (c.req.queries("tag") ?? []).flatMap((t) => t.split(",")).map((t) => t.trim());
    const problems = tagProblems(tags);
    if (problems.length) throw new VhError("bad_request", `tag: ${problems.join("\n")}`, { errors: problems });
    const rows = await listExecutionRows(sql, project.id, { status: c.req.query("status"), tags, limit: intParam(c.req.query("limit"), 50, 1000) });
    return c.json({ results: await Promise.all(rows.map((r) => loadPresented(sql, r))) });
  });

  async function exec(c: { req: { param(k: string): string | undefined } }) {
    const project = await findProject(sql, c.req.param("project")!);
    return findExecutionRow(sql, project.id, c.req.param("ref")!);
  }

  app.get("/:ref", async (c) => c.json(await loadPresented(sql, await exec(c))));

  app.post("/:ref/stop", async (c) => {
    const row = await exec(c);
    await stopExecution(sql, row.id);
    return c.json(await loadPresented(sql, await findExecutionRow(sql, row.project_id, row.id)));
  });

  /**
   * Deletes the execution's logs, metadata and outputs, keeping its record and status history
   * (app/executions/delete.ts); 409 while it is active or a model version was made from its
   * outputs. `?dryRun=true`: the same checks and counts, nothing deleted.
   */
  app.delete("/:ref", async (c) => {
    const row = await exec(c);
    const dryRun = ["1", "true", "yes"].includes((c.req.query("dryRun") ?? "").toLowerCase());
    const removed = await deleteExecution({ sql, store: deps.store, lostRetries: deps.config.worker.lostRetries }, row.id, { by: c.get("token").name, dryRun });
    return c.json({ execution: await loadPresented(sql, await findExecutionRow(sql, row.project_id, row.id)), removed });
  });

  app.get("/:ref/logs", async (c) => {
    const row = await exec(c);
    const after = intParam(c.req.query("after"), 0, MAX_SEQ);
    const limit = intParam(c.req.query("limit"), 5000, 50_000);
    const lines = await readLogs(sql, row.id, after, limit);
    const cur = await logProgress(sql, row.id);
    const next = lines.length ? lines[lines.length - 1]!.seq : after;
    // A deleted execution's lines are gone: there is nothing more to wait for.
    const finished = row.deleted_at !== null || ((await hasEnded(row.id, cur!.status)) && next >= cur!.log_seq);
    return c.json({ lines: lines.map(presentLine), next, status: cur!.status, finished });
  });

  app.get("/:ref/logs/stream", async (c) => {
    const row = await exec(c);
    let after = intParam(c.req.query("after"), 0, MAX_SEQ);
    return streamSSE(c, async (stream) => {
      let open = true;
      stream.onAbort(() => {
        open = false;
      });
      while (open) {
        const lines = await readLogs(sql, row.id, after, 2000);
        for (const l of lines) {
          await stream.writeSSE({ data: JSON.stringify(presentLine(l)), id: String(l.seq) });
          after = l.seq;
        }
        if (lines.length === 2000) continue;
        const cur = await logProgress(sql, row.id);
        const ended = await hasEnded(row.id, cur!.status);
        // Ended with lines left unread: unless it was deleted meanwhile (then they are gone).
        if (ended && (after >= cur!.log_seq || (await isDeleted(sql, row.id)))) {
          await stream.writeSSE({ event: "end", data: JSON.stringify({ status: cur!.status }) });
          return;
        }
        await stream.sleep(250);
      }
    });
  });

  app.get("/:ref/metadata", async (c) => {
    const row = await exec(c);
    const events = await metadataEventsOf(sql, row.id);
    return c.json({
      events: events.map((e) => ({ seq: e.seq, time: e.time.toISOString(), data: e.data })),
      latest: row.metadata_latest,
    });
  });

  /** One key's series: every event that has the key, in order (what a chart of `loss` plots). */
  app.get("/:ref/metadata/:key", async (c) => {
    const row = await exec(c);
    const key = c.req.param("key");
    const points = await sql<{ seq: number; time: Date; value: unknown }[]>`
      select seq, time, data -> ${key} as value from metadata_events
      where execution_id = ${row.id} and data ? ${key} order by seq`;
    return c.json({ key, points: points.map((p) => ({ seq: p.seq, time: p.time.toISOString(), value: p.value })) });
  });

  /**
   * A reproduction of the execution (app/executions/reproduce.ts): a new execution with the same
   * code, image, command, parameters, environment and input versions. `verify`: compared with it
   * when it ends (the verdict at `GET …/:ref/reproduction`); `tolerance` for the metrics.
   */
  app.post("/:ref/reproduce", async (c) => {
    const original = await exec(c);
    const text = await c.req.text();
    let raw: unknown = {};
    try {
      raw = text.trim() ? JSON.parse(text) : {};
    } catch {
      throw new VhError("bad_request", "The body must be JSON: {\"verify\": true, \"tolerance\": 1e-9} (both optional).");
    }
    const parsed = ReproduceBody.safeParse(raw);
    if (!parsed.success) throw new VhError("bad_request", parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("\n"));
    const made = await reproduceExecution(sql, original, { verify: parsed.data.verify, tolerance: parsed.data.tolerance, triggeredBy: c.get("token").name });
    const execution = await loadPresented(sql, await findExecutionRow(sql, original.project_id, made.id));
    return c.json({ execution, reproduction: await reproductionView(sql, made.id) }, 201);
  });

  /**
   * What the execution reproduces and, once known, the verdict; 404 when it is not a reproduction.
   * `?wait=S` (at most 60): answers as soon as the verdict is known, or after S seconds.
   */
  app.get("/:ref/reproduction", async (c) => {
    const row = await exec(c);
    const until = Date.now() + intParam(c.req.query("wait"), 0, 60) * 1000;
    for (;;) {
      const view = await reproductionView(sql, row.id);
      if (!view) throw new VhError("not_found", `Execution #${row.counter} is not a reproduction of another execution.`);
      if (!view.verify || view.verdict || Date.now() >= until) return c.json(view);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  /** What differs between this execution and `other` (app/executions/diff.ts), section by section. */
  app.get("/:ref/diff/:other", async (c) => {
    const a = await exec(c);
    const b = await findExecutionRow(sql, a.project_id, c.req.param("other"));
    return c.json(await diffExecutions(sql, a, b, deps.config.secretsKey ?? null));
  });

  app.get("/:ref/outputs", async (c) => {
    const row = await exec(c);
    const rows = await sql<DatumRow[]>`select * from datums where execution_id = ${row.id} order by name, created_at`;
    return c.json({ results: rows.map(presentDatum) });
  });

  return app;
}
