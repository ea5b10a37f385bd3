/**
 * A verified reproduction's verdict, as the CLI prints it (`vh exec reproduce N --verify`) and as
 * the bot answers `/vh reproduce N --verify` on a pull request. Pure: data in, text out.
 */
import type { ReproductionVerdict } from "../../db/schema/reproductions.js";
import { codeSpan } from "../../app/errors.js";
import { aligned, percent, shortNumber, signed, valueText } from "./format.js";

export interface VerdictData {
  original: number;
  reproduction: number;
  verdict: ReproductionVerdict;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const short = (sha: string) => sha.slice(0, 12);

function toleranceText(t: number): string {
  return t === 0 ? "exactly" : `within ${shortNumber(t)}`;
}

/** One line: the verdict and what was compared. */
export function verdictHeadline(d: VerdictData): string {
  const v = d.verdict;
  const sameFiles = plural(v.files.same, "output");
  const sameMetrics = plural(v.metrics.same, "metric");
  if (v.result === "equal") {
    return `Reproduction #${d.reproduction} of #${d.original} is equal: ${sameFiles} with the same sha256, ${sameMetrics} the same (${toleranceText(v.tolerance)}), both ${v.status.original}.`;
  }
  const f = v.files;
  const m = v.metrics;
  const parts = [
    v.status.original !== v.status.reproduction ? `#${d.original} ${v.status.original} but #${d.reproduction} ${v.status.reproduction}` : "",
    f.changed.length ? `${plural(f.changed.length, "output")} changed` : "",
    f.missing.length ? `${plural(f.missing.length, "output")} missing` : "",
    f.extra.length ? `${plural(f.extra.length, "extra output")}` : "",
    m.changed.length ? `${plural(m.changed.length, "metric")} changed` : "",
    m.missing.length ? `${plural(m.missing.length, "metric")} missing` : "",
    m.extra.length ? `${plural(m.extra.length, "extra metric")}` : "",
  ].filter(Boolean);
  return `Reproduction #${d.reproduction} of #${d.original} is different: ${parts.join(", ")}.`;
}

function fileRows(v: ReproductionVerdict): string[][] {
  return [
    ...v.files.changed.map((c) => ["changed", c.name, `sha256 ${short(c.original)} → ${short(c.reproduction)}`]),
    ...v.files.missing.map((c) => ["missing", c.name, `sha256 ${short(c.sha256)}, not written by the reproduction`]),
    ...v.files.extra.map((c) => ["extra", c.name, `sha256 ${short(c.sha256)}, not written by the original`]),
  ];
}

function metricRows(v: ReproductionVerdict): string[][] {
  return [
    ...v.metrics.changed.map((c) => [
      c.key,
      `${valueText(c.original)} → ${valueText(c.reproduction)}`,
      c.absolute !== null && c.relative !== null && typeof c.original === "number" && typeof c.reproduction === "number"
        ? `(${signed(c.reproduction - c.original)}, ${percent(c.relative)})`
        : "",
    ]),
    ...v.metrics.missing.map((c) => [c.key, `${valueText(c.original)} → (none)`, "(not logged by the reproduction)"]),
    ...v.metrics.extra.map((c) => [c.key, `(none) → ${valueText(c.reproduction)}`, "(not logged by the original)"]),
  ];
}

/** The CLI's text: the headline, then what differs, grouped. */
export function renderVerdictText(d: VerdictData): string {
  const v = d.verdict;
  const lines = [verdictHeadline(d)];
  const files = fileRows(v);
  if (files.length) lines.push("Outputs:", ...aligned(files));
  const metrics = metricRows(v);
  if (metrics.length) lines.push(`Metrics (last values; equal ${toleranceText(v.tolerance)}):`, ...aligned(metrics));
  return lines.join("\n") + "\n";
}

/** The hidden marker of the bot's answer for one reproduction: posted once, edited rather than repeated. */
export function verdictMarker(executionId: string): string {
  return `<!-- vh:reproduction:${executionId} -->`;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The bot's answer on the pull request once the verdict is known. */
export function renderVerdictReply(login: string, executionId: string, d: VerdictData): string {
  const v = d.verdict;
  const out = [verdictMarker(executionId), `@${login} ${verdictHeadline(d).replace(/ is (equal|different)/, " is **$1**")}`];
  const files = fileRows(v);
  if (files.length) {
    out.push("", "| output | | sha256 |", "|---|---|---|", ...files.map(([what, name, how]) => `| ${cell(codeSpan(name!))} | ${what} | ${cell(how!)} |`));
  }
  const metrics = metricRows(v);
  if (metrics.length) {
    out.push("", `| metric | last values | difference |`, "|---|---|---|", ...metrics.map(([k, vals, diff]) => `| ${cell(codeSpan(k!))} | ${cell(vals!)} | ${cell(diff!.replace(/^\(|\)$/g, ""))} |`));
  }
  out.push("", `<sub>Metrics compared ${toleranceText(v.tolerance)}; outputs by sha256. \`vh exec diff ${d.original} ${d.reproduction}\` shows every difference between the two.</sub>`, "");
  return out.join("\n");
}
