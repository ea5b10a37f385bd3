/**
 * `vh data upload|list|download`, and `uploadLocalInputs`: the local files of an ad-hoc run's inputs
 * uploaded as datums first (`POST /projects/:p/data`, docs/api.md "Data").
 *
 * An upload hashes the file here first and sends its sha256 (`x-vh-sha256`) and length with it, so
 * the server refuses a damaged body, and stores nothing when the project already has those bytes.
 * Every transfer shows its bytes on stderr as they move (app/cli/transfer-progress.ts); what a
 * script reads (datum URIs, paths, `--json`) goes to stdout.
 */
import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { ApiError, type Datum } from "../api.js";
import type { Context } from "../context.js";
import { CliError } from "../errors.js";
import { formatBytes, formatTime, jsonText, printable, table } from "../format.js";
import { println } from "../io.js";
import { trackBytes, trackedBody } from "../transfer-progress.js";

/** A local file to upload and the datum name it gets. */
export interface LocalFile {
  /** Absolute path. */
  file: string;
  /** The datum's name: the file's name, or its path under the directory given (with `/`). */
  name: string;
  size: number;
}

const dataPath = (project: string) => `/projects/${encodeURIComponent(project)}/data`;
const show = (s: string) => JSON.stringify(printable(s));

/** What `ls -R` would list under `dir`: its files (links to files included), sorted, named by their path under `dir`. */
function filesUnder(dir: string): LocalFile[] {
  const out: LocalFile[] = [];
  const walk = (abs: string, rel: string) => {
    const entries = fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const childAbs = path.join(abs, e.name);
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(childAbs, childRel);
      else if (e.isFile()) out.push({ file: childAbs, name: childRel, size: fs.statSync(childAbs).size });
      else if (e.isSymbolicLink()) {
        // A link to a file is that file; a link to a directory is not followed (it could loop).
        const st = fs.statSync(childAbs, { throwIfNoEntry: false });
        if (st?.isFile()) out.push({ file: childAbs, name: childRel, size: st.size });
      }
    }
  };
  walk(dir, "");
  return out;
}

/**
 * The files a path names: a file (named by its base name) or a directory's files (named by their
 * path under it). `what` starts the messages (`Input "data"`, `vh data upload`).
 */
export function localFiles(p: string, what: string): LocalFile[] {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) throw new CliError(`${what}: ${p} does not exist (no such file or directory).`);
  if (st.isFile()) return [{ file: p, name: path.basename(p), size: st.size }];
  if (!st.isDirectory()) throw new CliError(`${what}: ${p} is neither a file nor a directory.`);
  const files = filesUnder(p);
  if (files.length === 0) throw new CliError(`${what}: the directory ${p} has no files.`);
  return files;
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Uploads one file as a datum of `project`, its bytes shown on stderr as they go. */
export async function uploadFile(ctx: Context, project: string, f: LocalFile): Promise<Datum> {
  const sha256 = await sha256OfFile(f.file);
  const size = fs.statSync(f.file).size;
  const raw = Readable.toWeb(fs.createReadStream(f.file)) as ReadableStream<Uint8Array>;
  const body = trackedBody(ctx.io.stderr, raw, { label: `Uploading ${f.name}`, total: size });
  return ctx.client().json<Datum>("POST", dataPath(project), {
    query: { name: f.name },
    body,
    headers: { "content-type": "application/octet-stream", "content-length": String(size), "x-vh-sha256": sha256 },
  });
}

/** Uploads the files one after the other; `each` is told of every datum as it is made. */
async function uploadAll(ctx: Context, project: string, files: LocalFile[], each: (f: LocalFile, d: Datum) => void = () => {}): Promise<Datum[]> {
  const out: Datum[] = [];
  for (const f of files) {
    let d: Datum;
    try {
      d = await uploadFile(ctx, project, f);
    } catch (err) {
      if (err instanceof ApiError) throw new CliError(`Uploading ${f.file}: ${err.message}`);
      throw err;
    }
    each(f, d);
    out.push(d);
  }
  return out;
}

