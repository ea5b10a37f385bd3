/**
 * `vh exec run STEP [--adhoc] [--dry-run] [--json] [--watch] … [--PARAM=VALUE …] [--INPUT=URI …]`.
 *
 * Stages: parse the fixed options → read valohai.yaml → pick the step → parse the step options →
 * validate every value (all errors at once, before any network call) → either print the plan
 * (`--dry-run`, offline) or ask the server whether it would accept the run (`…/executions/validate`,
 * with the local valohai.yaml: project, step, parameters, inputs, GPUs), and only then package,
 * upload (with byte progress), create and optionally watch the execution. A run the server would
 * refuse uploads nothing.
 */
import { uploadLocalInputs } from "./data.js";
import { randomInt } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ApiError, type ApiClient, type CreateExecutionBody, type Execution, type Sweep } from "../api.js";
import { ruleParameters, sweepParts, taskBody } from "./exec-sweep.js";
import type { Context } from "../context.js";
import { CliError } from "../errors.js";
import { formatBytes, jsonText } from "../format.js";
import { printLogs } from "../logs.js";
import {
  FIXED_OPTIONS,
  MAX_SEED,
  applyStepOptions,
  missingParameters,
  overriddenNote,
  parseVars,
  resolveInputs,
  splitRunArgs,
  stepOptionKinds,
  stepOptionTable,
  withDefaults,
  type RunFixed,
} from "../run-args.js";
import {
  CommandBuildError,
  buildCommandList,
  joinCommand,
  loadValohaiYaml,
  parseJsonExact,
  parseYaml11,
  pythonStr,
  sanitizeOptionName,
  stringifyJson,
  suggest,
  toJsonValue,
  validateParameterValues,
} from "../../valohai/index.js";
import type { Problem, Step, ValohaiConfig } from "../../valohai/index.js";
import { ensureProject } from "./project.js";
import { defaultPacker, uploadIfMissing } from "../snapshot-upload.js";
import { maskEnvironment } from "../../executions/secrets.js";

const DEFAULT_YAML = "valohai.yaml";

export interface RunPlan {
  step: string;
  image: string;
  command: string;
  commandList: string[];
  parameters: Record<string, unknown>;
  inputs: Record<string, string[]>;
  environmentVariables: Record<string, string>;
  timeLimitSeconds: number | null;
  noOutputTimeoutSeconds: number | null;
}

function formatProblem(p: Problem, file: string): string {
  const where = `${p.file ?? file}:${p.line ?? "?"}:${p.column ?? "?"}`;
  return `${where}: ${p.severity === "warning" ? "warning: " : ""}${p.message}`;
}

interface LoadedYaml {
  config: ValohaiConfig;
  /** Absolute path of the file. */
  file: string;
  /** Path inside the project root, as the server reads it from the snapshot (posix). */
  yamlPath: string;
  /** The file as problems name it (relative to the working directory). */
  display: string;
  /** Its text, as read (sent to the server's pre-upload check). */
  text: string;
}

function loadYaml(ctx: Context, root: string, fixed: Pick<RunFixed, "yaml">): LoadedYaml {
  const file = path.resolve(root, fixed.yaml ?? DEFAULT_YAML);
  const rel = path.relative(root, file);
  const display = path.relative(ctx.io.cwd, file) || file;
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new CliError(
      fixed.yaml ? `Cannot read ${display}.` : `No ${DEFAULT_YAML} in ${root}: vh exec run reads the steps from it (or pass --yaml PATH).`,
    );
  }
  const { config, problems } = loadValohaiYaml(text, { filename: display });
  if (!config) {
    const lines = problems.filter((p) => p.severity === "error").map((p) => formatProblem(p, display));
    throw new CliError(`${display} is invalid:\n${(lines.length ? lines : problems.map((p) => formatProblem(p, display))).join("\n")}`);
  }
  return { config, file, yamlPath: rel.split(path.sep).join("/"), display, text };
}

