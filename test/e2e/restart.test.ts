/**
 * The control plane can stop at any moment: the process keeps running (its own process group,
 * output to files), and a new vh on the same data dir re-attaches and resumes the logs from the
 * committed offsets, with nothing missing or duplicated.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";

const fixture = path.resolve(import.meta.dirname, "../fixtures/projects/train-basic");

describe("restart of the control plane", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const dataDir = tempDir("vh-restart-");
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("re-attaches to a running execution; the log is complete, in order, without duplicates", async () => {
    let stack: Stack = await startStack({ databaseUrl: db.connectionString, dataDir });
    await stack.api("POST", "/api/v1/projects", { name: "p" });
    const code = await uploadSnapshot(stack, fixture);
    const N = 60;
    const e = await stack.api<{ id: string; counter: number }>("POST", "/api/v1/projects/p/executions", { step: "counter", code, parameters: { n: N } });
    await waitFor("some lines stored", async () => {
      const [r] = await db.sql<{ log_seq: number }[]>`select log_seq from executions where id = ${e.id}`;
      return r && r.log_seq >= 10 ? true : undefined;
    });
    await stack.stop(); // the whole control plane goes away mid-run
    const [mid] = await db.sql<{ status: string; log_seq: number; lease_owner: string | null }[]>`
      select status, log_seq, lease_owner from executions where id = ${e.id}`;
    expect(mid!.status).toBe("running");
    expect(mid!.lease_owner).toBeNull();
    await new Promise((r) => setTimeout(r, 700)); // the process keeps printing meanwhile

    stack = await startStack({ databaseUrl: db.connectionString, dataDir });
    try {
      const done = await waitFor("completion after restart", async () => {
        const x = await stack.api<{ status: string }>("GET", `/api/v1/projects/p/executions/${e.counter}`);
        return ["completed", "failed", "error"].includes(x.status) ? x : undefined;
      }, 60_000);
      expect(done.status).toBe("completed");
      const logs = await stack.api<{ lines: { seq: number; line: string }[] }>("GET", `/api/v1/projects/p/executions/${e.counter}/logs`);
      const expected: string[] = [];
      for (let i = 0; i < N; i++) {
        expected.push(`line ${i}`);
        if (i % 5 === 0) expected.push(JSON.stringify({ i }).replace(":", ": "));
      }
      expect(logs.lines.map((l) => l.line)).toEqual(expected);
      expect(logs.lines.map((l) => l.seq)).toEqual(expected.map((_, i) => i + 1));
      const md = await stack.api<{ events: { data: { i: number } }[] }>("GET", `/api/v1/projects/p/executions/${e.counter}/metadata`);
      expect(md.events.map((m) => m.data.i)).toEqual(Array.from({ length: N / 5 }, (_, k) => k * 5));
    } finally {
      await stack.stop();
    }
  });
});
