/**
 * The import graph of vh's own source and the floor rules it must obey. Used by floors.test.ts;
 * docs/architecture.md is the prose version of FLOORS and RULES.
 */
import fs from "node:fs";
import path from "node:path";
import { init, parse } from "es-module-lexer";

export type Graph = Map<string, Set<string>>;

export interface Floor {
  name: string;
  rank: number;
  /** Paths (files, or folders ending in "/") relative to the repository root. */
  holds: string[];
}

/** Bottom to top. A file may import from its own floor and the floors below it, never above. */
export const FLOORS: Floor[] = [
  { name: "ground", rank: 0, holds: ["app/valohai/", "app/contracts/", "app/errors.ts", "app/config.ts", "app/log.ts", "app/host-dirs.ts"] },
  { name: "db", rank: 1, holds: ["db/"] },
  {
    name: "core",
    rank: 2,
    holds: ["app/executions/", "app/environments/", "app/inputs/", "app/sweeps/", "app/pipelines/", "app/models/", "app/hosts/", "app/reporting/", "app/snapshots/", "app/projects/", "app/auth/", "app/datasets/", "app/audit/"],
  },
  { name: "templates", rank: 3, holds: ["templates/"] },
  { name: "adapters", rank: 4, holds: ["app/bot/", "app/forges/", "app/http/", "app/cli/", "worker/"] },
  { name: "entry", rank: 5, holds: ["app/main.ts", "app/start.ts", "worker/main.ts"] },
];

const SOURCE_ROOTS = ["app", "worker", "db", "templates"];

export function floorOf(file: string): Floor | null {
  let best: { floor: Floor; len: number } | null = null;
  for (const floor of FLOORS) {
    for (const h of floor.holds) {
      const hit = h.endsWith("/") ? file.startsWith(h) : file === h;
      if (hit && (!best || h.length > best.len)) best = { floor, len: h.length };
    }
  }
  return best?.floor ?? null;
}

/** A folder of one pluggable adapter ("app/forges/github/"), or null. */
function pluginOf(file: string): { kind: string; folder: string } | null {
  for (const kind of ["app/forges/", "worker/runners/", "worker/compute/"]) {
    if (!file.startsWith(kind)) continue;
    const rest = file.slice(kind.length).split("/");
    if (rest.length > 1 && rest[0] !== "shared") return { kind, folder: kind + rest[0] + "/" };
  }
  return null;
}

/** Sideways rules between adapters (all on one floor), as [from prefix, forbidden prefix, why]. */
const SIDEWAYS: [string, string, string][] = [
  ["app/cli/", "worker/", "the CLI talks to the service over HTTP"],
  ["app/cli/", "app/http/", "the CLI talks to the service over HTTP"],
  ["app/cli/", "app/bot/", "the CLI talks to the service over HTTP"],
  ["app/cli/", "app/forges/", "the CLI talks to the service over HTTP"],
  ["app/bot/", "app/forges/", "the bot is forge-neutral: it sees forges through app/contracts/forge.ts"],
  ["app/bot/", "worker/", "the bot runs in a task; it does not know the worker"],
  ["app/bot/", "app/http/", "the bot does not know HTTP"],
  ["worker/", "app/http/", "the worker does not serve HTTP"],
  ["worker/", "app/cli/", "the worker does not use the CLI"],
  ["app/http/", "app/cli/", "the server does not use the CLI"],
  ["app/http/", "worker/", "the server asks for work through the queue (app/contracts/jobs.ts), not by calling the worker"],
  ["app/forges/", "app/http/", "a forge gives its routes to app/http, not the other way round"],
];

export interface Violation {
  from: string;
  to: string;
  rule: string;
}

export function violations(graph: Graph): Violation[] {
  const out: Violation[] = [];
  for (const [from, tos] of graph) {
    const ff = floorOf(from);
    for (const to of tos) {
      const tf = floorOf(to);
      if (!ff || !tf) continue;
      if (tf.rank > ff.rank) {
        out.push({ from, to, rule: `${ff.name} may not import ${tf.name} (a floor above it)` });
        continue;
      }
      if (ff.rank === 4 && tf.rank === 4) {
        for (const [a, b, why] of SIDEWAYS) {
          if (from.startsWith(a) && to.startsWith(b)) out.push({ from, to, rule: why });
        }
      }
      const plugin = pluginOf(to);
      if (plugin && !from.startsWith(plugin.folder) && from !== `${plugin.kind}registry.ts` && ff.rank < 5) {
        out.push({ from, to, rule: `${plugin.folder} is reached only through ${plugin.kind}registry.ts (adding one is adding a folder)` });
      }
    }
  }
  return out;
}

/** Every elementary cycle's representative (Tarjan's strongly connected components of size > 1, or a self-import). */
export function findCycles(graph: Graph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const nodes = new Set<string>([...graph.keys(), ...[...graph.values()].flatMap((s) => [...s])]);
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || graph.get(v)?.has(v)) out.push(comp.sort());
    }
  };
  for (const n of nodes) if (!idx.has(n)) visit(n);
  return out;
}

function listSources(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== "node_modules" && e.name !== "migrations") walk(r);
      } else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(r);
    }
  };
  for (const r of SOURCE_ROOTS) if (fs.existsSync(path.join(root, r))) walk(r);
  return out.sort();
}

function resolve(root: string, from: string, spec: string): string | null {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  const cands = [base.replace(/\.js$/, ".ts"), base, `${base}.ts`, `${base}/index.ts`];
  for (const c of cands) if (fs.existsSync(path.join(root, c)) && fs.statSync(path.join(root, c)).isFile()) return c;
  return null;
}

/** file → the files it imports (relative imports only; packages are not ours). Throws on an import that resolves to nothing. */
export async function importGraph(root: string): Promise<Graph> {
  await init;
  const graph: Graph = new Map();
  for (const file of listSources(root)) {
    const [imports] = parse(fs.readFileSync(path.join(root, file), "utf8"), file);
    const tos = new Set<string>();
    for (const i of imports) {
      const spec = i.specifier;
      if (!spec || !spec.startsWith(".")) continue;
      const to = resolve(root, file, spec);
      if (!to) throw new Error(`${file}: import "${spec}" resolves to no file`);
      if (to.endsWith(".ts") && SOURCE_ROOTS.some((r) => to.startsWith(`${r}/`))) tos.add(to);
    }
    graph.set(file, tos);
  }
  return graph;
}
