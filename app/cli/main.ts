/**
 * `vh`: the command-line client (mimics valohai-cli). `main` never exits the process; it returns
 * the exit code, and takes its streams, environment and working directory from `io`, so tests run
 * it in-process.
 *
 * Verbs match by unique case-insensitive prefix (`vh ex r` = `vh exec run`), with the aliases
 * `execution` → `exec`, `start` → `run`, `new`/`add` → `create`; a leaf name alone finds its group
 * when that is unambiguous (`vh link NAME` = `vh project link NAME`).
 */
import { Command, CommanderError, Option } from "commander";
import { CliError } from "./errors.js";
import { Context } from "./context.js";
import { completeIo, type PartialIo } from "./io.js";
import { execRunCommand } from "./commands/exec-run.js";
import { taskRunCommand, taskShowCommand, type TaskRunOptions } from "./commands/task.js";
import { pipelineApproveCommand, pipelineListCommand, pipelineRunCommand, pipelineShowCommand, pipelineStopCommand, type PipelineRunOptions } from "./commands/pipeline.js";
import {
  execDeleteCommand,
  execListCommand,
  execLogsCommand,
  execOpenCommand,
  execOutputsCommand,
  execShowCommand,
  execStopCommand,
  execWatchCommand,
} from "./commands/exec.js";
import { execDiffCommand, execReproduceCommand } from "./commands/exec-reproduce.js";
import { loginCommand, logoutCommand } from "./commands/login.js";
import { projectCreateCommand, projectLinkCommand, projectListCommand, projectSetCommand, projectStatusCommand } from "./commands/project.js";
import { lintCommand } from "./commands/lint.js";
import { hostAddCommand, hostCheckCommand, hostListCommand, hostRemoveCommand } from "./commands/host.js";
import { environmentListCommand, environmentShowCommand } from "./commands/environment.js";
import { tokenCreateCommand, tokenListCommand, tokenRevokeCommand, type TokenCreateOptions } from "./commands/token.js";
import {
  modelApproveCommand,
  modelCompareCommand,
  modelCreateCommand,
  modelLatestCommand,
  modelListCommand,
  modelReportCommand,
  modelRejectCommand,
  modelResetCommand,
  modelShowCommand,
} from "./commands/model.js";
import { lineageCommand, type LineageOptions } from "./commands/lineage.js";
import { auditVerifyCommand } from "./commands/audit.js";
import { datasetCreateCommand, datasetListCommand, datasetShowCommand } from "./commands/dataset.js";
import { dataDownloadCommand, dataListCommand, dataUploadCommand } from "./commands/data.js";
import { repoAddCommand, repoListCommand, repoRemoveCommand, repoStatusCommand, type RepoAddOptions } from "./commands/repo.js";

const VERSION = "0.1.0";

function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new CliError(`"${v}" is not a positive whole number.`);
  return n;
}