export interface DatasetVersion {
  uri: string;
  [key: string]: unknown;
}

/**
 * `vh data upload FILE… [--dataset NAME --version V]`: each file (a directory: its files) becomes a
 * datum; with a dataset, those files then make that new version of it, under their datum names.
 */
export async function dataUploadCommand(ctx: Context, args: string[], opts: { dataset?: string; version?: string; json?: boolean; project?: string }): Promise<number> {
  if ((opts.dataset === undefined) !== (opts.version === undefined)) {
    throw new CliError("--dataset and --version go together: vh data upload FILE… --dataset NAME --version V.");
  }
  if (args.length === 0) throw new CliError("Name the files to upload: vh data upload FILE… (a directory uploads its files).");
  const project = ctx.projectName(opts.project);
  // Every path checked before anything is sent.
  const files = args.flatMap((a) => localFiles(path.resolve(ctx.io.cwd, a), "vh data upload"));
  if (opts.dataset !== undefined) {
    const seen = new Map<string, string>();
    for (const f of files) {
      const other = seen.get(f.name);
      if (other !== undefined) {
        throw new CliError(`${f.file} and ${other} would both be ${show(f.name)} in dataset://${opts.dataset}/${opts.version}: upload them from their directory, or rename one.`);
      }
      seen.set(f.name, f.file);
    }
  }
  const datums = await uploadAll(ctx, project, files, (_f, d) => {
    if (!opts.json) println(ctx.io.stdout, `${d.uri}  ${printable(d.name)}`);
  });
  if (opts.dataset === undefined) {
    if (opts.json) ctx.io.stdout.write(jsonText({ datums }));
    return 0;
  }
  const target = `dataset://${opts.dataset}/${opts.version}`;
  let version: DatasetVersion;
  try {
    version = await ctx.client().json<DatasetVersion>("POST", `/projects/${encodeURIComponent(project)}/datasets/${encodeURIComponent(opts.dataset)}/versions`, {
      json: { version: opts.version, files: datums.map((d) => ({ datum: d.id, path: d.name })) },
    });
  } catch (err) {
    if (opts.json) ctx.io.stdout.write(jsonText({ datums, dataset: null }));
    const kept = `the ${datums.length === 1 ? "file stays" : `${datums.length} files stay`} uploaded as ${datums.length === 1 ? "a datum" : "datums"} (${datums.map((d) => d.uri).join(", ")})`;
    if (err instanceof ApiError && err.status === 409) throw new CliError(`${target} already exists (a version never changes): ${kept}; pick another --version.`);
    if (err instanceof ApiError) throw new CliError(`Creating ${target} failed: ${err.message}\n${kept[0]!.toUpperCase()}${kept.slice(1)}.`);
    throw err;
  }
  if (opts.json) ctx.io.stdout.write(jsonText({ datums, dataset: version }));
  else {
    println(ctx.io.stdout, version.uri);
    ctx.info(`Created ${version.uri} with ${datums.length} file${datums.length === 1 ? "" : "s"}.`);
  }
  return 0;
}

