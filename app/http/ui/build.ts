/**
 * Builds the UI's client bundle (`client/main.ts` and `client/app.css`, with uPlot) into
 * `app/http/ui/dist/` (git-ignored) with esbuild. Runs on `npm install` (postinstall) and before
 * `npm start` (prestart), and from the browser tests, so what is served is what the sources say.
 * `tsx app/http/ui/build.ts` builds; `--check` only says whether the bundle is missing or older
 * than a source.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const CLIENT_DIR = path.join(here, "client");
export const BUNDLE_DIR = path.join(here, "dist");
export const BUNDLE_FILES = ["app.js", "app.css"] as const;

/** Builds both files; minified, with no source maps (what is served is small). */
export async function buildUiBundle(outDir = BUNDLE_DIR): Promise<void> {
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: { app: path.join(CLIENT_DIR, "main.ts") },
    bundle: true,
    minify: true,
    format: "iife",
    target: ["es2020"],
    outdir: outDir,
    logLevel: "warning",
    legalComments: "none",
  });
  await esbuild.build({
    entryPoints: { app: path.join(CLIENT_DIR, "app.css") },
    bundle: true,
    minify: true,
    outdir: outDir,
    logLevel: "warning",
  });
}

/** True when a bundle file is missing or older than a client source. */
export function bundleIsStale(outDir = BUNDLE_DIR): boolean {
  const built = BUNDLE_FILES.map((f) => path.join(outDir, f));
  if (!built.every((f) => fs.existsSync(f))) return true;
  const oldest = Math.min(...built.map((f) => fs.statSync(f).mtimeMs));
  const sources = fs.readdirSync(CLIENT_DIR).map((f) => path.join(CLIENT_DIR, f));
  return sources.some((f) => fs.statSync(f).mtimeMs > oldest);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--check")) {
    const stale = bundleIsStale();
    console.log(stale ? "the UI bundle is missing or stale: npm run build:ui" : "the UI bundle is up to date");
    process.exit(stale ? 1 : 0);
  }
  await buildUiBundle();
}
