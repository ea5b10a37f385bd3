/**
 * Secret values of an execution's environment, and hiding them wherever vh shows what a job did:
 * the API's and reports' environment (by name, and credentials inside URLs), and the stored log
 * (by value: a job that echoes `$DB_PASSWORD` or prints its DATABASE_URL does not publish it).
 */

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
