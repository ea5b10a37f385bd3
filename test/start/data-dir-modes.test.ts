/**
 * vh never changes the mode of a folder it did not make (issue 19): with VH_DATA_DIR set to a
 * shared sticky folder like the system's temp dir (mode 1777), or inside one, that folder keeps
 * its mode through a start and a stop of vh and of the embedded Postgres; what vh makes itself is
 * mode 700 (711 for the state dir). A data dir that others can enter gets a warning naming the fix.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import { startVh } from "../../app/start.js";
import { ensureDir, linkedStateDir, rootStateDir } from "../../app/host-dirs.js";
import { startEmbeddedPostgres } from "../../db/embedded.js";
import { createTestDatabase } from "../helpers/db.js";
import { freePort } from "../helpers/net.js";

const made: string[] = [];
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

/** A folder like /tmp: everyone may write, only owners may delete (mode 1777). */
function stickyDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "vh-sticky-"));
  fs.chmodSync(d, 0o1777);
  made.push(d);
  return d;
}

const modeOf = (p: string) => fs.statSync(p).mode & 0o7777;

async function startAndStop(dataDir: string): Promise<string[]> {
  const db = await createTestDatabase();
  const lines: string[] = [];
  const config = loadConfig({ DATABASE_URL: db.connectionString, VH_DATA_DIR: dataDir, VH_STATE_DIR: stickyDir(), XDG_CONFIG_HOME: path.join(stickyDir(), "xdg"), PORT: "0", VH_LOG_LEVEL: "warn" });
  try {
    const vh = await startVh(config, createLogger("warn", (l) => lines.push(l)), { worker: false, http: false });
    expect(modeOf(path.join(dataDir, "admin-token"))).toBe(0o600);
    await vh.stop();
  } finally {
    await db.drop();
  }
  return lines;
}

describe("folders vh did not make keep their mode", () => {
  it("VH_DATA_DIR that is a sticky 1777 folder: still 1777 after start and stop, and a warning says what to do", async () => {
    const dir = stickyDir();
    const warnings = await startAndStop(dir);
    expect(modeOf(dir)).toBe(0o1777);
    expect(warnings.join("\n")).toContain(`VH_DATA_DIR ${dir} is open to other users (mode 1777) and vh did not make it, so vh leaves its mode as it is`);
    expect(warnings.join("\n")).toContain("Point VH_DATA_DIR at a folder of vh's own (vh makes it mode 700)");
  });

  it("VH_DATA_DIR inside a sticky folder: the parent keeps 1777, the data dir vh makes is 700, no warning", async () => {
    const parent = stickyDir();
    const dataDir = path.join(parent, "vh-data");
    const warnings = await startAndStop(dataDir);
    expect(modeOf(parent)).toBe(0o1777);
    expect(modeOf(dataDir)).toBe(0o700);
    expect(warnings.filter((w) => w.includes("VH_DATA_DIR"))).toEqual([]);
    // A second start finds it as vh left it, and leaves it so.
    await startAndStop(dataDir);
    expect(modeOf(dataDir)).toBe(0o700);
  });

  it("the embedded Postgres with its data dir being, or inside, a sticky folder leaves that folder's mode alone", async () => {
    const sticky = stickyDir();
    const state = stickyDir();
    for (const dataDir of [sticky, path.join(sticky, "inner")]) {
      const pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), stateDir: state, ephemeral: true });
      await pg.stop();
    }
    expect(modeOf(sticky)).toBe(0o1777);
    expect(modeOf(state)).toBe(0o1777);
    expect(modeOf(path.join(sticky, "inner"))).toBe(0o700);
  }, 60_000);

  it("the state dir and its linked folders: made ones get their mode, an existing one keeps its own", () => {
    const sticky = stickyDir();
    expect(rootStateDir([sticky])).toBe(sticky);
    expect(modeOf(sticky)).toBe(0o1777);
    const fresh = path.join(stickyDir(), "state");
    expect(rootStateDir([fresh])).toBe(fresh);
    expect(modeOf(fresh)).toBe(0o711);

    const data = stickyDir();
    const runs = linkedStateDir(data, "runs", 0o711, sticky);
    expect(modeOf(runs)).toBe(0o711);
    expect(modeOf(sticky)).toBe(0o1777);
    expect(modeOf(data)).toBe(0o1777);

    expect(ensureDir(sticky, 0o700)).toBe(false);
    expect(modeOf(sticky)).toBe(0o1777);
    const deep = path.join(sticky, "a", "b");
    expect(ensureDir(deep, 0o700)).toBe(true);
    expect(modeOf(deep)).toBe(0o700);
  });
});
