/**
 * `npm run bench -- NAME`: runs bench/NAME.ts's `run()` and prints its figures; the last line is one
 * JSON object {"bench": NAME, "figures": {...}}. Each bench measures vh against the raw engine in
 * the same run (ratios, not absolute timings, are what to compare across machines).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const available = fs
  .readdirSync(here)
  .filter((f) => f.endsWith(".ts") && !["run.ts", "support.ts"].includes(f))
  .map((f) => f.slice(0, -3))
  .sort();

const name = process.argv[2];
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- NAME\nbenches: ${available.join(", ")}\n`);
  process.exit(2);
}
const mod = (await import(pathToFileURL(path.join(here, `${name}.ts`)).href)) as { run(): Promise<Record<string, number>> };
const figures = await mod.run();
for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k.padEnd(28)} ${v}\n`);
process.stdout.write(JSON.stringify({ bench: name, figures }) + "\n");
process.exit(0);
