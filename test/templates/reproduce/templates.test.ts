/**
 * Golden tests of templates/reproduce/: the verdict (CLI text and the pull request's reply) and
 * `vh exec diff`'s text, each variant against a file under golden/. A render function of the
 * folder without a case fails. `UPDATE_GOLDEN=1 npx vitest run test/templates/reproduce` rewrites them.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { ReproductionVerdict } from "../../../db/schema/reproductions.js";
import type { ExecutionDiff } from "../../../app/executions/diff.js";
import { DIFF_SECTIONS } from "../../../app/executions/diff.js";
import * as verdict from "../../../templates/reproduce/verdict.js";
import * as diff from "../../../templates/reproduce/diff.js";
import { expectGolden, renderFunctionsOf } from "../golden.js";

const dir = path.join(import.meta.dirname, "golden");
const golden = (name: string, text: string) => expectGolden(path.join(dir, name), text);

const equal: ReproductionVerdict = {
  result: "equal",
  comparedAt: "2026-12-02T10:00:00.000Z",
  tolerance: 0,
  status: { original: "completed", reproduction: "completed" },
  files: { missing: [], extra: [], changed: [], same: 2 },
  metrics: { changed: [], missing: [], extra: [], same: 1 },
};

const different: ReproductionVerdict = {
  result: "different",
  comparedAt: "2026-12-02T10:00:00.000Z",
  tolerance: 1e-9,
  status: { original: "completed", reproduction: "completed" },
  files: {
    missing: [{ name: "model.bin", sha256: "b".repeat(64) }],
    extra: [{ name: "debug | log.txt", sha256: "c".repeat(64) }],
    changed: [{ name: "t.txt", original: "1".repeat(64), reproduction: "2".repeat(64) }],
    same: 1,
  },
  metrics: {
    changed: [
      { key: "loss", original: 0.25, reproduction: 0.3, absolute: 0.04999999999999999, relative: 0.16666666666666663 },
      { key: "phase", original: "warm", reproduction: "cold", absolute: null, relative: null },
    ],
    missing: [{ key: "auc", original: 0.9 }],
    extra: [{ key: "seconds", reproduction: 12 }],
    same: 3,
  },
};

const failed: ReproductionVerdict = { ...equal, result: "different", status: { original: "completed", reproduction: "failed" }, files: { ...equal.files, same: 0, missing: [{ name: "out.csv", sha256: "d".repeat(64) }] } };

const sections = (entries: Partial<Record<(typeof DIFF_SECTIONS)[number], ExecutionDiff["sections"][number]["entries"]>>) =>
  DIFF_SECTIONS.map((name) => ({ name, entries: entries[name] ?? [] }));

const differ: ExecutionDiff = {
  a: { id: "a", counter: 3, step: "train", status: "completed" },
  b: { id: "b", counter: 4, step: "train", status: "failed" },
  sections: sections({
    code: [{ key: "commit", a: "a".repeat(40), b: "b".repeat(40) }],
    parameters: [
      { key: "epochs", a: "10", b: null },
      { key: "lr", a: "0.1", b: "0.01" },
    ],
    inputs: [{ key: "model/w.bin resolved", a: "model://churn/v1", b: "model://churn/v2" }],
    environment: [
      { key: "DB_PASSWORD", a: "***", b: "***", note: "the secret values differ" },
      { key: "MODE", a: "fast", b: "slow" },
    ],
    metrics: [{ key: "loss", a: "0.25", b: "0.3", delta: { absolute: 0.04999999999999999, relative: 0.16666666666666663 } }],
    outputs: [{ key: "t.txt", a: "1".repeat(64), b: "2".repeat(64) }],
  }),
  same: false,
};
const same: ExecutionDiff = { ...differ, sections: sections({}), same: true };

type RenderName = Extract<keyof typeof verdict | keyof typeof diff, `render${string}`>;

const CASES: Record<RenderName, Record<string, () => string>> = {
  renderVerdictText: {
    "verdict-equal.txt": () => verdict.renderVerdictText({ original: 3, reproduction: 5, verdict: equal }),
    "verdict-different.txt": () => verdict.renderVerdictText({ original: 3, reproduction: 5, verdict: different }),
    "verdict-failed.txt": () => verdict.renderVerdictText({ original: 3, reproduction: 5, verdict: failed }),
  },
  renderVerdictReply: {
    "verdict-reply-equal.md": () => verdict.renderVerdictReply("alice", "0d6c4b7e-1111-4222-8333-444455556666", { original: 3, reproduction: 5, verdict: equal }),
    "verdict-reply-different.md": () => verdict.renderVerdictReply("alice", "0d6c4b7e-1111-4222-8333-444455556666", { original: 3, reproduction: 5, verdict: different }),
  },
  renderDiff: {
    "diff.txt": () => diff.renderDiff(differ),
    "diff-same.txt": () => diff.renderDiff(same),
  },
};

describe("templates/reproduce golden files", () => {
  it("every render function of templates/reproduce has a case", async () => {
    expect(Object.keys(CASES).sort()).toEqual(await renderFunctionsOf("templates/reproduce"));
  });
  for (const [fn, cases] of Object.entries(CASES)) {
    for (const [file, render] of Object.entries(cases)) it(`${fn}: ${file}`, () => golden(file, render()));
  }
  it("the reply carries its marker first, so a second posting edits it", () => {
    const body = verdict.renderVerdictReply("alice", "x-id", { original: 1, reproduction: 2, verdict: equal });
    expect(body.split("\n")[0]).toBe(verdict.verdictMarker("x-id"));
  });
});
