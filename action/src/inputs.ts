/**
 * The one reader of the Action's environment: the step's `with:` inputs (`INPUT_<NAME>`, named
 * as @actions/core's getInput names them) and the runner's `GITHUB_*` variables, validated with
 * zod into one typed object. Nothing else in action/src reads `process.env`.
 */
import { z } from "zod";
import { InputError, parseEnvironment, parseInputs, parseMetric, parseParameters, type MetricChoice, type ParameterValues } from "./parse.js";

export type Env = Record<string, string | undefined>;

/** Every input action.yml declares, as the runner passes it (text; "" when not given). */
export const INPUT_NAMES = [
  "server-url",
  "token",
  "project",
  "step",
  "pipeline",
  "task",
  "parameters",
  "inputs",
  "environment",
  "variables",
  "commit",
  "adhoc",
  "wait",
  "timeout-minutes",
  "fail-on-failure",
  "metric",
] as const;
export type InputName = (typeof INPUT_NAMES)[number];

export interface ActionInputs {
  serverUrl: string;
  token: string;
  project: string;
  step: string;
  parameters: ParameterValues;
  inputs: Record<string, string[]>;
  environmentVariables: Record<string, string>;
  /** Where the code comes from: the workspace packaged and uploaded, or the linked repository at a commit. */
  code: { kind: "adhoc"; workspace: string } | { kind: "commit"; commit: string };
  wait: boolean;
  /** null: no limit of its own (the job's timeout still applies). */
  timeoutMinutes: number | null;
  failOnFailure: boolean;
  metric: MetricChoice | null;
}

/** What the runner tells about the job, beside the inputs. */
export interface RunnerContext {
  /** This job's page, for the summary's link back; null outside Actions. */
  runUrl: string | null;
  /** What the main step saved for the post step (`STATE_*`). */
  state: { started: string | null; settled: boolean };
  /** Whether the runner takes state by file (`GITHUB_STATE`); outside Actions no state is saved. */
  savesState: boolean;
  /** This is the post step: the main step ran and said so in the state. */
  isPost: boolean;
  /** Whether there is a job summary to write (`GITHUB_STEP_SUMMARY`). */
  hasSummary: boolean;
}

export function inputOf(env: Env, name: InputName): string {
  return (env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] ?? "").trim();
}

const bool = (name: InputName, dflt: boolean) =>
  z
    .string()
    .transform((v, ctx) => {
      if (v === "") return dflt;
      if (["true", "True", "TRUE"].includes(v)) return true;
      if (["false", "False", "FALSE"].includes(v)) return false;
      ctx.addIssue({ code: "custom", message: `${name} must be true or false, not "${v}"` });
      return z.NEVER;
    });

const Raw = z.object({
  "server-url": z
    .string()
    .min(1, { message: "server-url is required: the vh server's address, e.g. https://vh.example.com", abort: true })
    .refine((v) => /^https?:\/\/[^/\s]+/i.test(v), "server-url must be an http(s):// address, e.g. https://vh.example.com")
    .transform((v) => v.replace(/\/+$/, "").replace(/\/api\/v1$/, "")),
  token: z.string().min(1, "token is required: an API token of the vh server, from a secret (token: ${{ secrets.VH_TOKEN }})"),
  project: z.string().min(1, "project is required: the vh project to run in"),
  step: z.string(),
  pipeline: z.string(),
  task: z.string(),
  parameters: z.string(),
  inputs: z.string(),
  environment: z.string(),
  variables: z.string(),
  commit: z.string(),
  adhoc: bool("adhoc", false),
  wait: bool("wait", true),
  "timeout-minutes": z
    .string()
    .transform((v, ctx) => {
      if (v === "") return null;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) {
        ctx.addIssue({ code: "custom", message: `timeout-minutes must be a number of minutes above 0, not "${v}"` });
        return z.NEVER;
      }
      return n;
    }),
  "fail-on-failure": bool("fail-on-failure", true),
  metric: z.string(),
} satisfies Record<InputName, z.ZodType>);

/** The inputs, checked: throws an InputError listing every problem, each naming its input. */
export function readInputs(env: Env): ActionInputs {
  const raw = Object.fromEntries(INPUT_NAMES.map((n) => [n, inputOf(env, n)]));
  const parsed = Raw.safeParse(raw);
  if (!parsed.success) throw new InputError(parsed.error.issues.map((i) => i.message).join("\n"));
  const r = parsed.data;
  const kinds = (["step", "pipeline", "task"] as const).filter((k) => r[k] !== "");
  if (kinds.length !== 1) {
    throw new InputError(kinds.length === 0 ? "Give step: the valohai.yaml step to run." : `Give one of step, pipeline and task, not ${kinds.join(" and ")}.`);
  }
  if (r.environment !== "") {
    throw new InputError(`environment: the vh server has no environments (machine types) yet: executions run on its own hosts. Environment variables go in variables: (NAME=VALUE a line).`);
  }
  if (r.pipeline !== "") {
    throw new InputError(`pipeline: the vh server cannot run pipelines yet (valohai.yaml's pipeline: blueprints are parsed and linted, not run). Run its steps with step: instead.`);
  }
  if (r.task !== "") {
    throw new InputError(`task: the vh server cannot run tasks yet. For a grid over parameters, use step: with lists in parameters, e.g. lr=[0.1,0.2].`);
  }
  let code: ActionInputs["code"];
  if (r.adhoc) {
    const workspace = env["GITHUB_WORKSPACE"] ?? "";
    if (workspace === "") throw new InputError("adhoc: true packages GITHUB_WORKSPACE, which is not set: run this in a GitHub Actions job, after actions/checkout.");
    if (r.commit !== "") throw new InputError("Give commit or adhoc: true, not both: adhoc uploads the workspace as it is.");
    code = { kind: "adhoc", workspace };
  } else {
    const commit = r.commit || env["GITHUB_SHA"] || "";
    if (commit === "") throw new InputError("commit is required outside GitHub Actions (GITHUB_SHA is not set): a branch, tag or sha of the project's linked repository; or adhoc: true.");
    code = { kind: "commit", commit };
  }
  return {
    serverUrl: r["server-url"],
    token: r.token,
    project: r.project,
    step: r.step,
    parameters: parseParameters(r.parameters),
    inputs: parseInputs(r.inputs),
    environmentVariables: parseEnvironment(r.variables),
    code,
    wait: r.wait,
    timeoutMinutes: r["timeout-minutes"],
    failOnFailure: r["fail-on-failure"],
    metric: parseMetric(r.metric),
  };
}

/** The runner's side of the job: its page, and the state the main step left the post step. */
export function readContext(env: Env): RunnerContext {
  const server = env["GITHUB_SERVER_URL"];
  const repo = env["GITHUB_REPOSITORY"];
  const run = env["GITHUB_RUN_ID"];
  return {
    runUrl: server && repo && run ? `${server}/${repo}/actions/runs/${run}` : null,
    state: { started: env["STATE_vh-started"] || null, settled: env["STATE_vh-settled"] === "true" },
    savesState: !!env["GITHUB_STATE"],
    isPost: env["STATE_vh-phase"] === "post",
    hasSummary: !!env["GITHUB_STEP_SUMMARY"],
  };
}
