/**
 * The vendored OpenLineage schema rejects what the spec forbids (so the stack test's "valid" means
 * something), and dataset naming by URI scheme.
 */
import { describe, expect, it } from "vitest";
import { externalDataset, OPENLINEAGE_SCHEMA_URL, VH_FACETS_SCHEMA } from "../../app/models/openlineage.js";
import { openLineageValidator } from "./validate.js";

const P = "https://vh.example/openlineage/vh/0.1.0";
const facet = (body: Record<string, unknown> = {}) => ({ _producer: P, _schemaURL: "https://openlineage.io/spec/facets/1-0-1/X.json#/$defs/X", ...body });

function goodEvent() {
  return {
    eventType: "COMPLETE",
    eventTime: "2026-12-02T10:00:00.123Z",
    producer: P,
    schemaURL: OPENLINEAGE_SCHEMA_URL,
    run: {
      runId: "0d6c1a4e-3b3f-4c8e-9d2a-1f0e5b7a9c11",
      facets: {
        parent: facet({ run: { runId: "6a3c1d2e-0b1f-4e8d-8c2a-2f0e5b7a9c12" }, job: { namespace: "vh://vh.example/p", name: "sweep/train" } }),
        nominalTime: facet({ nominalStartTime: "2026-12-02T09:59:00Z" }),
        errorMessage: facet({ message: "boom", programmingLanguage: "shell" }),
        vh_parameters: { _producer: P, _schemaURL: `${P}#/$defs/VhParametersRunFacet`, parameters: { epochs: 2 } },
      },
    },
    job: { namespace: "vh://vh.example/p", name: "train", facets: { jobType: facet({ processingType: "BATCH", integration: "VH", jobType: "STEP" }) } },
    inputs: [{ namespace: "s3://bucket", name: "a/b.csv", facets: { version: facet({ datasetVersion: "abc" }) }, inputFacets: {} }],
    outputs: [{ namespace: "vh://vh.example", name: "p/train/m.bin", facets: {}, outputFacets: { outputStatistics: facet({ size: 3, fileCount: 1 }) } }],
  };
}

describe("the vendored OpenLineage schema", () => {
  const v = openLineageValidator(VH_FACETS_SCHEMA as unknown as { $defs: Record<string, unknown> });

  it("accepts a well-formed RunEvent", () => {
    expect(v.problems(goodEvent())).toEqual([]);
  });

  it("rejects a facet without _producer", () => {
    const e = goodEvent();
    delete (e.run.facets.nominalTime as { _producer?: string })._producer;
    expect(v.problems(e).join("\n")).toMatch(/\/run\/facets\/nominalTime: must have required property '_producer'/);
  });

  it("rejects a custom facet without _schemaURL, and one that breaks its served definition", () => {
    const e = goodEvent();
    delete (e.run.facets.vh_parameters as { _schemaURL?: string })._schemaURL;
    expect(v.problems(e).join("\n")).toMatch(/vh_parameters: must have required property '_schemaURL'/);
    const f = goodEvent();
    (f.run.facets.vh_parameters as { parameters?: unknown }).parameters = "epochs=2";
    expect(v.problems(f).join("\n")).toMatch(/vh_parameters\/parameters: must be object/);
  });

  it("rejects a runId that is not a uuid, a time without an offset, an unknown eventType and a misspelt field", () => {
    const cases: [string, (e: ReturnType<typeof goodEvent>) => void, RegExp][] = [
      ["runId", (e) => (e.run.runId = "42"), /\/run\/runId: must match format "uuid"/],
      ["eventTime", (e) => (e.eventTime = "2026-12-02T10:00:00"), /\/eventTime: must match format "date-time"/],
      ["eventType", (e) => (e.eventType = "DONE"), /\/eventType: must be equal to one of the allowed values/],
      ["extra", (e) => Object.assign(e, { evenType: "START" }), /must NOT have unevaluated properties/],
      ["errorMessage", (e) => delete (e.run.facets.errorMessage as { programmingLanguage?: string }).programmingLanguage, /errorMessage: must have required property 'programmingLanguage'/],
      ["namespace", (e) => (e.inputs[0]!.namespace = ""), /\/inputs\/0\/namespace: must NOT have fewer than 1 characters/],
    ];
    for (const [what, spoil, message] of cases) {
      const e = goodEvent();
      spoil(e);
      expect(v.problems(e).join("\n"), what).toMatch(message);
    }
  });
});

describe("external datasets are named by their URI's scheme", () => {
  it("object stores: the bucket is the namespace, the key the name (a glob's folder plus the file)", () => {
    expect(externalDataset("s3://bucket/data/train.csv", "train.csv")).toEqual({ namespace: "s3://bucket", name: "data/train.csv" });
    expect(externalDataset("s3://bucket/data/*.csv", "b.csv")).toEqual({ namespace: "s3://bucket", name: "data/b.csv" });
    expect(externalDataset("gs://g/x", "x")).toEqual({ namespace: "gs://g", name: "x" });
  });

  it("HTTP: the origin is the namespace, the path the name; credentials and the query never appear", () => {
    expect(externalDataset("https://user:pw@data.example:8443/sets/a%20b.csv?X-Amz-Signature=secret#frag", "a b.csv")).toEqual({ namespace: "https://data.example:8443", name: "/sets/a b.csv" });
  });
});
