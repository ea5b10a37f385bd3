/**
 * Host registration takes key material, not server-side paths: `POST /hosts` with `"key":
 * "/etc/shadow"` used to make the server read any file it could and connect anywhere with it.
 */
import fs from "node:fs";
import path from "node:path";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";

describe("host keys over the API", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  const pair = ssh2.utils.generateKeyPairSync("ed25519");

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  async function post(body: unknown): Promise<{ status: number; text: string }> {
    const res = await stack.raw("POST", "/api/v1/hosts", JSON.stringify(body), { "content-type": "application/json" });
    return { status: res.status, text: await res.text() };
  }

  it.each([
    ["/etc/shadow", "an absolute path outside the host-keys folder"],
    ["../../../etc/passwd", "a relative path that climbs out"],
  ])("refuses key %s (%s) without reading it, and records no host", async (key) => {
    const r = await post({ name: "evil", url: "ssh://root@127.0.0.1:22", key });
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/reads host keys only from its host-keys folder|there is no key file/);
    expect(await db.sql`select name from hosts where name = 'evil'`).toEqual([]);
  });

  it("refuses a link inside the host-keys folder that points out of it", async () => {
    const dir = path.join(stack.dataDir, "host-keys");
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.symlinkSync("/etc/passwd", path.join(dir, "sneaky"));
    const r = await post({ name: "evil", url: "ssh://root@127.0.0.1:22", key: "sneaky" });
    expect(r.status).toBe(400);
    expect(r.text).toContain("reads host keys only from its host-keys folder");
  });

  it.each([
    [{ privateKey: "not a key at all" }, /privateKey is not a private key vh can read/],
    [{ privateKey: pair.public }, /privateKey is a public key/],
    [{ privateKey: pair.private, key: "x" }, /exactly one of privateKey/],
    [{}, /exactly one of privateKey/],
  ])("refuses %j", async (extra, message) => {
    const r = await post({ name: "bad", url: "ssh://root@127.0.0.1:22", ...extra });
    expect(r.status).toBe(400);
    expect(r.text).toMatch(message);
  });

  it("stores key material mode 600 in the host-keys folder and uses that file", async () => {
    const r = await post({ name: "gpu-1", url: "ssh://ubuntu@127.0.0.1:2222", privateKey: pair.private });
    expect(r.status).toBe(201);
    const [row] = await db.sql<{ key_path: string }[]>`select key_path from hosts where name = 'gpu-1'`;
    expect(path.dirname(row!.key_path)).toBe(path.join(fs.realpathSync(stack.dataDir), "host-keys"));
    expect(fs.statSync(row!.key_path).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(row!.key_path, "utf8").trim()).toBe(pair.private.trim());
    // A file already in the folder may be named by its name.
    const again = await post({ name: "gpu-2", url: "ssh://ubuntu@127.0.0.1:2222", key: path.basename(row!.key_path) });
    expect(again.status).toBe(201);
    expect(r.text).not.toContain("BEGIN"); // the key is never echoed back
  });
});
