/**
 * A valohai.yaml cannot block the server: a 4.9 MB file with 79k steps blocked the event loop for
 * 5.5 s and took 1 GB. The server refuses a file over 256 KB before parsing it, with a located error
 * (the CLI's own lint of a local file has no such limit).
 */
import { describe, expect, it } from "vitest";
import { loadValohaiYaml, SERVER_MAX_YAML_BYTES } from "../../app/valohai/index.js";
import { generateSteps } from "../../bench/lint.js";
import { createTestDatabase } from "../helpers/db.js";
import { startStack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

describe("valohai.yaml size on the server", () => {
  it("refuses a file over the limit before parsing it, quickly and with a located error", () => {
    const big = generateSteps(10_000); // ~5 MB
    expect(Buffer.byteLength(big)).toBeGreaterThan(4 * 1024 * 1024);
    const t0 = performance.now();
    const r = loadValohaiYaml(big, { filename: "valohai.yaml", maxBytes: SERVER_MAX_YAML_BYTES });
    const ms = performance.now() - t0;
    expect(r.config).toBeNull();
    expect(r.problems).toEqual([
      { severity: "error", code: "too-large", message: expect.stringMatching(/^valohai\.yaml is [\d,]+ KB; vh reads files up to 256 KB\./), file: "valohai.yaml", line: 1, column: 1 },
    ]);
    expect(ms).toBeLessThan(1000); // not parsed: milliseconds (generous for a loaded CI machine)
  });

  it("takes a file under the limit", () => {
    const ok = generateSteps(20);
    expect(loadValohaiYaml(ok, { maxBytes: SERVER_MAX_YAML_BYTES }).config?.steps.size).toBe(20);
  });

  it("the API refuses an execution whose snapshot has a huge valohai.yaml, naming the limit", async () => {
    const db = await createTestDatabase();
    const stack = await startStack({ databaseUrl: db.connectionString, worker: false });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-bigyaml-"));
    try {
      fs.writeFileSync(path.join(dir, "valohai.yaml"), generateSteps(2_000));
      await stack.api("POST", "/api/v1/projects", { name: "big" });
      const code = await uploadSnapshot(stack, dir);
      const res = await stack.raw("POST", "/api/v1/projects/big/executions", JSON.stringify({ step: "step-1", code }), { "content-type": "application/json" });
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/valohai\.yaml is [\d,]+ KB; vh reads files up to 256 KB/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await stack.stop();
      await db.drop();
    }
  });
});
