/**
 * A command that Python could not build for the given value (a pass-as template indexing past the
 * end of a short string) is the user's mistake with its place in valohai.yaml — a 400, not a 500.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { startStack, type Stack } from "../helpers/stack.js";

describe("a command that cannot be built for a value", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-build-err-"));
  beforeAll(async () => {
    fs.writeFileSync(
      path.join(dir, "valohai.yaml"),
      ["- step:", "    name: s", "    image: busybox", "    command: echo {parameters}", "    parameters:", "      - name: word", "        type: string", "        pass-as: --fourth={v[3]}", ""].join("\n"),
    );
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
    await stack.api("POST", "/api/v1/projects", { name: "b" });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("answers 400 with the file and line, and creates nothing; a long enough value runs", async () => {
    const code = await uploadSnapshot(stack, dir);
    const res = await stack.raw("POST", "/api/v1/projects/b/executions", JSON.stringify({ step: "s", code, parameters: { word: "ab" } }), { "content-type": "application/json" });
    const text = await res.text();
    expect(res.status, text).toBe(400);
    expect(JSON.parse(text).error.message).toMatch(/^valohai\.yaml:\d+:\d+: /);
    expect(await db.sql`select id from executions`).toEqual([]);
    const ok = await stack.api<{ command: string }>("POST", "/api/v1/projects/b/executions", { step: "s", code, parameters: { word: "abcd" } });
    expect(ok.command).toBe("echo --fourth=d");
  });
});
