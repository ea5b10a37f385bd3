/**
 * `POST /api/v1/projects/:p/sweeps` and `GET …/sweeps/:id` against a real server (no worker: the
 * executions stay queued): the grid expanded server-side with each point's values as sent, one
 * `sweeps` row with `source: {kind: "api"}` and its `sweep_executions` in the grid's order; every
 * refusal (over the cap, a bad value at one point, an empty list, code and commit together or
 * neither, no linked repository) writes nothing; `commit` runs the linked repository at that ref.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { TestRepo } from "../git/helpers.js";

const YAML = `
- step:
    name: train
    image: python:3.12
    command: python3 train.py {parameters}
    parameters:
      - name: lr
        type: float
        default: 0.01
      - name: epochs
        type: integer
        default: 2
      - name: note
        type: string
        default: none
`;

type Exec = { id: string; counter: number; status: string; parameters: Record<string, unknown>; code: { kind: string; commit: string | null }; title: string | null; tags: string[] };
type SweepJson = { id: string; step: string; kind: string; spec: Record<string, string[]>; commit: string | null; source: unknown; triggeredBy: string; executions: Exec[] };
type Failure = Error & { status: number; body: string };

describe("sweeps through the REST API", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;
  const dir = tempDir("vh-sweep-api-");

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false, env: { VH_SWEEP_CAP: "4" } });
    fs.mkdirSync(path.join(dir, "code"));
    fs.writeFileSync(path.join(dir, "code", "valohai.yaml"), YAML);
    code = await uploadSnapshot(stack, path.join(dir, "code"));
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
    await stack.api("POST", "/api/v1/projects", { name: "other" });
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const refusal = async (p: Promise<unknown>): Promise<{ status: number; code: string; message: string }> => {
    const err = (await p.then(() => null, (e: unknown) => e)) as Failure | null;
    if (!err) throw new Error("expected a refusal");
    const body = JSON.parse(err.body) as { error: { code: string; message: string } };
    return { status: err.status, code: body.error.code, message: body.error.message };
  };
  const counts = async () => {
    const [r] = await db.sql<{ e: number; s: number }[]>`select (select count(*)::int from executions) as e, (select count(*)::int from sweeps) as s`;
    return r!;
  };

  it("expands the grid, first parameter slowest, with the values as sent, and reads it back", async () => {
    const made = await stack.api<SweepJson>("POST", "/api/v1/projects/demo/sweeps", {
      step: "train",
      code,
      parameters: { lr: [0.1, 0.2], epochs: 3, note: ["a b", "c"] },
      title: "nightly",
      tags: ["ci"],
    });
    expect(made.kind).toBe("grid");
    expect(made.spec).toEqual({ lr: ["0.1", "0.2"], epochs: ["3"], note: ["a b", "c"] });
    expect(made.commit).toBeNull();
    expect(made.source).toEqual({ kind: "api" });
    expect(made.triggeredBy).toMatch(/^admin/); // the token's name
    expect(made.executions.map((e) => e.parameters)).toEqual([
      { lr: 0.1, epochs: 3, note: "a b" },
      { lr: 0.1, epochs: 3, note: "c" },
      { lr: 0.2, epochs: 3, note: "a b" },
      { lr: 0.2, epochs: 3, note: "c" },
    ]);
    expect(made.executions.map((e) => [e.status, e.title, e.tags, e.code.kind])).toEqual(Array(4).fill(["queued", "nightly", ["ci"], "adhoc"]));

    const got = await stack.api<SweepJson>("GET", `/api/v1/projects/demo/sweeps/${made.id}`);
    expect(got.executions.map((e) => e.counter)).toEqual(made.executions.map((e) => e.counter));
    expect(got).toMatchObject({ id: made.id, step: "train", spec: made.spec });
    const rows = await db.sql<{ position: number; execution_id: string }[]>`select position, execution_id from sweep_executions where sweep_id = ${made.id} order by position`;
    expect(rows.map((r) => r.execution_id)).toEqual(made.executions.map((e) => e.id));
  });

  it("a scalar everywhere is a sweep of one; 1.0 stays a float, a string is cast by type", async () => {
    const made = await stack.api<SweepJson>("POST", "/api/v1/projects/demo/sweeps", { step: "train", code, parameters: { lr: "0.5", epochs: [1] } });
    expect(made.executions.map((e) => e.parameters)).toEqual([{ lr: 0.5, epochs: 1, note: "none" }]);
    const res = await stack.raw("POST", "/api/v1/projects/demo/sweeps", `{"step":"train","code":"${code}","parameters":{"lr":[1.0]}}`, { "content-type": "application/json" });
    expect(res.status).toBe(201);
    const one = (await res.json()) as SweepJson;
    expect(one.spec).toEqual({ lr: ["1.0"] });
    const [row] = await db.sql<{ command: string }[]>`select command from executions where id = ${one.executions[0]!.id}`;
    expect(row!.command).toContain("--lr=1.0");
  });

  it("refuses, writing nothing: over the cap (naming the count), one bad point, an empty list, a bad body", async () => {
    const before = await counts();
    const big = await refusal(stack.api("POST", "/api/v1/projects/demo/sweeps", { step: "train", code, parameters: { lr: [0.1, 0.2, 0.3], epochs: [1, 2] } }));
    expect(big).toEqual({ status: 413, code: "too_large", message: "That sweep would make 6 executions; the limit is 4 (VH_SWEEP_CAP). Use fewer values, or split it into several sweeps." });

    const bad = await refusal(stack.api("POST", "/api/v1/projects/demo/sweeps", { step: "train", code, parameters: { epochs: [1, "many"] } }));
    expect(bad.status).toBe(400);
    expect(bad.message).toContain("epochs");
    expect(bad.message).toContain("many");

    const empty = await refusal(stack.api("POST", "/api/v1/projects/demo/sweeps", { step: "train", code, parameters: { lr: [] } }));
    expect(empty).toMatchObject({ status: 400, code: "bad_request" });
    expect(empty.message).toContain(`"lr" is an empty list`);

    const nested = await refusal(stack.api("POST", "/api/v1/projects/demo/sweeps", { step: "train", code, parameters: { lr: [[0.1]] } }));
    expect(nested.status).toBe(400);
    const noStep = await refusal(stack.api("POST", "/api/v1/projects/demo/sweeps", { code, parameters: {} }));
    expect(noStep.message).toContain("step is required");
    const unknownStep = await refusal(stack.api("POST", "/api/v1/projects/demo/sweeps", { step: "trian", code, parameters: {} }));
    expect(unknownStep.message).toContain("Did you mean `train`?");
    const both = await refusal(stack.api("POST", "/api/v1/projects/demo/sweeps", { step: "train", code, commit: "main", parameters: {} }));
    expect(both.message).toBe("Give either code (an uploaded snapshot) or commit (the linked repository at a ref), not both.");
    const neither = await refusal(stack.api("POST", "/api/v1/projects/demo/sweeps", { step: "train", parameters: {} }));
    expect(neither.message).toContain("Give code");
    const unlinked = await refusal(stack.api("POST", "/api/v1/projects/demo/sweeps", { step: "train", commit: "main", parameters: {} }));
    expect(unlinked.message).toContain("Project demo is linked to no repository");
    const notJson = await stack.raw("POST", "/api/v1/projects/demo/sweeps", "{nope", { "content-type": "application/json" });
    expect(notJson.status).toBe(400);
    expect(await counts()).toEqual(before);
  });

  it("finds a sweep only in its own project", async () => {
    const made = await stack.api<SweepJson>("POST", "/api/v1/projects/demo/sweeps", { step: "train", code, parameters: {} });
    expect((await refusal(stack.api("GET", `/api/v1/projects/other/sweeps/${made.id}`))).status).toBe(404);
    const nonsense = await refusal(stack.api("GET", "/api/v1/projects/demo/sweeps/not-a-sweep"));
    expect(nonsense).toEqual({ status: 404, code: "not_found", message: "Sweep not-a-sweep does not exist in project demo." });
  });

  it("commit: runs the linked repository at that ref, recorded on the sweep and each execution", async () => {
    const served = tempDir("vh-sweep-api-git-");
    try {
      const repo = new TestRepo(served, "linked");
      const head = repo.commit({ "valohai.yaml": YAML }, "first");
      await stack.api("POST", "/api/v1/repos", { url: repo.fileUrl, project: "linked" });
      const made = await stack.api<SweepJson>("POST", "/api/v1/projects/linked/sweeps", { step: "train", commit: "main", parameters: { lr: [0.3, 0.4] } });
      expect(made.commit).toBe(head);
      expect(made.executions.map((e) => [e.parameters["lr"], e.code])).toEqual([
        [0.3, expect.objectContaining({ kind: "git", commit: head })],
        [0.4, expect.objectContaining({ kind: "git", commit: head })],
      ]);
      const unknown = await refusal(stack.api("POST", "/api/v1/projects/linked/sweeps", { step: "train", commit: "no-such-branch", parameters: {} }));
      expect(unknown).toMatchObject({ status: 404, code: "not_found" });
      expect(unknown.message).toContain("no-such-branch is no branch, tag or commit of");
    } finally {
      fs.rmSync(served, { recursive: true, force: true });
    }
  });
});
