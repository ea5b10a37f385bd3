/**
 * Secret values of an execution's environment, and hiding them wherever vh shows what a job did:
 * the API's and reports' environment (by name, and credentials inside URLs), and the stored log
 * (by value: a job that echoes `$DB_PASSWORD` or prints its DATABASE_URL does not publish it).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** Names that hold secrets: tokens, passwords (DB_PASS, PGPASSWORD, …), keys, credentials, auth, session, DSNs. */
const SECRET_NAME = /(secret|token|passw(or)?d|(^|_)pass(_|$)|passwd|pwd|private|credential|api[_-]?key|access[_-]?key|auth|cookie|session|signature|(^|_)dsn$|(^|_)key$)/i;

/** `scheme://user:password@host…`: the password of a URL's userinfo. */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)([^\s/@]+)(@)/gi;

/** Values shorter than this are not hunted in logs by value: too many false hits ("1", "true"). */
export const MIN_REDACTED_LENGTH = 6;

export const MASK = "***";

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** The environment as shown: secret names masked whole, passwords inside URLs masked. */
export function maskEnvironment(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, isSecretName(k) ? MASK : maskUrlPasswords(v)]));
}

export function maskUrlPasswords(text: string): string {
  return text.replace(URL_PASSWORD, (_m, head: string, _pw: string, at: string) => `${head}${MASK}${at}`);
}

/** The values to take out of logs: those of secret names, and every password inside a URL value. */
export function secretValues(env: Record<string, string>): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(env)) {
    if (isSecretName(k) && v.length >= MIN_REDACTED_LENGTH) out.add(v);
    for (const m of v.matchAll(URL_PASSWORD)) if (m[2] && m[2].length >= MIN_REDACTED_LENGTH) out.add(m[2]);
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...out].sort((a, b) => b.length - a.length);
}

/** `line` with every occurrence of each value replaced by ***. */
export function redact(line: string, values: readonly string[]): string {
  let out = line;
  for (const v of values) if (out.includes(v)) out = out.split(v).join(MASK);
  return out;
}

/**
 * At rest, an execution keeps two things: its environment as shown (`maskEnvironment`: secret
 * values replaced by ***), and the values that masking hid, sealed with AES-256-GCM under the
 * server's secrets key (VH_SECRETS_KEY, or `<dataDir>/secrets.key` made at first start). Only a
 * worker that launches the job, or redacts its log, opens them.
 */
const SEAL_PREFIX = "vh-sealed:v1:";

export function splitSecrets(env: Record<string, string>): { shown: Record<string, string>; hidden: Record<string, string> } {
  const shown = maskEnvironment(env);
  const hidden: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (shown[k] !== v) hidden[k] = v;
  return { shown, hidden };
}

export function sealSecrets(hidden: Record<string, string>, key: Buffer): string | null {
  if (Object.keys(hidden).length === 0) return null;
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(hidden), "utf8"), cipher.final()]);
  return SEAL_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
}

export class SealError extends Error {}

export function openSecrets(sealed: string | null, key: Buffer): Record<string, string> {
  if (!sealed) return {};
  if (!sealed.startsWith(SEAL_PREFIX)) throw new SealError("not a sealed value");
  const raw = Buffer.from(sealed.slice(SEAL_PREFIX.length), "base64");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    return JSON.parse(text) as Record<string, string>;
  } catch {
    throw new SealError(
      "The execution's secret environment values cannot be opened with this server's secrets key: every machine (npm start and each npm run worker) must have the same VH_SECRETS_KEY.",
    );
  }
}

/** The environment a job gets: what is shown, with the sealed values put back. */
export function realEnvironment(row: { environmentVariables: Record<string, string>; environmentSecrets: string | null }, key: Buffer): Record<string, string> {
  return { ...row.environmentVariables, ...openSecrets(row.environmentSecrets, key) };
}
