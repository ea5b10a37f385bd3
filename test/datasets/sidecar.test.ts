/** `dataset://` URIs and the reading of `valohai.dataset-versions` sidecar values (pure). */
import { describe, expect, it } from "vitest";
import { parseDatasetUri } from "../../app/datasets/uri.js";
import { planVersions, type OutputDatum } from "../../app/datasets/outputs.js";

const datum = (name: string, versions: unknown): OutputDatum => ({ id: `id-${name}`, name, sha256: `sha-${name}`, size: name.length, metadata: { "valohai.dataset-versions": versions } });

describe("dataset URIs", () => {
  it("reads a version, latest, and no version as latest", () => {
    expect(parseDatasetUri("dataset://images/2026-11")).toEqual({ ref: { dataset: "images", version: "2026-11" } });
    expect(parseDatasetUri("dataset://images/latest")).toEqual({ ref: { dataset: "images", version: null } });
    expect(parseDatasetUri("dataset://images/")).toEqual({ ref: { dataset: "images", version: null } });
    expect(parseDatasetUri("dataset://images")).toEqual({ ref: { dataset: "images", version: null } });
  });
  it("says what is wrong with a bad one", () => {
    expect(parseDatasetUri("dataset://images/a/b")).toEqual({ error: '"dataset://images/a/b" is not a dataset URI; write dataset://NAME/VERSION or dataset://NAME/latest.' });
    expect(parseDatasetUri("dataset://")).toEqual({ error: '"dataset://": "" is not a dataset name: use letters, digits, ".", "_" and "-" (at most 128, starting with a letter or digit).' });
    expect(parseDatasetUri("dataset://im ages/v1")).toMatchObject({ error: expect.stringContaining('"im ages" is not a dataset name') });
    expect(parseDatasetUri("dataset://images/{parameter:x}")).toMatchObject({ error: expect.stringContaining('"{parameter:x}" is not a version name') });
  });
});

describe("valohai.dataset-versions in outputs", () => {
  it("gathers every file naming one version into it, merging their options", () => {
    const { versions, warnings } = planVersions([
      datum("b.txt", [{ uri: "dataset://d/v1", exclude: ["old.txt"], targeting_aliases: ["prod"] }]),
      datum("a.txt", "dataset://d/v1"),
      datum("c.txt", [{ uri: "dataset://d/v1", exclude: ["older.txt"], from: "dataset://d/v0" }, "dataset://e/x"]),
      { id: "id-n", name: "n.txt", sha256: "s", size: 1, metadata: { other: 1 } },
    ]);
    expect(warnings).toEqual([]);
    expect(versions).toEqual([
      {
        dataset: "d",
        version: "v1",
        from: "dataset://d/v0",
        startFresh: false,
        exclude: ["old.txt", "older.txt"],
        aliases: ["prod"],
        files: ["a.txt", "b.txt", "c.txt"].map((n) => ({ path: n, datumId: `id-${n}`, sha256: `sha-${n}`, size: 5 })),
      },
      { dataset: "e", version: "x", from: null, startFresh: false, exclude: [], aliases: [], files: [{ path: "c.txt", datumId: "id-c.txt", sha256: "sha-c.txt", size: 5 }] },
    ]);
  });

  it("warns about each bad entry, naming the file, and keeps the good ones", () => {
    const { versions, warnings } = planVersions([
      datum("a.txt", [
        "dataset://d/latest",
        { uri: "dataset://d/v1", exclude: "x" },
        { uri: "dataset://d/v1", start_fresh: "yes" },
        { uri: "dataset://d/v1", targeting_aliases: ["latest"] },
        { model_uri: "model://m/" },
        "dataset://d/v2",
      ]),
      datum("b.txt", [{ uri: "dataset://d/v2", from: "dataset://d/v0" }]),
      datum("c.txt", [{ uri: "dataset://d/v2", from: "dataset://d/v9", start_fresh: true }]),
    ]);
    expect(warnings).toEqual([
      'a.txt: valohai.dataset-versions: "dataset://d/latest" names no version to create; write dataset://d/VERSION. Ignored.',
      'a.txt: valohai.dataset-versions "dataset://d/v1": "exclude" must be a list of paths. Ignored.',
      'a.txt: valohai.dataset-versions "dataset://d/v1": "start_fresh" must be true or false, not "yes". Ignored.',
      'a.txt: valohai.dataset-versions "dataset://d/v1": targeting_aliases: "latest" cannot be an alias name: dataset://NAME/latest always means the newest version. Ignored.',
      'a.txt: valohai.dataset-versions entries must be "dataset://NAME/VERSION" or {"uri": "dataset://NAME/VERSION", …}; ignored {"model_uri":"model://m/"}.',
      'c.txt: valohai.dataset-versions "dataset://d/v2": "from" "dataset://d/v9" differs from "dataset://d/v0" given by another file; "dataset://d/v0" is used.',
      'valohai.dataset-versions "dataset://d/v2": "start_fresh" is true, so "from" "dataset://d/v0" is not used.',
    ]);
    expect(versions.map((v) => [v.version, v.files.map((f) => f.path), v.startFresh])).toEqual([["v2", ["a.txt", "b.txt", "c.txt"], true]]);
  });
});
