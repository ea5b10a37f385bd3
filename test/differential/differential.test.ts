/**
 * Dev-only differential run against the Python reference (valohai-yaml builds commands,
 * valohai-cli/click types option values): runs only when VH_VALOHAI_ORACLE names a Python that can
 * import both (see README.md beside this file), and prints one line when skipped. The table tests
 * in test/valohai/command-classes.test.ts and test/cli/*.test.ts are what always run.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../app/cli/main.js";
import * as vh from "../../app/valohai/index.js";
import { locateCorpus } from "../valohai/helpers.js";

const PYTHON = process.env["VH_VALOHAI_ORACLE"];
const HERE = path.dirname(fileURLToPath(import.meta.url));
// The compatibility corpus is optional: VH_DIFFERENTIAL_CORPUS, else where the corpus suite finds it (VH_COMPAT_CORPUS or beside the clone).
const CORPUS = process.env["VH_DIFFERENTIAL_CORPUS"] ?? locateCorpus() ?? "";
const SEED = process.env["VH_DIFFERENTIAL_SEED"] ?? "1";
const SYNTHETIC = process.env["VH_DIFFERENTIAL_STEPS"] ?? "200";

if (!PYTHON) console.log("differential: skipped (set VH_VALOHAI_ORACLE=/path/to/python that imports valohai_yaml and valohai_cli)");
else if (!CORPUS) console.log("differential: no compatibility corpus (set VH_COMPAT_CORPUS): synthetic steps only");

type Tagged = unknown;
interface Case {
  id: number;
  kind: "lib" | "api" | "cli" | "fmt";
  src: string;
  yaml: string;
  step: string;
  values?: Record<string, Tagged>;
  valuesJson?: string;
  argv?: string[];
  items?: [string | null, Tagged][];
}
interface Result {
  id: number;
  ok: boolean;
  commands?: unknown[];
  parameters?: Record<string, unknown>;
  error?: string;
  message?: string;
}

/** The oracle's tagged values ({i: digits}, {f: repr}, {d: {...}}) as ours. */
function dec(v: Tagged): unknown {
  if (Array.isArray(v)) return v.map(dec);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if ("i" in o) return vh.pyInt(BigInt(o["i"] as string));
    if ("f" in o) {
      const s = o["f"] as string;
      return new vh.PyFloat(s === "inf" ? Infinity : s === "-inf" ? -Infinity : s === "nan" ? NaN : Number(s));
    }
    if ("d" in o) return Object.fromEntries(Object.entries(o["d"] as Record<string, Tagged>).map(([k, x]) => [k, dec(x)]));
  }
  return v;
}

/** Ours tagged like the oracle's, using each parameter's type for plain JSON numbers. */
function enc(v: unknown, type?: string): Tagged {
  if (Array.isArray(v)) return v.map((x) => enc(x, type));
  if (typeof v === "bigint") return { i: v.toString() };
  if (v instanceof vh.PyFloat) return { f: vh.pythonRepr(v) };
  if (typeof v === "number") return type === "float" || !Number.isInteger(v) ? { f: vh.pythonRepr(new vh.PyFloat(v)) } : { i: vh.pythonRepr(v) };
  if (type === "float" && typeof v === "string" && ["inf", "-inf", "nan", "-0.0"].includes(v)) return { f: v };
  return v;
}

function loadStep(c: Case): vh.Step {
  const { config, problems } = vh.loadValohaiYaml(c.yaml, { filename: "valohai.yaml" });
  if (!config) throw new Error(`load: ${problems.filter((p) => p.severity === "error").map((p) => p.message).join("; ")}`);
  return config.steps.get(c.step)!;
}

const base = fs.mkdtempSync(path.join(os.tmpdir(), "vh-differential-"));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
const dirs = new Map<string, string>();

