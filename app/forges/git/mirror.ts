/**
 * One repository's mirror: `<git.dir>/mirrors/<id>.git`, bare and shallow, holding the commits vh
 * handled (each branch head fetched at depth 1, a commit named by sha fetched on demand and kept
 * under `refs/vh/commits/`). Everything vh reads of a repository is read here: refs from the remote
 * (`git ls-remote`), then files, messages and archives from the mirror.
 *
 * Writes to one mirror (init, fetch) are serialised within a process, and across processes by the
 * lock the caller hands in (records.ts: a Postgres advisory lock per repository), since both the
 * worker (polls) and the server (`vh exec run --commit`) fetch into it.
 */
import fs from "node:fs";
import path from "node:path";
import { ForgeError } from "../../errors.js";
import { DEFAULT_GIT_TIMEOUT_MS, gitEnv, gitMessage, runGit, type GitResult } from "./git.js";
import { explainFailure, transportEnv, type Transport } from "./remote.js";
import type { RemoteKind } from "./types.js";

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
const ABBREV = /^[0-9a-f]{4,63}$/;
/** Commit messages kept (the rest of a huge message is dropped). */
export const MAX_MESSAGE_CHARS = 64 * 1024;

export function isFullSha(s: string): boolean {
  return SHA.test(s);
}

