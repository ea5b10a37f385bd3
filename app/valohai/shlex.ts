/** Python `shlex.quote`, byte for byte (valohai-spec §1.5 step 5). */

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shlexQuote(s: string): string {
  if (s === "") return "''";
  if (SAFE.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}