async function ours(c: Case): Promise<Result> {
  try {
    if (c.kind === "fmt") {
      const out = c.items!.map(([spec, v]) => {
        try {
          return ["ok", spec === null ? vh.shlexQuote(v as string) : vh.formatValue(dec(v), spec)];
        } catch (err) {
          return ["err", (err as vh.PythonFormatError).pyType ?? "JS", (err as Error).message];
        }
      });
      return { id: c.id, ok: true, commands: out };
    }
    if (c.kind === "lib") {
      const step = loadStep(c);
      return { id: c.id, ok: true, commands: vh.buildCommandList(step, Object.fromEntries(Object.entries(c.values!).map(([k, v]) => [k, dec(v)]))) };
    }
    if (c.kind === "api") {
      const step = loadStep(c);
      const body = vh.parseJsonExact(`{"parameters": ${c.valuesJson}}`, { pyFloatsUnder: ["parameters"] }) as { parameters: Record<string, unknown> };
      const r = vh.validateParameterValues(step, body.parameters);
      if (r.errors.length) return { id: c.id, ok: false, error: "validate", message: r.errors.map((e) => e.message).join("\n") };
      return { id: c.id, ok: true, commands: vh.buildCommandList(step, r.values) };
    }
    let dir = dirs.get(c.yaml);
    if (!dir) {
      dir = fs.mkdtempSync(path.join(base, "p-"));
      fs.writeFileSync(path.join(dir, "valohai.yaml"), c.yaml);
      dirs.set(c.yaml, dir);
    }
    let stdout = "";
    let stderr = "";
    const code = await main(["exec", "run", "--dry-run", "--json", c.step, ...c.argv!], {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: { XDG_CONFIG_HOME: path.join(dir, ".config"), HOME: dir },
      cwd: dir,
      sleep: async () => {},
    });
    if (code !== 0) return { id: c.id, ok: false, error: `exit ${code}`, message: stderr };
    const plan = vh.parseJsonExact(stdout) as { commandList: string[]; parameters: Record<string, unknown> };
    const types = Object.fromEntries([...loadStep(c).parameters.values()].map((p) => [p.name, p.type]));
    const parameters = Object.fromEntries(Object.entries(plan.parameters).map(([k, v]) => [k, enc(v, types[k])]));
    return { id: c.id, ok: true, commands: plan.commandList, parameters };
  } catch (err) {
    return { id: c.id, ok: false, error: `throw:${(err as Error).name}`, message: (err as Error).message };
  }
}

/** None and [] mean "no value" in the request valohai-cli sends; vh leaves such entries out. */
function present(params: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params ?? {}).filter(([, v]) => v !== null && !(Array.isArray(v) && v.length === 0)));
}

/** Differences that are decisions, not bugs (see README.md). */
function intentional(c: Case, ref: Result, mine: Result): string | undefined {
  if (ref.ok && !mine.ok && /pass-as/.test(mine.message ?? "") && /load:|is invalid/.test(mine.message ?? "")) return "lint refuses a pass-as template Python fails on";
  if (ref.ok && !mine.ok && /Cannot read/.test(mine.message ?? "")) return "lint refuses the default file (its --yaml parameter then reads as vh's)";
  if (!ref.ok && mine.ok && (ref.error ?? "").startsWith("crash:")) return `the reference crashes (${ref.error})`;
  if (!ref.ok && mine.ok && c.kind === "api" && /not among the choices allowed \(\[True, False\]\)/.test(ref.message ?? "")) return "the API takes flag words (yes/true/1)";
  return undefined;
}

describe.skipIf(!PYTHON)("differential run against valohai-yaml and valohai-cli", () => {
  it("builds every command and types every value as the reference does", async () => {
    const gen = spawnSync(PYTHON!, [path.join(HERE, "gen.py"), SEED, SYNTHETIC, CORPUS && fs.existsSync(CORPUS) ? CORPUS : "", "300"], { encoding: "utf8", maxBuffer: 1 << 30 });
    expect(gen.status, gen.stderr).toBe(0);
    const oracle = spawnSync(PYTHON!, [path.join(HERE, "oracle.py")], { input: gen.stdout, encoding: "utf8", maxBuffer: 1 << 30 });
    expect(oracle.status, oracle.stderr).toBe(0);
    const cases = gen.stdout.trim().split("\n").map((l) => JSON.parse(l) as Case);
    const refs = new Map(oracle.stdout.trim().split("\n").map((l) => JSON.parse(l) as Result).map((r) => [r.id, r]));
    const classes = new Map<string, number>();
    const bugs: string[] = [];
    for (const c of cases) {
      const ref = refs.get(c.id)!;
      const mine = await ours(c);
      let why: string | undefined;
      if (ref.ok && mine.ok) {
        if (JSON.stringify(ref.commands) !== JSON.stringify(mine.commands)) why = "command differs";
        else if (c.kind === "cli" && JSON.stringify(present(ref.parameters)) !== JSON.stringify(present(mine.parameters))) {
          const a = present(ref.parameters);
          const b = present(mine.parameters);
          if (Object.keys(a).length !== Object.keys(b).length || Object.entries(a).some(([k, v]) => JSON.stringify(v) !== JSON.stringify(b[k]))) why = "parameter values differ";
        }
      } else if (ref.ok !== mine.ok) {
        const reason = intentional(c, ref, mine);
        if (reason) classes.set(reason, (classes.get(reason) ?? 0) + 1);
        else why = ref.ok ? "vh refuses what the reference runs" : "vh runs what the reference refuses";
      }
      if (why) bugs.push(`${why}: ${JSON.stringify({ case: c, ref, ours: mine }).slice(0, 2000)}`);
    }
    console.log(`differential: ${cases.length} cases, ${bugs.length} differences; intentional: ${JSON.stringify(Object.fromEntries(classes))}`);
    expect(bugs.slice(0, 5)).toEqual([]);
  }, 1_800_000);
});
