/**
 * A sweep asked for through the REST API (`POST /projects/:p/sweeps`, the GitHub Action): the
 * grid expanded here, its size checked against the cap before anything else, the code either an
 * uploaded snapshot (`code`) or the project's linked repository at a ref (`commit`, resolved as a
 * single execution's is: app/executions/at-commit.ts), and every execution created all or none
 * by the one creation service (app/executions/create.ts), in one transaction with the sweep's own
 * rows (`source: { kind: "api" }`). No forge is written to: an API sweep has no report job.
 */
import { z } from "zod";
import type { Sql } from "../../db/client.js";
import type { Project } from "../../db/schema/projects.js";
import type { Forges } from "../contracts/forge.js";
import type { SweepSource } from "../../db/schema/sweeps.js";
import { VhError } from "../errors.js";
import { createExecutions, type CreateDeps } from "../executions/create.js";
import { snapshotAtCommit } from "../executions/at-commit.js";
import { stringifyJson } from "../valohai/index.js";
import { PyFloat } from "../valohai/objects.js";
import { expandSweep, sweepSize, type SweepSpec } from "./index.js";

/** One value as JSON gives it: a string, a number (a `PyFloat` or `bigint` from `parseJsonExact`), or a boolean. */
const Scalar = z.union([z.string(), z.number(), z.boolean(), z.bigint(), z.instanceof(PyFloat)], {
  error: "each parameter value must be a string, a number or a boolean",
});

const SweepBody = z
  .object({
    step: z.string({ error: "step is required: the valohai.yaml step to run" }).min(1, "step is required: the valohai.yaml step to run"),
    code: z.unknown().optional(),
    commit: z.unknown().optional(),
    parameters: z
      .record(z.string(), z.union([Scalar, z.array(Scalar, { error: "a parameter's values must be a value or a list of values" })]))
      .default({}),
  })
  .loose();

export interface ApiSweepDeps extends CreateDeps {
  /** Where `commit` sweeps find the project's linked repository; absent: commit sweeps are refused. */
  forges?: Forges;
}

export interface CreatedApiSweep {
  id: string;
  /** The executions' ids, in the grid's order. */
  executionIds: string[];
}

/** The value as the sweep's `spec` records it (text, as a comment would have written it). */
function rawText(v: z.output<typeof Scalar>): string {
  return typeof v === "string" ? v : stringifyJson(v);
}

function parseBody(body: unknown): z.output<typeof SweepBody> {
  const parsed = SweepBody.safeParse(body);
  if (!parsed.success) {
    throw new VhError("bad_request", parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("\n"));
  }
  return parsed.data;
}

/**
 * Creates the sweep: every point of the grid one execution, each with the values exactly as sent
 * (typed JSON, as a single execution's are). A list of one is one value; no list at all is a
 * sweep of one. Refused, with nothing written, when the grid is over `config.sweepCap`, when a
 * list is empty, or when any point would be refused as an execution (all points' parameter
 * refusals said at once).
 */
