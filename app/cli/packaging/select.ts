/**
 * Which files of a directory go into an ad-hoc code package.
 *
 * Rules (stricter than valohai-cli's, spec §4.5, and deliberately simpler):
 * - If `<dir>/.vhignore` exists, only `.vhignore` files are read (from every folder);
 *   else if `<dir>/.gridignore` exists, only `.gridignore` files;
 *   else `.gitignore` and `.dockerignore` files (both, from every folder; a folder's
 *   `.dockerignore` rules come after its `.gitignore` rules, so they win on conflict).
 *   So a `.vhignore` replaces, not extends, the git rules: copy over the ones still wanted.
 * - Every ignore file uses gitignore syntax (matched by the `ignore` package, case-sensitive as
 *   git is on Linux) and applies relative to its own folder; a deeper file's rules come after its
 *   parents', so `!pattern` in a subfolder can re-include what a parent excluded. As in git, the
 *   contents of an excluded folder cannot be re-included (the folder is not even walked).
 * - Always left out, whatever the rules: `.git` (folder or file, at any depth) and `.vh` folders
 *   (our data dir). Nothing else is special: `node_modules/`, dot-files and dot-folders are
 *   packaged unless a rule excludes them (valohai-cli drops every dot-file in walk mode; we do not).
 * - Symlinks are never followed and never packaged (each one gives a warning); sockets, FIFOs and
 *   devices are skipped with a warning too. Empty folders are not packaged (as in git).
 */
import { readdirSync, readFileSync, type Dirent } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import ignore, { type Ignore } from "ignore";

export type IgnoreMode = "vhignore" | "gridignore" | "git";

export const IGNORE_FILES: Record<IgnoreMode, readonly string[]> = {
  vhignore: [".vhignore"],
  gridignore: [".gridignore"],
  git: [".gitignore", ".dockerignore"],
};

export interface Selection {
  mode: IgnoreMode;
  /** Relative, slash-separated paths of the regular files to package, sorted. */
  files: string[];
  warnings: string[];
}

interface Level {
  /** Folder the rules belong to, relative to the root ("" for the root itself). */
  base: string;
  ig: Ignore;
}

export async function ignoreModeOf(root: string): Promise<IgnoreMode> {
  for (const mode of ["vhignore", "gridignore"] as const) {
    const st = await fs.lstat(path.join(root, IGNORE_FILES[mode][0] ?? "")).catch(() => null);
    if (st?.isFile()) return mode;
  }
  return "git";
}

/** Walks `root` and returns the files the ignore rules let through. */
export async function selectFiles(root: string): Promise<Selection> {
  const mode = await ignoreModeOf(root);
  const files: string[] = [];
  const warnings: string[] = [];
  let walked = 0;

  async function walk(relDir: string, parentLevels: Level[]): Promise<void> {
    // Synchronous reads, a yield to the event loop every 64 folders: one thread-pool round trip
    // per folder made the walk mostly waiting.
    const entries: Dirent[] = readdirSync(relDir === "" ? root : path.join(root, relDir), { withFileTypes: true });
    if (++walked % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let levels = parentLevels;
    const rules: string[] = [];
    for (const name of IGNORE_FILES[mode]) {
      if (entries.some((e) => e.name === name && e.isFile())) {
        // one pattern per line: `ignore` reads each array element as a single pattern
        rules.push(...readFileSync(path.join(root, relDir, name), "utf8").split(/\r?\n/));
      }
    }
    if (rules.length > 0) levels = [...parentLevels, { base: relDir, ig: ignore({ ignorecase: false }).add(rules) }];
    for (const entry of entries) {
      const rel = relDir === "" ? entry.name : `${relDir}/${entry.name}`;
      if (entry.name === ".git") continue;
      if (entry.name === ".vh" && entry.isDirectory()) continue;
      const isDir = entry.isDirectory();
      if (isIgnored(rel, isDir, levels)) continue;
      if (entry.isSymbolicLink()) {
        warnings.push(`Skipped the symlink ${rel}: symlinks are not packaged (copy the file in, or ignore the link).`);
      } else if (isDir) {
        await walk(rel, levels);
      } else if (entry.isFile()) {
        files.push(rel);
      } else {
        warnings.push(`Skipped ${rel}: not a regular file (socket, FIFO or device).`);
      }
    }
  }

  await walk("", []);
  files.sort(comparePaths);
  return { mode, files, warnings };
}

/**
 * Git's precedence: rules are checked from the root's file down to the deepest one, and the last
 * rule that matches decides, whether it excludes or (with `!`) re-includes.
 */
function isIgnored(rel: string, isDir: boolean, levels: readonly Level[]): boolean {
  let ignored = false;
  for (const { base, ig } of levels) {
    const sub = base === "" ? rel : rel.slice(base.length + 1);
    const result = ig.test(isDir ? `${sub}/` : sub);
    if (result.ignored) ignored = true;
    else if (result.unignored) ignored = false;
  }
  return ignored;
}

/** Plain code-unit order: fixed, locale-independent, the order files are added to the tarball. */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
