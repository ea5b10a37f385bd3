/**
 * One SSH connection per host (ssh2), opened on first use and re-opened after it drops: a cut
 * connection costs the next call a reconnect, never an execution (the job runs detached on the host).
 *
 * Every command runs as `/bin/sh -c '<script>'` whatever the login shell is. `exec` collects stdout
 * and stderr separately; `stdin` is written and closed (used to send files and scripts).
 */
import { Client, type ConnectConfig, type SFTPWrapper } from "ssh2";
import { RunnerError } from "../../../app/errors.js";
import { shellQuote } from "../shared/protocol.js";

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  privateKey: Buffer | string;
  /** Remote directory for work dirs and caches; default `$HOME/.vh`. */
  root?: string;
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** `ssh://user@host:port/optional/work/root` → parts. */
export function parseSshUrl(url: string): { username: string; host: string; port: number; root?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RunnerError(`"${url}" is not an ssh:// URL (ssh://user@host:port).`);
  }
  if (u.protocol !== "ssh:") throw new RunnerError(`"${url}" is not an ssh:// URL (ssh://user@host:port).`);
  if (!u.hostname) throw new RunnerError(`"${url}" names no host.`);
  const username = decodeURIComponent(u.username) || "root";
  const port = u.port ? Number(u.port) : 22;
  const root = u.pathname && u.pathname !== "/" ? decodeURIComponent(u.pathname) : undefined;
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  return { username, host, port, ...(root ? { root } : {}) };
}

export interface SshClientOptions {
  readyTimeoutMs?: number;
  keepaliveIntervalMs?: number;
}

export class SshClient {
  private client: Client | null = null;
  private connecting: Promise<Client> | null = null;
  private sftpP: Promise<SFTPWrapper> | null = null;
  private closed = false;

  constructor(
    readonly target: SshTarget,
    private readonly opts: SshClientOptions = {},
  ) {}

  get label(): string {
    return `${this.target.username}@${this.target.host}:${this.target.port}`;
  }

  private connect(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    if (this.connecting) return this.connecting;
    const c = new Client();
    const cfg: ConnectConfig = {
      host: this.target.host,
      port: this.target.port,
      username: this.target.username,
      privateKey: this.target.privateKey,
      readyTimeout: this.opts.readyTimeoutMs ?? 10_000,
      keepaliveInterval: this.opts.keepaliveIntervalMs ?? 5_000,
      keepaliveCountMax: 3,
    };
    this.connecting = new Promise<Client>((resolve, reject) => {
      let settled = false;
      const drop = () => {
        if (this.client === c) this.client = null;
        this.sftpP = null;
      };
      c.on("ready", () => {
        settled = true;
        this.client = c;
        this.connecting = null;
        resolve(c);
      });
      c.on("error", (err) => {
        drop();
        if (!settled) {
          settled = true;
          this.connecting = null;
          reject(new RunnerError(`SSH to ${this.label} failed: ${err.message}`));
        }
      });
      c.on("close", () => {
        drop();
        if (!settled) {
          settled = true;
          this.connecting = null;
          reject(new RunnerError(`SSH to ${this.label} closed before it was ready.`));
        }
      });
      c.connect(cfg);
    });
    return this.connecting;
  }

  /** Run `script` with /bin/sh on the host. Throws RunnerError only when the connection fails. */
  async exec(script: string, opts: { stdin?: Buffer | string; timeoutMs?: number } = {}): Promise<ExecResult> {
    if (this.closed) throw new RunnerError(`SSH client for ${this.label} is closed.`);
    const c = await this.connect();
    return new Promise<ExecResult>((resolve, reject) => {
      c.exec(`/bin/sh -c ${shellQuote(script)}`, (err, ch) => {
        if (err) {
          reject(new RunnerError(`SSH exec on ${this.label} failed: ${err.message}`));
          return;
        }
        const out: Buffer[] = [];
        const errs: Buffer[] = [];
        let code: number | null = null;
        let signal: string | null = null;
        const timer = opts.timeoutMs
          ? setTimeout(() => {
              ch.close();
              reject(new RunnerError(`SSH command on ${this.label} timed out after ${opts.timeoutMs} ms.`));
            }, opts.timeoutMs)
          : null;
        ch.on("data", (d: Buffer) => out.push(d));
        ch.stderr.on("data", (d: Buffer) => errs.push(d));
        ch.on("exit", (c2: number | null, sig?: string) => {
          code = c2;
          signal = sig ?? null;
        });
        ch.on("close", () => {
          if (timer) clearTimeout(timer);
          resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(errs) });
        });
        ch.on("error", (e: Error) => {
          if (timer) clearTimeout(timer);
          reject(new RunnerError(`SSH channel on ${this.label} failed: ${e.message}`));
        });
        if (opts.stdin !== undefined) ch.end(opts.stdin);
        else ch.end();
      });
    });
  }

  /** Like exec, but a non-zero exit is a RunnerError naming `what` with the command's stderr. */
  async run(script: string, what: string, opts: { stdin?: Buffer | string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(script, opts);
    if (r.code !== 0) {
      const detail = (r.stderr.toString().trim() || r.stdout.toString().trim()).slice(0, 500);
      throw new RunnerError(`${what} on ${this.label} failed (exit ${r.code ?? r.signal})${detail ? `: ${detail}` : ""}`);
    }
    return r.stdout.toString();
  }

  async sftp(): Promise<SFTPWrapper> {
    if (this.sftpP) return this.sftpP;
    const c = await this.connect();
    const p = new Promise<SFTPWrapper>((resolve, reject) => {
      c.sftp((err, s) => {
        if (err) reject(new RunnerError(`SFTP to ${this.label} failed: ${err.message}`));
        else {
          s.on("close", () => {
            if (this.sftpP === p) this.sftpP = null;
          });
          resolve(s);
        }
      });
    });
    this.sftpP = p;
    p.catch(() => {
      if (this.sftpP === p) this.sftpP = null;
    });
    return p;
  }

  /** Drop the connection now (the next call reconnects). Used by tests to cut it. */
  disconnect(): void {
    this.client?.end();
    this.client = null;
    this.sftpP = null;
  }

  close(): void {
    this.closed = true;
    this.disconnect();
  }
}