/** `vh data list`: the project's datums (uploads and outputs), newest first. */
export async function dataListCommand(ctx: Context, opts: { json?: boolean; limit?: number; prefix?: string; project?: string }): Promise<number> {
  const project = ctx.projectName(opts.project);
  const want = opts.limit ?? 50;
  const results: Datum[] = [];
  let after: string | undefined;
  // Pages of at most 1000 (the server's most) until `want` are listed or none are left.
  while (results.length < want) {
    const page = await ctx.client().json<{ results: Datum[]; next: string | null }>("GET", dataPath(project), {
      query: { limit: Math.min(1000, want - results.length), prefix: opts.prefix, after },
    });
    results.push(...page.results);
    if (!page.next) break;
    after = page.next;
  }
  if (opts.json) {
    ctx.io.stdout.write(jsonText(results));
    return 0;
  }
  if (results.length === 0) {
    ctx.info(opts.prefix ? `Project ${project} has no datums named ${show(opts.prefix)}….` : `Project ${project} has no datums yet: vh data upload FILE adds one, and every execution output is one.`);
    return 0;
  }
  ctx.io.stdout.write(
    table(
      ["DATUM", "SIZE", "CREATED", "FROM", "NAME"],
      results.map((d) => [d.uri, formatBytes(d.size), formatTime(d.createdAt), d.executionId ? "output" : "upload", d.name]),
    ),
  );
  return 0;
}

