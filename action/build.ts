/**
 * Builds the Action's one bundle, action/dist/index.js (action.yml's `main:` and `post:`), with
 * esbuild and pinned options, so the same sources and lockfile give the same bytes:
 *
 *   npm run build:action            writes action/dist/
 *   npm run build:action -- --check  builds in memory and fails, naming the files, when the
 *                                    committed action/dist differs (CI runs this: .ci/run)
 *
 * It also fails when the bundle reaches what the Action must not import: the server's adapters,
 * the worker, the bot, the forges or the database (the Action is a REST client, like the CLI).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type BuildOptions, type Metafile } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DIST = "action/dist";

/** Where the bundle may not reach (paths relative to the repository root). */
export const FORBIDDEN = ["app/http/", "app/bot/", "app/forges/", "worker/", "db/"];

export const OPTIONS = {
  absWorkingDir: root,
  entryPoints: ["action/src/run.ts"],
  outfile: `${DIST}/index.js`,
  bundle: true,
  platform: "node",
  // Runners run it on Node 24 (action.yml `using: node24`); Node 20 is the floor this repository supports.
  target: "node20",
  // @actions/core is ESM only; the CommonJS packages in the bundle get a `require` of their own.
  format: "esm",
  banner: { js: 'import { createRequire as __vhCreateRequire } from "node:module";\nconst require = __vhCreateRequire(import.meta.url);' },
  legalComments: "eof",
  sourcemap: false,
  minify: false,
  treeShaking: true,
  charset: "utf8",
  logLevel: "warning",
  metafile: true,
  write: false,
} satisfies BuildOptions;

/** Next to the bundle: it is an ES module wherever action/ is copied. */
const PACKAGE_JSON = `${JSON.stringify({ type: "module", private: true }, null, 2)}\n`;

export async function buildAction(): Promise<{ files: Map<string, Buffer>; inputs: string[] }> {
  const result = await build(OPTIONS);
  const files = new Map<string, Buffer>();
  for (const f of result.outputFiles) files.set(path.relative(root, f.path), Buffer.from(f.contents));
  files.set(`${DIST}/package.json`, Buffer.from(PACKAGE_JSON));
  return { files, inputs: Object.keys((result.metafile as Metafile).inputs) };
}

export function forbiddenInputs(inputs: string[]): string[] {
  return inputs.filter((i) => FORBIDDEN.some((f) => i.startsWith(f)));
}

async function cli(argv: string[]): Promise<number> {
  const check = argv.includes("--check");
  const { files, inputs } = await buildAction();
  const bad = forbiddenInputs(inputs);
  if (bad.length) {
    process.stderr.write(`The Action's bundle reaches code it must not import (it is a REST client):\n${bad.map((b) => `  ${b}`).join("\n")}\n`);
    return 1;
  }
  if (!check) {
    fs.rmSync(path.join(root, DIST), { recursive: true, force: true });
    for (const [rel, bytes] of files) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), bytes);
    }
    process.stdout.write(`Wrote ${[...files.keys()].join(", ")} (${files.get(`${DIST}/index.js`)!.length} bytes).\n`);
    return 0;
  }
  const onDisk = fs.existsSync(path.join(root, DIST)) ? fs.readdirSync(path.join(root, DIST)).map((f) => `${DIST}/${f}`) : [];
  const differ = [...files].filter(([rel, bytes]) => !fs.existsSync(path.join(root, rel)) || !fs.readFileSync(path.join(root, rel)).equals(bytes)).map(([rel]) => rel);
  const extra = onDisk.filter((f) => !files.has(f));
  if (differ.length || extra.length) {
    process.stderr.write(
      `action/dist is not what its sources build: ${[...differ, ...extra.map((e) => `${e} (not built)`)].join(", ")}.\n` +
        "Run `npm run build:action` and commit action/dist (the Action runs the committed bundle).\n",
    );
    return 1;
  }
  process.stdout.write("action/dist is up to date.\n");
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await cli(process.argv.slice(2));
}
