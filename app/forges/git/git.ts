/**
 * Running git: argv arrays (never a shell), a bounded time per command (the whole process group is
 * killed past it, ssh included), a bounded output, and an environment of vh's own making: no prompts
 * (`GIT_TERMINAL_PROMPT=0`), no system or user git config (so no credential helper, `insteadOf` or
 * hook of the server's user is involved), C locale (stable messages), and only the variables git
 * needs from the server's environment. Secrets (an https token) travel in environment variables
 * only, and are cut out of every message.
 */
import { spawn } from "node:child_process";
import { ForgeError } from "../../errors.js";

export const DEFAULT_GIT_TIMEOUT_MS = 60_000;
/** Output kept of a command that is not streamed (refs, a message, a file). */
export const DEFAULT_MAX_STDOUT = 32 * 1024 * 1024;
const MAX_STDERR = 64 * 1024;

/** Variables passed through from the server's environment: what git, ssh and TLS need, and proxies. */
const PASSED = [
  "PATH",
  "HOME",
  "TMPDIR",
  "HTTPS_PROXY",
  "https_proxy",
  "HTTP_PROXY",
  "http_proxy",
  "NO_PROXY",
  "no_proxy",
  "ALL_PROXY",
  "all_proxy",
  "GIT_SSL_CAINFO",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
];

export interface GitCommand {
  args: string[];
  cwd?: string;
  /** From `gitEnv`. */
  env: Record<string, string>;
  timeoutMs: number;
  /** Past this many bytes of stdout the command is killed and `overflow` set (default 32 MiB). */
  maxStdoutBytes?: number;
  /** Cut out of stderr (tokens). */
  secrets?: string[];
}

export interface GitResult {
  code: number | null;
  stdout: Buffer;
  /** With secrets cut out. */
  stderr: string;
  timedOut: boolean;
  overflow: boolean;
}

/** The environment every git command runs with: `extra` (transport settings) over vh's defaults. */
export function gitEnv(serverEnv: Record<string, string | undefined>, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PASSED) {
    const v = serverEnv[k];
    if (v !== undefined && v !== "") env[k] = v;
  }
  env["PATH"] ??= "/usr/local/bin:/usr/bin:/bin";
  return {
    ...env,
    LC_ALL: "C",
    LANG: "C",
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_ASKPASS: "",
    SSH_ASKPASS: "",
    ...extra,
  };
}

export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("***");
  return out;
}

/** Runs git once; resolves whatever its exit (callers decide what a failure means). */
export function runGit(cmd: GitCommand): Promise<GitResult> {
  const max = cmd.maxStdoutBytes ?? DEFAULT_MAX_STDOUT;
  return new Promise((resolve, reject) => {
    const child = spawn("git", cmd.args, {
      cwd: cmd.cwd,
      env: cmd.env,
      stdio: ["ignore", "pipe", "pipe"],
      // its own process group, so a timeout kills ssh (and a credential helper, were there one) too
      detached: true,
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = "";
    let timedOut = false;
    let overflow = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, cmd.timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      if (overflow) return;
      outBytes += chunk.length;
      if (outBytes > max) {
        overflow = true;
        killGroup();
        return;
      }
      out.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (err.length < MAX_STDERR) err += chunk.toString("utf8");
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(new ForgeError(`Could not run git (${(e as NodeJS.ErrnoException).code ?? e.message}): is git installed on the vh server?`));
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: redact(err.slice(0, MAX_STDERR), cmd.secrets), timedOut, overflow });
    });
  });
}

/** The lines of stderr worth showing: git's `fatal:`/`error:` lines first, else its last lines. */
export function gitMessage(stderr: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !/^(hint|remote: Counting|remote: Compressing|Receiving|Resolving)/.test(l) && !/^@+$/.test(l));
  const fatal = lines.filter((l) => /^(fatal|error):/i.test(l)).map((l) => l.replace(/^(fatal|error):\s*/i, ""));
  const chosen = fatal.length ? fatal : lines.slice(-3);
  return chosen.join("; ").slice(0, 500) || "no message";
}
