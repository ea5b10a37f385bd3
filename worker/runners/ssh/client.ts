/**
 * One SSH connection per host (ssh2), opened on first use and re-opened after it drops: a cut
 * connection costs the next call a reconnect, never an execution (the job runs detached on the host).
 *
 * Every command runs as `/bin/sh -c '<script>'` whatever the login shell is. `exec` collects stdout
 * and stderr separately; `stdin` is written and closed. File contents (scripts, env files, configs)
 * go over SFTP (`writeFile`), never on a command line: command lines are visible to every user of
 * the host in /proc/<pid>/cmdline.
 *
 * Host keys: trust on first use, then pinned. `target.hostKeySha256` is the expected fingerprint
 * (`SHA256:<base64 without padding>`, as `ssh-keygen -lf` shows it); with none, the first key seen
 * is accepted and kept for this client's later connections (`hostKeySha256` gives it, for the caller
 * to record). A different key is refused before authenticating.
 */
import crypto from "node:crypto";
import { Client, type ConnectConfig, type SFTPWrapper } from "ssh2";
import { HostUnreachable, RunnerError } from "../../../app/errors.js";
import { shellQuote } from "../shared/protocol.js";
import { hostKeyFingerprint, isHostKeyFingerprint, parseSshUrl } from "../../../app/hosts/ssh-address.js";

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  privateKey: Buffer | string;
  /** Remote directory for work dirs and caches; default `$HOME/.vh`. */
  root?: string;
  /** The pinned host key fingerprint (`SHA256:…`); null/absent: trust the first key seen. */
  hostKeySha256?: string | null;
}

export { hostKeyFingerprint, isHostKeyFingerprint, parseSshUrl };

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
}

export interface SshClientOptions {
  /** The host's name as users know it (error messages); default the user@host:port label. */
  name?: string;
  readyTimeoutMs?: number;
  keepaliveIntervalMs?: number;
}

export class SshClient {
  private client: Client | null = null;
  private connecting: Promise<Client> | null = null;
  private sftpP: Promise<SFTPWrapper> | null = null;
  private closed = false;
  private pinned: string | null;
  private hostKeyError: string | null = null;

  constructor(
    readonly target: SshTarget,
    private readonly opts: SshClientOptions = {},
  ) {
    this.pinned = target.hostKeySha256 ?? null;
  }

  /** The pinned fingerprint: the expected one, or the one accepted on first use; null before any connection. */
  get hostKeySha256(): string | null {
    return this.pinned;
  }

  private verifyHostKey(key: Buffer): boolean {
    const seen = hostKeyFingerprint(key);
    if (this.pinned === null) {
      this.pinned = seen;
      return true;
    }
    if (seen === this.pinned) return true;
    const name = this.opts.name ?? this.label;
    this.hostKeyError =
      `Host key verification failed for host ${name} (${this.label}): it presented ${seen}, but ${this.pinned} is pinned. ` +
      `The host may have been reinstalled, or someone is intercepting the connection. If the new key is expected, ` +
      `re-pin it: remove the host and add it again (vh host remove ${name}; vh host add ${name} … [--host-key ${seen}]).`;
    return false;
  }

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
      hostVerifier: (key: Buffer) => this.verifyHostKey(key),
    };
    this.hostKeyError = null;
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
          // A refused host key is a refusal; anything else (refused, reset, timed out) is a host out of reach.
          reject(this.hostKeyError ? new RunnerError(this.hostKeyError) : new HostUnreachable(`SSH to ${this.label} failed: ${err.message}`));
        }
      });
      c.on("close", () => {
        drop();
        if (!settled) {
          settled = true;
          this.connecting = null;
          reject(this.hostKeyError ? new RunnerError(this.hostKeyError) : new HostUnreachable(`SSH to ${this.label} closed before it was ready.`));
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
          reject(new HostUnreachable(`SSH exec on ${this.label} failed: ${err.message}`));
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
          // No exit status and no signal (OpenSSH always sends one): the connection went away under the command.
          if (code === null && signal === null) {
            reject(new HostUnreachable(`The SSH connection to ${this.label} was lost during a command.`));
            return;
          }
          resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(errs) });
        });
        ch.on("error", (e: Error) => {
          if (timer) clearTimeout(timer);
          reject(new HostUnreachable(`SSH channel on ${this.label} failed: ${e.message}`));
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
        if (err) reject(new HostUnreachable(`SFTP to ${this.label} failed: ${err.message}`));
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

  /**
   * Write `data` to the remote `file` over SFTP (never on a command line), atomically: a fresh
   * temporary file created with `mode` (exclusive create, so never someone else's file), then
   * renamed over `file`.
   */
  async writeFile(file: string, data: Buffer | string, mode = 0o600): Promise<void> {
    const sftp = await this.sftp();
    const tmp = `${file}.${crypto.randomUUID()}.tmp`;
    const fail = (what: string) => (err: Error) =>
      // The connection dropped under the transfer: the host, not the file.
      this.client === null
        ? new HostUnreachable(`Writing ${file} on ${this.label} failed (${what}): the connection was lost (${err.message})`)
        : new RunnerError(`Writing ${file} on ${this.label} failed (${what}): ${err.message}`);
    const call = <T>(what: string, f: (cb: (err: Error | null | undefined, v?: T) => void) => void) =>
      new Promise<T>((resolve, reject) => f((err, v) => (err ? reject(fail(what)(err)) : resolve(v as T))));
    const handle = await call<Buffer>("open", (cb) => sftp.open(tmp, "wx", { mode }, cb));
    try {
      const buf = Buffer.from(data);
      let off = 0;
      while (off < buf.length) {
        const n = Math.min(buf.length - off, 32 * 1024);
        await call<void>("write", (cb) => sftp.write(handle, buf, off, n, off, (err) => cb(err)));
        off += n;
      }
      await call<void>("chmod", (cb) => sftp.fchmod(handle, mode, (err) => cb(err)));
    } catch (err) {
      await call<void>("close", (cb) => sftp.close(handle, (e) => cb(e))).catch(() => undefined);
      await call<void>("unlink", (cb) => sftp.unlink(tmp, (e) => cb(e))).catch(() => undefined);
      throw err;
    }
    await call<void>("close", (cb) => sftp.close(handle, (err) => cb(err)));
    try {
      await call<void>("rename", (cb) => sftp.ext_openssh_rename(tmp, file, (err) => cb(err)));
    } catch {
      // No posix-rename extension: mv (the names only, never the content, on the command line).
      await this.run(`mv -f -- ${shellQuote(tmp)} ${shellQuote(file)}`, `Writing ${file}`).catch(async (err: unknown) => {
        await this.exec(`rm -f -- ${shellQuote(tmp)}`).catch(() => undefined);
        throw err;
      });
    }
  }

  /** The canonical absolute path of `p` on the host (symlinks resolved), or null when it does not exist. */
  async realpath(p: string): Promise<string | null> {
    const sftp = await this.sftp();
    return new Promise<string | null>((resolve) => sftp.realpath(p, (err, abs) => resolve(err ? null : abs)));
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
