/** Name helpers: did-you-mean suggestions and valohai-cli's dynamic option names. */

/** Edit distance counting an adjacent swap as one edit (optimal string alignment): "trian" → "train" is 1. */
function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate most likely meant by `name`: same name ignoring case and `-`/`_`, then the
 * closest by edit distance (at most 2, and at most a third of the name), then a unique prefix.
 */
export function suggest(name: string, candidates: string[]): string | undefined {
  if (!name || candidates.length === 0) return undefined;
  const norm = (s: string): string => s.toLowerCase().replace(/[-_\s]+/g, "");
  const exactish = candidates.find((c) => norm(c) === norm(name));
  if (exactish !== undefined) return exactish;
  let best: string | undefined;
  let bestDistance = Infinity;
  const limit = Math.min(2, Math.max(1, Math.floor(name.length / 3)));
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d <= limit && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best !== undefined) return best;
  if (name.length >= 2) {
    const prefixed = candidates.filter((c) => c.toLowerCase().startsWith(name.toLowerCase()) || name.toLowerCase().startsWith(c.toLowerCase()));
    if (prefixed.length === 1) return prefixed[0];
  }
  return undefined;
}

/**
 * valohai-cli's option name for a parameter or input (valohai-spec §4.2): NFKD → ASCII, runs of
 * characters outside `[-a-zA-Z0-9]` become `-`, leading/trailing `-` trimmed.
 */
export function sanitizeOptionName(name: string): string {
  const ascii = name.normalize("NFKD").replace(/[^\x00-\x7f]/g, "");
  return ascii.replace(/[^-a-zA-Z0-9]+/g, "-").replace(/^-+|-+$/g, "");
}
