/**
 * `Idempotency-Key` on the creating REST requests (app/http/idempotency.ts), against a real server
 * and Postgres (no worker: what is made stays queued): the same request again answers what the
 * first made and makes nothing; at the same time, one makes it and every other answers the same;
 * another body with the key is 409 and makes nothing; keys are the caller's own, per kind; a
 * refused request keeps no key; an expired key is free again; without the header nothing changes.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";

const YAML = `
- step:
    name: train
    image: busybox
    command: echo {parameters}
    parameters:
      - name: lr
        type: float
        default: 0.01
- pipeline:
    name: twice
    nodes:
      - name: a
        type: execution
        step: train
      - name: b
        type: execution
        step: train
    edges: []
`;

describe("Idempotency-Key", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;
  const dir = tempDir("vh-idempotency-");

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
    fs.mkdirSync(path.join(dir, "code"));
    fs.writeFileSync(path.join(dir, "code", "valohai.yaml"), YAML);
    code = await uploadSnapshot(stack, path.join(dir, "code"));
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const post = (p: string, body: unknown, key?: string, token?: string) =>
    fetch(stack.vh.url + p, {
      method: "POST",
      headers: { authorization: `Bearer ${token ?? stack.vh.token}`, "content-type": "application/json", ...(key === undefined ? {} : { "idempotency-key": key }) },
      body: JSON.stringify(body),
    });
  const counts = async () => {
    const [r] = await db.sql<{ e: number; s: number; p: number; k: number }[]>`
      select (select count(*)::int from executions) as e, (select count(*)::int from sweeps) as s,
             (select count(*)::int from pipelines) as p, (select count(*)::int from api_requests) as k`;
    return r!;
  };

  it("answers a repeated execution request with what the first made, and makes nothing more", async () => {
    const before = await counts();
    const body = { step: "train", code, parameters: { lr: 0.1 } };
    const first = await post("/api/v1/projects/demo/executions", body, "exec-1");
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const made = (await first.json()) as { id: string; counter: number };
    const again = await post("/api/v1/projects/demo/executions", body, "exec-1");
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(((await again.json()) as { id: string }).id).toBe(made.id);
    expect(await counts()).toEqual({ ...before, e: before.e + 1, k: before.k + 1 });
  });

  it("makes one execution for the same request sent several times at once", async () => {
    const before = await counts();
    const body = { step: "train", code, parameters: { lr: 0.2 } };
    const answers = await Promise.all(Array.from({ length: 6 }, () => post("/api/v1/projects/demo/executions", body, "exec-race")));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(201));
    const ids = new Set(await Promise.all(answers.map(async (a) => ((await a.json()) as { id: string }).id)));
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => a.headers.get("idempotent-replayed") === "true")).toHaveLength(5);
    expect((await counts()).e).toBe(before.e + 1);
  });

  it("refuses the key with another body, making nothing", async () => {
    await post("/api/v1/projects/demo/executions", { step: "train", code, parameters: { lr: 0.3 } }, "exec-2");
    const before = await counts();
    const res = await post("/api/v1/projects/demo/executions", { step: "train", code, parameters: { lr: 0.4 } }, "exec-2");
    expect(res.status).toBe(409);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("conflict");
    expect(error.message).toContain('Idempotency-Key "exec-2" was already used for another execution request with a different body');
    expect(await counts()).toEqual(before);
  });

  it("keeps a key per caller and per kind", async () => {
    const other = (await (await post("/api/v1/tokens", { name: "second", role: "admin" })).json()) as { token: string };
    const before = await counts();
    const body = { step: "train", code, parameters: { lr: 0.5 } };
    const a = (await (await post("/api/v1/projects/demo/executions", body, "shared")).json()) as { id: string };
    const b = (await (await post("/api/v1/projects/demo/executions", body, "shared", other.token)).json()) as { id: string };
    expect(a.id).not.toBe(b.id);
    // The same key on a sweep is another request.
    const sweep = await post("/api/v1/projects/demo/sweeps", { step: "train", code, parameters: { lr: [0.5, 0.6] } }, "shared");
    expect(sweep.status).toBe(201);
    expect(sweep.headers.get("idempotent-replayed")).toBeNull();
    expect(await counts()).toMatchObject({ e: before.e + 4, s: before.s + 1 });
  });

  it("makes a sweep once, all its executions with it", async () => {
    const before = await counts();
    const body = { step: "train", code, parameters: { lr: [0.01, 0.02, 0.03] } };
    const [x, y] = await Promise.all([post("/api/v1/projects/demo/sweeps", body, "sweep-1"), post("/api/v1/projects/demo/sweeps", body, "sweep-1")]);
    const [sx, sy] = (await Promise.all([x.json(), y.json()])) as { id: string; executions: { id: string }[] }[];
    expect(sx!.id).toBe(sy!.id);
    expect(sy!.executions.map((e) => e.id)).toEqual(sx!.executions.map((e) => e.id));
    expect(await counts()).toMatchObject({ e: before.e + 3, s: before.s + 1 });
    const z = await post("/api/v1/projects/demo/sweeps", body, "sweep-1");
    expect(z.headers.get("idempotent-replayed")).toBe("true");
    expect(((await z.json()) as { id: string }).id).toBe(sx!.id);
  });

  it("makes a pipeline once", async () => {
    const before = await counts();
    const body = { name: "twice", code };
    const first = (await (await post("/api/v1/projects/demo/pipelines", body, "pipe-1")).json()) as { id: string };
    const again = await post("/api/v1/projects/demo/pipelines", body, "pipe-1");
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(((await again.json()) as { id: string }).id).toBe(first.id);
    expect((await counts()).p).toBe(before.p + 1);
  });

  it("keeps no key for a refused request, so the corrected request can use it", async () => {
    const before = await counts();
    const bad = await post("/api/v1/projects/demo/executions", { step: "nope", code }, "fix-me");
    expect(bad.status).toBe(400);
    expect(await counts()).toEqual(before);
    const good = await post("/api/v1/projects/demo/executions", { step: "train", code }, "fix-me");
    expect(good.status).toBe(201);
    expect(good.headers.get("idempotent-replayed")).toBeNull();
  });

  it("frees a key once it expired", async () => {
    const body = { step: "train", code, parameters: { lr: 0.7 } };
    const first = (await (await post("/api/v1/projects/demo/executions", body, "old")).json()) as { id: string };
    await db.sql`update api_requests set created_at = now() - interval '25 hours' where key like ${"%:old"}`;
    const later = await post("/api/v1/projects/demo/executions", body, "old");
    expect(later.headers.get("idempotent-replayed")).toBeNull();
    expect(((await later.json()) as { id: string }).id).not.toBe(first.id);
    const rows = await db.sql<{ n: number }[]>`select count(*)::int as n from api_requests where key like ${"%:old"}`;
    expect(rows[0]!.n).toBe(1);
  });

  it("refuses a malformed key and, without one, makes each request", async () => {
    const body = { step: "train", code };
    for (const key of ["", "a b", "x".repeat(256), "é"]) {
      const res = await post("/api/v1/projects/demo/executions", body, key);
      expect(res.status, JSON.stringify(key)).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain("Idempotency-Key must be 1 to 255 visible ASCII characters");
    }
    const before = await counts();
    await post("/api/v1/projects/demo/executions", body);
    await post("/api/v1/projects/demo/executions", body);
    expect((await counts()).e).toBe(before.e + 2);
  });
});