/** Exact name, else the one step that starts with it. */
export function matchStep(config: ValohaiConfig, name: string): Step {
  const names = [...config.steps.keys()];
  const exact = config.steps.get(name);
  if (exact) return exact;
  let hits = names.filter((n) => n.startsWith(name));
  if (hits.length === 0) hits = names.filter((n) => n.toLowerCase().startsWith(name.toLowerCase()));
  if (hits.length === 1) return config.steps.get(hits[0]!)!;
  const list = names.length ? names.join(", ") : "(none)";
  if (hits.length > 1) throw new CliError(`"${name}" matches several steps: ${hits.join(", ")}. Type more of the name.`);
  const hint = suggest(name, names);
  throw new CliError(`There is no step "${name}".${hint ? ` Did you mean "${hint}"?` : ""} Steps: ${list}.`);
}

/**
 * A parameter file read as valohai-cli reads it: `.json` as Python's json.load (exact integers,
 * `1.0` a float), anything else as PyYAML's safe_load (YAML 1.1: `yes` is true, `1e-4` a string).
 */
function readParameterFile(ctx: Context, file: string): Record<string, unknown> {
  const abs = path.resolve(ctx.io.cwd, file);
  let data: unknown;
  try {
    const text = fs.readFileSync(abs, "utf8");
    if (path.extname(abs).toLowerCase() === ".json") data = parseJsonExact(text, { pyFloats: true });
    else {
      const parsed = parseYaml11(text, file);
      if (parsed.problems.length) throw new Error(parsed.problems[0]!.message);
      data = parsed.value;
    }
  } catch (err) {
    throw new CliError(`Cannot read the parameter file ${file}: ${(err as Error).message}`);
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    throw new CliError(`The parameter file ${file} must be a JSON or YAML mapping of parameter names to values.`);
  }
  return data as Record<string, unknown>;
}

function defaultText(v: unknown): string {
  if (Array.isArray(v)) return v.map((x) => pythonStr(x)).join(", ");
  return pythonStr(v);
}

export function runHelp(step?: Step): string {
  const out: string[] = [];
  out.push("Usage: vh exec run [options] STEP [step options]", "");
  out.push("Start an execution of a valohai.yaml step (STEP may be a unique prefix of its name).", "");
  out.push("Options:");
  const rows = FIXED_OPTIONS.map((o) => [`${o.short ? `-${o.short}, ` : "    "}--${o.long}${o.value ? ` <${o.value}>` : ""}`, o.help]);
  const w = Math.max(...rows.map((r) => r[0]!.length));
  for (const [a, b] of rows) out.push(`  ${a!.padEnd(w)}  ${b}`);
  if (!step) {
    out.push("", "Step options: run `vh exec run STEP --help` to list a step's parameters and inputs.");
    return out.join("\n") + "\n";
  }
  const { shadowing } = stepOptionTable(step);
  const prow: string[][] = [];
  for (const p of step.parameters.values()) {
    const opt = `--${sanitizeOptionName(p.name)}`;
    const bits: string[] = [];
    if (p.description) bits.push(p.description);
    if (p.type === "flag") bits.push("flag: true/false/yes/no/1/0; a bare flag means true (a vh extension)");
    else bits.push(p.type);
    if (p.multiple !== "none") bits.push("repeat the option for more values");
    if (p.default !== undefined && p.default !== null && !(Array.isArray(p.default) && p.default.length === 0)) bits.push(`default: ${defaultText(p.default)}`);
    else if (p.multiple !== "none") bits.push("optional");
    else if (!p.optional) bits.push("required");
    prow.push([p.type === "flag" ? `${opt}[=BOOL]` : `${opt}=${p.type.toUpperCase()}`, bits.join("; ")]);
  }
  const irow: string[][] = [];
  for (const i of step.inputs.values()) {
    const bits = ["URI, repeatable"];
    if (i.description) bits.unshift(i.description);
    if (i.default.length) bits.push(`default: ${i.default.join(", ")}`);
    else if (!i.optional) bits.push("required");
    irow.push([`--${sanitizeOptionName(i.name)}=URI`, bits.join("; ")]);
  }
  const w2 = Math.max(0, ...[...prow, ...irow].map((r) => r[0]!.length));
  out.push("", `Parameter Options (step "${step.name}"):`);
  if (!prow.length) out.push("  (none)");
  for (const [a, b] of prow) out.push(`  ${a!.padEnd(w2)}  ${b}`);
  out.push("", `Input Options (step "${step.name}"):`);
  if (!irow.length) out.push("  (none)");
  for (const [a, b] of irow) out.push(`  ${a!.padEnd(w2)}  ${b}`);
  out.push(
    "",
    "After STEP, an option named like one of the step's parameters or inputs is that parameter or input, even where vh has an option of the same name (--title, --json, …): put vh's own options before STEP. After --, every option is the step's.",
  );
  for (const s of shadowing) out.push(`Note: ${s}`);
  if (step.parameters.size) out.push("", "--parameter-file FILE takes a JSON/YAML mapping keyed by parameter name (or option name).");
  return out.join("\n") + "\n";
}

