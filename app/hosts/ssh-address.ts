/**
 * The address of an SSH host as vh stores it (`ssh://user@host:port[/ROOT-DIR]`) and its pinned
 * host key fingerprint: parsed and checked here, used by host records and by the SSH runner.
 */
import crypto from "node:crypto";
import { RunnerError } from "../errors.js";

/** `SHA256:<base64, no padding>` of a raw host key blob, as `ssh-keygen -lf` prints it. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${crypto.createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** Whether `s` looks like a SHA256 host key fingerprint (`SHA256:` + 43 base64 characters). */
export function isHostKeyFingerprint(s: string): boolean {
  return FINGERPRINT.test(s);
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
