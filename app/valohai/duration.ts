/**
 * `time-limit` / `no-output-timeout` durations (valohai-spec §1.2): an integer number of seconds, or
 * a string of `<number><unit>` groups (`1h 30m`, `60 minutes`, `1.5d 2hörs`). The unit is the first
 * letter of the suffix: s, m, h, d, w. A bare numeric string (`"300"`) is seconds — the reference
 * crashes on it; we accept it.
 */

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

export type DurationResult = { ok: true; seconds: number | undefined } | { ok: false; message: string };

export function parseDurationDetailed(v: unknown): DurationResult {
  if (v === null || v === undefined) return { ok: true, seconds: undefined };
  if (typeof v === "number") {
    if (!Number.isInteger(v)) return { ok: false, message: `must be a whole number of seconds or a duration such as "1h 30m" (got ${v})` };
    if (v < 0) return { ok: false, message: `must not be negative (got ${v})` };
    return { ok: true, seconds: v === 0 ? undefined : v };
  }
  if (typeof v !== "string") return { ok: false, message: `must be a number of seconds or a duration string such as "1h 30m"` };
  if (v.trim() === "") return { ok: true, seconds: undefined };
  const text = v.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) {
    const n = Math.round(Number(text));
    return n > 0 ? { ok: true, seconds: n } : { ok: false, message: `must be longer than zero (got "${v}")` };
  }
  const group = /(\d+(?:\.\d*)?|\.\d+)\s*(\p{L}*)/gu;
  let total = 0;
  let consumed = "";
  for (const m of text.matchAll(group)) {
    const amount = Number(m[1]);
    const suffix = (m[2] ?? "").toLowerCase();
    const unit = suffix === "" ? "s" : suffix[0] ?? "s";
    const mult = UNIT_SECONDS[unit];
    if (mult === undefined) {
      return { ok: false, message: `has an unknown unit "${m[2]}" in "${v}"; use s, m, h, d or w (e.g. "1h 30m")` };
    }
    total += amount * mult;
    consumed += m[0];
  }
  const leftover = text.replace(group, "").replace(/[\s,]+/g, "");
  if (consumed === "" || leftover !== "") {
    return { ok: false, message: `is not a duration: "${v}"; write it as seconds (300) or as amounts with units such as "1h 30m" or "2d"` };
  }
  const seconds = Math.round(total);
  if (seconds <= 0) return { ok: false, message: `must be longer than zero (got "${v}")` };
  return { ok: true, seconds };
}

/** Seconds, or `undefined` when unset or unreadable (never throws). */
export function parseDuration(v: unknown): number | undefined {
  const r = parseDurationDetailed(v);
  return r.ok ? r.seconds : undefined;
}