/** A ref name git would take (check-ref-format's rules, roughly), or false. */
export function isRefName(s: string): boolean {
  return (
    s.length > 0 &&
    s.length <= 255 &&
    !s.startsWith("-") &&
    !s.startsWith("/") &&
    !s.endsWith("/") &&
    !s.endsWith(".") &&
    !s.endsWith(".lock") &&
    !s.includes("..") &&
    !s.includes("//") &&
    !s.includes("@{") &&
    !/[\u0000-\u0020\u007f~^:?*[\\]/.test(s)
  );
}

/** Where a repository's files live under `git.dir`. */
export function repoPaths(gitDir: string, id: number): { mirror: string; keyFile: string; knownHostsFile: string } {
  return {
    mirror: path.join(gitDir, "mirrors", `${id}.git`),
    keyFile: path.join(gitDir, "keys", String(id)),
    knownHostsFile: path.join(gitDir, "keys", `${id}.known_hosts`),
  };
}

export interface RemoteRefs {
  /** `refs/heads/<b>` → sha. */
  heads: Record<string, string>;
  /** The default branch (HEAD's symref), when the remote says. */
  defaultBranch: string | null;
}

export interface CommitInfo {
  sha: string;
  message: string;
  author: { name: string; email: string };
}

export interface MirrorOptions {
  /** The mirror's folder (absent: only remote reads, as when linking). */
  dir: string | null;
  /** A folder to run remote reads in when there is no mirror yet. */
  workDir: string;
  kind: RemoteKind;
  url: string;
  transport: Transport;
  tokenEnv: string | null;
  serverEnv: Record<string, string | undefined>;
  timeoutMs?: number;
  /** ssh: the known_hosts text pinned (null: pin on this first contact). Written to `transport.knownHostsFile` before each remote command. */
  knownHosts?: string | null;
  /** Called with the known_hosts text once a first contact pinned it. */
  onPinned?: (knownHosts: string) => Promise<void>;
  /** Holds the mirror against other processes while `f` writes to it (default: no lock beyond this process). */
  lock?: <T>(f: () => Promise<T>) => Promise<T>;
}

const writing = new Map<string, Promise<unknown>>();

/** Runs `f` after every earlier write to the same mirror in this process. */
function serialised<T>(key: string, f: () => Promise<T>): Promise<T> {
  const before = writing.get(key) ?? Promise.resolve();
  const run = before.then(f, f);
  const settled = run.catch(() => {});
  writing.set(key, settled);
  void settled.then(() => {
    if (writing.get(key) === settled) writing.delete(key);
  });
  return run;
}

export class Mirror {
  private readonly timeoutMs: number;
  private knownHosts: string | null;

  constructor(private readonly o: MirrorOptions) {
    this.timeoutMs = o.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS;
    this.knownHosts = o.knownHosts ?? null;
  }

  /** Runs git against the remote (URL on the command line after `--`, credentials in the environment). */
  private async remote(args: string[], cwd: string): Promise<GitResult> {
    const t = this.o.transport;
    let transport = t;
    if (t.kind === "ssh") {
      if (!fs.existsSync(t.keyFile)) throw new ForgeError(`${this.o.url}: the deploy key file ${t.keyFile} is missing on the vh server; remove the repository and link it again with --key.`);
      fs.mkdirSync(path.dirname(t.knownHostsFile), { recursive: true, mode: 0o700 });
      // The database holds the pin; the file is written from it before each contact (atomically:
      // another command of this repository may be reading it).
      const want = this.knownHosts ?? "";
      const have = fs.existsSync(t.knownHostsFile) ? fs.readFileSync(t.knownHostsFile, "utf8") : null;
      if (have !== want) {
        const tmp = `${t.knownHostsFile}.${process.pid}.${Date.now()}.tmp`;
        fs.writeFileSync(tmp, want, { mode: 0o600 });
        fs.renameSync(tmp, t.knownHostsFile);
      }
      transport = { ...t, pinned: this.knownHosts !== null && this.knownHosts.trim() !== "" };
    }
    const { env, secrets } = transportEnv(transport, this.o.serverEnv, { connectTimeoutS: Math.max(1, Math.ceil(this.timeoutMs / 1000)) });
    const r = await runGit({ args, cwd, env: gitEnv(this.o.serverEnv, env), timeoutMs: this.timeoutMs, secrets });
    if (r.code !== 0 || r.timedOut) {
      throw new ForgeError(explainFailure(this.o.kind, this.o.url, gitMessage(r.stderr), { tokenEnv: this.o.tokenEnv, timedOut: r.timedOut, timeoutMs: this.timeoutMs, stderr: r.stderr }));
    }
    if (t.kind === "ssh" && (this.knownHosts === null || this.knownHosts.trim() === "")) {
      const pinned = fs.readFileSync(t.knownHostsFile, "utf8");
      if (pinned.trim()) {
        this.knownHosts = pinned;
        await this.o.onPinned?.(pinned);
      }
    }
    return r;
  }

  /** Runs git in the mirror (no remote contact). */
  private async local(args: string[], opts: { maxStdoutBytes?: number } = {}): Promise<GitResult> {
    const dir = this.mirrorDir();
    return runGit({ args, cwd: dir, env: gitEnv(this.o.serverEnv), timeoutMs: this.timeoutMs, ...opts });
  }

  private mirrorDir(): string {
    if (!this.o.dir) throw new Error("this Mirror reads the remote only");
    return this.o.dir;
  }

  /** The pinned known_hosts text (ssh), once a contact pinned it. */
  pinnedHostKeys(): string | null {
    return this.knownHosts;
  }

  /** The remote's branches and default branch (`git ls-remote --symref`). */
  async lsRemote(): Promise<RemoteRefs> {
    fs.mkdirSync(this.o.workDir, { recursive: true });
    const r = await this.remote(["ls-remote", "--symref", "--", this.o.url, "HEAD", "refs/heads/*"], this.o.workDir);
    const heads: Record<string, string> = {};
    let defaultBranch: string | null = null;
    for (const line of r.stdout.toString("utf8").split("\n")) {
      const sym = /^ref: refs\/heads\/(\S+)\tHEAD$/.exec(line);
      if (sym) {
        defaultBranch = sym[1]!;
        continue;
      }
      const m = /^([0-9a-f]{40}(?:[0-9a-f]{24})?)\t(refs\/heads\/\S+)$/.exec(line);
      if (m) heads[m[2]!] = m[1]!;
    }
    return { heads, defaultBranch };
  }

  /** What a branch or tag name is on the remote now (tags peeled), or null. */
  async lsRemoteRef(ref: string): Promise<string | null> {
    if (!isRefName(ref)) return null;
    fs.mkdirSync(this.o.workDir, { recursive: true });
    const full = ref.startsWith("refs/") ? [ref, `${ref}^{}`] : [`refs/heads/${ref}`, `refs/tags/${ref}`, `refs/tags/${ref}^{}`];
    const r = await this.remote(["ls-remote", "--", this.o.url, ...full], this.o.workDir);
    const found = new Map<string, string>();
    for (const line of r.stdout.toString("utf8").split("\n")) {
      const m = /^([0-9a-f]{40}(?:[0-9a-f]{24})?)\t(\S+)$/.exec(line);
      if (m) found.set(m[2]!, m[1]!);
    }
    for (const name of full.flatMap((f) => (f.endsWith("^{}") ? [] : [f]))) {
      const sha = found.get(`${name}^{}`) ?? found.get(name);
      if (sha) return sha;
    }
    return null;
  }

  /** Creates the bare mirror when it is missing. */
  async ensure(): Promise<void> {
    const dir = this.mirrorDir();
    if (fs.existsSync(path.join(dir, "HEAD"))) return;
    await serialised(dir, () => this.locked(async () => {
      if (fs.existsSync(path.join(dir, "HEAD"))) return;
      fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
      const r = await runGit({ args: ["init", "--bare", "-q", dir], env: gitEnv(this.o.serverEnv), timeoutMs: this.timeoutMs });
      if (r.code !== 0) throw new ForgeError(`Could not create the mirror ${dir}: ${gitMessage(r.stderr)}.`);
    }));
  }

  private locked<T>(f: () => Promise<T>): Promise<T> {
    return this.o.lock ? this.o.lock(f) : f();
  }

  /** Fetches branch heads (`refs/heads/x`) and commits (full shas) at depth 1 into the mirror. */
  async fetch(refs: string[]): Promise<void> {
    if (refs.length === 0) return;
    await this.ensure();
    const dir = this.mirrorDir();
    const specs = refs.map((r) => (isFullSha(r) ? `${r}:refs/vh/commits/${r}` : `+${r}:${r}`));
    await serialised(dir, () =>
      this.locked(() => this.remote(["-c", "gc.autoDetach=false", "fetch", "-q", "--depth=1", "--no-tags", "--", this.o.url, ...specs], dir)),
    );
  }

  /** Whether the mirror has the commit. */
  async hasCommit(sha: string): Promise<boolean> {
    if (!isFullSha(sha) || !fs.existsSync(path.join(this.mirrorDir(), "HEAD"))) return false;
    const r = await this.local(["cat-file", "-e", `${sha}^{commit}`]);
    return r.code === 0;
  }

  /** The commit in the mirror, fetched from the remote when missing; false when the remote has no such commit either. */
  async ensureCommit(sha: string): Promise<boolean> {
    if (await this.hasCommit(sha)) return true;
    try {
      await this.fetch([sha]);
    } catch (err) {
      if (err instanceof ForgeError && /not our ref|no such remote ref|couldn't find remote ref|not found|unadvertised object/i.test(err.message)) return false;
      throw err;
    }
    return this.hasCommit(sha);
  }

  /** An abbreviated sha the mirror knows, as a full one (null when unknown or ambiguous). */
  async expand(abbrev: string): Promise<string | null> {
    if (!ABBREV.test(abbrev) || !fs.existsSync(path.join(this.mirrorDir(), "HEAD"))) return null;
    const r = await this.local(["rev-parse", "--verify", "--quiet", `${abbrev}^{commit}`]);
    const sha = r.stdout.toString("utf8").trim();
    return r.code === 0 && isFullSha(sha) ? sha : null;
  }

  /** The commit's message and author (the commit must be in the mirror). */
  async commit(sha: string): Promise<CommitInfo> {
    const r = await this.local(["log", "-1", "--no-decorate", "--format=%an%x00%ae%x00%B", sha, "--"], { maxStdoutBytes: 4 * 1024 * 1024 });
    if (r.code !== 0 && !r.overflow) throw new ForgeError(`Could not read commit ${sha.slice(0, 7)} in the mirror: ${gitMessage(r.stderr)}.`);
    const [name = "", email = "", ...rest] = r.stdout.toString("utf8").split("\0");
    return { sha, message: rest.join("\0").replace(/\n+$/, "").slice(0, MAX_MESSAGE_CHARS), author: { name, email } };
  }

  /** A file's text at a commit in the mirror, or null when the commit has no such file. */
  async readFile(sha: string, file: string, maxBytes: number): Promise<string | null> {
    const p = file.replace(/^\.?\/+/, "");
    if (!p || p.includes("\0") || p.split("/").some((s) => s === "..")) return null;
    const spec = `${sha}:${p}`;
    const t = await this.local(["cat-file", "-t", spec]);
    if (t.code !== 0 || t.stdout.toString("utf8").trim() !== "blob") return null;
    const r = await this.local(["cat-file", "blob", spec], { maxStdoutBytes: maxBytes });
    if (r.overflow) throw new ForgeError(`${p} at ${sha.slice(0, 7)} is over ${Math.round(maxBytes / 1024)} KB; vh does not read it.`);
    if (r.code !== 0) throw new ForgeError(`Could not read ${p} at ${sha.slice(0, 7)}: ${gitMessage(r.stderr)}.`);
    return r.stdout.toString("utf8");
  }

  /** The gzipped tarball of the tree at `sha`, wrapped in one `<sha7>/` folder as every forge's archive is (the snapshot drops it). */
  async archive(sha: string, maxBytes: number): Promise<Buffer> {
    const r = await this.local(["archive", "--format=tar.gz", `--prefix=${sha.slice(0, 7)}/`, sha], { maxStdoutBytes: maxBytes });
    if (r.overflow) {
      const limit = maxBytes >= 1048576 ? `${Math.round(maxBytes / 1048576)} MiB` : `${maxBytes}-byte`;
      throw new ForgeError(`The repository at ${sha.slice(0, 7)} is over the ${limit} limit (VH_MAX_CODE_MB) as a gzipped tarball.`);
    }
    if (r.code !== 0 || r.timedOut) throw new ForgeError(`Could not archive ${sha.slice(0, 7)}: ${r.timedOut ? "git archive timed out" : gitMessage(r.stderr)}.`);
    return r.stdout;
  }
}
