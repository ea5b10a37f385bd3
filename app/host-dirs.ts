/**
 * Folders on this machine that other OS users must reach when vh runs as root: the embedded
 * Postgres (run as `postgres`) and the work dirs of jobs (each run as a user of its own). VH_DATA_DIR
 * stays private (mode 700: tokens, passwords, the store), so what those users need lives in a
 * vh-owned state directory instead — `/var/lib/vh`, or `<tmpdir>/vh-root` where that is not writable —
 * named after the data dir's real path (two data dirs never share one), and is linked from the data
 * dir under its usual name, so `ls $VH_DATA_DIR/runs` still shows it.
 *
 * vh sets the mode only of a folder it makes itself (`ensureDir`): one that was there already —
 * the system's temp dir with its sticky bit, a folder an admin made for vh — keeps its mode.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { VhError } from "./errors.js";

/**
 * Makes `dir` (and any missing folder above it) and gives `dir` exactly `mode` when vh made it now
 * (the umask may have taken bits away); a folder that already existed is left as it is. Returns
 * whether vh made it.
 */
export function ensureDir(dir: string, mode: number): boolean {
  if (fs.mkdirSync(dir, { recursive: true, mode }) === undefined) return false;
  fs.chmodSync(dir, mode);
  return true;
}

/**
 * `/var/lib/vh` when root can write there (it persists across reboots), else `<tmpdir>/vh-root`;
 * made mode 711 (an existing one keeps its mode).
 */
export function rootStateDir(candidates: string[] = ["/var/lib/vh", path.join(os.tmpdir(), "vh-root")]): string {
  for (const dir of candidates) {
    try {
      ensureDir(dir, 0o711);
      fs.accessSync(dir, fs.constants.W_OK);
      return dir;
    } catch {
      // try the next one
    }
  }
  throw new VhError("invalid_config", "Neither /var/lib/vh nor the temp directory is writable for vh's shared folders: run vh as a normal user or fix the permissions.");
}

/** The state-dir name of a data dir's folder `name`: `<name>-<16 hex of sha256(realpath(dataDir))>`. */
export function stateName(dataDir: string, name: string): string {
  return `${name}-${createHash("sha256").update(fs.realpathSync(dataDir)).digest("hex").slice(0, 16)}`;
}

/**
 * `<dataDir>/<name>` as a link to `<stateDir>/<name>-<hash>` (made with `mode`), returning the real
 * folder. An existing link is followed; an existing empty folder is replaced by the link; a folder
 * with content is refused (it would be silently ignored otherwise).
 */
export function linkedStateDir(dataDir: string, name: string, mode: number, stateDir: string = rootStateDir()): string {
  const link = path.join(dataDir, name);
  const st = fs.lstatSync(link, { throwIfNoEntry: false });
  if (st?.isSymbolicLink()) {
    const target = path.resolve(dataDir, fs.readlinkSync(link));
    fs.mkdirSync(target, { recursive: true, mode });
    return target;
  }
  if (st?.isDirectory()) {
    if (fs.readdirSync(link).length > 0) {
      throw new VhError(
        "invalid_config",
        `${link} holds files from an older vh, but as root vh keeps this folder in ${stateDir} so that other OS users can reach it. ` +
          `Move its contents to ${path.join(stateDir, stateName(dataDir, name))} (or remove it) and start again.`,
      );
    }
    fs.rmdirSync(link);
  } else if (st) {
    throw new VhError("invalid_config", `${link} is in the way (not a folder): move it away.`);
  }
  const target = path.join(stateDir, stateName(dataDir, name));
  ensureDir(target, mode);
  fs.symlinkSync(target, link);
  return target;
}
