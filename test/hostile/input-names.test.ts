/**
 * Input names are checked when the execution is created: `filename: ../../x` (or a name with a
 * backslash or a control character) used to be accepted and refused only at launch, after the
 * execution had been queued; it is now a 400 that names the input, and nothing is created.
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { startStack, type Stack } from "../helpers/stack.js";

describe("input names at creation", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let server: http.Server;
  let base = "";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-inputnames-"));

  beforeAll(async () => {
    server = http.createServer((_req, res) => res.end("data\n"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    fs.writeFileSync(
      path.join(dir, "valohai.yaml"),
      [
        "- step:",
        "    name: climb",
        "    image: busybox",
        "    command: cat /valohai/inputs/data/*",
        "    inputs:",
        "      - name: data",
        "        filename: ../../../etc/cron.d/evil",
        "- step:",
        "    name: fine",
        "    image: busybox",
        "    command: cat /valohai/inputs/data/*",
        "    inputs:",
        "      - name: data",
        "        filename: data.csv",
        "",
      ].join("\n"),
    );
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
    await stack.api("POST", "/api/v1/projects", { name: "names" });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a filename that climbs out of inputs/, and creates nothing", async () => {
    const code = await uploadSnapshot(stack, dir);
    const res = await stack.raw("POST", "/api/v1/projects/names/executions", JSON.stringify({ step: "climb", code, inputs: { data: `${base}/x.csv` } }), { "content-type": "application/json" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Input \\"data\\": \\"../../../etc/cron.d/evil\\" is not a relative path of plain names');
    expect(await db.sql`select id from executions`).toEqual([]);
  });

  it("refuses a URL whose file name has a control character", async () => {
    const code = await uploadSnapshot(stack, dir);
    const res = await stack.raw("POST", "/api/v1/projects/names/executions", JSON.stringify({ step: "fine", code, inputs: { data: [`${base}/a.csv`, `${base}/b%1b%5B2J.csv`] } }), { "content-type": "application/json" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("has a backslash or a control character");
  });

  it("takes a plain one", async () => {
    const code = await uploadSnapshot(stack, dir);
    const e = await stack.api<{ counter: number }>("POST", "/api/v1/projects/names/executions", { step: "fine", code, inputs: { data: `${base}/x.csv` } });
    expect(e.counter).toBe(1);
  });
});
