/** `vh project create|link|status|list`: a link maps a directory to a project on a server. */
import path from "node:path";
import { ApiError, type ApiClient, type Project } from "../api.js";
import { saveLink } from "../config.js";
import { CliError } from "../errors.js";
import type { Context } from "../context.js";
import { formatTime, jsonText, table } from "../format.js";
import { println } from "../io.js";

function link(ctx: Context, project: Project, dir = ctx.io.cwd): void {
  saveLink(ctx.io.env, dir, ctx.linkTo(project.name));
}

/** `--json`: the project as the REST API returns it (`GET /projects/:name`), on stdout. */
export async function projectCreateCommand(ctx: Context, name: string, opts: { json?: boolean } = {}): Promise<number> {
  const project = await ctx.client().createProject(name);
  link(ctx, project);
  if (opts.json) ctx.io.stdout.write(jsonText(project));
  else ctx.info(`Created project "${project.name}" on ${ctx.server().url} and linked ${path.resolve(ctx.io.cwd)} to it.`);
  return 0;
}

export async function projectLinkCommand(ctx: Context, name: string, opts: { json?: boolean } = {}): Promise<number> {
  const project = await ctx.client().getProject(name);
  link(ctx, project);
  if (opts.json) ctx.io.stdout.write(jsonText(project));
  else ctx.info(`Linked ${path.resolve(ctx.io.cwd)} to project "${project.name}" on ${ctx.server().url}.`);
  return 0;
}

export async function projectStatusCommand(ctx: Context, opts: { json?: boolean }): Promise<number> {
  const found = ctx.link();
  if (!found) {
    ctx.info(`${path.resolve(ctx.io.cwd)} is not linked to a vh project: run \`vh project link NAME\` or \`vh project create NAME\`.`);
    return 1;
  }
  ctx.warnIfOtherServer(found);
  const project = await ctx.client().getProject(found.project);
  if (opts.json) {
    ctx.io.stdout.write(jsonText({ dir: found.dir, url: ctx.server().url, project }));
    return 0;
  }
  println(ctx.io.stdout, `Project:    ${project.name} (${project.id})`);
  println(ctx.io.stdout, `Server:     ${ctx.server().url} (from ${ctx.server().source})`);
  println(ctx.io.stdout, `Linked dir: ${found.dir}`);
  println(ctx.io.stdout, `Executions: ${project.executionCount}`);
  println(ctx.io.stdout, `Fork PRs:   ${forkText(project.forkCommands)}; ${configText(project.forkConfigs)}`);
  println(ctx.io.stdout, `Created:    ${formatTime(project.createdAt)}`);
  return 0;
}

export async function projectListCommand(ctx: Context, opts: { json?: boolean }): Promise<number> {
  const { results } = await ctx.client().listProjects();
  if (opts.json) {
    ctx.io.stdout.write(jsonText(results));
    return 0;
  }
  ctx.io.stdout.write(table(["NAME", "EXECUTIONS", "CREATED"], results.map((p) => [p.name, String(p.executionCount), formatTime(p.createdAt)])));
  return 0;
}

/** A project name made from a directory name (`My Repo` → `My-Repo`), within the server's rules. */
export function projectNameFor(dir: string): string {
  const base = path.basename(path.resolve(dir));
  const name = base.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 100);
  return name || "project";
}

/**
 * The project of `dir` for an ad-hoc run: the link if there is one, else a project named after the
 * directory, created (or, when it exists, linked) and linked now — said on stderr.
 */
export async function ensureProject(ctx: Context, client: ApiClient, dir: string, explicit?: string): Promise<string> {
  if (explicit) return explicit;
  const found = ctx.link();
  if (found) {
    ctx.warnIfOtherServer(found);
    return found.project;
  }
  const name = projectNameFor(dir);
  let project: Project;
  let created = true;
  try {
    project = await client.createProject(name);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) throw err;
    project = await client.getProject(name);
    created = false;
  }
  saveLink(ctx.io.env, dir, ctx.linkTo(project.name, client.server));
  ctx.info(`${created ? "Created project" : "Linked to the existing project"} "${project.name}" on ${client.server.url} for ${dir} (change with \`vh project link NAME\`).`);
  return project.name;
}

function forkText(on: boolean): string {
  return on ? "commands run on fork pull requests" : "commands on fork pull requests need --allow-fork";
}

/** `vh project set [NAME] --fork-commands on|off`: a project admin's settings (`PATCH /projects/:project`). */
export async function projectSetCommand(ctx: Context, name: string | undefined, opts: { forkCommands?: string; forkConfigs?: string; json?: boolean }): Promise<number> {
  const target = name ?? ctx.link()?.project;
  if (!target) throw new CliError(`${path.resolve(ctx.io.cwd)} is not linked to a vh project: name it (\`vh project set NAME --fork-commands on\`).`);
  if (opts.forkCommands === undefined && opts.forkConfigs === undefined) {
    throw new CliError("Nothing to set: give `--fork-commands on|off` or `--fork-configs on|off`.");
  }
  const onOff = (flag: string, raw: string | undefined) => {
    if (raw === undefined) return undefined;
    if (/^(on|true|yes)$/i.test(raw)) return true;
    if (/^(off|false|no)$/i.test(raw)) return false;
    throw new CliError(`${flag} takes on or off, not "${raw}".`);
  };
  const forkCommands = onOff("--fork-commands", opts.forkCommands);
  const forkConfigs = onOff("--fork-configs", opts.forkConfigs);
  const project = await ctx.client().updateProject(target, { ...(forkCommands === undefined ? {} : { forkCommands }), ...(forkConfigs === undefined ? {} : { forkConfigs }) });
  if (opts.json) ctx.io.stdout.write(jsonText(project));
  else ctx.info(`Project "${project.name}": ${forkText(project.forkCommands)}; ${configText(project.forkConfigs)}.`);
  return 0;
}

function configText(on: boolean): string {
  return on ? "a fork's own valohai.yaml is used" : "a fork's code runs with the base branch's valohai.yaml";
}