/** `datum://ID` or `ID` → the id. */
function datumId(ref: string): string {
  const id = ref.trim().replace(/^datum:\/\//i, "");
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new CliError(`"${ref}" is not a datum: write datum://<id> (vh data list shows them).`);
  return id;
}

/**
 * `vh data download datum://ID [-o PATH] [--force]`: the bytes to PATH (a directory: PATH/<name>;
 * default ./<name>), through a temp file renamed into place only once its sha256 is the one the
 * server sent (`x-vh-sha256`) and the record's. An existing file is replaced only with --force.
 */
export async function dataDownloadCommand(ctx: Context, ref: string, opts: { output?: string; force?: boolean; json?: boolean }): Promise<number> {
  const id = datumId(ref);
  const client = ctx.client();
  const d = await client.json<Datum>("GET", `/data/${encodeURIComponent(id)}`);
  const base = path.posix.basename(d.name.replace(/\\/g, "/"));
  if (!base || base === "." || base === "..") throw new CliError(`${d.uri} is named ${show(d.name)}, which is no file name: pass -o PATH.`);
  const out = opts.output !== undefined ? path.resolve(ctx.io.cwd, opts.output) : path.resolve(ctx.io.cwd, base);
  const target = fs.statSync(out, { throwIfNoEntry: false })?.isDirectory() ? path.join(out, base) : out;
  const existing = fs.lstatSync(target, { throwIfNoEntry: false });
  if (existing?.isDirectory()) throw new CliError(`${target} is a directory: pass -o PATH with a file name.`);
  if (existing && !opts.force) throw new CliError(`${target} already exists: pass --force to overwrite it.`);
  if (!fs.statSync(path.dirname(target), { throwIfNoEntry: false })?.isDirectory()) throw new CliError(`${path.dirname(target)} is not a directory: create it first.`);

  const res = await client.download(id);
  const header = res.headers.get("x-vh-sha256");
  const expected = header ?? d.sha256;
  if (header !== null && header !== d.sha256) throw new CliError(`The server sent ${d.uri} with sha256 ${header}, but its record says ${d.sha256}; nothing written.`);
  if (!res.body) throw new CliError(`The server sent no bytes for ${d.uri}.`);
  const tmp = path.join(path.dirname(target), `.${base}.${randomUUID().slice(0, 8)}.vh-partial`);
  const hash = createHash("sha256");
  let size = 0;
  const file = fs.createWriteStream(tmp, { flags: "wx" });
  try {
    for await (const chunk of trackBytes(ctx.io.stderr, res.body, { label: `Downloading ${d.name}`, total: d.size })) {
      hash.update(chunk);
      size += chunk.length;
      if (!file.write(chunk)) await new Promise<void>((resolve) => file.once("drain", () => resolve()));
    }
    await new Promise<void>((resolve, reject) => file.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    file.destroy();
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  const sha = hash.digest("hex");
  if (sha !== expected || size !== d.size) {
    fs.rmSync(tmp, { force: true });
    throw new CliError(`${d.uri} arrived damaged: ${formatBytes(size)} with sha256 ${sha}, expected ${formatBytes(d.size)} with ${expected}; nothing written.`);
  }
  fs.renameSync(tmp, target);
  if (opts.json) ctx.io.stdout.write(jsonText({ uri: d.uri, path: target, size, sha256: sha }));
  else {
    println(ctx.io.stdout, target);
    ctx.info(`Downloaded ${d.uri} (${formatBytes(size)}, sha256 ok) to ${target}.`);
  }
  return 0;
}

/** `scheme://…` (or `scheme:…`): a URI, not a path. */
const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/**
 * The local path an input value names, or null when the value is a URI to pass on as it is:
 * `file://` URIs and values with no scheme are local paths (`~/` is the home directory).
 */
function localPathOf(ctx: Context, input: string, value: string): string | null {
  const scheme = SCHEME.exec(value)?.[1]?.toLowerCase();
  if (scheme === "file") {
    let p: string;
    try {
      p = fileURLToPath(value);
    } catch (err) {
      throw new CliError(`Input "${input}": ${show(value)} is not a local file URI (${(err as Error).message}); write file:///absolute/path.`);
    }
    return p;
  }
  // A Windows drive letter (C:\…) is a path, not a scheme.
  if (scheme !== undefined && !/^[a-z]:[\\/]/i.test(value)) return null;
  const home = ctx.io.env["HOME"];
  if ((value === "~" || value.startsWith("~/")) && home) return path.join(home, value.slice(1));
  return path.resolve(ctx.io.cwd, value);
}

/**
 * The inputs of an ad-hoc run with every local value uploaded first: a `file://` URI or a value
 * with no scheme (a path, relative to the working directory) is uploaded as datums (a directory:
 * each of its files, recursively) and replaced by their `datum://` URIs; any other URI is kept.
 * A path that does not exist is refused, naming the input, before anything is uploaded. A file
 * named twice is uploaded once. Every input's values come back as a list.
 */
export async function uploadLocalInputs(ctx: Context, project: string, inputs: Record<string, string | string[]>): Promise<Record<string, string[]>> {
  type Planned = { kind: "uri"; uri: string } | { kind: "files"; files: LocalFile[] };
  const planned: [string, Planned[]][] = [];
  for (const [input, raw] of Object.entries(inputs)) {
    const values = Array.isArray(raw) ? raw : [raw];
    planned.push([
      input,
      values.map((value): Planned => {
        const p = localPathOf(ctx, input, value);
        if (p === null) return { kind: "uri", uri: value };
        if (!fs.existsSync(p)) {
          if (/^file:/i.test(value)) throw new CliError(`Input "${input}": ${show(value)} names no file or directory (${p} does not exist).`);
          throw new CliError(`Input "${input}": ${show(value)} is not a URI and there is no file or directory ${p}; inputs are local paths, file://, or URIs such as datum://, https://, s3://.`);
        }
        return { kind: "files", files: localFiles(p, `Input "${input}"`) };
      }),
    ]);
  }
  const uploaded = new Map<string, string>();
  const out: Record<string, string[]> = {};
  for (const [input, values] of planned) {
    const uris: string[] = [];
    for (const v of values) {
      if (v.kind === "uri") {
        uris.push(v.uri);
        continue;
      }
      const todo = v.files.filter((f) => !uploaded.has(fs.realpathSync(f.file)));
      const made = await uploadAll(ctx, project, todo);
      todo.forEach((f, i) => uploaded.set(fs.realpathSync(f.file), made[i]!.uri));
      if (todo.length) {
        const bytes = todo.reduce((n, f) => n + f.size, 0);
        ctx.info(`Input "${input}": uploaded ${todo.length} file${todo.length === 1 ? "" : "s"} (${formatBytes(bytes)}) as datum${todo.length === 1 ? ` ${made[0]!.uri}` : "s"}.`);
      }
      for (const f of v.files) uris.push(uploaded.get(fs.realpathSync(f.file))!);
    }
    out[input] = uris;
  }
  return out;
}
