/**
 * `vh exec show`'s reproducibility block, from the record the API returns: the image digest, the
 * runtime fingerprint in one line per interpreter, the seed, what a reproduction reproduces with
 * its verdict, and an original's reproductions. A record without any of it prints no block.
 */
import { describe, expect, it } from "vitest";
import type { Execution } from "../../app/cli/api.js";
import { renderExecution } from "../../app/cli/commands/exec.js";

const base: Execution = {
  id: "e1",
  counter: 7,
  project: { id: "p", name: "churn" },
  step: "train",
  title: null,
  status: "completed",
  image: "python:3.12",
  command: "python3 train.py",
  parameters: { seed: 5 },
  inputs: [],
  createdAt: "2025-01-02T03:04:05.000Z",
};

const recorded = {
  fingerprint: "recorded",
  os: "Debian GNU/Linux 12 (bookworm)",
  interpreters: [{ program: "python3", version: "Python 3.12.7", path: "/usr/local/bin/python3" }],
  pipPackages: 42,
  npmPackages: null,
  truncated: true,
  seed: "5",
  imageDigest: "python@sha256:" + "a".repeat(64),
};

const verdict = {
  result: "different",
  comparedAt: "2025-01-02T04:00:00.000Z",
  tolerance: 0,
  status: { original: "completed", reproduction: "completed" },
  files: { missing: [], extra: [], changed: [{ name: "t.txt", original: "a".repeat(64), reproduction: "b".repeat(64) }], same: 2 },
  metrics: { changed: [], missing: [], extra: [], same: 1 },
};

const block = (text: string) => text.slice(text.indexOf("Reproducibility:"), text.indexOf("Metrics") === -1 ? undefined : text.indexOf("Metrics"));

describe("vh exec show: reproducibility", () => {
  it("prints the digest, the fingerprint, each interpreter, the seed, and the verdict of a reproduction", () => {
    const text = renderExecution({ ...base, reproducibility: recorded, reproduction: { original: { id: "o", counter: 3, status: "completed" }, verify: true, tolerance: 0, verdict } });
    expect(block(text)).toBe(
      [
        "Reproducibility:",
        `  image digest python@sha256:${"a".repeat(64)}`,
        "  fingerprint  Debian GNU/Linux 12 (bookworm), 42 pip packages (package lists cut at their bound)",
        "  python3      Python 3.12.7 (/usr/local/bin/python3)",
        "  seed         5",
        "Reproduces #3: Reproduction #7 of #3 is different: 1 output changed.",
        "",
      ].join("\n"),
    );
  });

  it("a fingerprint that could not be taken says why; a reproduction not yet compared says so; an original lists its reproductions", () => {
    const missing = { ...recorded, fingerprint: "missing", fingerprintMissing: "the host did not answer in 2 s", os: null, interpreters: [], pipPackages: null, seed: null, imageDigest: null };
    const pending = renderExecution({ ...base, reproducibility: missing, reproduction: { original: { id: "o", counter: 3, status: "completed" }, verify: true, tolerance: 0, verdict: null } });
    expect(pending).toContain("Reproducibility:\n  fingerprint  missing: the host did not answer in 2 s\nReproduces #3: verified when it ends\n");
    const original = renderExecution({
      ...base,
      reproducibility: missing,
      reproduction: null,
      reproducedBy: [
        { id: "r1", counter: 8, status: "completed", verify: true, result: "equal" },
        { id: "r2", counter: 9, status: "running", verify: true, result: null },
        { id: "r3", counter: 10, status: "completed", verify: false, result: null },
      ],
    });
    expect(original).toContain("Reproduced by: #8 (equal), #9 (running), #10 (not verified)\n");
    expect(original).not.toContain("Reproduces #");
  });

  it("inputs say what they resolved to: the dataset version, the S3 object with its ETag or version id", () => {
    const text = renderExecution({
      ...base,
      inputs: [
        { name: "images", uri: "dataset://images/latest", file: "a.png", size: 3, sha256: "c".repeat(64), datum: "datum://d1", dataset: "dataset://images/v4" } as never,
        { name: "raw", uri: "s3://lake/sets/*", file: "x.txt", size: 5, sha256: "d".repeat(64), object: "s3://lake/sets/x.txt", etag: '"e1"' } as never,
        { name: "pinned", uri: "s3://lake/one.bin", file: "one.bin", size: 5, sha256: "e".repeat(64), object: "s3://lake/one.bin", etag: '"e2"', versionId: "v-7" } as never,
      ],
    });
    expect(text).toContain(`  images  dataset://images/latest → dataset://images/v4  (file a.png, 3 B, datum://d1, sha256 ${"c".repeat(64)})\n`);
    expect(text).toContain(`  raw  s3://lake/sets/* → s3://lake/sets/x.txt  (file x.txt, ETag "e1", 5 B, sha256 ${"d".repeat(64)})\n`);
    // the same object as asked: no arrow; a version id pins it before the ETag
    expect(text).toContain(`  pinned  s3://lake/one.bin  (file one.bin, version v-7, 5 B, sha256 ${"e".repeat(64)})\n`);
  });

  it("a record with nothing recorded prints no block", () => {
    const text = renderExecution({ ...base, reproducibility: { ...recorded, fingerprint: null, seed: null, imageDigest: null } });
    expect(text).not.toContain("Reproducibility:");
  });
});
