/**
 * How a vh server started on this machine (`npm start`) tells the `vh` CLI where it is: one entry
 * per running server, `<config dir>/local-servers/<key>.json` = `{url, tokenFile, dataDir, pid,
 * startedAt}` (mode 600), the key a hash of the data dir and the URL, so servers with different
 * data dirs (or ports) never share an entry. app/start.ts writes its entry when it listens and
 * removes it when it stops (only its own: the file must still name its pid, data dir and URL);
 * app/cli/config.ts reads them all and picks one.
 *
 * The single pointer of earlier versions, `<config dir>/local-server.json` (`{url, tokenFile, pid}`),
 * is still read, never written. An entry whose process is gone is ignored (the CLI deletes
 * nothing); a server starting on a data dir removes the entries of that data dir's dead servers.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";

export const LocalServerEntry = z.object({
  url: z.string(),
  tokenFile: z.string(),
  dataDir: z.string(),
  pid: z.number().int().positive(),
  startedAt: z.string(),
});
export type LocalServerEntry = z.infer<typeof LocalServerEntry>;

/** The pointer of earlier versions: one server only, no data dir. */
const LegacyPointer = z.object({ url: z.string(), tokenFile: z.string(), pid: z.number().int().positive().optional() });

/** A server found on this machine; `dataDir` is null for one found through the old single pointer. */
export interface LocalServer {
  url: string;
  tokenFile: string;
  dataDir: string | null;
  pid: number | null;
  startedAt: string | null;
  /** The file it was read from. */
  file: string;
}

export function localServersDir(configDir: string): string {
  return path.join(configDir, "local-servers");
}

export function legacyPointerPath(configDir: string): string {
  return path.join(configDir, "local-server.json");
}

/** `<config dir>/local-servers/<16 hex of sha256(data dir, URL)>.json`. */
export function localServerFile(configDir: string, dataDir: string, url: string): string {
  const key = createHash("sha256").update(`${path.resolve(dataDir)}\n${url}`).digest("hex").slice(0, 16);
  return path.join(localServersDir(configDir), `${key}.json`);
}

/** Whether a process with this id exists (one of another user's counts: EPERM). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readEntryFile(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    // gone, half-written or not JSON: not a server
    return undefined;
  }
}

/** Every entry in the folder that parses, alive or not, sorted by file name. */
function entries(configDir: string): { file: string; entry: LocalServerEntry }[] {
  const dir = localServersDir(configDir);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith(".json")).sort();
  } catch {
    return [];
  }
  const out: { file: string; entry: LocalServerEntry }[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const parsed = LocalServerEntry.safeParse(readEntryFile(file));
    if (parsed.success) out.push({ file, entry: parsed.data });
  }
  return out;
}

/**
 * The servers running on this machine as their entries say: those of the folder whose process is
 * alive, then the old single pointer's server (when its process is alive or it names none) unless
 * an entry has its URL already.
 */
export function runningLocalServers(configDir: string, alive: (pid: number) => boolean = pidAlive): LocalServer[] {
  const out: LocalServer[] = entries(configDir)
    .filter(({ entry }) => alive(entry.pid))
    .map(({ file, entry }) => ({ ...entry, file }));
  const legacyFile = legacyPointerPath(configDir);
  const legacy = LegacyPointer.safeParse(readEntryFile(legacyFile));
  if (legacy.success && (legacy.data.pid === undefined || alive(legacy.data.pid)) && !out.some((s) => s.url === legacy.data.url)) {
    out.push({ url: legacy.data.url, tokenFile: legacy.data.tokenFile, dataDir: null, pid: legacy.data.pid ?? null, startedAt: null, file: legacyFile });
  }
  return out;
}

/**
 * Writes this server's entry (mode 600, atomically), after removing the entries of the same data
 * dir whose process is gone (a crash leaves one behind). Returns the entry's file.
 */
export function writeLocalServer(configDir: string, entry: LocalServerEntry): string {
  const dir = localServersDir(configDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const dataDir = path.resolve(entry.dataDir);
  for (const old of entries(configDir)) {
    if (path.resolve(old.entry.dataDir) === dataDir && !pidAlive(old.entry.pid)) fs.rmSync(old.file, { force: true });
  }
  const file = localServerFile(configDir, dataDir, entry.url);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ ...entry, dataDir }, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file);
  return file;
}

/** Removes this server's entry, only while the file still names this process, data dir and URL. */
export function removeLocalServer(configDir: string, entry: Pick<LocalServerEntry, "dataDir" | "url" | "pid">): void {
  const file = localServerFile(configDir, entry.dataDir, entry.url);
  const cur = LocalServerEntry.safeParse(readEntryFile(file));
  if (!cur.success) return;
  const c = cur.data;
  if (c.pid === entry.pid && c.url === entry.url && path.resolve(c.dataDir) === path.resolve(entry.dataDir)) fs.rmSync(file, { force: true });
}