interface Prepared {
  step: Step;
  plan: RunPlan;
  /** Only the inputs given on the command line; the server applies the YAML defaults. */
  givenInputs: Record<string, string[]>;
  givenEnv: Record<string, string>;
  yamlPath: string;
  /** The valohai.yaml text the plan was made from. */
  yamlText: string;
}

/** A command that Python could not build: the located problem, never a stack trace. */
function buildError(err: unknown, file: string): never {
  if (err instanceof CommandBuildError) throw new CliError(formatProblem(err.problem, file));
  throw err;
}

/** Everything up to the network: returns the plan or throws one CliError listing every problem. */
function prepare(ctx: Context, loaded: LoadedYaml, step: Step, fixed: RunFixed, tokens: Parameters<typeof applyStepOptions>[1]): Prepared {
  const fileValues = fixed.parameterFile ? readParameterFile(ctx, fixed.parameterFile) : undefined;
  const given = applyStepOptions(step, tokens, fileValues);
  for (const w of given.warnings) ctx.warn(w);
  const errors = [...given.errors];
  // The YAML defaults, typed as valohai-cli's click options type them (with a warning where that changes a number).
  const typed = withDefaults(step, given.parameters);
  for (const w of typed.warnings) ctx.warn(w);
  errors.push(...typed.errors);
  const values = typed.values;
  const missing = missingParameters(step, values);
  errors.push(...missing);
  const missingNames = new Set([...step.parameters.values()].filter((p) => missing.some((m) => m.startsWith(`Parameter "${p.name}" `))).map((p) => p.name));
  const present = Object.fromEntries(Object.entries(values).filter(([k]) => !missingNames.has(k)));
  const validated = validateParameterValues(step, present);
  for (const e of validated.errors) {
    if (!missingNames.has(e.parameter) && !typed.errors.some((t) => t.startsWith(`Parameter "${e.parameter}": `))) errors.push(`Parameter "${e.parameter}": ${e.message}`);
  }
  const inputs = resolveInputs(step, given.inputs);
  // A dry run shows the command, which does not depend on inputs: missing ones are only a warning.
  if (fixed.dryRun) for (const e of inputs.errors) ctx.warn(e);
  else errors.push(...inputs.errors);
  const vars = parseVars(fixed.vars);
  errors.push(...vars.errors);
  if (errors.length) throw new CliError(errors.join("\n"));

  const environmentVariables: Record<string, string> = {};
  for (const v of step.environmentVariables.values()) if (v.default !== undefined) environmentVariables[v.name] = v.default;
  Object.assign(environmentVariables, vars.env);
  let commandList: string[];
  try {
    commandList = buildCommandList(step, validated.values);
  } catch (err) {
    buildError(err, loaded.display);
  }
  const plan: RunPlan = {
    step: step.name,
    image: fixed.image ?? step.image,
    command: joinCommand(commandList, fixed.joiner),
    commandList,
    // Typed as valohai-cli types them: bigint for an int beyond 2^53, PyFloat for a float (stringifyJson prints them).
    parameters: validated.values,
    inputs: inputs.inputs,
    environmentVariables,
    timeLimitSeconds: step.timeLimitSeconds ?? null,
    noOutputTimeoutSeconds: step.noOutputTimeoutSeconds ?? null,
  };
  return { step, plan, givenInputs: given.inputs, givenEnv: vars.env, yamlPath: loaded.yamlPath, yamlText: loaded.text };
}

