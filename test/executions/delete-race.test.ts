/**
 * A creation and an `exec delete` of the execution whose output it reads, interleaved: the datum
 * checked by the creation's preparation is gone by the time its transaction writes. The creation
 * is refused with a conflict naming the input, and nothing of it is written.
 */
import path from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { insertExecution, prepareExecution } from "../../app/executions/create.js";
import { projectByName } from "../../db/queries/projects.js";
import { createStore } from "../../worker/stores/index.js";

const fixture = path.resolve(import.meta.dirname, "../fixtures/projects/train-basic");

describe("a creation racing the deletion of its input's execution", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
    await stack.api("POST", "/api/v1/projects", { name: "race" });
    code = await uploadSnapshot(stack, fixture);
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  it("is refused with a conflict naming the input when the datum went away after the checks; nothing is written", async () => {
    const project = (await projectByName(db.sql, "race"))!;
    const id = randomUUID();
    await db.sql`insert into datums (id, project_id, name, size, sha256, store_key) values (${id}, ${project.id}, 'data.csv', 4, ${"a".repeat(64)}, ${`data/${id}/data.csv`})`;
    const deps = { sql: db.sql, store: createStore(stack.config.store), config: stack.config };
    const prepared = await prepareExecution(deps, project, { step: "train", code, inputs: { dataset: `datum://${id}` } });
    expect(prepared.inputs.map((i) => i.datumId)).toEqual([id]);
    // the delete commits between the checks and the write
    await db.sql`delete from datums where id = ${id}`;
    await expect(db.sql.begin((tx) => insertExecution(tx, project, prepared))).rejects.toMatchObject({
      code: "conflict",
      message: `Input datum://${id} was deleted while this execution was being created: nothing was created.`,
    });
    const [n] = await db.sql<{ n: number; counter: number }[]>`
      select (select count(*)::int from executions where project_id = ${project.id}) as n, execution_counter as counter from projects where id = ${project.id}`;
    expect(n).toEqual({ n: 0, counter: 0 });
  });
});