export async function createApiSweep(deps: ApiSweepDeps, project: Project, body: unknown, triggeredBy: string): Promise<CreatedApiSweep> {
  const req = parseBody(body);
  const { parameters, commit, code: givenCode, ...rest } = req;
  if (commit !== undefined && givenCode !== undefined) {
    throw new VhError("bad_request", "Give either code (an uploaded snapshot) or commit (the linked repository at a ref), not both.");
  }
  if (commit === undefined && givenCode === undefined) {
    throw new VhError("bad_request", "Give code (the sha256 of an uploaded snapshot) or commit (a branch, tag or sha of the linked repository).");
  }
  const lists: Record<string, z.output<typeof Scalar>[]> = {};
  const empty: string[] = [];
  for (const [name, v] of Object.entries(parameters)) {
    lists[name] = Array.isArray(v) ? v : [v];
    if (lists[name].length === 0) empty.push(name);
  }
  if (empty.length) {
    throw new VhError("bad_request", `parameters: ${empty.map((n) => `"${n}"`).join(", ")} ${empty.length === 1 ? "is an empty list" : "are empty lists"}, which makes no executions; give at least one value.`, { errors: empty });
  }
  // The grid is expanded over positions, so each point takes the values exactly as they were sent.
  const positions: SweepSpec = Object.fromEntries(Object.entries(lists).map(([name, vs]) => [name, vs.map((_v, i) => String(i))]));
  const size = sweepSize("grid", positions);
  if (size > deps.config.sweepCap) {
    throw new VhError(
      "too_large",
      `That sweep would make ${size.toLocaleString("en-US")} executions; the limit is ${deps.config.sweepCap} (VH_SWEEP_CAP). Use fewer values, or split it into several sweeps.`,
      { size, cap: deps.config.sweepCap },
    );
  }
  let code: unknown = givenCode;
  let commitSha: string | null = null;
  if (commit !== undefined) {
    if (!deps.forges) throw new VhError("internal", "This server was started without forges: commit runs are not served.");
    ({ code, commitSha } = await snapshotAtCommit({ ...deps, forges: deps.forges }, project, commit));
  }
  const points = expandSweep("grid", positions);
  const bodies = points.map((p) => ({
    ...rest,
    code,
    parameters: Object.fromEntries(Object.entries(p).map(([name, i]) => [name, lists[name]![Number(i)]])),
  }));
  const spec: SweepSpec = Object.fromEntries(Object.entries(lists).map(([name, vs]) => [name, vs.map(rawText)]));
  const source: SweepSource = { kind: "api" };
  const origin = { ...(commitSha ? { commitSha } : {}), triggeredBy };
  const { created, extra: id } = await createExecutions(deps, project, bodies, origin, async (tx, { created, prepared }) => {
    const [s] = await tx<{ id: string }[]>`
      insert into sweeps (project_id, step, kind, spec, commit_sha, code_sha256, source, triggered_by)
      values (${project.id}, ${prepared[0]!.step.name}, 'grid', ${tx.json(spec)}, ${commitSha ?? ""}, ${prepared[0]!.req.code}, ${tx.json(source as never)}, ${triggeredBy})
      returning id`;
    await tx`insert into sweep_executions ${tx(created.map((c, i) => ({ sweep_id: s!.id, position: i, execution_id: c.id })))}`;
    return s!.id;
  });
  return { id, executionIds: created.map((c) => c.id) };
}

export interface ApiSweepRecord {
  id: string;
  step: string;
  kind: "grid";
  spec: Record<string, string[]>;
  /** The commit it ran at; null for an uploaded snapshot. */
  commit: string | null;
  code: string;
  source: SweepSource;
  triggeredBy: string;
  createdAt: Date;
  /** In the grid's order. */
  executionIds: string[];
}

/** A sweep of the project (any source), or a not_found naming it. */
export async function findSweep(sql: Sql, project: Project, ref: string): Promise<ApiSweepRecord> {
  const missing = () => new VhError("not_found", `Sweep ${ref} does not exist in project ${project.name}.`);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ref)) throw missing();
  const [s] = await sql<{ id: string; step: string; kind: "grid"; spec: Record<string, string[]>; commit_sha: string; code_sha256: string; source: SweepSource; triggered_by: string; created_at: Date }[]>`
    select id, step, kind, spec, commit_sha, code_sha256, source, triggered_by, created_at from sweeps where id = ${ref} and project_id = ${project.id}`;
  if (!s) throw missing();
  const rows = await sql<{ execution_id: string }[]>`select execution_id from sweep_executions where sweep_id = ${s.id} order by position`;
  return {
    id: s.id,
    step: s.step,
    kind: s.kind,
    spec: s.spec,
    commit: s.commit_sha || null,
    code: s.code_sha256,
    source: s.source,
    triggeredBy: s.triggered_by,
    createdAt: s.created_at,
    executionIds: rows.map((r) => r.execution_id),
  };
}