/**
 * The valohai.yaml to read. `--yaml` before STEP is vh's. `--yaml` after STEP is vh's too, unless
 * the step, as the default file declares it, has a parameter or input whose option is `--yaml`.
 */
function loadForStep(ctx: Context, root: string, stepName: string, beforeStep: RunFixed, anywhere: RunFixed): LoadedYaml {
  if (beforeStep.yaml !== undefined || anywhere.yaml === undefined) return loadYaml(ctx, root, beforeStep);
  let defaultProblem: unknown;
  try {
    const dflt = loadYaml(ctx, root, {});
    if (stepOptionTable(matchStep(dflt.config, stepName)).options.has("yaml")) return dflt;
  } catch (err) {
    // no usable default file: --yaml is vh's
    defaultProblem = err;
  }
  try {
    return loadYaml(ctx, root, anywhere);
  } catch (err) {
    // Neither file is usable: the default file's own problems say more than "cannot read VALUE".
    if (defaultProblem !== undefined && fs.existsSync(path.resolve(root, DEFAULT_YAML))) throw defaultProblem;
    throw err;
  }
}

/**
 * The server's own checks of the run (its refusal thrown as it is), with this valohai.yaml. A
 * server older than the check (no such route) is said in a warning, and the run goes on.
 */
async function checkBeforeUpload(ctx: Context, client: ApiClient, project: string, body: Omit<CreateExecutionBody, "code">, yaml: string): Promise<void> {
  try {
    await client.validateExecution(project, { ...body, yaml });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404 && err.code === "not_found" && err.message.startsWith("No route "))) throw err;
    ctx.warn(`${client.server.url} cannot check a run before its code is uploaded (an older vh server): uploading first.`);
  }
}

