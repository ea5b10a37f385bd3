/**
 * `vh task run BLUEPRINT` (a valohai.yaml task blueprint, top-level `task:`, run as a sweep: its
 * type, parameter styles, execution count, maximum queued executions, target metric and
 * stop-condition) and `vh task show ID` (a sweep with its executions, ranked by its target).
 */
import type { Context } from "../context.js";
import { CliError } from "../errors.js";
import { jsonText } from "../format.js";
import { ensureProject } from "./project.js";
import { packageAndUpload, printSweep } from "./exec-run.js";

export interface TaskRunOptions {
  adhoc?: boolean;
  commit?: string;
  maxParallel?: number;
  yaml?: string;
  json?: boolean;
  project?: string;
}

export async function taskRunCommand(ctx: Context, blueprint: string, opts: TaskRunOptions): Promise<number> {
  if (opts.adhoc && opts.commit !== undefined) throw new CliError("--adhoc runs this directory; --commit runs a commit of the linked repository: give one of them.", 2);
  const root = ctx.rootDir();
  const client = ctx.client();
  const project = await ensureProject(ctx, client, root, opts.project);
  const code = opts.adhoc ? { code: await packageAndUpload(ctx, client, root) } : { commit: opts.commit ?? "HEAD" };
  const body = {
    blueprint,
    yamlPath: opts.yaml ?? "valohai.yaml",
    parameters: {},
    ...(opts.maxParallel !== undefined ? { task: { maxParallel: opts.maxParallel } } : {}),
    ...code,
  };
  const made = await client.createSweep(project, body as never);
  return printSweep(ctx, client, project, made, opts.json);
}

export async function taskShowCommand(ctx: Context, id: string, opts: { json?: boolean; project?: string }): Promise<number> {
  const client = ctx.client();
  const project = await ensureProject(ctx, client, ctx.rootDir(), opts.project);
  const s = await client.getSweep(project, id);
  if (opts.json) {
    ctx.io.stdout.write(jsonText(s));
    return 0;
  }
  const def = s["definition"] as { target?: { metric: string; direction: "max" | "min" }; count?: number } | null;
  const target = def?.target;
  const value = (e: (typeof s.executions)[number]) => {
    const v = e.metadataLatest?.[target?.metric ?? ""];
    return typeof v === "number" ? v : null;
  };
  const rows = [...s.executions];
  if (target) rows.sort((a, b) => (value(a) === null ? 1 : value(b) === null ? -1 : target.direction === "max" ? value(b)! - value(a)! : value(a)! - value(b)!));
  ctx.io.stdout.write(`Sweep ${s.id}: ${String(s["kind"])} of step ${s.step}, ${s.executions.length}${def?.count ? ` of ${def.count}` : ""} executions${target ? `, ranked by ${target.metric} (${target.direction})` : ""}\n`);
  if (s["stoppedReason"]) ctx.io.stdout.write(`Stopped: ${String(s["stoppedReason"])}\n`);
  for (const e of rows) {
    const params = Object.entries(e.parameters ?? {}).map(([k, v]) => `${k}=${typeof v === "object" && v !== null && "value" in v ? String((v as { value: unknown }).value) : String(v)}`).join(" ");
    const m = target ? `\t${target.metric}=${value(e) ?? "—"}` : "";
    ctx.io.stdout.write(`#${e.counter}\t${e.status}${m}\t${params}${e.statusDetail ? `\t(${e.statusDetail})` : ""}\n`);
  }
  return 0;
}
