/** Formatting helpers every template shares, and the CLI too (app/cli/format.ts): one rule for every output. Pure. */

/** Money as people read it: `$1.23` from a dollar up, else four decimals (`$0.0042`); "—" when unknown. */
export function formatUsd(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  return n >= 1 ? `$${n.toFixed(2)}` : `$${n.toFixed(4)}`;
}

/** Sizes as people read them: `512 B`, `2.0 KiB`, `14 MiB`; "-" for an unknown size. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "-";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
