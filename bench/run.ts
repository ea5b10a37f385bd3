/**
 * `npm run bench -- NAME`: runs bench/NAME.ts's `run()` and prints its figures; the last line is one
 * JSON object {"bench": NAME, "figures": {...}}. Each bench measures vh against the raw engine in
 * the same run (ratios, not absolute timings, are what to compare across machines).
 *
 * `npm run bench -- --smoke [NAME…]` (or BENCH_SMOKE=1): every bench (or those named), each in its
 * own process with tiny sizes; fails when one throws, times out, or does not end with its figures
 * JSON (every figure a finite number). CI runs it so that no bench can rot.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const available = fs
  .readdirSync(here)
  .filter((f) => f.endsWith(".ts") && !["run.ts", "support.ts"].includes(f))
  .map((f) => f.slice(0, -3))
  .sort();

const args = process.argv.slice(2);
const smoke = args.includes("--smoke") || process.env["BENCH_SMOKE"] === "1";
const names = args.filter((a) => a !== "--smoke");
const unknown = names.filter((n) => !available.includes(n));
if (unknown.length > 0 || (!smoke && names.length !== 1)) {
  process.stderr.write(
    `${unknown.length ? `unknown bench: ${unknown.join(", ")}\n` : ""}usage: npm run bench -- NAME | npm run bench -- --smoke [NAME…]\nbenches: ${available.join(", ")}\n`,
  );
  process.exit(2);
}

if (smoke && (names.length !== 1 || process.env["BENCH_CHILD"] !== "1")) {
  process.exit(await runSmoke(names.length ? names : available));
}

const name = names[0]!;
const mod = (await import(pathToFileURL(path.join(here, `${name}.ts`)).href)) as { run(): Promise<Record<string, number>> };
const figures = await mod.run();
for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k.padEnd(28)} ${v}\n`);
process.stdout.write(JSON.stringify({ bench: name, figures }) + "\n");
process.exit(0);

/** What a bench's output must end with: its figures, every one a finite number. */
export function checkFigures(name: string, output: string): string | null {
  const last = output.trimEnd().split("\n").pop() ?? "";
  let parsed: unknown;
  try {
    parsed = JSON.parse(last);
  } catch {
    return `its last line is not the figures JSON: ${JSON.stringify(last.slice(0, 200))}`;
  }
  const p = parsed as { bench?: unknown; figures?: unknown };
  if (p.bench !== name) return `its figures name bench ${JSON.stringify(p.bench)}`;
  if (!p.figures || typeof p.figures !== "object" || Object.keys(p.figures).length === 0) return "it printed no figures";
  const bad = Object.entries(p.figures as Record<string, unknown>).filter(([, v]) => typeof v !== "number" || !Number.isFinite(v));
  if (bad.length) return `figures that are not finite numbers: ${bad.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}`;
  return null;
}

async function runSmoke(list: string[]): Promise<number> {
  const timeoutMs = Number(process.env["BENCH_SMOKE_TIMEOUT_S"] ?? 300) * 1000;
  const failed: string[] = [];
  for (const name of list) {
    const t0 = performance.now();
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "run.ts"), "--smoke", name], {
        env: { ...process.env, BENCH_SMOKE: "1", BENCH_CHILD: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
      const timer = setTimeout(() => {
        err += `\n(timed out after ${timeoutMs / 1000} s)`;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.on("close", (c) => {
        clearTimeout(timer);
        resolve({ code: c, output: out + (c === 0 ? "" : `\n--- stderr ---\n${err}`) });
      });
    });
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    const problem = code !== 0 ? `exited ${code}` : checkFigures(name, output);
    if (problem) {
      failed.push(name);
      process.stdout.write(`✗ ${name} (${seconds} s): ${problem}\n${output.trimEnd().split("\n").slice(-30).join("\n")}\n`);
    } else {
      const figures = (JSON.parse(output.trimEnd().split("\n").pop()!) as { figures: Record<string, number> }).figures;
      process.stdout.write(`✓ ${name} (${seconds} s) ${JSON.stringify(figures)}\n`);
    }
  }
  process.stdout.write(
    failed.length ? `bench smoke: ${failed.length} of ${list.length} benches failed (${failed.join(", ")})\n` : `bench smoke: all ${list.length} benches ran and printed their figures\n`,
  );
  return failed.length ? 1 : 0;
}
