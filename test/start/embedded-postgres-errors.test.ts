/**
 * When the embedded Postgres does not start, vh shows Postgres's own lines and the fix they point
 * to, not just an exit code: a port already taken, and a cluster whose control file is damaged.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres, startError } from "../../db/embedded.js";
import { freePort } from "../helpers/net.js";

const made: string[] = [];
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});
function dir(prefix: string, mode = 0o700): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(d, mode);
  made.push(d);
  return d;
}

describe("the embedded Postgres does not start", () => {
  it("on a port that is taken: Postgres's lines, and VH_EMBEDDED_PG_PORT as the fix", async () => {
    const port = await freePort();
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(port, "127.0.0.1", r));
    try {
      const err = await startEmbeddedPostgres({ dataDir: path.join(dir("vh-pgerr-"), "d"), port, stateDir: dir("vh-pgerr-state-", 0o711), ephemeral: true }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(new RegExp(`^The embedded Postgres did not start on port ${port} \\(it exited with code 1; data in .+\\)\\. Postgres said:\\n`));
      expect(err?.message).toContain('LOG:  could not bind IPv4 address "127.0.0.1": Address already in use');
      expect(err?.message).toContain("FATAL:  could not create any TCP/IP sockets");
      expect(err?.message).toMatch(new RegExp(`\\nPort ${port} is taken \\(by another program, or another vh\\): set VH_EMBEDDED_PG_PORT to a free port\\.$`));
    } finally {
      await new Promise((r) => taken.close(r));
    }
  }, 60_000);

  it("on a damaged cluster: Postgres's PANIC line, and restoring or moving the data as the fix", async () => {
    const dataDir = path.join(dir("vh-pgerr-"), "d");
    const state = dir("vh-pgerr-state-", 0o711);
    const port = await freePort();
    const pg = await startEmbeddedPostgres({ dataDir, port, stateDir: state });
    await pg.stop();
    fs.writeFileSync(path.join(pg.clusterDir, "global", "pg_control"), "garbage");
    const err = await startEmbeddedPostgres({ dataDir, port, stateDir: state }).then(() => null, (e: Error) => e);
    expect(err?.message).toContain(`(it was killed by SIGABRT; data in ${pg.clusterDir}). Postgres said:\n  PANIC:  could not read file "global/pg_control"`);
    expect(err?.message).toContain(`The cluster's files in ${pg.clusterDir} look damaged: restore them from a backup, or move the folder away to start with an empty database.`);
    expect(err?.message).not.toContain("VH_EMBEDDED_PG_PORT");
  }, 60_000);

  it.skipIf(process.getuid?.() !== 0)("as root, a state dir the postgres OS user cannot enter: says so before initdb, naming VH_STATE_DIR", async () => {
    const state = path.join(dir("vh-pgerr-private-"), "state"); // inside a mode-700 folder
    fs.mkdirSync(state, { mode: 0o711 });
    const err = await startEmbeddedPostgres({ dataDir: path.join(dir("vh-pgerr-"), "d"), port: await freePort(), stateDir: state, ephemeral: true }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(new RegExp(`runs as the OS user "postgres" when vh runs as root, and it cannot enter ${state} \\(that folder or one above it is private`));
    expect(err?.message).toContain("Point VH_STATE_DIR at a folder every user can enter");
  }, 60_000);

  it("picks the fix from what Postgres said, and drops the timestamps", () => {
    const at = (l: string) => `2026-01-02 03:04:05.678 UTC [4242] ${l}`;
    const locked = startError(5432, "/c", [at('FATAL:  lock file "postmaster.pid" already exists'), at('HINT:  Is another postmaster (PID 77) running in data directory "/c"?')].join("\n"), "it exited with code 1");
    expect(locked.message).toBe(
      "The embedded Postgres did not start on port 5432 (it exited with code 1; data in /c). Postgres said:\n" +
        '  FATAL:  lock file "postmaster.pid" already exists\n  HINT:  Is another postmaster (PID 77) running in data directory "/c"?\n' +
        "Another Postgres already runs on this cluster (another vh with the same VH_DATA_DIR?): stop it first.",
    );
    expect(startError(1, "/c", at("FATAL:  database files are incompatible with server"), "x").message).toMatch(/made by another Postgres version/);
    expect(startError(1, "/c", at('FATAL:  could not open file "x": Permission denied'), "x").message).toMatch(/cannot read or write \/c/);
    expect(startError(1, "/c", "", "it could not be run").message).toContain("Postgres said:\n  (nothing)\nSee Postgres's message above");
  });
});
