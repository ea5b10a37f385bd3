/**
 * Golden files for the template tests (test/templates/*). `expectGolden(file, text)` compares
 * `text` with the file, byte for byte:
 * - `UPDATE_GOLDEN=1 npx vitest run test/templates` rewrites every golden file (review the diff);
 * - a missing golden file fails under CI (`CI` set, as .ci/run does), so a golden file that was
 *   never committed cannot pass there; locally it is written, and the test says so on stderr.
 * `renderFunctionsOf(folder)` lists the render functions a template folder exports, so a test can
 * demand a golden case for each.
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { expect } from "vitest";

const truthy = (v: string | undefined) => v !== undefined && v !== "" && v !== "0" && v !== "false";

export function expectGolden(file: string, text: string): void {
  const rel = path.relative(process.cwd(), file);
  if (process.env["UPDATE_GOLDEN"] === "1") {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    process.stderr.write(`golden: rewrote ${rel} (UPDATE_GOLDEN=1)\n`);
    return;
  }
  if (!fs.existsSync(file)) {
    if (truthy(process.env["CI"])) {
      expect.fail(`The golden file ${rel} is missing. Run UPDATE_GOLDEN=1 npx vitest run test/templates locally, review it and commit it.`);
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    process.stderr.write(`golden: wrote the missing ${rel}; review it and commit it (under CI a missing golden file fails)\n`);
    return;
  }
  expect(text, `golden file ${rel} (UPDATE_GOLDEN=1 rewrites it)`).toBe(fs.readFileSync(file, "utf8"));
}

const root = path.resolve(import.meta.dirname, "../..");

/** The names of the functions called render… that the modules of `folder` (from the repository root, e.g. "templates/model") export. */
export async function renderFunctionsOf(folder: string): Promise<string[]> {
  const names = new Set<string>();
  for (const f of fs.readdirSync(path.join(root, folder)).filter((n) => n.endsWith(".ts"))) {
    const mod = (await import(pathToFileURL(path.join(root, folder, f)).href)) as Record<string, unknown>;
    for (const [k, v] of Object.entries(mod)) if (k.startsWith("render") && typeof v === "function") names.add(k);
  }
  return [...names].sort();
}
