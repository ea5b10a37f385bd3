/**
 * Validates OpenLineage events with ajv (JSON Schema 2020-12, formats from ajv-formats) against the
 * schema vendored in test/fixtures/openlineage/ (written from the spec's field list) and, for vh's
 * custom facets, against the schema the server serves (app/models/openlineage.ts VH_FACETS_SCHEMA).
 */
import fs from "node:fs";
import path from "node:path";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

// ajv-formats is CommonJS (exports.default = the plugin): under NodeNext the default import is the module object.
type AddFormats = (ajv: Ajv2020) => Ajv2020;
const formatsModule = addFormatsModule as unknown as AddFormats & { default?: AddFormats };
const addFormats: AddFormats = formatsModule.default ?? formatsModule;

const schemaFile = path.resolve(import.meta.dirname, "../fixtures/openlineage/OpenLineage.json");

export function openLineageSchema(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(schemaFile, "utf8")) as Record<string, unknown>;
}

function compiler(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  addFormats(ajv);
  return ajv;
}

export interface Validator {
  /** The problems of one event (empty: valid), as "path: message". */
  problems(event: unknown): string[];
}

function describe(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message ?? e.keyword}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ""}`);
}

/** Checks every event against the OpenLineage schema; with `vhFacets`, each `vh_*` facet against its own definition too. */
export function openLineageValidator(vhFacets?: { $defs: Record<string, unknown> }): Validator {
  const ajv = compiler();
  const event: ValidateFunction = ajv.compile(openLineageSchema());
  const custom = new Map<string, ValidateFunction>();
  if (vhFacets) {
    const facetsAjv = compiler();
    const doc = { $id: "https://vh.test/facets.json", ...vhFacets };
    facetsAjv.addSchema(doc);
    for (const def of Object.keys(vhFacets.$defs)) custom.set(def, facetsAjv.getSchema(`https://vh.test/facets.json#/$defs/${def}`)!);
  }
  return {
    problems(e: unknown): string[] {
      const out = event(e) ? [] : describe(event.errors);
      if (!vhFacets) return out;
      // Every vh_ facet, wherever it sits, must match the definition its _schemaURL names.
      const visit = (v: unknown, at: string): void => {
        if (!v || typeof v !== "object") return;
        for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
          if (k.startsWith("vh_") && child && typeof child === "object") {
            const url = String((child as { _schemaURL?: unknown })._schemaURL ?? "");
            const def = /#\/\$defs\/(\w+)$/.exec(url)?.[1];
            const check = def ? custom.get(def) : undefined;
            if (!check) out.push(`${at}/${k}: _schemaURL ${url} names no definition of the served facets schema`);
            else if (!check(child)) out.push(...describe(check.errors).map((p) => `${at}/${k}${p}`));
          }
          visit(child, `${at}/${k}`);
        }
      };
      visit(e, "");
      return out;
    },
  };
}