/** Builds the command tree; `run` receives each action's exit code. */
export function buildProgram(ctxOf: () => Context, setCode: (code: number) => void): Command {
  const program = new Command("vh");
  const ctx = () => ctxOf();
  const act =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) => {
      setCode(await fn(...args));
    };
  program
    .description("vh: run valohai.yaml steps on a vh server (a valohai-cli look-alike)")
    .version(VERSION, "-V, --version")
    .option("--url <url>", "server URL (else VH_URL, the `vh login` file, or the local `npm start` server)")
    .option("--token <token>", "API token (else VH_TOKEN, the `vh login` file, or the local server's admin token)")
    .enablePositionalOptions()
    .showSuggestionAfterError(true);

  const projectOpt = () => new Option("--project <name>", "the project (default: the one linked to this directory)");

  // task: valohai.yaml task blueprints, run as sweeps
  const task = program.command("task").description("run valohai.yaml task blueprints (sweeps) and look at sweeps");
  task
    .command("run")
    .description("run a task blueprint of valohai.yaml (top-level `task:`) as a sweep: vh task run BLUEPRINT [--adhoc]")
    .argument("<blueprint>")
    .option("-a, --adhoc", "package this directory and run that snapshot (instead of a commit of the linked repository)")
    .option("-c, --commit <ref>", "without --adhoc: the linked repository's branch, tag or commit (default: its default branch)")
    .option("--max-parallel <n>", "at most this many queued or running at once (default: the blueprint's maximum-queued-executions)", positiveInt)
    .option("--yaml <path>", "the valohai.yaml to read, relative to the project root (default: valohai.yaml)")
    .option("--json", "print the sweep record")
    .addOption(projectOpt())
    .action(act(async (blueprint: string, opts: TaskRunOptions) => taskRunCommand(ctx(), blueprint, opts)));
  task
    .command("show")
    .description("show a sweep: its executions ranked by its target metric, and why it stopped")
    .argument("<id>")
    .option("--json", "print the raw record")
    .addOption(projectOpt())
    .action(act(async (id: string, opts: { json?: boolean; project?: string }) => taskShowCommand(ctx(), id, opts)));

  // pipeline
  const repeat = (v: string, prev: string[] = []) => [...prev, v];
  const pipeline = program.command("pipeline").description("run valohai.yaml pipelines and follow their nodes");
  pipeline
    .command("run")
    .description("run a pipeline of valohai.yaml: vh pipeline run NAME [--adhoc] [--param NODE.PARAM=VALUE ...]")
    .argument("<name>")
    .option("-a, --adhoc", "package this directory and run that snapshot (instead of a commit of the linked repository)")
    .option("-c, --commit <ref>", "without --adhoc: the linked repository's branch, tag or commit (default: its default branch)")
    .option("--param <node.param=value>", "a node's parameter (repeatable)", repeat)
    .option("--parameter <name=value>", "a pipeline parameter (repeatable)", repeat)
    .option("--no-reuse", "run every node, even one whose code, image, command, parameters and inputs equal an earlier completed execution's")
    .option("--yaml <path>", "the valohai.yaml to read, relative to the project root (default: valohai.yaml)")
    .option("--json", "print the run's record")
    .addOption(projectOpt())
    .action(act(async (name: string, opts: PipelineRunOptions) => pipelineRunCommand(ctx(), name, opts)));
  pipeline
    .command("show")
    .description("show a pipeline run (=N, N or latest): its nodes, their executions and the edges")
    .argument("<N>")
    .option("--json", "print the raw record (with the Mermaid graph)")
    .addOption(projectOpt())
    .action(act(async (n: string, opts: { json?: boolean; project?: string }) => pipelineShowCommand(ctx(), n, opts)));
  pipeline
    .command("list")
    .description("list the project's pipeline runs, newest first")
    .option("--json", "print JSON")
    .addOption(projectOpt())
    .action(act(async (opts: { json?: boolean; project?: string }) => pipelineListCommand(ctx(), opts)));
  pipeline
    .command("stop")
    .description("stop a pipeline run: waiting nodes are skipped, running executions stopped")
    .argument("<N>")
    .addOption(projectOpt())
    .action(act(async (n: string, opts: { project?: string }) => pipelineStopCommand(ctx(), n, opts)));
  pipeline
    .command("approve")
    .description("approve a node that waits for approval (require-approval)")
    .argument("<N>")
    .argument("<node>")
    .addOption(projectOpt())
    .action(act(async (n: string, node: string, opts: { project?: string }) => pipelineApproveCommand(ctx(), n, node, opts)));

  // exec
  const exec = program.command("exec").alias("execution").description("run and inspect executions");
  exec
    .command("run")
    .alias("start")
    .alias("r") // `vh exec r` stayed run when `reproduce` came
    .description("start an execution of a step: vh exec run --adhoc STEP [--PARAM=VALUE ...] (see vh exec run --help)")
    .usage("[options] STEP [step options]")
    .argument("[args...]")
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(act(async (args: string[]) => execRunCommand(ctx(), args)));
  exec
    .command("list")
    .description("list the project's executions, newest first")
    .option("--status <status>", "only executions with this status")
    .option("--tag <tag>", "only executions with this tag (repeat: with every one of them)", (v: string, prev: string[] = []) => [...prev, v])
    .option("-n, --limit <n>", "at most this many (default 50)", positiveInt)
    .option("--json", "print JSON")
    .addOption(projectOpt())
    .action(act(async (opts: { status?: string; tag?: string[]; limit?: number; json?: boolean; project?: string }) => execListCommand(ctx(), opts)));
  exec
    .command("show")
    .alias("info")
    .description("show one execution (N: 3, #3 or latest)")
    .argument("<N>")
    .option("--json", "print the raw record")
    .addOption(projectOpt())
    .action(act(async (n: string, opts: { json?: boolean; project?: string }) => execShowCommand(ctx(), n, opts)));
  exec
    .command("logs")
    .description("print an execution's log: stdout to stdout, stderr and status lines to stderr")
    .argument("<N>")
    .option("-f, --follow", "keep printing until the execution ends; exit 0 only if it completed")
    .option("--no-stdout", "leave out stdout lines")
    .option("--no-stderr", "leave out stderr lines")
    .option("--no-status", "leave out vh's status lines (the log's own, and those made from the status history)")
    .option("-t, --timestamps", "start each line with its time (ISO 8601, UTC)")
    .option("--json", "one JSON object per line (NDJSON) on stdout: seq, time, stream, line (seq is null on lines made from the status history)")
    .addOption(projectOpt())
    .action(
      act(
        async (
          n: string,
          opts: { follow?: boolean; stdout?: boolean; stderr?: boolean; status?: boolean; timestamps?: boolean; json?: boolean; project?: string },
        ) => execLogsCommand(ctx(), n, opts),
      ),
    );
  exec
    .command("watch")
    .description("follow an execution until it ends: its status as it changes and its log; exit 0 only if it completed")
    .argument("<N>")
    .option("-t, --timestamps", "start each line with its time (ISO 8601, UTC)")
    .addOption(projectOpt())
    .action(act(async (n: string, opts: { timestamps?: boolean; project?: string }) => execWatchCommand(ctx(), n, opts)));
  exec
    .command("open")
    .description("print the execution's URL; --browser also opens it in this desktop's browser (xdg-open, or open on macOS)")
    .argument("<N>")
    .option("--browser", "open the URL with xdg-open (open on macOS) when that command exists")
    .addOption(projectOpt())
    .action(act(async (n: string, opts: { browser?: boolean; project?: string }) => execOpenCommand(ctx(), n, opts)));
  exec
    .command("outputs")
    .description("list an execution's output files; --download DIR fetches them and checks their sha256")
    .argument("<N>")
    .option("-d, --download <dir>", "download every output to DIR/<name>")
    .option("--json", "print JSON")
    .addOption(projectOpt())
    .action(act(async (n: string, opts: { download?: string; json?: boolean; project?: string }) => execOutputsCommand(ctx(), n, opts)));
  exec
    .command("stop")
    .description("stop an execution")
    .argument("<N>")
    .option("--json", "print the execution record")
    .addOption(projectOpt())
    .action(act(async (n: string, opts: { json?: boolean; project?: string }) => execStopCommand(ctx(), n, opts)));
  exec
    .command("delete")
    .description("delete an ended execution's logs, metadata and outputs; its record and status history stay (N: 3 or #3, not latest)")
    .argument("<N>")
    .option("--dry-run", "say what would be deleted, delete nothing")
    .option("--json", "print the server's answer")
    .addOption(projectOpt())
    .action(act(async (n: string, opts: { dryRun?: boolean; json?: boolean; project?: string }) => execDeleteCommand(ctx(), n, opts)));

  exec
    .command("reproduce")
    .description("run execution N again exactly: same commit, code, image, command, parameters, environment and input versions; --verify waits and compares (exit 0 equal, 1 different)")
    .argument("<N>")
    .option("--verify", "follow it until it ends, then compare its outputs (sha256) and metrics (last values) with N's and print the verdict")
    .option("--tolerance <t>", "with --verify: metrics within this absolute or relative difference are equal (default 0: exactly)")
    .option("--timestamps", "with --verify: prefix each log line with its time")
    .option("--json", "print the server's answer (with --verify: the verdict) as JSON")
    .addOption(projectOpt())
    .action(
      act(async (n: string, opts: { verify?: boolean; tolerance?: string; timestamps?: boolean; json?: boolean; project?: string }) =>
        execReproduceCommand(ctx(), n, opts),
      ),
    );
  exec
    .command("diff")
    .description("what differs between executions A and B: code, image, command, parameters, inputs, environment, hardware, metrics, outputs")
    .argument("<A>")
    .argument("<B>")
    .option("--json", "print every section as JSON")
    .addOption(projectOpt())
    .action(act(async (a: string, b: string, opts: { json?: boolean; project?: string }) => execDiffCommand(ctx(), a, b, opts)));

  // host
  const repo = program.command("repo").description("repositories on any Git host, linked by URL and polled: add, list, status, remove");
  repo
    .command("add")
    .description("link a repository: vh repo add URL [--key FILE | --token-env VH_GIT_TOKEN_NAME] [--branch B ...]; new commits with /vh run lines run them")
    .argument("<url>", "https://…, ssh://user@host/path, user@host:path, git://… or file:///… (admin tokens only)")
    .option("--project <name>", "the vh project (created when missing; default: the URL's last path part)")
    .option("--branch <branch>", "a branch to watch (repeatable; default: the default branch)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--poll <seconds>", "poll interval in seconds (default 60)")
    .option("--key <file>", "ssh: the deploy key's private key file (its content is sent to the vh server, which keeps it mode 600)")
    .option("--token-env <name>", "https: the VH_GIT_TOKEN_* variable on the vh server that holds the token")
    .option("--webhook-secret-env <name>", "a variable here holding the webhook's HMAC secret (16+ characters)")
    .option("--json", "print the repository record")
    .action(act(async (url: string, opts: RepoAddOptions) => repoAddCommand(ctx(), url, opts)));
  repo
    .command("list")
    .description("list linked repositories and their poll state")
    .option("--json", "print JSON")
    .action(act(async (opts: { json?: boolean }) => repoListCommand(ctx(), opts)));
  repo
    .command("status")
    .description("last poll, last error, last commit seen, its valohai.yaml lint, next poll (exit 1 while polls fail)")
    .argument("<repo>", "id or name")
    .option("--json", "print JSON")
    .action(act(async (r: string, opts: { json?: boolean }) => repoStatusCommand(ctx(), r, opts)));
  repo
    .command("remove")
    .alias("rm")
    .description("unlink a repository (polling stops; its project and executions stay)")
    .argument("<repo>", "id or name")
    .option("--json", "print the API's answer")
    .action(act(async (r: string, opts: { json?: boolean }) => repoRemoveCommand(ctx(), r, opts)));

  const host = program.command("host").description("GPU hosts reached over SSH: add, list (with their GPUs and what runs on them), check, remove");
  host
    .command("add")
    .description("add or update an SSH host: vh host add NAME ssh://user@host:port --key FILE [--label k=v ...]")
    .argument("<name>")
    .argument("<url>", "ssh://user@host:port (a path after the port sets the work root on the host)")
    .option("--key <file>", "private key file on the vh server")
    .option("--label <k=v>", "a label (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--host-key <SHA256:...>", "pin this host key fingerprint (as ssh-keygen -lf shows it); default: the key seen on the first connection")
    .option("--json", "print the host record")
    .action(act(async (name: string, url: string, opts: { key?: string; label?: string[]; hostKey?: string; json?: boolean }) => hostAddCommand(ctx(), name, url, opts)));
  host
    .command("list")
    .description("list hosts, their GPUs and the executions on each")
    .option("--json", "print JSON")
    .action(act(async (opts: { json?: boolean }) => hostListCommand(ctx(), opts)));
  host
    .command("check")
    .description("check a host now: reachability, facts, GPU re-discovery")
    .argument("<name>")
    .option("--json", "print JSON")
    .action(act(async (name: string, opts: { json?: boolean }) => hostCheckCommand(ctx(), name, opts)));
  host
    .command("remove")
    .alias("rm")
    .description("remove a host (refused while executions run there; it is disabled instead)")
    .argument("<name>")
    .option("--json", "print the API's answer")
    .action(act(async (name: string, opts: { json?: boolean }) => hostRemoveCommand(ctx(), name, opts)));

  const environment = program.command("environment").alias("env").description("environments rented hosts come from (EC2 on-demand or spot): list, show with instances and cost");
  environment
    .command("list")
    .description("list environments: provider, region, instance types, market, instances, queue, cost")
    .option("--json", "print JSON")
    .action(act(async (opts: { json?: boolean }) => environmentListCommand(ctx(), opts)));
  environment
    .command("show")
    .description("one environment: its recipe, its instances now (lifecycle, type, zone, price, what runs) and its cost")
    .argument("<name>")
    .option("--json", "print JSON")
    .action(act(async (name: string, opts: { json?: boolean }) => environmentShowCommand(ctx(), name, opts)));

  const token = program.command("token").description("API tokens: create (shown once), list, revoke; each with a role (viewer, member, admin) and optionally one project");
  token
    .command("create")
    .description("make a token; it is printed once on stdout (vh keeps only its sha256)")
    .requiredOption("--name <name>", "what it is for (e.g. ci)")
    .addOption(new Option("--role <role>", "viewer: read; member: also run, stop, upload, approve; admin: also manage tokens (and, with no --project, the server)").choices(["viewer", "member", "admin"]).makeOptionMandatory())
    .option("--project <name>", "the one project it may use (default: every project; a project's admin token makes tokens of its project)")
    .option("--expires <when>", "a duration (30d, 12h, 90m, 2w) or an ISO time (default: never)")
    .option("--json", "print the API's answer (with the token)")
    .action(act(async (opts: TokenCreateOptions) => tokenCreateCommand(ctx(), opts)));
  token
    .command("list")
    .alias("ls")
    .description("the tokens this token may manage: role, project, state, expiry, last use")
    .option("--all", "also revoked and expired ones")
    .option("--json", "print JSON")
    .action(act(async (opts: { json?: boolean; all?: boolean }) => tokenListCommand(ctx(), opts)));
  token
    .command("revoke")
    .description("revoke a token by its id (any token may revoke itself)")
    .argument("<id>")
    .option("--json", "print the API's answer")
    .action(act(async (id: string, opts: { json?: boolean }) => tokenRevokeCommand(ctx(), id, opts)));

  // project
  const project = program.command("project").description("link this directory to a project on the server");
  project
    .command("create")
    .aliases(["new", "add"])
    .description("create a project and link this directory to it")
    .argument("<name>")
    .option("--json", "print the project record")
    .action(act(async (name: string, opts: { json?: boolean }) => projectCreateCommand(ctx(), name, opts)));
  project
    .command("link")
    .description("link this directory to an existing project")
    .argument("<name>")
    .option("--json", "print the project record")
    .action(act(async (name: string, opts: { json?: boolean }) => projectLinkCommand(ctx(), name, opts)));
  project
    .command("status")
    .description("show the project linked to this directory")
    .option("--json", "print JSON")
    .action(act(async (opts: { json?: boolean }) => projectStatusCommand(ctx(), opts)));
  project
    .command("list")
    .description("list the server's projects")
    .option("--json", "print JSON")
    .action(act(async (opts: { json?: boolean }) => projectListCommand(ctx(), opts)));
  project
    .command("set")
    .description("change a project's settings (a project admin's)")
    .argument("[name]", "the project (default: the one linked to this directory)")
    .option("--fork-commands <on|off>", "run /vh commands on fork pull requests without --allow-fork")
    .option("--fork-configs <on|off>", "use a fork's own valohai.yaml (off: its code runs with the base branch's)")
    .option("--json", "print the project record")
    .action(act(async (name: string | undefined, opts: { forkCommands?: string; forkConfigs?: string; json?: boolean }) => projectSetCommand(ctx(), name, opts)));

  // model (docs/model-hub.md)
  const model = program.command("model").description("the Model Hub: versions, approvals, compare, audit report");
  model
    .command("list")
    .description("list models with their latest approved version")
    .option("--json", "print JSON")
    .action(act(async (opts: { json?: boolean }) => modelListCommand(ctx(), opts)));
  model
    .command("show")
    .description("show a model's versions (NAME) or one version (model://NAME/vN, model://NAME/latest)")
    .argument("<model>")
    .option("--status <status>", "only versions with this status (pending, approved, rejected)")
    .option("--json", "print JSON")
    .action(act(async (arg: string, opts: { json?: boolean; status?: string }) => modelShowCommand(ctx(), arg, opts)));
  model
    .command("register")
    .description("make a new (pending) version of a model from existing files: vh model register NAME --file datum://ID")
    .argument("<model>")
    .requiredOption("-f, --file <datum>", "a datum (repeat for several files)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--description <text>", "release note")
    .option("--tag <tag>", "a tag (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--json", "print the version")
    .action(act(async (name: string, opts: { file: string[]; description?: string; tag?: string[]; json?: boolean }) => modelCreateCommand(ctx(), name, opts)));
  model
    .command("approve")
    .description("approve a pending version (bound to its files' sha256)")
    .argument("<uri>", "model://NAME/vN")
    .option("--files-sha256 <digest>", "the files digest you reviewed: refused if the files changed since")
    .option("--json", "print JSON")
    .action(act(async (uri: string, opts: { filesSha256?: string; json?: boolean }) => modelApproveCommand(ctx(), uri, opts)));
  model
    .command("reject")
    .description("reject a version; the reason is required")
    .argument("<uri>", "model://NAME/vN")
    .argument("[reason...]")
    .option("--json", "print JSON")
    .action(act(async (uri: string, reason: string[], opts: { json?: boolean }) => modelRejectCommand(ctx(), uri, reason, opts)));
  model
    .command("reset")
    .description("move an approved or rejected version back to pending")
    .argument("<uri>", "model://NAME/vN")
    .argument("[reason...]")
    .option("--json", "print JSON")
    .action(act(async (uri: string, reason: string[], opts: { json?: boolean }) => modelResetCommand(ctx(), uri, reason, opts)));
  model
    .command("compare")
    .description("compare versions side by side: metrics, series, parameters, inputs, size, duration")
    .argument("<uris...>")
    .option("--json", "print JSON")
    .action(act(async (uris: string[], opts: { json?: boolean }) => modelCompareCommand(ctx(), uris, opts)));
  model
    .command("report")
    .description("the audit report of a version, by SR 11-7 and EU AI Act Annex IV: inventory, data provenance, training, metrics, versions, oversight, records")
    .argument("<uri>", "model://NAME/vN")
    .option("--format <format>", "md, html or json", "md")
    .action(act(async (uri: string, opts: { format?: string }) => modelReportCommand(ctx(), uri, opts)));
  model
    .command("latest")
    .description("the latest approved version, now or at a time (--at 2025-01-02T03:04:05Z)")
    .argument("<model>")
    .option("--at <time>", "ISO 8601 time")
    .option("--json", "print JSON")
    .action(act(async (name: string, opts: { at?: string; json?: boolean }) => modelLatestCommand(ctx(), name, opts)));
  // audit (docs/audit.md)
  const audit = program.command("audit").description("the audit trail: append-only, hash-chained histories");
  audit
    .command("verify")
    .description("recompute the audit chains (model events, execution status history); exit 1 when one is broken")
    .option("--json", "print JSON")
    .action(act(async (opts: { json?: boolean }) => auditVerifyCommand(ctx(), opts)));
  // data (docs/api.md "Data")
  const data = program.command("data").description("files vh stores (datums): upload, list, download");
  data
    .command("upload")
    .description("upload files as datums (a directory: its files); --dataset NAME --version V then makes that dataset version of them")
    .argument("<files...>")
    .option("--dataset <name>", "make a new version of this dataset from the uploaded files (with --version)")
    .option("--version <version>", "the new version's name (with --dataset)")
    .option("--json", "print JSON")
    .addOption(projectOpt())
    .action(act(async (files: string[], opts: { dataset?: string; version?: string; json?: boolean; project?: string }) => dataUploadCommand(ctx(), files, opts)));
  data
    .command("list")
    .description("list the project's datums (uploads and outputs), newest first")
    .option("-n, --limit <n>", "at most this many (default 50)", positiveInt)
    .option("--prefix <name>", "only datums whose name starts with this")
    .option("--json", "print JSON")
    .addOption(projectOpt())
    .action(act(async (opts: { json?: boolean; limit?: number; prefix?: string; project?: string }) => dataListCommand(ctx(), opts)));
  data
    .command("download")
    .description("download a datum, checking its sha256: vh data download datum://ID [-o PATH]")
    .argument("<datum>", "datum://ID")
    .option("-o, --output <path>", "where to write it (a directory: DIR/<name>; default ./<name>)")
    .option("--force", "overwrite an existing file")
    .option("--json", "print JSON")
    .action(act(async (datum: string, opts: { output?: string; force?: boolean; json?: boolean }) => dataDownloadCommand(ctx(), datum, opts)));

  // dataset (app/http/routes/datasets.ts)
  const dataset = program.command("dataset").description("datasets: named, immutable versions of files, used as dataset://NAME/VERSION inputs");
  dataset
    .command("list")
    .description("list the project's datasets with their newest version")
    .option("--json", "print JSON")
    .addOption(projectOpt())
    .action(act(async (opts: { json?: boolean; project?: string }) => datasetListCommand(ctx(), opts)));
  dataset
    .command("show")
    .description("show a dataset's versions (NAME) or one version's files (NAME/VERSION, NAME/latest, dataset://NAME/VERSION)")
    .argument("<dataset>")
    .option("--json", "print JSON")
    .addOption(projectOpt())
    .action(act(async (arg: string, opts: { json?: boolean; project?: string }) => datasetShowCommand(ctx(), arg, opts)));
  dataset
    .command("create")
    .aliases(["new", "add"])
    .description("make a version from existing files: vh dataset create NAME --version V datum://ID [datum://ID ...] [--path P ...]")
    .argument("<dataset>")
    .argument("<datums...>", "datum://ID of each file")
    .requiredOption("--version <version>", "the new version's name (a version never changes: an existing name is refused)")
    .option("--path <path>", "the path of the datum in the same place in the version (repeatable; default: the datum's name)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--json", "print the version")
    .addOption(projectOpt())
    .action(act(async (name: string, datums: string[], opts: { version: string; path?: string[]; json?: boolean; project?: string }) => datasetCreateCommand(ctx(), name, datums, opts)));
  program
    .command("lineage")
    .description("where a model version came from and who used it: vh lineage model://NAME/latest; as OpenLineage events with --openlineage (docs/lineage.md)")
    .argument("[uri]", "model://NAME/vN or model://NAME/latest")
    .option("--json", "print JSON")
    .option("--mermaid", "print a Mermaid graph")
    .option("--openlineage", "print OpenLineage RunEvents (a JSON array) of the version, or of --execution N, or of the project --since TIME")
    .option("--ndjson", "with --openlineage: one event per line (what Marquez's POST /api/v1/lineage takes)")
    .option("--execution <N>", "with --openlineage: one execution (3, #3 or its id)")
    .option("--since <time>", "with --openlineage: the project's events at or after this ISO 8601 time")
    .option("--direction <dir>", "with --openlineage and a version: upstream (default), downstream or both")
    .addOption(projectOpt())
    .action(act(async (uri: string | undefined, opts: LineageOptions) => lineageCommand(ctx(), uri, opts)));

  program
    .command("lint")
    .description("check valohai.yaml files (default: ./valohai.yaml)")
    .argument("[files...]")
    .option("--json", "print the problems as JSON")
    .option("--strict-warnings", "exit 1 on warnings too")
    .action(
      act(async (files: string[], opts: { json?: boolean; strictWarnings?: boolean }) => {
        const { io } = ctx();
        return lintCommand(files, { json: opts.json ?? false, strictWarnings: opts.strictWarnings ?? false }, { stdout: io.stdout, stderr: io.stderr, cwd: io.cwd });
      }),
    );

  program
    .command("login")
    .description("save a server URL and token (checked with the server) for later commands")
    .option("--url <url>", "server URL")
    .option("--token <token>", "API token")
    .option("--json", "print the server and the token's record (never the token)")
    .action(act(async (opts: { url?: string; token?: string; json?: boolean }) => loginCommand(ctx(), opts)));
  program
    .command("logout")
    .description("forget the saved token (project links stay)")
    .option("--json", "print JSON")
    .action(act(async (opts: { json?: boolean }) => logoutCommand(ctx(), opts)));
  // `--url`/`--token` also after the verb (`vh exec list --url X`), except where the command owns
  // its options (`run` parses its own, `login` saves them).
  const leaves = (c: Command): Command[] => (c.commands.length ? c.commands.flatMap(leaves) : [c]);
  for (const leaf of leaves(program)) {
    if (leaf.name() === "run" || leaf.name() === "login") continue;
    leaf.addOption(new Option("--url <url>").hideHelp()).addOption(new Option("--token <token>").hideHelp());
  }
  return program;
}