export async function execRunCommand(ctx: Context, args: string[]): Promise<number> {
  const root = ctx.rootDir();
  // The step's options decide what a fixed option name after STEP means, so parse twice: first
  // with every fixed name as vh's (to find STEP and --yaml), then with the step known.
  const tentative = splitRunArgs(args);
  const stepName = tentative.step;
  if (!stepName) {
    if (tentative.fixed.help) {
      ctx.io.stdout.write(runHelp());
      return 0;
    }
    if (tentative.errors.length) throw new CliError(tentative.errors.join("\n"));
    let steps = "";
    try {
      steps = ` Steps: ${[...loadYaml(ctx, root, tentative.fixed).config.steps.keys()].join(", ") || "(none)"}.`;
    } catch {
      // the missing STEP is the error to report
    }
    throw new CliError(`Missing STEP: vh exec run STEP [options].${steps}`);
  }
  const loaded = loadForStep(ctx, root, stepName, splitRunArgs(args, () => "value").fixed, tentative.fixed);
  const step = matchStep(loaded.config, stepName);
  const { fixed, tokens, overridden, errors } = splitRunArgs(args, stepOptionKinds(step));
  if (fixed.help) {
    ctx.io.stdout.write(runHelp(step));
    return 0;
  }
  if (errors.length) throw new CliError(errors.join("\n"));
  for (const name of new Set(overridden)) ctx.info(`note: ${overriddenNote(step, name)}`);
  const sweep = sweepParts(step, tokens, fixed);
  if (sweep) {
    if (fixed.dryRun) throw new CliError("--dry-run shows one execution's command: leave out the lists and sweep options to see it.", 2);
    if (fixed.watch) throw new CliError("--watch follows one execution: leave it out for a sweep, and watch one of its executions with vh exec logs N --follow.", 2);
    if (fixed.seed !== undefined) throw new CliError("--seed sets one execution's VH_SEED; a sweep's executions are seeded by the sweep (its draws are recorded).", 2);
  }
  const prepared = prepare(ctx, loaded, step, fixed, sweep ? sweep.tokens : tokens);
  const seed = chooseSeed(ctx, fixed, prepared.givenEnv);
  if (seed !== undefined) prepared.plan.environmentVariables["VH_SEED"] = String(seed);

  if (fixed.dryRun) {
    // Secret values are masked here as everywhere (app/executions/secrets.ts): a plan is pasted into issues and logs.
    if (fixed.json) ctx.io.stdout.write(`${stringifyJson({ ...prepared.plan, environmentVariables: maskEnvironment(prepared.plan.environmentVariables) }, 2)}\n`);
    else ctx.io.stdout.write(prepared.plan.command.endsWith("\n") ? prepared.plan.command : `${prepared.plan.command}\n`);
    return 0;
  }
  if (fixed.adhoc && fixed.commit !== undefined) throw new CliError("--adhoc runs this directory; --commit runs a commit of the linked repository: give one of them.", 2);
  const yamlPath = path.isAbsolute(prepared.yamlPath) || prepared.yamlPath.startsWith("..") ? undefined : prepared.yamlPath;
  if (!yamlPath) throw new CliError(`--yaml must point inside the project root ${root}: the server reads it from the uploaded snapshot.`);

  const client = ctx.client();
  const project = await ensureProject(ctx, client, root, fixed.project);
  const body: Omit<CreateExecutionBody, "code" | "commit"> = {
    step: prepared.step.name,
    yamlPath,
    // An integer beyond 2^53 travels as its decimal string (JSON.parse would round the number).
    parameters: toJsonValue(prepared.plan.parameters),
    inputs: prepared.givenInputs,
    environmentVariables: prepared.givenEnv,
    ...(fixed.title !== undefined ? { title: fixed.title } : {}),
    ...(fixed.tags.length ? { tags: fixed.tags } : {}),
    ...(fixed.image !== undefined ? { image: fixed.image } : {}),
    ...(fixed.gpus !== undefined ? { gpus: fixed.gpus } : {}),
    ...(fixed.environment !== undefined ? { environment: fixed.environment } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(fixed.retries ? { retries: fixed.retries } : {}),
  };
  // An ad-hoc run's local files (a path, or file://) become datums first: the server sees datum:// URIs.
  if (fixed.adhoc) body.inputs = await uploadLocalInputs(ctx, project, body.inputs ?? {});
  if (sweep) {
    const swept = new Set(Object.keys(sweep.rules));
    const sweepBody = {
      ...body,
      parameters: { ...Object.fromEntries(Object.entries(body.parameters ?? {}).filter(([k]) => !swept.has(k))), ...ruleParameters(sweep.rules) },
      task: taskBody(fixed),
    };
    const code = fixed.adhoc ? { code: await packageAndUpload(ctx, client, root) } : { commit: fixed.commit ?? "HEAD" };
    const made = await client.createSweep(project, { ...sweepBody, ...code } as never);
    return printSweep(ctx, client, project, made, fixed.json);
  }
  // Everything the server checks that does not need the code, before the code is packaged or sent.
  await checkBeforeUpload(ctx, client, project, body, prepared.yamlText);

  if (!fixed.adhoc) {
    // The server reads valohai.yaml and the code from the linked repository at that commit.
    const execution: Execution = await client.createExecution(project, { ...body, commit: fixed.commit ?? "HEAD" });
    ctx.info(`Execution #${execution.counter} of ${fixed.commit ?? "the default branch"} (${(execution.code?.commit ?? "").slice(0, 12)}) started (${execution.status}): ${client.executionUrl(project, execution.counter)}`);
    return finish(ctx, client, project, execution, fixed);
  }

  const execution: Execution = await client.createExecution(project, { ...body, code: await packageAndUpload(ctx, client, root) });
  ctx.info(`Execution #${execution.counter} started (${execution.status}): ${client.executionUrl(project, execution.counter)}`);
  return finish(ctx, client, project, execution, fixed);
}

/** Packages the project directory and uploads it unless the server has it; its sha256. */
export async function packageAndUpload(ctx: Context, client: ApiClient, root: string): Promise<string> {
  const pkg = await (ctx.io.packer ?? defaultPacker)(root, { stderr: ctx.io.stderr });
  for (const w of pkg.warnings) ctx.warn(w);
  const upload = await uploadIfMissing(client, pkg, { progress: ctx.io.stderr }).finally(() => pkg.dispose?.());
  ctx.info(
    upload.uploaded
      ? `Uploaded ${upload.bytes} bytes (${formatBytes(upload.bytes)}, ${pkg.fileCount} files).`
      : "Code unchanged, nothing uploaded.",
  );
  return pkg.sha256;
}

/** A created sweep: its id, kind and executions (JSON: the record). */
export function printSweep(ctx: Context, client: ApiClient, project: string, s: Sweep, json?: boolean): number {
  if (json) {
    ctx.io.stdout.write(jsonText(s));
    return 0;
  }
  const kind = String(s["kind"] ?? "grid");
  const def = s["definition"] as { count?: number; maxParallel?: number } | null | undefined;
  const planned = def?.count ?? s.executions.length;
  const waiting = s.executions.filter((e) => e.status === "created").length;
  ctx.info(`Sweep ${s.id} (${kind}, ${planned} execution${planned === 1 ? "" : "s"}${def?.maxParallel ? `, at most ${def.maxParallel} at once` : ""}) started.`);
  for (const e of s.executions) ctx.io.stdout.write(`#${e.counter}\t${e.status}\t${client.executionUrl(project, e.counter)}\n`);
  if (waiting) ctx.info(`${waiting} wait for a slot (max parallel).`);
  if (s.executions.length < planned) ctx.info(`The other ${planned - s.executions.length} are proposed as these end.`);
  return 0;
}

/**
 * The seed `--seed` asks for (`random`: one picked here, and said on stderr so the run can be
 * repeated), refused when `--var VH_SEED=…` says another.
 */
function chooseSeed(ctx: Context, fixed: RunFixed, givenEnv: Record<string, string>): number | undefined {
  if (fixed.seed === undefined) return undefined;
  const seed = fixed.seed === "random" ? randomInt(0, MAX_SEED + 1) : fixed.seed;
  const given = givenEnv["VH_SEED"];
  if (given !== undefined && given.trim() !== String(seed)) {
    throw new CliError(`--seed ${fixed.seed} and --var VH_SEED=${given} disagree: give the seed once (--seed sets VH_SEED).`, 2);
  }
  if (fixed.seed === "random") ctx.info(`seed: ${seed} (VH_SEED; repeat the run with --seed ${seed})`);
  return seed;
}

/** Prints the new execution, or follows its logs to the end with --watch. */
async function finish(ctx: Context, client: ReturnType<Context["client"]>, project: string, execution: Execution, fixed: RunFixed): Promise<number> {
  if (!fixed.watch) {
    ctx.io.stdout.write(fixed.json ? jsonText(execution) : `${execution.counter}\n`);
    return 0;
  }
  const result = await printLogs(ctx.io, client, project, execution.counter, { follow: true, stdout: true, stderr: true, status: true });
  if (fixed.json) ctx.io.stdout.write(jsonText(await client.getExecution(project, execution.counter)));
  ctx.info(`Execution #${execution.counter} ${result.status}.`);
  return result.status === "completed" ? 0 : 1;
}
