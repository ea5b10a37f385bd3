import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  buildCommandList,
  CommandBuildError,
  lintValohaiYaml,
  loadValohaiYaml,
  parseDuration,
  pythonStr,
  shlexQuote,
  validateParameterValue,
  type Parameter,
} from "../../app/valohai/index.js";

function checkResult(text: string, requireLocations: boolean): void {
  const r = loadValohaiYaml(text, { filename: "f.yaml" });
  const hasError = r.problems.some((p) => p.severity === "error");
  expect(r.config === null).toBe(hasError);
  for (const p of r.problems) {
    expect(typeof p.message).toBe("string");
    expect(p.message.length).toBeGreaterThan(0);
    if (requireLocations) {
      expect(p.line, p.message).toBeTypeOf("number");
      expect(p.column, p.message).toBeTypeOf("number");
    }
  }
  if (!r.config) return;
  for (const step of r.config.steps.values()) {
    try {
      buildCommandList(step, {});
    } catch (err) {
      if (!(err instanceof CommandBuildError)) throw err;
    }
  }
}

const YAML_CHARS = [..."- :{}[],'\"!&*#|>?%@`\n\n\n  \tabcxyz019.e+_~=<"];
const yamlish = fc.array(fc.constantFrom(...YAML_CHARS, "step", "name", "pipeline", "command", "parameters", "- step:\n    ", "\n  - "), { maxLength: 60 }).map((a) => a.join(""));

const KEYS = [
  "name", "image", "command", "parameters", "inputs", "type", "default", "optional", "pass-as", "pass-true-as", "pass-false-as", "multiple",
  "multiple-separator", "min", "max", "choices", "time-limit", "no-output-timeout", "mounts", "resources", "environment-variables",
  "nodes", "edges", "override", "step", "task", "source", "target", "targets", "actions", "when", "then", "stop-condition",
  "runtime-config-preset", "environment", "keep-directories", "filename", "style", "rules", "parameter-sets", "server-command", "wsgi", "port",
  "defaults", "on-error", "edge-merge-mode", "cpu", "memory", "devices", "source-path", "upload-store", "widget",
];
const SCALARS = fc.oneof(
  fc.constantFrom("string", "integer", "float", "flag", "repeat", "separate", "execution", "task", "deployment", "train", "a.output.*", "b.input.x", "1h 30m", "300", "x > 1", "--{name}={v}", "{v:.2f}", "{nope}", "/a:/b", "", "grid_search", "yes", "1e-4"),
  fc.integer({ min: -5, max: 100000 }),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
);
const { value: structured } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, SCALARS, tie("list"), tie("object")),
  list: fc.array(tie("value"), { maxLength: 3 }),
  object: fc.dictionary(fc.constantFrom(...KEYS), tie("value"), { maxKeys: 5 }),
}));
const documents = fc.array(
  fc.record({ kind: fc.constantFrom("step", "pipeline", "task", "endpoint", "deployment", "other"), body: structured }),
  { maxLength: 3 },
).map((items) => items.map(({ kind, body }) => ({ [kind]: body })));

const stepDocuments = fc
  .record({
    name: fc.constantFrom("train", "prep"),
    parameters: fc.array(
      fc.record(
        {
          name: fc.constantFrom("a", "b", "lr", "my param"),
          type: fc.constantFrom("string", "integer", "float", "flag"),
          default: SCALARS,
          optional: fc.boolean(),
          multiple: fc.constantFrom("none", "repeat", "separate"),
          "pass-as": fc.constantFrom("--{name}={v}", "-x {v}", "{v:.3f}", "{value!r}", "--{name}"),
          min: fc.integer({ min: -3, max: 3 }),
        },
        { requiredKeys: ["name"] },
      ),
      { maxLength: 4 },
    ),
  })
  .map(({ name, parameters }) => [{ step: { name, image: "busybox", command: ["python x.py {parameters}", "echo {parameter:a} {parameter-value:lr}"], parameters } }]);

describe("the loader never crashes (property-based, 100k+ inputs)", () => {
  it("random YAML-ish text", () => {
    fc.assert(fc.property(yamlish, (text) => checkResult(text, false)), { numRuns: 55_000 });
  });

  it("random documents built from valohai.yaml keys", () => {
    fc.assert(fc.property(documents, (doc) => checkResult(stringify(doc), true)), { numRuns: 20_000 });
  });

  it("random steps: lint, validate and build commands", () => {
    fc.assert(
      fc.property(stepDocuments, fc.dictionary(fc.constantFrom("a", "b", "lr", "my param"), SCALARS), (doc, values) => {
        const text = stringify(doc);
        expect(() => lintValohaiYaml(text)).not.toThrow();
        const r = loadValohaiYaml(text);
        if (!r.config) return;
        for (const step of r.config.steps.values()) {
          for (const [k, v] of Object.entries(values)) {
            const p = step.parameters.get(k);
            if (p) validateParameterValue(p, v);
          }
          try {
            buildCommandList(step, values);
          } catch (err) {
            if (!(err instanceof CommandBuildError)) throw err;
          }
        }
      }),
      { numRuns: 10_000 },
    );
  });

  it("random values for parameters of every type", () => {
    const param = fc.record({
      name: fc.constant("p"),
      type: fc.constantFrom("string", "integer", "float", "flag") as fc.Arbitrary<Parameter["type"]>,
      typeDeclared: fc.boolean(),
      optional: fc.boolean(),
      multiple: fc.constantFrom("none", "repeat", "separate") as fc.Arbitrary<Parameter["multiple"]>,
      multipleSeparator: fc.constant(","),
    });
    fc.assert(
      fc.property(param, fc.oneof(SCALARS, fc.array(SCALARS, { maxLength: 3 })), (p, v) => {
        const r = validateParameterValue(p, v);
        if (!r.ok) expect(r.message.length).toBeGreaterThan(0);
        expect(typeof pythonStr(v)).toBe("string");
        parseDuration(v);
      }),
      { numRuns: 20_000 },
    );
  });
});

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Runs `/bin/sh -c "printf '%s\0' <quoted args>"` and returns what the shell saw. */
function shellRoundTrip(strings: string[]): string[] {
  const script = `printf '%s\\0' ${strings.map(shlexQuote).join(" ")}`;
  const out = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (out.status !== 0) throw new Error(out.stderr);
  return out.stdout.split("\0").slice(0, -1);
}

describe("shlexQuote round-trips through /bin/sh", () => {
  const interesting = ["", "'", '"', "''", "a b", "$HOME", "`id`", "\\", "\n", "a\nb", "ä", "日本語", "🙂", "--x=1", "-", "*", "?", "~", "#", "!", "$(x)", "a'b\"c", "\t"];
  it("hand-picked strings", () => {
    expect(shellRoundTrip(interesting)).toEqual(interesting);
  });

  it("2,000 random strings incl. unicode, quotes, newlines and empty", () => {
    const arb = fc
      .oneof(
        fc.string({ unit: "binary", maxLength: 20 }),
        fc.string({ unit: fc.constantFrom(..."'\"\\$`! \n\t*?[]{}()<>|&;#~=%@,.:/-_aZ9ä日"), maxLength: 20 }),
        fc.constant(""),
      )
      .filter((s) => !s.includes("\0") && !LONE_SURROGATE.test(s));
    const samples = fc.sample(arb, { numRuns: 2_000, seed: 42 });
    for (let i = 0; i < samples.length; i += 250) {
      const batch = samples.slice(i, i + 250);
      expect(shellRoundTrip(batch)).toEqual(batch);
    }
    expect(samples.length).toBe(2_000);
  });
});