function norm(s: string): string {
  return s.toLowerCase().replace(/_/g, "-");
}

function namesOf(c: Command): string[] {
  return [c.name(), ...c.aliases()];
}

/** Options of the root command that take a value (so resolution skips their value). */
const ROOT_VALUE_OPTIONS = new Set(["--url", "--token"]);

/**
 * Rewrites verb words to full command names: unique case-insensitive prefixes, aliases, `_` → `-`,
 * and a bare leaf name to `group leaf`. Unknown words are left for commander to report.
 */
export function resolveVerbs(program: Command, argv: string[]): string[] {
  const out = [...argv];
  let cmd = program;
  let i = 0;
  while (i < out.length) {
    const tok = out[i]!;
    if (tok === "--") break;
    if (tok.startsWith("-")) {
      if (cmd === program && ROOT_VALUE_OPTIONS.has(tok)) i++;
      i++;
      continue;
    }
    if (cmd.commands.length === 0 || tok === "help") break;
    const t = norm(tok);
    const exact = cmd.commands.find((c) => namesOf(c).some((n) => norm(n) === t));
    let found = exact;
    if (!found) {
      const hits = cmd.commands.filter((c) => namesOf(c).some((n) => norm(n).startsWith(t)));
      if (hits.length > 1) {
        const names = hits.map((c) => c.name()).join(", ");
        throw new CliError(`"${tok}" is ambiguous: ${names}.`);
      }
      found = hits[0];
    }
    if (!found && cmd === program) {
      // `vh link NAME` → `vh project link NAME`
      const leaves = program.commands.flatMap((g) => g.commands.filter((c) => namesOf(c).some((n) => norm(n) === t)).map((c) => [g, c] as const));
      if (leaves.length === 1) {
        const [g, c] = leaves[0]!;
        out.splice(i, 1, g.name(), c.name());
        cmd = c;
        i += 2;
        continue;
      }
    }
    if (!found) break;
    out[i] = found.name();
    cmd = found;
    i++;
  }
  return out;
}

export async function main(argv: string[], partialIo?: PartialIo): Promise<number> {
  const io = completeIo(partialIo);
  let code = 0;
  let context: Context | undefined;
  let program: Command | undefined;
  let leafFlags: { url?: string; token?: string } = {};
  const ctxOf = () => {
    if (!context) {
      const opts = program!.opts<{ url?: string; token?: string }>();
      context = new Context(io, { url: leafFlags.url ?? opts.url, token: leafFlags.token ?? opts.token });
    }
    return context;
  };
  program = buildProgram(ctxOf, (c) => {
    code = c;
  });
  program.hook("preAction", (_root, action) => {
    if (action.name() !== "login") leafFlags = action.opts<{ url?: string; token?: string }>();
  });
  const configure = (c: Command) => {
    c.exitOverride();
    c.configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(s),
    });
    c.commands.forEach(configure);
  };
  configure(program);
  try {
    const args = resolveVerbs(program, argv);
    await program.parseAsync(args, { from: "user" });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version end in a "CommanderError" with exit code 0; the message was printed already.
      return err.exitCode;
    }
    if (err instanceof CliError) {
      io.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
