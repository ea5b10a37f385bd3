/**
 * The house's floors, checked from the import graph (docs/architecture.md draws them). Every
 * relative import of every source file under app/, worker/, db/ and templates/ is read with
 * es-module-lexer (type-only imports count: a type is a dependency too) and resolved to a file;
 * then: no cycles, and no edge from a floor to one above it. A rule broken names the file and
 * the import, so the fix is obvious.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { floorOf, importGraph, findCycles, violations, FLOORS } from "./graph.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe("the house's floors", async () => {
  const graph = await importGraph(root);

  it("reads the whole tree (every source file is on a floor)", () => {
    expect(graph.size).toBeGreaterThan(150);
    const unplaced = [...graph.keys()].filter((f) => floorOf(f) === null);
    expect(unplaced).toEqual([]);
  });

  it("has no import cycles", () => {
    expect(findCycles(graph).map((c) => c.join(" → "))).toEqual([]);
  });

  it("has no upward or sideways edge the rules forbid", () => {
    expect(violations(graph).map((v) => `${v.from} imports ${v.to}: ${v.rule}`)).toEqual([]);
  });

  it("keeps app/valohai/ pure: it imports only itself and app/errors.ts", () => {
    const out = [...graph].flatMap(([from, tos]) =>
      from.startsWith("app/valohai/") ? [...tos].filter((t) => !t.startsWith("app/valohai/") && t !== "app/errors.ts").map((t) => `${from} → ${t}`) : [],
    );
    expect(out).toEqual([]);
  });

  it("no SQL outside a forge's folder names a forge: tables and sources are keyed by the forge, which is a value", () => {
    // Tables of a forge's own (github_installations, git_repositories) and literal forge kinds in
    // SQL belong in that forge's folder; everything else filters by `forge = ${kind}`.
    const named = /\b(?:from|join|into|update|table)\s+"?(github|gitlab|git)_\w+|'(github|gitlab|git)'|->>'kind'\s*=\s*'(github|gitlab|git)'/gi;
    const out: string[] = [];
    for (const file of graph.keys()) {
      if (file.startsWith("app/forges/") && !file.startsWith("app/forges/registry")) continue;
      const text = fs.readFileSync(path.join(root, file), "utf8");
      for (const m of text.matchAll(/`[^`]*`/g)) {
        for (const hit of m[0].matchAll(named)) out.push(`${file}: ${hit[0]}`);
      }
    }
    expect(out).toEqual([]);
  });

  const doc = fs.readFileSync(path.join(root, "docs/architecture.md"), "utf8");

  it("docs/architecture.md names every floor and every folder under app/ and worker/, and only paths that exist", () => {
    for (const f of FLOORS) expect(doc, `docs/architecture.md names floor "${f.name}"`).toContain(`**${f.name}**`);
    const folders = ["app", "worker"].flatMap((top) =>
      fs.readdirSync(path.join(root, top), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `${top}/${d.name}/`),
    );
    expect(folders.filter((f) => !doc.includes(`\`${f}\``))).toEqual([]);
    const mentioned = [...doc.matchAll(/`((?:app|worker|db|templates|test|bench)\/[^`\s]*)`/g)].map((m) => m[1]!.replace(/[{<].*$/, ""));
    expect(mentioned.length).toBeGreaterThan(30);
    expect(mentioned.filter((p) => !fs.existsSync(path.join(root, p)))).toEqual([]);
  });

  it("the docs (README.md, docs/, every readme.md) name only source paths that exist", () => {
    const docs = ["README.md", ...fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
    for (const top of ["app", "worker", "db", "templates"]) {
      for (const f of fs.readdirSync(path.join(root, top), { recursive: true, encoding: "utf8" })) if (f.endsWith("readme.md")) docs.push(`${top}/${f}`);
    }
    const missing: string[] = [];
    for (const d of docs) {
      const text = fs.readFileSync(path.join(root, d), "utf8");
      for (const m of text.matchAll(/(?<![\w./-])((?:app|worker|db|templates|test|bench)\/[A-Za-z0-9_./-]*[A-Za-z0-9_/])/g)) {
        const p = m[1]!;
        if (!fs.existsSync(path.join(root, p))) missing.push(`${d}: ${p}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("every adapter folder has a readme.md saying its contract", () => {
    const plugins = ["app/forges", "worker/runners"].flatMap((k) =>
      fs.readdirSync(path.join(root, k), { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== "shared").map((d) => `${k}/${d.name}`),
    );
    const adapters = ["app/bot", "app/forges", "app/http", "app/cli", "templates", "db/queries", ...["tasks", "scheduler", "supervisor", "hosts", "runners", "stores"].map((w) => `worker/${w}`), ...plugins];
    expect(adapters.filter((a) => !fs.existsSync(path.join(root, a, "readme.md")))).toEqual([]);
  });
});

describe("the checker itself", () => {
  it("finds a cycle and an upward edge in a made-up graph", () => {
    const g = new Map<string, Set<string>>([
      ["app/executions/a.ts", new Set(["worker/scheduler/b.ts"])],
      ["worker/scheduler/b.ts", new Set(["app/executions/a.ts"])],
      ["app/valohai/x.ts", new Set(["db/client.ts"])],
    ]);
    expect(findCycles(g).length).toBe(1);
    const v = violations(g).map((x) => `${x.from}→${x.to}`);
    expect(v).toContain("app/executions/a.ts→worker/scheduler/b.ts");
    expect(v).toContain("app/valohai/x.ts→db/client.ts");
    expect(v).not.toContain("worker/scheduler/b.ts→app/executions/a.ts");
  });
});
